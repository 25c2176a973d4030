package lazyctx

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestWithDeadline(t *testing.T) {
	defer goleak.VerifyNone(t)
	// Deadline reached with Done waited on.
	c := WithDeadline(context.Background(), time.Now().Add(30*time.Millisecond))
	if c.Err() != nil {
		t.Fatal("ended early")
	}
	if dl, ok := c.Deadline(); !ok || time.Until(dl) > 30*time.Millisecond {
		t.Fatalf("Deadline() = %v, %v", dl, ok)
	}
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed at the deadline")
	}
	if !errors.Is(c.Err(), context.DeadlineExceeded) {
		t.Fatalf("Err() = %v", c.Err())
	}
	c.Release()

	// Deadline passed without Done ever called: Err still reports it, and
	// Done is then closed.
	c = WithDeadline(context.Background(), time.Now().Add(time.Millisecond))
	time.Sleep(5 * time.Millisecond)
	if !errors.Is(c.Err(), context.DeadlineExceeded) {
		t.Fatalf("Err() = %v", c.Err())
	}
	select {
	case <-c.Done():
	default:
		t.Fatal("Done open after Err reported the deadline")
	}
	c.Release()

	// Parent canceled.
	parent, cancel := context.WithCancel(context.Background())
	c = WithDeadline(parent, time.Now().Add(time.Hour))
	done := c.Done()
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed when the parent was canceled")
	}
	if !errors.Is(c.Err(), context.Canceled) {
		t.Fatalf("Err() = %v", c.Err())
	}
	c.Release()

	// Children derived from it follow it, and values come from the parent.
	type key struct{}
	parent = context.WithValue(context.Background(), key{}, "v")
	c = WithDeadline(parent, time.Now().Add(20*time.Millisecond))
	child, cancelChild := context.WithCancel(c)
	defer cancelChild()
	if child.Value(key{}) != "v" {
		t.Fatal("value lost")
	}
	select {
	case <-child.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("child not canceled at the parent's deadline")
	}
	c.Release()
	// A released context that was never waited on started nothing.
	c = WithDeadline(context.Background(), time.Now().Add(time.Hour))
	c.Release()
}

// TestErrFollowsParentAtOnce: once the parent is canceled, Err says so
// at once, whether or not Done was called, and Done is closed.
func TestErrFollowsParentAtOnce(t *testing.T) {
	for _, callDone := range []bool{false, true} {
		parent, cancel := context.WithCancel(context.Background())
		c := WithDeadline(parent, time.Now().Add(time.Hour))
		if callDone {
			c.Done()
		}
		cancel()
		if !errors.Is(c.Err(), context.Canceled) {
			t.Fatalf("Done called %v: Err = %v right after the parent's cancel", callDone, c.Err())
		}
		select {
		case <-c.Done():
		default:
			t.Fatalf("Done called %v: Done open after Err", callDone)
		}
		c.Release()
	}
}

// TestReset: a Ctx nobody waited on is zero again after Reset and works
// once more after Init; one whose Done was called is not reusable.
func TestReset(t *testing.T) {
	var c Ctx
	c.Init(context.Background(), time.Now().Add(-time.Second))
	if c.Err() == nil {
		t.Fatal("a past deadline is not reported")
	}
	c.Release()
	if !c.Reset() {
		t.Fatal("Reset refused a Ctx whose Done was never called")
	}
	if c.Context != nil || !c.deadline.IsZero() || c.err != nil {
		t.Fatalf("Reset left %+v", &c)
	}
	c.Init(context.Background(), time.Now().Add(time.Hour))
	if err := c.Err(); err != nil {
		t.Fatalf("reused Ctx: %v", err)
	}
	select {
	case <-c.Done():
		t.Fatal("reused Ctx is done")
	default:
	}
	c.Release()
	if c.Reset() {
		t.Fatal("Reset accepted a Ctx whose Done was called")
	}
}
