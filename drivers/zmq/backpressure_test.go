package zmq

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oslo-go/messaging/client"
	"github.com/oslo-go/messaging/server"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
)

// gatedSink counts casts; its handlers wait for the gate to open.
type gatedSink struct {
	gate chan struct{}
	n    atomic.Int64
}

type sinkArgs struct {
	Pad string `json:"pad"`
}

func (s *gatedSink) Take(ctx context.Context, _ sinkArgs) error {
	select {
	case <-s.gate:
	case <-ctx.Done():
		return ctx.Err()
	}
	s.n.Add(1)
	return nil
}

// startSink starts a server of sink on its own transport, with
// concurrency workers, closed when t ends.
func startSink(t *testing.T, url string, tg target.Target, sink *gatedSink, concurrency int) {
	t.Helper()
	srv, err := server.New(openTr(t, url), tg, []any{sink}, server.MaxConcurrency(concurrency))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
}

// heapInUse returns the bytes of heap in use after a collection: what the
// program retains.
func heapInUse() int64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// TestFloodBackpressure floods a server whose handlers are stuck with
// casts of 10 KB: the server's inbox, the connection and the sender's
// buffer fill up and then the sender waits (Cast blocks), so the memory of
// the process stays bounded however many casts are sent; nothing is
// dropped: once the handlers go on, every cast sent is handled. A liveness
// timeout shorter than the stall checks that a busy server is not taken
// for a dead one.
func TestFloodBackpressure(t *testing.T) {
	noLeaks(t)
	const n, size = 10000, 10 << 10 // 100 MB if nothing pushed back
	url := "zmq:///" + t.Name() + "?heartbeat_interval=200ms&heartbeat_timeout=1s"
	sink := &gatedSink{gate: make(chan struct{})}
	startSink(t, url, target.Target{Topic: "flood", Server: "s"}, sink, 4)
	c, _ := client.New(openTr(t, url), target.Target{Topic: "flood"}, client.Timeout(2*time.Minute))
	base := heapInUse()
	var sent atomic.Int64
	var stop atomic.Bool
	errc := make(chan error, 1)
	go func() {
		pad := sinkArgs{Pad: strings.Repeat("x", size)}
		for i := 0; i < n && !stop.Load(); i++ {
			if err := c.Cast(context.Background(), "take", pad); err != nil {
				errc <- err
				return
			}
			sent.Add(1)
		}
		errc <- nil
	}()
	// Wait until the sender stalls: no cast sent for 2 s, twice the
	// heartbeat timeout.
	last, since := int64(-1), time.Now()
	for time.Since(since) < 2*time.Second {
		time.Sleep(50 * time.Millisecond)
		if s := sent.Load(); s != last {
			last, since = s, time.Now()
		}
		select {
		case err := <-errc:
			t.Fatalf("the sender did not stall: %d casts sent, error %v", sent.Load(), err)
		default:
		}
	}
	grew := heapInUse() - base
	t.Logf("sender stalled after %d casts of %d KiB; heap in use grew by %.1f MiB", last, size>>10, float64(grew)/(1<<20))
	if grew > 40<<20 {
		t.Errorf("the heap in use grew by %d MiB with the server's handlers stuck", grew>>20)
	}
	stop.Store(true)
	close(sink.gate)
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("cast after the handlers went on: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatalf("sender still blocked a minute after the handlers went on (%d sent)", sent.Load())
	}
	deadline := time.Now().Add(time.Minute)
	for sink.n.Load() < sent.Load() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got, want := sink.n.Load(), sent.Load(); got != want {
		t.Fatalf("%d of %d casts handled", got, want)
	}
}

// TestBusyServerSkipped: of two servers of a topic, the one whose handlers
// are stuck gets no more than its buffers hold; the sender goes on with
// the other, and every cast is handled once both run.
func TestBusyServerSkipped(t *testing.T) {
	noLeaks(t)
	const n, size = 800, 64 << 10 // 51 MB: more than the stuck server's buffers hold
	url := "zmq:///" + t.Name()
	stuck, free := &gatedSink{gate: make(chan struct{})}, &gatedSink{gate: make(chan struct{})}
	close(free.gate)
	for i, sink := range []*gatedSink{stuck, free} {
		startSink(t, url, target.Target{Topic: "busy", Server: strconv.Itoa(i)}, sink, 2)
	}
	c, _ := client.New(openTr(t, url), target.Target{Topic: "busy"}, client.Timeout(30*time.Second))
	pad := sinkArgs{Pad: strings.Repeat("x", size)}
	start := time.Now()
	for i := range n {
		if err := c.Cast(context.Background(), "take", pad); err != nil {
			t.Fatalf("cast %d: %v", i, err)
		}
	}
	t.Logf("%d casts sent in %v; the free server handled %d so far", n, time.Since(start), free.n.Load())
	close(stuck.gate)
	deadline := time.Now().Add(time.Minute)
	for stuck.n.Load()+free.n.Load() < n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := stuck.n.Load() + free.n.Load(); got != n {
		t.Fatalf("%d of %d casts handled", got, n)
	}
	t.Logf("the stuck server got %d casts, the free one %d", stuck.n.Load(), free.n.Load())
	if s := stuck.n.Load(); s > n/3 {
		t.Errorf("the stuck server got %d of %d casts: it was not skipped", s, n)
	}
}

// TestCallTimesOutOnBusyServer: a call to a server that does not read
// (its inbox is full) fails by the call's timeout, saying the server is
// busy, instead of waiting for the server.
func TestCallTimesOutOnBusyServer(t *testing.T) {
	noLeaks(t)
	url := "zmq:///" + t.Name() + "?inbox_messages=1&inbox_bytes=1"
	sink := &gatedSink{gate: make(chan struct{})}
	defer close(sink.gate)
	startSink(t, url, target.Target{Topic: "busy", Server: "s"}, sink, 1)
	tr := openTr(t, url)
	c, _ := client.New(tr, target.Target{Topic: "busy"}, client.Timeout(30*time.Second))
	pad := sinkArgs{Pad: strings.Repeat("x", 64<<10)}
	// Fill the server's inbox, the connection and the send buffer.
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		err := c.Cast(ctx, "take", pad)
		cancel()
		if err != nil {
			if !errors.Is(err, transport.ErrTimeout) || !strings.Contains(err.Error(), "busy") {
				t.Fatalf("cast to a full server: %v, want a timeout saying the server is busy", err)
			}
			break
		}
	}
	start := time.Now()
	err := c.Prepare(client.Timeout(time.Second)).Call(context.Background(), "take", pad, nil)
	if !errors.Is(err, transport.ErrTimeout) || time.Since(start) > 5*time.Second {
		t.Fatalf("call to a full server: %v after %v, want a timeout after 1s", err, time.Since(start))
	}
	t.Logf("call: %v", err)
}
