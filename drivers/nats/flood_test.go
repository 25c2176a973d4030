package nats

import (
	"context"
	"log/slog"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oslo-go/messaging/internal/ids"
	"github.com/oslo-go/messaging/server"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport/driver"
)

// heapInUse returns the live heap after a collection.
func heapInUse() int64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// TestListenerBoundedBytes floods a listener whose server takes nothing
// with 100 casts of 900 KB (90 MB): it holds at most ListenerBufferBytes,
// drops the rest (logged once, not per message), and hands out what it
// holds.
func TestListenerBoundedBytes(t *testing.T) {
	url := startNATSProcess(t)
	logs := captureLogs(t)
	const limit = 8 << 20
	srvConn, _ := openConn(t, url, ListenerBufferBytes(limit))
	srvConn.(*conn).log = logs.log
	sender, _ := openConn(t, url)
	ctx := ctxFor(t, 30*time.Second)
	tg := target.Target{Exchange: "openstack", Topic: uniqueTopic(t), Server: "s"}
	ln, err := srvConn.Listen(ctx, tg, driver.ListenOptions{Capacity: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	l := ln.(*rpcListener)
	base := heapInUse()
	body := []byte(strings.Repeat("x", 900<<10))
	const n = 100
	for range n {
		if err := sender.Send(ctx, tg, &driver.Message{Body: body}); err != nil {
			t.Fatal(err)
		}
	}
	// Wait until the listener has seen every message.
	for {
		msgs, _ := l.q.size()
		if int64(msgs)+l.dropped.Load() >= n {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the listener saw %d queued + %d dropped of %d", msgs, l.dropped.Load(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	msgs, bytes := l.q.size()
	grew := heapInUse() - base
	t.Logf("%d casts of 900 KB: %d queued (%d bytes), %d dropped; heap +%d MiB", n, msgs, bytes, l.dropped.Load(), grew>>20)
	if bytes > limit || msgs < 8 || msgs > 10 {
		t.Errorf("listener holds %d messages, %d bytes; want about %d bytes", msgs, bytes, limit)
	}
	if grew > 3*limit {
		t.Errorf("the heap grew by %d MiB for a listener bounded to %d MiB", grew>>20, limit>>20)
	}
	if got := logs.count(slog.LevelWarn, "RPC listener full"); got != 1 {
		t.Errorf("%d warnings for %d drops, want 1 (rate-limited)", got, l.dropped.Load())
	}
	for i := range msgs {
		in, err := ln.Next(ctx)
		if err != nil || len(in.Message().Body) != len(body) {
			t.Fatalf("message %d: %v", i, err)
		}
	}
}

// slowRecorder counts casts, each taking 50 ms.
type slowRecorder struct{ n atomic.Int64 }

func (s *slowRecorder) Record(ctx context.Context, a echoArgs) error {
	time.Sleep(50 * time.Millisecond)
	s.n.Add(1)
	return nil
}

// castBody is the oslo envelope of a cast of method with the argument
// text.
func castBody(method, text string) []byte {
	return []byte(`{"oslo.version": "2.0", "oslo.message": "{\"method\": \"` + method +
		`\", \"args\": {\"text\": \"` + text + `\"}, \"_unique_id\": \"` + ids.Hex() + `\"}"}`)
}

// TestCastFloodBounded floods a slow RPC server (one worker, 50 ms per
// cast) with 80 casts of 900 KB (72 MB) through the whole stack, with an
// 8 MiB listener buffer: the live heap stays bounded and the server goes
// on handling what it kept.
func TestCastFloodBounded(t *testing.T) {
	url := startNATSProcess(t)
	const limit = 8 << 20
	srvTr := openTransport(t, url, ListenerBufferBytes(limit))
	tp := uniqueTopic(t)
	rec := &slowRecorder{}
	startServerOpts(t, srvTr, target.Target{Topic: tp, Server: "s"}, []any{rec}, server.MaxConcurrency(1))
	sender, _ := openConn(t, url)
	ctx := ctxFor(t, 60*time.Second)
	stop := make(chan struct{})
	peak := watchLiveHeap(stop)
	tg := target.Target{Exchange: "openstack", Topic: tp}
	const n = 80
	text := strings.Repeat("y", 900<<10)
	start := time.Now()
	for range n {
		if err := sender.Send(ctx, tg, &driver.Message{Body: castBody("record", text)}); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("sent in %v", time.Since(start))
	time.Sleep(500 * time.Millisecond) // let the listener take the flood in
	close(stop)
	grew := <-peak
	t.Logf("%d casts of 900 KB to a server doing 20/s: %d handled so far; peak live heap +%d MiB", n, rec.n.Load(), grew>>20)
	if grew > limit+24<<20 {
		t.Errorf("the live heap grew by %d MiB with a %d MiB listener buffer", grew>>20, limit>>20)
	}
	if rec.n.Load() == 0 {
		t.Error("the server handled nothing")
	}
}

// watchLiveHeap samples the live heap (as of the last collection) until
// stop is closed, then sends the largest growth above the heap at the
// start.
func watchLiveHeap(stop chan struct{}) <-chan int64 {
	base := heapInUse()
	out := make(chan int64, 1)
	go func() {
		sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		var peak int64
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				out <- peak
				return
			case <-tick.C:
				metrics.Read(sample)
				peak = max(peak, int64(sample[0].Value.Uint64())-base)
			}
		}
	}()
	return out
}
