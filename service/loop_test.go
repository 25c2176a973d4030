package service

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestFixedInterval(t *testing.T) {
	c := newFakeClock()
	start := c.Now()
	var at []time.Duration
	l := FixedInterval(context.Background(), 10*time.Second, func(context.Context) error {
		at = append(at, c.Now().Sub(start))
		switch len(at) {
		case 2:
			c.Advance(3 * time.Second) // the call takes 3 s: the next starts 7 s later
		case 4:
			return ErrLoopDone
		}
		return nil
	}, InitialDelay(5*time.Second), loopClock(c))
	for _, d := range []time.Duration{5, 10, 7, 10} {
		step(c, d*time.Second)
	}
	if err := l.Wait(); err != nil {
		t.Fatalf("Wait: %v", err)
	}
	want := []time.Duration{5 * time.Second, 15 * time.Second, 25 * time.Second, 35 * time.Second}
	if len(at) != len(want) {
		t.Fatalf("calls at %v, want %v", at, want)
	}
	for i := range want {
		if at[i] != want[i] {
			t.Fatalf("calls at %v, want %v", at, want)
		}
	}
}

func TestFixedIntervalErrors(t *testing.T) {
	boom := errors.New("boom")
	// By default an error stops the loop and Wait returns it.
	l := FixedInterval(context.Background(), time.Millisecond, func(context.Context) error { return boom })
	if err := l.Wait(); !errors.Is(err, boom) {
		t.Fatalf("Wait: %v", err)
	}
	// With ContinueOnError a failure and a panic are logged and it goes on.
	var logs syncBuffer
	var n atomic.Int32
	l = FixedInterval(context.Background(), time.Millisecond, func(context.Context) error {
		switch n.Add(1) {
		case 1:
			return boom
		case 2:
			panic("kaboom")
		case 3:
			return ErrLoopDone
		}
		return nil
	}, ContinueOnError(true), WithLoopLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	if err := l.Wait(); err != nil || n.Load() != 3 {
		t.Fatalf("Wait: %v after %d calls", err, n.Load())
	}
	if out := logs.String(); !strings.Contains(out, "boom") || !strings.Contains(out, "kaboom") {
		t.Fatalf("logs: %s", out)
	}
	// Stop ends a running loop.
	l = FixedInterval(context.Background(), time.Hour, func(context.Context) error { return nil })
	if err := l.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	select {
	case <-l.Done():
	default:
		t.Fatal("Done not closed after Stop")
	}
}

func TestBackOff(t *testing.T) {
	c := newFakeClock()
	results := []bool{false, false, false, true, false}
	i := 0
	l := BackOff(context.Background(), func(context.Context) (bool, error) {
		if i == len(results) {
			return false, ErrLoopDone
		}
		i++
		return results[i-1], nil
	}, StartingInterval(time.Second), Jitter(1), MaxInterval(5*time.Second), loopClock(c))
	for range results {
		c.waitSleeping()
		c.Advance(time.Minute) // wakes the loop whatever its pause
	}
	if err := l.Wait(); err != nil {
		t.Fatal(err)
	}
	// Failures double the pause (2, 4, then 8 capped at 5 s); a success
	// goes back to the starting interval (1 s), the next failure doubles
	// it (2 s). Each pause has a random factor around 1 (deviation 0.1).
	got := c.pauses()[1:] // [0] is the zero initial delay
	want := []float64{2, 4, 5, 1, 2}
	if len(got) != len(want) {
		t.Fatalf("pauses %v, want about %v s", got, want)
	}
	for k, w := range want {
		if s := got[k].Seconds(); s < w*0.6 || s > w*1.4 {
			t.Fatalf("pauses %v, want about %v s", got, want)
		}
	}
}

func TestBackOffTimeout(t *testing.T) {
	l := BackOff(context.Background(), func(context.Context) (bool, error) { return false, nil },
		StartingInterval(time.Millisecond), BackOffTimeout(50*time.Millisecond), MaxInterval(20*time.Millisecond))
	start := time.Now()
	err := l.Wait()
	if !errors.Is(err, ErrLoopTimeout) || time.Since(start) > 2*time.Second {
		t.Fatalf("Wait: %v after %v", err, time.Since(start))
	}
	boom := errors.New("boom")
	if err := BackOff(context.Background(), func(context.Context) (bool, error) { return false, boom }).Wait(); !errors.Is(err, boom) {
		t.Fatalf("error from f: %v", err)
	}
}
