package zmq

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// pipeWriter returns a connWriter with a background flusher on one end of
// a synchronous pipe (a write waits until the other end reads), and the
// other end.
func pipeWriter(t *testing.T, alive func() bool) (*connWriter, net.Conn, *atomic.Int32) {
	t.Helper()
	a, b := net.Pipe()
	var failures atomic.Int32
	w := &connWriter{nc: a, timeout: 100 * time.Millisecond, limit: 64, alive: alive, kick: make(chan struct{}, 1)}
	w.onError = func(error) { failures.Add(1); a.Close() }
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() { defer close(exited); w.flushLoop(done) }()
	// Closing the pipe first ends a write the flusher retries forever
	// (alive reports true and nobody reads), as the driver's Close does.
	t.Cleanup(func() { close(done); a.Close(); b.Close(); <-exited })
	return w, b, &failures
}

func put(t *testing.T, w *connWriter, ctx context.Context, msg string, wait bool) error {
	t.Helper()
	buf, err := w.beginRoom(ctx, len(msg))
	if err != nil {
		return err
	}
	buf = append(buf, msg...)
	if !wait {
		w.commitLater(buf)
		return nil
	}
	return w.commitWait(ctx, buf)
}

// TestWriterHandoff: a sender whose write the peer does not read returns
// at its ctx deadline without failing the connection; the background
// flusher writes its message once the peer reads, in order, while the
// peer is alive; requests wait while the backlog is over the limit.
func TestWriterHandoff(t *testing.T) {
	w, peer, failures := pipeWriter(t, func() bool { return true })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := put(t, w, ctx, "first-message", true)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > time.Second {
		t.Fatalf("commitWait with nobody reading: %v after %v, want the ctx deadline", err, time.Since(start))
	}
	if err := put(t, w, context.Background(), "+second", false); err != nil {
		t.Fatal(err)
	}
	full, cancelFull := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancelFull()
	if err := put(t, w, full, string(make([]byte, 60)), false); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("request over the backlog limit: %v, want it to wait until ctx ends", err)
	}
	time.Sleep(300 * time.Millisecond) // several write timeouts, the peer alive
	got := make([]byte, len("first-message+second"))
	peer.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(peer, got); err != nil || !bytes.Equal(got, []byte("first-message+second")) {
		t.Fatalf("peer read %q, %v", got, err)
	}
	if n := failures.Load(); n != 0 {
		t.Fatalf("the connection failed %d times while its peer was alive", n)
	}
}

// TestWriterDeadPeer: a write that times out while the peer shows no sign
// of life fails the connection, and the waiting sender gets the error.
func TestWriterDeadPeer(t *testing.T) {
	w, _, failures := pipeWriter(t, func() bool { return false })
	err := put(t, w, context.Background(), "lost", true)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("commitWait to a dead peer: %v, want the write timeout", err)
	}
	// The flusher calls onError after it has unlocked the writer, which
	// can be after the sender has seen the error.
	for deadline := time.Now().Add(5 * time.Second); failures.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if failures.Load() != 1 {
		t.Fatalf("onError called %d times", failures.Load())
	}
	if _, err := w.begin(); err == nil {
		t.Fatal("the writer accepts messages after failing")
	}
}
