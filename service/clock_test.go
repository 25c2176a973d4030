package service

import (
	"context"
	"sync"
	"time"
)

// fakeClock is advanced by tests.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	sleeper []*fakeSleep
	slept   []time.Duration // every pause asked for
}

type fakeSleep struct {
	until time.Time
	done  chan struct{}
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Unix(1_700_000_000, 0)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) bool {
	c.mu.Lock()
	c.slept = append(c.slept, d)
	s := &fakeSleep{until: c.now.Add(d), done: make(chan struct{})}
	if d <= 0 {
		c.mu.Unlock()
		return ctx.Err() == nil
	}
	c.sleeper = append(c.sleeper, s)
	c.mu.Unlock()
	select {
	case <-s.done:
		return true
	case <-ctx.Done():
		return false
	}
}

// Advance moves the clock and wakes the sleepers whose time has come.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.sleeper[:0]
	for _, s := range c.sleeper {
		if !s.until.After(c.now) {
			close(s.done)
			continue
		}
		kept = append(kept, s)
	}
	c.sleeper = kept
}

// waitSleeping blocks until a goroutine sleeps on the clock and none is
// due: the sleepers have run what the last Advance made due.
func (c *fakeClock) waitSleeping() {
	for {
		c.mu.Lock()
		settled := len(c.sleeper) > 0
		for _, s := range c.sleeper {
			if !s.until.After(c.now) {
				settled = false
			}
		}
		c.mu.Unlock()
		if settled {
			return
		}
		time.Sleep(100 * time.Microsecond)
	}
}

func (c *fakeClock) pauses() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.slept...)
}
