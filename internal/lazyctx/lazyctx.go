// Package lazyctx has a context with a deadline that costs nothing until
// someone waits on it.
package lazyctx

import (
	"context"
	"sync"
	"time"
)

// Ctx is a parent context with a deadline. Unlike context.WithDeadline it
// starts no timer and registers nothing with the parent until Done is first
// called. Servers give one to each handler (most never wait on Done) and
// clients to each cast (drivers that do not block never wait on Done): the
// common case pays one allocation.
type Ctx struct {
	context.Context // the parent
	deadline        time.Time

	mu         sync.Mutex
	done       chan struct{} // made by the first Done call
	err        error         // set when done closes, or by Err before Done
	timer      *time.Timer
	stopParent func() bool
}

// WithDeadline returns parent with the given deadline. Call Release when
// done with it.
func WithDeadline(parent context.Context, deadline time.Time) *Ctx {
	return &Ctx{Context: parent, deadline: deadline}
}

// Init makes the zero c a context like WithDeadline's, for callers that
// allocate it with other values. c must not be in use.
func (c *Ctx) Init(parent context.Context, deadline time.Time) {
	c.Context, c.deadline = parent, deadline
}

// Parent returns the context this one derives from, for callers that
// watch the deadline with a timer of their own and the parent's Done.
func (c *Ctx) Parent() context.Context { return c.Context }

// Deadline returns the caller's deadline.
func (c *Ctx) Deadline() (time.Time, bool) { return c.deadline, true }

// Done returns a channel closed at the deadline or when the parent is
// canceled.
func (c *Ctx) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done != nil {
		return c.done
	}
	c.done = make(chan struct{})
	if c.err == nil {
		c.err = c.expired()
	}
	if c.err != nil {
		close(c.done)
		return c.done
	}
	c.timer = time.AfterFunc(time.Until(c.deadline), func() { c.cancel(context.DeadlineExceeded) })
	c.stopParent = context.AfterFunc(c.Context, func() { c.cancel(c.Context.Err()) })
	return c.done
}

// Err reports why the context ended, or nil.
func (c *Ctx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		// Decide from the clock and the parent, as a context canceled with
		// its parent reports it at once; from now on Done is closed.
		c.err = c.expired()
		if c.err != nil && c.done != nil {
			select {
			case <-c.done:
			default:
				close(c.done)
			}
		}
	}
	return c.err
}

// expired returns the parent's error or DeadlineExceeded if either ended.
func (c *Ctx) expired() error {
	if err := c.Context.Err(); err != nil {
		return err
	}
	if !time.Now().Before(c.deadline) {
		return context.DeadlineExceeded
	}
	return nil
}

func (c *Ctx) cancel(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = err
	}
	select {
	case <-c.done:
	default:
		close(c.done)
	}
}

// Release stops the timer and the parent watch, if Done started them.
func (c *Ctx) Release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.timer != nil {
		c.timer.Stop()
	}
	if c.stopParent != nil {
		c.stopParent()
	}
}

// Reset makes a released c the zero Ctx again, for Init, and reports
// true; unless Done was called: then its timer or its watch of the parent
// may still fire, it reports false and c must not be reused.
func (c *Ctx) Reset() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done != nil {
		return false
	}
	c.Context, c.deadline, c.err = nil, time.Time{}, nil
	return true
}
