// Package inbox is the queue in which a listener's messages wait until a
// Next takes them, for drivers that receive on goroutines of their own (the
// in-memory and ZeroMQ drivers). Several Next calls may wait at once, as a
// server's workers do: each item goes to one of them.
//
// A queue is bounded in items and in bytes. Push waits for room, which is
// how a driver applies backpressure (it stops reading from its connection
// while Push waits); Offer never waits, for drivers that keep what does
// not fit elsewhere (a broker's queue) and refill on OnRoom.
package inbox

import (
	"context"
	"sync"

	"github.com/oslo-go/messaging/transport/driver"
)

// Defaults and minimums of Limits (see ForCapacity).
const (
	// DefaultCapacity is the capacity ForCapacity assumes when the
	// listener's is unknown (0): the server's default MaxConcurrency.
	DefaultCapacity = 64
	// MinItems is the fewest items ForCapacity allows.
	MinItems = 16
	// DefaultBytes is the byte bound ForCapacity gives.
	DefaultBytes = 16 << 20
	// MinBytes is the smallest byte bound ForCapacity allows.
	MinBytes = 64 << 10
)

// Limits bound a queue. A queue always takes an item when it is empty,
// however large, so an item over Bytes still gets through, alone: a queue
// holds at most Bytes plus one item.
type Limits struct {
	// Items is the most items queued; at least 1.
	Items int
	// Bytes is the most bytes queued, as counted by Config.Size; at
	// least 1.
	Bytes int
}

// ForCapacity returns the limits of a listener whose consumer handles
// capacity messages at once (driver.ListenOptions.Capacity; 0 means
// DefaultCapacity), with items and bytes overriding the defaults when
// positive: as many items as the capacity (at least MinItems), so that a
// worker that becomes free finds a message waiting, and DefaultBytes.
// Values below the minimums are raised to them.
func ForCapacity(capacity, items, bytes int) Limits {
	if capacity <= 0 {
		capacity = DefaultCapacity
	}
	if items <= 0 {
		items = capacity
	}
	if bytes <= 0 {
		bytes = DefaultBytes
	}
	return Limits{Items: max(items, MinItems), Bytes: max(bytes, MinBytes)}
}

// Config configures a Queue.
type Config[T any] struct {
	Limits
	// Size returns the bytes an item counts for; nil counts 0, leaving
	// only the item bound.
	Size func(T) int
	// OnRoom, when set, is called after Next took an item (with no lock
	// of the queue held), so that a driver that keeps what Offer refused
	// can offer it again.
	OnRoom func()
}

// Queue is a bounded FIFO of items. It is safe for concurrent use.
type Queue[T any] struct {
	cfg Config[T]

	mu     sync.Mutex
	items  []entry[T] // queued from index head on
	head   int
	bytes  int
	closed bool
	wake   chan struct{} // one token: a waiting Next passes it on
	room   chan struct{} // closed when an item is taken; nil: nobody waits
	done   chan struct{} // closed by Close
}

type entry[T any] struct {
	v    T
	size int
}

// New returns an empty queue.
func New[T any](cfg Config[T]) *Queue[T] {
	cfg.Items = max(cfg.Items, 1)
	cfg.Bytes = max(cfg.Bytes, 1)
	return &Queue[T]{cfg: cfg, wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// Limits returns the queue's limits.
func (q *Queue[T]) Limits() Limits { return q.cfg.Limits }

func (q *Queue[T]) size(v T) int {
	if q.cfg.Size == nil {
		return 0
	}
	return q.cfg.Size(v)
}

// fits reports whether an item of n bytes fits now; q.mu is held.
func (q *Queue[T]) fits(n int) bool {
	queued := len(q.items) - q.head
	return queued == 0 || queued < q.cfg.Items && q.bytes+n <= q.cfg.Bytes
}

// add queues v; q.mu is held and it fits. It unlocks q.mu.
func (q *Queue[T]) add(v T, n int) {
	q.items = append(q.items, entry[T]{v, n})
	q.bytes += n
	q.mu.Unlock()
	q.signal()
}

// Push queues v, waiting while the queue is full, and wakes a waiting
// Next. It fails with driver.ErrClosed, queueing nothing, once the queue
// is closed, and with ctx's error when ctx ends first.
func (q *Queue[T]) Push(ctx context.Context, v T) error {
	n := q.size(v)
	for {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return driver.ErrClosed
		}
		if q.fits(n) {
			q.add(v, n)
			return nil
		}
		if q.room == nil {
			q.room = make(chan struct{})
		}
		room := q.room
		q.mu.Unlock()
		select {
		case <-room:
		case <-q.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Offer queues v if it fits now, and reports whether it did. It fails with
// driver.ErrClosed once the queue is closed.
func (q *Queue[T]) Offer(v T) (bool, error) {
	n := q.size(v)
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return false, driver.ErrClosed
	}
	if !q.fits(n) {
		q.mu.Unlock()
		return false, nil
	}
	q.add(v, n)
	return true, nil
}

// Len returns the items and bytes queued.
func (q *Queue[T]) Len() (items, bytes int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items) - q.head, q.bytes
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
		took := false
		for q.head < len(q.items) {
			v := q.pop()
			took = true
			if keep != nil && !keep(v) {
				continue
			}
			more := q.head < len(q.items)
			q.freed()
			if more {
				// The wake token was spent on this call; another Next may
				// be waiting for the items left.
				q.signal()
			}
			return v, nil
		}
		if took {
			q.freed()
		} else {
			q.mu.Unlock()
		}
		select {
		case <-q.wake:
		case <-q.done:
		case <-ctx.Done():
			return zero, ctx.Err()
		}
	}
}

// freed wakes the pushers waiting for room and unlocks q.mu, then calls
// OnRoom.
func (q *Queue[T]) freed() {
	if q.room != nil {
		close(q.room)
		q.room = nil
	}
	q.mu.Unlock()
	if q.cfg.OnRoom != nil {
		q.cfg.OnRoom()
	}
}

// pop removes the oldest item; q.mu is held and the queue is not empty.
func (q *Queue[T]) pop() T {
	e := q.items[q.head]
	q.items[q.head] = entry[T]{}
	q.head++
	q.bytes -= e.size
	switch {
	case q.head == len(q.items):
		q.items, q.head = q.items[:0], 0
	case q.head >= 1024 && 2*q.head >= len(q.items):
		// Reclaim the consumed front of a long backlog.
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
	return e.v
}

// Close closes the queue: waiting and later Next and Push calls return
// driver.ErrClosed. It returns the items no Next took, in order; a second
// Close returns none.
func (q *Queue[T]) Close() []T {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return nil
	}
	q.closed = true
	close(q.done)
	left := make([]T, 0, len(q.items)-q.head)
	for _, e := range q.items[q.head:] {
		left = append(left, e.v)
	}
	q.items, q.head, q.bytes = nil, 0, 0
	return left
}
