package pyjson

import (
	"hash/maphash"
	"sync/atomic"
)

// Object keys repeat from message to message (oslo envelopes always carry
// the same dozen or so), so Fields interns short keys in a small lock-free
// direct-mapped cache: a hit returns the cached string without allocating, a
// miss allocates the string (and its cache entry) as usual.
const internSlots, maxInternLen = 1024, 64

var (
	internSeed  = maphash.MakeSeed()
	internTable [internSlots]atomic.Pointer[string]
)

// internKey returns string(b), reusing a previously returned string with the
// same contents when possible.
func internKey(b []byte) string {
	if len(b) > maxInternLen {
		return string(b)
	}
	slot := &internTable[maphash.Bytes(internSeed, b)%internSlots]
	if p := slot.Load(); p != nil && *p == string(b) {
		return *p
	}
	s := string(b)
	slot.Store(&s)
	return s
}
