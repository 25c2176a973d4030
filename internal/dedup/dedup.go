// Package dedup remembers the last message ids a consumer handled, to drop
// redeliveries of the same message (oslo's _unique_id and _MsgIdCache).
package dedup

import (
	"crypto/sha256"
	"strings"
	"sync"
	"unsafe"
)

// Window holds the last n ids. It is safe for concurrent use. The ids are
// held by value, so that the window never keeps the message body an id was
// sliced from alive: oslo's ids (uuid4().hex, 32 lower-case hex digits) as
// their 16 bytes, any other id as a copy, and one longer than maxKept as
// its SHA-256 digest, so that the window's memory is bounded whatever ids
// arrive.
type Window struct {
	mu     sync.Mutex
	ring   []slot
	next   int
	hexes  map[[16]byte]struct{}
	others map[string]struct{}
}

// slot is one id of the ring, in the order they were added.
type slot struct {
	hex   [16]byte
	other string
	kind  uint8 // empty, hexID or otherID
}

const (
	empty = iota
	hexID
	otherID
)

// New returns a window of n ids.
func New(n int) *Window {
	n = max(n, 1)
	return &Window{ring: make([]slot, n), hexes: make(map[[16]byte]struct{}, n), others: map[string]struct{}{}}
}

// maxKept is the longest id other than oslo's that the window keeps as it
// is.
const maxKept = 64

// otherKey returns the key of an id that is not oslo's: the id, or for a
// long one a string of a length no kept id has, made of its digest.
func otherKey(id string) string {
	if len(id) <= maxKept {
		return id
	}
	// A read-only view: hashing a huge id costs no copy of it.
	sum := sha256.Sum256(unsafe.Slice(unsafe.StringData(id), len(id)))
	return digestPrefix + string(sum[:])
}

// digestPrefix makes a digest key longer than maxKept.
const digestPrefix = "\x00dedup: the SHA-256 digest of a long id: "

// hexValue maps a lower-case hex digit to its value plus one, anything
// else to 0.
var hexValue = func() (t [256]uint8) {
	for i, c := range "0123456789abcdef" {
		t[c] = uint8(i) + 1
	}
	return t
}()

// parseHex returns the 16 bytes of an id of 32 lower-case hex digits. Only
// lower case: "AB" and "ab" are different ids.
func parseHex(id string) (b [16]byte, ok bool) {
	if len(id) != 32 {
		return b, false
	}
	for i := range b {
		hi, lo := hexValue[id[2*i]], hexValue[id[2*i+1]]
		if hi == 0 || lo == 0 {
			return b, false
		}
		b[i] = (hi-1)<<4 | (lo - 1)
	}
	return b, true
}

// Contains reports whether id is in the window.
func (w *Window) Contains(id string) bool {
	h, isHex := parseHex(id)
	if isHex {
		w.mu.Lock()
		defer w.mu.Unlock()
		_, ok := w.hexes[h]
		return ok
	}
	k := otherKey(id)
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.others[k]
	return ok
}

// Add puts id in the window, pushing out the oldest id when it is full.
func (w *Window) Add(id string) { w.Seen(id) }

// Seen adds id and reports whether it was already in the window.
func (w *Window) Seen(id string) bool {
	h, isHex := parseHex(id)
	var k string
	if !isHex {
		k = otherKey(id) // outside the lock: a long id takes time to hash
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	s := slot{hex: h, kind: hexID}
	if isHex {
		// One lookup both checks and inserts: the map grows only for a
		// new id.
		n := len(w.hexes)
		if w.hexes[h] = struct{}{}; len(w.hexes) == n {
			return true
		}
	} else {
		if _, ok := w.others[k]; ok {
			return true
		}
		if len(id) <= maxKept {
			k = strings.Clone(id) // not the body's memory
		}
		s = slot{other: k, kind: otherID}
		w.others[s.other] = struct{}{}
	}
	switch old := &w.ring[w.next]; old.kind {
	case hexID:
		delete(w.hexes, old.hex)
	case otherID:
		delete(w.others, old.other)
	}
	w.ring[w.next] = s
	w.next = (w.next + 1) % len(w.ring)
	return false
}
