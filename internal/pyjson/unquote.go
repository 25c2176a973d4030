package pyjson

import (
	"errors"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// UnquoteString decodes the JSON string literal raw (including its quotes),
// such as a value returned by Fields. Whitespace around the literal is
// ignored. Escapes are decoded as by Parse: surrogate pairs are combined,
// and lone surrogates and invalid UTF-8 become U+FFFD. Malformed literals
// yield a *json.SyntaxError; input that is not a string literal at all
// yields a plain error.
func UnquoteString(raw []byte) (string, error) {
	content, flags, err := literal(raw)
	if err != nil {
		return "", err
	}
	if flags == 0 || flags == strNonASCII && utf8.Valid(content) {
		return string(content), nil
	}
	var stack [128]byte
	b, _ := appendUnquoted(stack[:0], content)
	return string(b), nil
}

// UnquoteStringView is UnquoteString without the copy: when the literal
// has no escapes the result shares raw's memory, so raw must never be
// modified afterwards. Decoders of messages they own use it to spare an
// allocation per string field.
func UnquoteStringView(raw []byte) (string, error) {
	content, flags, err := literal(raw)
	if err != nil {
		return "", err
	}
	if flags == 0 || flags == strNonASCII && utf8.Valid(content) {
		if len(content) == 0 {
			return "", nil
		}
		return unsafe.String(&content[0], len(content)), nil
	}
	var stack [128]byte
	b, _ := appendUnquoted(stack[:0], content)
	return string(b), nil
}

// AppendUnquoted decodes the JSON string literal raw (including its quotes)
// like UnquoteString and appends the bytes to dst, sparing the string
// conversion when the caller wants bytes.
func AppendUnquoted(dst, raw []byte) ([]byte, error) {
	content, flags, err := literal(raw)
	if err != nil {
		return dst, err
	}
	if flags == 0 || flags == strNonASCII && utf8.Valid(content) {
		return append(dst, content...), nil
	}
	b, _ := appendUnquoted(dst, content)
	return b, nil
}

var errNotString = errors.New("pyjson: input is not a JSON string literal")

// literal validates raw as one JSON string literal, surrounded by
// whitespace at most, and returns its content (without the quotes) and the
// scanner's flags for it.
func literal(raw []byte) (content []byte, flags uint8, err error) {
	i := skipSpace(raw, 0)
	if i >= len(raw) {
		return nil, 0, errEOF(len(raw))
	}
	if raw[i] != '"' {
		return nil, 0, errNotString
	}
	end, flags, err := scanString(raw, i)
	if err != nil {
		return nil, 0, err
	}
	if err := checkTrailing(raw, end); err != nil {
		return nil, 0, err
	}
	return raw[i+1 : end-1], flags, nil
}

// AppendUnquotedContent decodes content, the inside of a JSON string
// literal without its quotes, in one pass and appends it to dst. It
// reports false when content holds an unescaped quote or control
// character or a malformed escape. Decoders that know where a literal ends
// use it to spare the scan that finds the end.
func AppendUnquotedContent(dst, content []byte) ([]byte, bool) {
	return appendUnquotedStrict(dst, content)
}

// unquoteString decodes the content (without quotes) of a string literal
// already validated by scanString with the given flags, using *scratch as a
// reusable buffer.
func unquoteString(content []byte, flags uint8, scratch *[]byte) string {
	if flags == 0 || flags == strNonASCII && utf8.Valid(content) {
		return string(content)
	}
	b, _ := appendUnquoted((*scratch)[:0], content)
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
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

// appendUnquoted appends the decoded form of s, the content of a JSON string
// literal without its quotes, to dst. It follows encoding/json exactly:
// surrogate pairs are combined, lone surrogates and invalid UTF-8 become
// U+FFFD, and (like encoding/json's unquote, though its scanner rejects it)
// the escape \' is accepted. It reports false if s is malformed.
func appendUnquoted(dst, s []byte) ([]byte, bool) { return unquoteInto(dst, s, true) }

// appendUnquotedStrict is appendUnquoted for content no scanner has seen:
// it also rejects \', as a JSON scanner does.
func appendUnquotedStrict(dst, s []byte) ([]byte, bool) { return unquoteInto(dst, s, false) }

func unquoteInto(dst, s []byte, lenient bool) ([]byte, bool) {
	for r := 0; r < len(s); {
		c := s[r]
		switch {
		case c == '\\':
			if r+1 >= len(s) {
				return dst, false
			}
			switch e := s[r+1]; e {
			case '\'':
				if !lenient {
					return dst, false
				}
				dst = append(dst, e)
				r += 2
			case '"', '\\', '/':
				dst = append(dst, e)
				r += 2
			case 'b':
				dst = append(dst, '\b')
				r += 2
			case 'f':
				dst = append(dst, '\f')
				r += 2
			case 'n':
				dst = append(dst, '\n')
				r += 2
			case 'r':
				dst = append(dst, '\r')
				r += 2
			case 't':
				dst = append(dst, '\t')
				r += 2
			case 'u':
				rr := getu4(s[r:])
				if rr < 0 {
					return dst, false
				}
				r += 6
				if utf16.IsSurrogate(rr) {
					if dec := utf16.DecodeRune(rr, getu4(s[r:])); dec != unicode.ReplacementChar {
						r += 6
						dst = utf8.AppendRune(dst, dec)
						break
					}
					rr = unicode.ReplacementChar
				}
				dst = utf8.AppendRune(dst, rr)
			default:
				return dst, false
			}
		case c == '"' || c < ' ':
			return dst, false
		case c < utf8.RuneSelf:
			// Copy the run of plain ASCII bytes.
			k := r + 1
			for k < len(s) && s[k] >= ' ' && s[k] < utf8.RuneSelf && s[k] != '\\' && s[k] != '"' {
				k++
			}
			dst = append(dst, s[r:k]...)
			r = k
		default:
			rr, size := utf8.DecodeRune(s[r:])
			if rr == utf8.RuneError && size == 1 {
				dst = append(dst, "\uFFFD"...)
			} else {
				dst = append(dst, s[r:r+size]...)
			}
			r += size
		}
	}
	return dst, true
}

// unquoteLenient decodes a complete quoted literal the way encoding/json's
// unquoteBytes does (used for ",string" values and TextUnmarshaler map keys,
// whose text was never validated by a scanner).
func unquoteLenient(item []byte) ([]byte, bool) {
	if len(item) < 2 || item[0] != '"' || item[len(item)-1] != '"' {
		return nil, false
	}
	return appendUnquoted(nil, item[1:len(item)-1])
}
