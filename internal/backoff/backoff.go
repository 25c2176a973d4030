// Package backoff computes the pauses between retries and sleeps them,
// for every retry loop of the library: receive loops of servers and
// listeners, driver reconnects, pulls and accepts.
package backoff

import (
	"context"
	"math"
	"math/rand/v2"
	"time"
)

// Backoff gives the pause before each retry: Initial, then growing by
// Factor (exponential) and by Step (linear, oslo's rabbit_retry_backoff),
// never above Max, plus a random extra of up to Jitter. The zero Factor
// means 1. A Backoff is not safe for concurrent use; each loop has its
// own.
type Backoff struct {
	Initial time.Duration
	Factor  float64
	Step    time.Duration
	Max     time.Duration // 0: no bound
	Jitter  time.Duration

	n int // retries since the last Reset
}

// Exponential doubles the pause from initial up to max.
func Exponential(initial, max time.Duration) *Backoff {
	return &Backoff{Initial: initial, Factor: 2, Max: max}
}

// Linear grows the pause by step from initial up to max (oslo's
// rabbit_retry_interval, rabbit_retry_backoff and rabbit_interval_max).
func Linear(initial, step, max time.Duration) *Backoff {
	return &Backoff{Initial: initial, Step: step, Max: max}
}

// At returns the pause before retry n (0 is the first), without jitter.
func (b *Backoff) At(n int) time.Duration {
	d := float64(b.Initial)
	f := b.Factor
	if f <= 0 {
		f = 1
	}
	limit := float64(b.Max)
	for i := 0; i < n; i++ {
		d = d*f + float64(b.Step)
		if limit > 0 && d >= limit {
			return b.Max
		}
		if d >= math.MaxInt64 {
			return math.MaxInt64
		}
	}
	if limit > 0 && d > limit {
		return b.Max
	}
	return time.Duration(d)
}

// Next returns the pause before the next retry, with jitter, and counts
// the retry.
func (b *Backoff) Next() time.Duration {
	d := b.At(b.n) + Jitter(b.Jitter)
	b.n++
	return d
}

// Retries returns how many retries Next has counted since the last Reset.
func (b *Backoff) Retries() int { return b.n }

// Reset starts again from Initial, after a success.
func (b *Backoff) Reset() { b.n = 0 }

// Jitter returns a random duration in [0, max); 0 when max <= 0.
func Jitter(max time.Duration) time.Duration {
	if max <= 0 {
		return 0
	}
	return rand.N(max)
}

// Sleep waits d, or until ctx ends or stop (which may be nil) is closed.
// It reports whether the whole pause passed.
func Sleep(ctx context.Context, d time.Duration, stop <-chan struct{}) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-stop:
		return false
	}
}
