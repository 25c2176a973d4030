package pyjson

import (
	"math/bits"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// shortEscape and unescape map the characters with a short escape to the
// escape's letter and back.
var (
	shortEscape = [256]byte{'"': '"', '\\': '\\', '\b': 'b', '\f': 'f', '\n': 'n', '\r': 'r', '\t': 't'}
	unescape    = [256]byte{'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}
)

// load64 reads 8 bytes of s starting at i in little-endian order.
func load64(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// AppendString appends the JSON string literal for s (with quotes) to dst.
//
// It escapes '"' and '\\', control characters (\b, \f, \n, \r and \t in
// their short forms, the others as \u00XX with lowercase hex digits), U+2028
// and U+2029 (as \u2028 and \u2029, which some JavaScript parsers reject
// raw), and replaces each byte of invalid UTF-8 with \ufffd. Unlike
// encoding/json it does not escape <, > and &, and like it, it leaves other
// non-ASCII characters as raw UTF-8. Python's json module accepts the result.
func AppendString(dst []byte, s string) []byte {
	if cap(dst)-len(dst) < len(s)+2 {
		nd := make([]byte, len(dst), len(dst)+len(s)+len(s)/8+2)
		copy(nd, dst)
		dst = nd
	}
	dst = append(dst, '"')
	start := 0 // start of the run of bytes not yet copied
	i := 0
	n := len(s)
	for i < n {
		// Skip 8 safe ASCII bytes at a time, then to the first byte that
		// is not one (the mask's lowest bit is exact).
		for i+8 <= n {
			x := load64(s, i)
			if m := specialMask(x) | x&msb; m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
			i += 8
		}
		if i >= n {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= ' ' && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			if e := shortEscape[c]; e != 0 {
				dst = append(dst, '\\', e)
			} else {
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
