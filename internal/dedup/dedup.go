// Package dedup remembers the last message ids a consumer handled, to drop
// redeliveries of the same message (oslo's _unique_id and _MsgIdCache).
package dedup

import (
	"strings"
	"sync"
)

// key is an id held by value, so that the window never keeps the message
// body an id was sliced from alive: oslo's 32-digit ids fit in small;
// longer ones are copied.
type key struct {
	small [32]byte
	n     uint8
	big   string
}

func keyOf(id string) key {
	if len(id) <= len(key{}.small) {
		k := key{n: uint8(len(id))}
		copy(k.small[:], id)
		return k
	}
	return key{big: strings.Clone(id)}
}

// Window holds the last n ids. It is safe for concurrent use.
type Window struct {
	mu   sync.Mutex
	ring []key
	used []bool
	next int
	set  map[key]struct{}
}

// New returns a window of n ids.
func New(n int) *Window {
	return &Window{ring: make([]key, n), used: make([]bool, n), set: make(map[key]struct{}, n)}
}

// Contains reports whether id is in the window.
func (w *Window) Contains(id string) bool {
	k := keyOf(id)
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.set[k]
	return ok
}

// Add puts id in the window, pushing out the oldest id when it is full.
func (w *Window) Add(id string) { w.Seen(id) }

// Seen adds id and reports whether it was already in the window.
func (w *Window) Seen(id string) bool {
	k := keyOf(id)
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.set[k]; ok {
		return true
	}
	if w.used[w.next] {
		delete(w.set, w.ring[w.next])
	}
	w.ring[w.next], w.used[w.next] = k, true
	w.next = (w.next + 1) % len(w.ring)
	w.set[k] = struct{}{}
	return false
}
