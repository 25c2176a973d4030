package zmq

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/oslo-go/messaging/client"
	"github.com/oslo-go/messaging/server"
	"github.com/oslo-go/messaging/target"
)

// readAsync reads n bytes from nc in the background, for at most 5 s.
func readAsync(nc net.Conn, n int) <-chan []byte {
	read := make(chan []byte, 1)
	go func() {
		got := make([]byte, n)
		nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		io.ReadFull(nc, got)
		read <- got
	}()
	return read
}

// TestWriterDrain: drain returns once what was queued for the background
// flusher is written, and at its ctx's end when the peer reads nothing,
// without failing a connection whose peer is alive.
func TestWriterDrain(t *testing.T) {
	w, peer, failures := pipeWriter(t, func() bool { return true })
	for _, m := range []string{"one", "+two", "+three"} {
		if err := put(t, w, context.Background(), m, false); err != nil {
			t.Fatal(err)
		}
	}
	read := readAsync(peer, len("one+two+three"))
	if err := w.drain(context.Background()); err != nil {
		t.Fatalf("drain: %v", err)
	}
	if got := <-read; !bytes.Equal(got, []byte("one+two+three")) {
		t.Fatalf("peer read %q", got)
	}

	if n := failures.Load(); n != 0 {
		t.Fatalf("the connection failed %d times while its peer was alive", n)
	}

	// Nobody reads now: drain gives up at its deadline, waiting for the
	// flusher's write (the ctx error) or having written itself (the
	// write's timeout).
	if err := put(t, w, context.Background(), "unread", false); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := w.drain(ctx); err == nil || time.Since(start) > 2*time.Second {
		t.Fatalf("drain with nobody reading: %v after %v, want an error at the ctx deadline", err, time.Since(start))
	}
}

// TestWriterDrainWrites: without a write under way, drain writes the queue
// itself; its deadline bounds that write too (the writer then fails).
func TestWriterDrainWrites(t *testing.T) {
	a, peer := net.Pipe()
	t.Cleanup(func() { a.Close(); peer.Close() })
	var failures atomic.Int32
	w := &connWriter{nc: a, timeout: 100 * time.Millisecond, alive: func() bool { return true }}
	w.onError = func(error) { failures.Add(1); a.Close() }
	w.mu.Lock()
	w.store(append(w.buf, "queued"...))
	w.mu.Unlock()
	read := readAsync(peer, len("queued"))
	if err := w.drain(context.Background()); err != nil {
		t.Fatalf("drain: %v", err)
	}
	if got := <-read; string(got) != "queued" {
		t.Fatalf("peer read %q", got)
	}

	w.mu.Lock()
	w.store(append(w.buf, "unread"...))
	w.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := w.drain(ctx); err == nil || time.Since(start) > 2*time.Second {
		t.Fatalf("drain with nobody reading: %v after %v, want a failed write at the ctx deadline", err, time.Since(start))
	}
	if failures.Load() != 1 {
		t.Fatalf("onError called %d times, want once", failures.Load())
	}
}

// TestCloseWritesQueuedCasts: casts return once queued on the connection;
// closing the client's transport right after the last one still delivers
// every cast.
func TestCloseWritesQueuedCasts(t *testing.T) {
	noLeaks(t)
	const n = 3000
	url := "zmq:///" + t.Name()
	sink := &gatedSink{gate: make(chan struct{})}
	close(sink.gate)
	startSink(t, url, target.Target{Topic: "linger", Server: "s"}, sink, 8)
	tr := openTr(t, url)
	c, err := client.New(tr, target.Target{Topic: "linger"})
	if err != nil {
		t.Fatal(err)
	}
	pad := sinkArgs{Pad: strings.Repeat("x", 512)}
	for i := 0; i < n; i++ {
		if err := c.Cast(context.Background(), "take", pad); err != nil {
			t.Fatalf("cast %d: %v", i, err)
		}
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for sink.n.Load() < n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := sink.n.Load(); got != n {
		t.Fatalf("%d of %d casts handled after the sender's Close", got, n)
	}
}

// TestCloseBoundedBySilentServer: Close does not wait longer than about
// heartbeat_timeout for a server that reads nothing.
func TestCloseBoundedBySilentServer(t *testing.T) {
	noLeaks(t)
	ns := t.Name()
	addr := silentPeer(t, zmq4.Router)
	register(t, memMatchmakerFor(ns), Key{Topic: "silent"}, addr, time.Minute)
	tr := openTr(t, "zmq:///"+ns+"?heartbeat_interval=200ms&heartbeat_timeout=1s")
	c, _ := client.New(tr, target.Target{Topic: "silent"})
	pad := sinkArgs{Pad: strings.Repeat("x", 64<<10)}
	// Until the connection's backlog is full: more than the TCP buffers hold.
	sent := 0
	for ; sent < 400; sent++ {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		err := c.Cast(ctx, "take", pad)
		cancel()
		if err != nil {
			t.Logf("cast %d: %v", sent, err)
			break
		}
	}
	if sent == 0 {
		t.Fatal("no cast queued")
	}
	start := time.Now()
	tr.Close()
	if took := time.Since(start); took > 4*time.Second {
		t.Fatalf("Close took %v with a silent server, want about heartbeat_timeout (1s) at most", took)
	}
	t.Logf("Close took %v with %d casts of 64 KiB queued", time.Since(start).Round(time.Millisecond), sent)
}

// slowEcho answers after a pause; entered counts the calls it took.
type slowEcho struct{ entered atomic.Int32 }

func (e *slowEcho) Slow(ctx context.Context, args sinkArgs) (string, error) {
	e.entered.Add(1)
	time.Sleep(100 * time.Millisecond)
	return args.Pad, nil
}

// TestCloseWritesQueuedReplies: a server's replies are queued for the
// connection's background flusher; closing the server's transport right
// after a graceful server shutdown still delivers every reply.
func TestCloseWritesQueuedReplies(t *testing.T) {
	noLeaks(t)
	const n = 100
	url := "zmq:///" + t.Name()
	srvTr := openTr(t, url)
	ep := &slowEcho{}
	srv, err := server.New(srvTr, target.Target{Topic: "replies", Server: "s"}, []any{ep}, server.MaxConcurrency(2*n))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	c, _ := client.New(openTr(t, url), target.Target{Topic: "replies"}, client.Timeout(20*time.Second))
	errs := make(chan error, n)
	pad := strings.Repeat("y", 16<<10)
	for range n {
		go func() {
			var got string
			err := c.Call(context.Background(), "slow", sinkArgs{Pad: pad}, &got)
			if err == nil && got != pad {
				err = errors.New("wrong reply")
			}
			errs <- err
		}()
	}
	for deadline := time.Now().Add(10 * time.Second); ep.entered.Load() < n && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if err := srv.Shutdown(context.Background()); err != nil { // waits for the handlers and their replies
		t.Fatal(err)
	}
	if err := srvTr.Close(); err != nil {
		t.Fatal(err)
	}
	failed := 0
	for range n {
		if err := <-errs; err != nil {
			failed++
			t.Log(err)
		}
	}
	if failed > 0 {
		t.Fatalf("%d of %d calls taken by the server failed", failed, n)
	}
}
