// Package inbox is the queue in which a listener's messages wait until a
// Next takes them, for drivers that receive on goroutines of their own (the
// in-memory and ZeroMQ drivers). Several Next calls may wait at once, as a
// server's workers do: each item goes to one of them.
package inbox

import (
	"context"
	"sync"

	"github.com/oslo-go/messaging/transport/driver"
)

// Queue is an unbounded FIFO of items. It is safe for concurrent use.
type Queue[T any] struct {
	mu     sync.Mutex
	items  []T // queued from index head on
	head   int
	closed bool
	wake   chan struct{} // one token: a waiting Next passes it on
	done   chan struct{} // closed by Close
}

// New returns an empty queue.
func New[T any]() *Queue[T] {
	return &Queue[T]{wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// Push queues v and wakes a waiting Next. It reports false, queueing
// nothing, once the queue is closed.
func (q *Queue[T]) Push(v T) bool {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return false
	}
	q.items = append(q.items, v)
	q.mu.Unlock()
	q.signal()
	return true
}

// signal wakes one waiting Next, if any.
func (q *Queue[T]) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Next returns the oldest item for which keep reports true, dropping the
// others (keep may be nil), waiting until one arrives, ctx ends or the
// queue closes (driver.ErrClosed). keep runs with the queue locked.
func (q *Queue[T]) Next(ctx context.Context, keep func(T) bool) (T, error) {
	var zero T
	for {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return zero, driver.ErrClosed
		}
		for q.head < len(q.items) {
			v := q.pop()
			if keep != nil && !keep(v) {
				continue
			}
			more := q.head < len(q.items)
			q.mu.Unlock()
			if more {
				// The wake token was spent on this call; another Next may
				// be waiting for the items left.
				q.signal()
			}
			return v, nil
		}
		q.mu.Unlock()
		select {
		case <-q.wake:
		case <-q.done:
		case <-ctx.Done():
			return zero, ctx.Err()
		}
	}
}

// pop removes the oldest item; q.mu is held and the queue is not empty.
func (q *Queue[T]) pop() T {
	var zero T
	v := q.items[q.head]
	q.items[q.head] = zero
	q.head++
	switch {
	case q.head == len(q.items):
		q.items, q.head = q.items[:0], 0
	case q.head >= 1024 && 2*q.head >= len(q.items):
		// Reclaim the consumed front of a long backlog.
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
	return v
}

// Close closes the queue: waiting and later Next calls return
// driver.ErrClosed and Push refuses items. It returns the items no Next
// took, in order; a second Close returns none.
func (q *Queue[T]) Close() []T {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return nil
	}
	q.closed = true
	close(q.done)
	left := q.items[q.head:]
	q.items, q.head = nil, 0
	return left
}
