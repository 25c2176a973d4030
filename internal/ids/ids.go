// Package ids makes the random identifiers of oslo's wire format: 32-digit
// lowercase hex (Python's uuid4().hex) for message ids and unique ids, and
// dashed UUIDs for notification message ids.
package ids

import (
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
)

// uuid4 returns 16 random bytes with the UUID version 4 and variant bits set.
// math/rand/v2's global generator is ChaCha8 seeded by the runtime from the
// OS: unpredictable enough for identifiers, and lock-free.
func uuid4() (b [16]byte) {
	binary.LittleEndian.PutUint64(b[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(b[8:], rand.Uint64())
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return b
}

// Hex returns a new random id as 32 lowercase hex digits, like
// uuid.uuid4().hex.
func Hex() string {
	b := uuid4()
	var s [32]byte
	hex.Encode(s[:], b[:])
	return string(s[:])
}

// AppendHex appends a new random id as Hex makes it to b, for encoders
// that need the id only in the message they build.
func AppendHex(b []byte) []byte {
	u := uuid4()
	return hex.AppendEncode(b, u[:])
}

// UUID returns a new random id as a dashed UUID string, like
// str(uuid.uuid4()).
func UUID() string {
	b := uuid4()
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}
