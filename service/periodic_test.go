package service

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// runs records the fake-clock times at which a task ran.
type runs struct {
	mu    sync.Mutex
	times []time.Duration
	ran   chan struct{}
}

func newRuns() *runs { return &runs{ran: make(chan struct{}, 100)} }

func (r *runs) task(c *fakeClock, start time.Time, f func()) func(context.Context) error {
	return func(context.Context) error {
		r.mu.Lock()
		r.times = append(r.times, c.Now().Sub(start))
		r.mu.Unlock()
		if f != nil {
			f()
		}
		r.ran <- struct{}{}
		return nil
	}
}

func (r *runs) got() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Duration(nil), r.times...)
}

// step advances the clock by d once the runner sleeps, then waits for it
// to sleep again (having run what was due).
func step(c *fakeClock, d time.Duration) {
	c.waitSleeping()
	c.Advance(d)
}

func newRunner(t *testing.T, c *fakeClock, log *slog.Logger, tasks ...Task) *taskRunner {
	t.Helper()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r, err := newTaskRunner(tasks, c, log, "Manager", 0, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	r.start()
	t.Cleanup(func() { r.stop(context.Background()) })
	return r
}

func TestPeriodicTiming(t *testing.T) {
	c := newFakeClock()
	start := c.Now()
	every10, immediate, delayed := newRuns(), newRuns(), newRuns()
	newRunner(t, c, nil,
		Task{Name: "every10", Spacing: 10 * time.Second, Run: every10.task(c, start, nil)},
		Task{Name: "immediate", Spacing: 30 * time.Second, RunImmediately: true, Run: immediate.task(c, start, nil)},
		Task{Name: "delayed", Spacing: 30 * time.Second, RunImmediately: true, InitialDelay: 5 * time.Second, Run: delayed.task(c, start, nil)},
		Task{Name: "disabled", Spacing: -1, Run: func(context.Context) error { t.Error("a disabled task ran"); return nil }},
	)
	<-immediate.ran
	for range 60 { // one minute, a second at a time
		step(c, time.Second)
	}
	c.waitSleeping()
	// Runs drift by up to 5% of the spacing in whole seconds: none for 10 s,
	// up to 1 s for 30 s.
	want10 := []time.Duration{10, 20, 30, 40, 50, 60}
	if got := every10.got(); len(got) != len(want10) {
		t.Fatalf("every10 ran at %v", got)
	} else {
		for i, w := range want10 {
			if got[i] != w*time.Second {
				t.Fatalf("every10 ran at %v, want %v s", got, want10)
			}
		}
	}
	if got := immediate.got(); len(got) < 2 || got[0] != 0 || got[1] < 30*time.Second || got[1] > 31*time.Second {
		t.Fatalf("immediate ran at %v", got)
	}
	if got := delayed.got(); len(got) < 2 || got[0] != 5*time.Second || got[1] < 35*time.Second || got[1] > 36*time.Second {
		t.Fatalf("delayed ran at %v", got)
	}
}

func TestPeriodicTasksNeverOverlap(t *testing.T) {
	c := newFakeClock()
	start := c.Now()
	var running, peak atomic.Int32
	enter := func() {
		n := running.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(5 * time.Millisecond) // real time: the other task is due meanwhile
		running.Add(-1)
	}
	a, b := newRuns(), newRuns()
	newRunner(t, c, nil,
		Task{Name: "a", Spacing: time.Second, RunImmediately: true, Run: a.task(c, start, enter)},
		Task{Name: "b", Spacing: time.Second, RunImmediately: true, Run: b.task(c, start, enter)},
	)
	for range 20 {
		step(c, time.Second)
	}
	c.waitSleeping()
	if peak.Load() != 1 {
		t.Fatalf("%d tasks of one manager ran at once", peak.Load())
	}
	if len(a.got()) < 15 || len(b.got()) < 15 {
		t.Fatalf("a ran %d times, b %d", len(a.got()), len(b.got()))
	}
}

func TestPeriodicTaskFailures(t *testing.T) {
	c := newFakeClock()
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	var panics, fails atomic.Int32
	newRunner(t, c, log,
		Task{Name: "panics", Spacing: time.Second, RunImmediately: true, Run: func(context.Context) error {
			panics.Add(1)
			panic("kaboom")
		}},
		Task{Name: "fails", Spacing: time.Second, RunImmediately: true, Run: func(context.Context) error {
			fails.Add(1)
			return errors.New("db down")
		}},
	)
	for range 3 {
		step(c, time.Second)
	}
	c.waitSleeping()
	if panics.Load() < 3 || fails.Load() < 3 {
		t.Fatalf("after failures: panics ran %d times, fails %d", panics.Load(), fails.Load())
	}
	out := logs.String()
	if !strings.Contains(out, "periodic task panicked") || !strings.Contains(out, "task=Manager.panics") || !strings.Contains(out, "kaboom") ||
		!strings.Contains(out, "periodic task failed") || !strings.Contains(out, "db down") {
		t.Fatalf("logs:\n%s", out)
	}
}

func TestPeriodicStopWaitsForTheRunningTask(t *testing.T) {
	c := newFakeClock()
	entered, release := make(chan struct{}), make(chan struct{})
	var sawCancel atomic.Bool
	r, err := newTaskRunner([]Task{{Name: "slow", RunImmediately: true, Run: func(ctx context.Context) error {
		close(entered)
		<-ctx.Done() // stop cancels the task's ctx...
		sawCancel.Store(true)
		<-release // ...and waits for it to return
		return nil
	}}}, c, slog.New(slog.DiscardHandler), "M", 0, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	r.start()
	<-entered
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := r.stop(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("stop with a task still running: %v", err)
	}
	close(release)
	if err := r.stop(context.Background()); err != nil || !sawCancel.Load() {
		t.Fatalf("stop: %v, task saw cancel: %v", err, sawCancel.Load())
	}
}

func TestTaskValidation(t *testing.T) {
	if _, err := newTaskRunner([]Task{{Spacing: time.Second}}, newFakeClock(), slog.New(slog.DiscardHandler), "M", 0, 0); err == nil {
		t.Fatal("a task without Name and Run accepted")
	}
}

func TestFuzzyDelayAndIntervalMax(t *testing.T) {
	c := newFakeClock()
	start := c.Now()
	ran := newRuns()
	r, err := newTaskRunner([]Task{{Name: "t", Spacing: time.Hour, RunImmediately: true, Run: ran.task(c, start, nil)}},
		c, slog.New(slog.DiscardHandler), "M", 10*time.Second, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	r.start()
	defer r.stop(context.Background())
	for range 4 { // the fuzzy delay is under 10 s; checks are at most 5 s apart
		step(c, 5*time.Second)
	}
	<-ran.ran
	if got := ran.got(); len(got) != 1 || got[0] <= 0 || got[0] > 10*time.Second {
		t.Fatalf("with a 10 s fuzzy delay the task ran at %v", got)
	}
}
