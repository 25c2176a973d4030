// Package dedup remembers the last message ids a consumer handled, to drop
// redeliveries of the same message (oslo's _unique_id and _MsgIdCache).
package dedup

import "sync"

// Window holds the last n ids. It is safe for concurrent use.
type Window struct {
	mu   sync.Mutex
	ring []string
	next int
	set  map[string]struct{}
}

// New returns a window of n ids.
func New(n int) *Window {
	return &Window{ring: make([]string, n), set: make(map[string]struct{}, n)}
}

// Contains reports whether id is in the window.
func (w *Window) Contains(id string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.set[id]
	return ok
}

// Add puts id in the window, pushing out the oldest id when it is full.
func (w *Window) Add(id string) { w.Seen(id) }

// Seen adds id and reports whether it was already in the window.
func (w *Window) Seen(id string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.set[id]; ok {
		return true
	}
	if old := w.ring[w.next]; old != "" {
		delete(w.set, old)
	}
	w.ring[w.next] = id
	w.next = (w.next + 1) % len(w.ring)
	w.set[id] = struct{}{}
	return false
}
