package pyjson

import (
	"encoding/binary"
	"errors"
	"math/bits"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// UnquoteString decodes the JSON string literal raw (including its quotes),
// such as a value returned by Fields. Whitespace around the literal is
// ignored. Escapes are decoded as by Parse: surrogate pairs are combined,
// and lone surrogates and invalid UTF-8 become U+FFFD. Malformed literals
// yield a *SyntaxError; input that is not a string literal at all yields a
// plain error.
func UnquoteString(raw []byte) (string, error) { return unquote(raw, false) }

// UnquoteStringView is UnquoteString without the copy: when the literal
// has no escapes the result shares raw's memory, so raw must never be
// modified afterwards. Decoders of messages they own use it to spare an
// allocation per string field.
func UnquoteStringView(raw []byte) (string, error) { return unquote(raw, true) }

func unquote(raw []byte, view bool) (string, error) {
	content, plain, err := literal(raw)
	switch {
	case err != nil:
		return "", err
	case plain && view:
		return unsafe.String(unsafe.SliceData(content), len(content)), nil
	case plain:
		return string(content), nil
	}
	var stack [128]byte
	b, _ := AppendUnquotedContent(stack[:0], content)
	return string(b), nil
}

// AppendUnquoted decodes the JSON string literal raw (including its quotes)
// like UnquoteString and appends the bytes to dst, sparing the string
// conversion when the caller wants bytes.
func AppendUnquoted(dst, raw []byte) ([]byte, error) {
	content, plain, err := literal(raw)
	if err != nil || plain {
		return append(dst, content...), err
	}
	b, _ := AppendUnquotedContent(dst, content)
	return b, nil
}

var errNotString = errors.New("pyjson: input is not a JSON string literal")

// literal validates raw as one JSON string literal, surrounded by
// whitespace at most, and returns its content and whether it is plain.
func literal(raw []byte) (content []byte, plain bool, err error) {
	i := skipSpace(raw, 0)
	if i >= len(raw) || raw[i] != '"' {
		return nil, false, errNotString
	}
	end, flags, err := scanString(raw, i)
	if err == nil {
		err = checkTrailing(raw, end)
	}
	if err != nil {
		return nil, false, err
	}
	content = raw[i+1 : end-1]
	return content, isPlain(content, flags), nil
}

// isPlain reports whether content, with scanString's flags, is its own value.
func isPlain(content []byte, flags uint8) bool {
	return flags == 0 || flags == strNonASCII && utf8.Valid(content)
}

// unquoteString decodes the content of a literal scanString accepted with
// flags, using *scratch as a reusable buffer.
func unquoteString(content []byte, flags uint8, scratch *[]byte) string {
	if isPlain(content, flags) {
		return string(content)
	}
	b, _ := AppendUnquotedContent((*scratch)[:0], content)
	*scratch = b
	return string(b)
}

// getu4 decodes the \uXXXX escape at the start of s, or returns -1.
func getu4(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range s[2:6] {
		switch l := c | 0x20; { // 'A' | 0x20 is 'a'
		case '0' <= c && c <= '9':
			r = r*16 + rune(c-'0')
		case 'a' <= l && l <= 'f':
			r = r*16 + rune(l-'a'+10)
		default:
			return -1
		}
	}
	return r
}

// AppendUnquotedContent decodes s, the inside of a JSON string literal
// without its quotes, in one pass and appends it to dst. It follows
// encoding/json: surrogate pairs are combined, and lone surrogates and
// invalid UTF-8 become U+FFFD. It reports false when s holds an unescaped
// quote or control character or a malformed escape. Decoders that know
// where a literal ends use it to spare the scan that finds the end.
func AppendUnquotedContent(dst, s []byte) ([]byte, bool) {
	for r := 0; r < len(s); {
		c := s[r]
		switch {
		case c == '\\':
			if r+1 >= len(s) {
				return dst, false
			}
			if u := unescape[s[r+1]]; u != 0 {
				dst = append(dst, u)
				r += 2
				continue
			}
			rr := getu4(s[r:])
			if rr < 0 {
				return dst, false
			}
			r += 6
			if utf16.IsSurrogate(rr) {
				if dec := utf16.DecodeRune(rr, getu4(s[r:])); dec != unicode.ReplacementChar {
					r += 6
					rr = dec
				} else {
					rr = unicode.ReplacementChar
				}
			}
			dst = utf8.AppendRune(dst, rr)
		case c == '"' || c < ' ':
			return dst, false
		case c < utf8.RuneSelf:
			// Copy the run of plain ASCII bytes.
			k := asciiRun(s, r+1)
			dst = append(dst, s[r:k]...)
			r = k
		default:
			rr, size := utf8.DecodeRune(s[r:]) // RuneError, U+FFFD, for invalid UTF-8
			dst = utf8.AppendRune(dst, rr)
			r += size
		}
	}
	return dst, true
}

// asciiRun returns the index of the first byte at or after k that is not
// plain ASCII (a control character, '"', '\\' or a byte >= 0x80), or
// len(s); it skips 8 bytes at a time.
func asciiRun(s []byte, k int) int {
	for k+8 <= len(s) {
		x := binary.LittleEndian.Uint64(s[k:])
		if m := specialMask(x) | x&msb; m != 0 {
			return k + bits.TrailingZeros64(m)>>3
		}
		k += 8
	}
	for k < len(s) && s[k] >= ' ' && s[k] < utf8.RuneSelf && s[k] != '\\' && s[k] != '"' {
		k++
	}
	return k
}
