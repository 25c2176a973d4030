package pyjson

import (
	"encoding/binary"
	"math/bits"
	"strconv"
)

// maxDepth is the deepest nesting of arrays and objects accepted, the same
// limit as encoding/json's.
const maxDepth = 10000

// Python's number tokens.
const (
	tokNaN    = "NaN"
	tokInf    = "Infinity"
	tokNegInf = "-Infinity"
)

// SyntaxError reports malformed input found by this package's scanner.
// Offset is the number of bytes read before the error, as in
// encoding/json's SyntaxError.
type SyntaxError struct {
	msg    string
	Offset int64
}

// Error returns "pyjson: " followed by what was wrong and where.
func (e *SyntaxError) Error() string {
	return "pyjson: " + e.msg + " at offset " + strconv.FormatInt(e.Offset, 10)
}

// syntaxErr reports the byte at data[i], or the end of the input when i is
// past it, found where "what" was expected.
func syntaxErr(data []byte, i int, what string) error {
	if i >= len(data) {
		return &SyntaxError{msg: "unexpected end of input, expecting " + what, Offset: int64(len(data))}
	}
	return &SyntaxError{msg: "invalid character " + strconv.QuoteRune(rune(data[i])) + ", expecting " + what, Offset: int64(i + 1)}
}

func isSpace(c byte) bool {
	return c <= ' ' && (c == ' ' || c == '\t' || c == '\n' || c == '\r')
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isHex(c byte) bool { return isDigit(c) || 'a' <= c|0x20 && c|0x20 <= 'f' } // 'A' | 0x20 is 'a'

// skipSpace returns the index of the first non-whitespace byte at or after i.
func skipSpace(data []byte, i int) int {
	for i < len(data) && isSpace(data[i]) {
		i++
	}
	return i
}

// SWAR constants: one in every byte, and the high bit of every byte.
const lsb, msb = 0x0101010101010101, 0x8080808080808080

// specialMask returns a mask whose lowest set bit is the high bit of the
// first byte of x (little-endian) that is a control character, '"' or '\\',
// or zero. Bits above the lowest one may be spurious.
func specialMask(x uint64) uint64 {
	ctl := (x - lsb*0x20) &^ x
	q := x ^ (lsb * '"')
	q = (q - lsb) &^ q
	b := x ^ (lsb * '\\')
	b = (b - lsb) &^ b
	return (ctl | q | b) & msb
}

// Flags describing a string literal found by scanString.
const (
	strEscaped  = 1 << iota // contains a backslash escape
	strNonASCII             // may contain bytes >= 0x80
)

// nextSpecial returns the index of the first byte at or after j that is '"',
// '\\' or a control character (or len(data)), and whether the bytes skipped
// may include non-ASCII ones.
func nextSpecial(data []byte, j int) (int, bool) {
	n := len(data)
	var high uint64
	for j+8 <= n {
		x := binary.LittleEndian.Uint64(data[j:])
		if m := specialMask(x); m != 0 {
			k := bits.TrailingZeros64(m) >> 3
			high |= x & (1<<(k*8) - 1) & msb
			return j + k, high != 0
		}
		high |= x & msb
		j += 8
	}
	for ; j < n; j++ {
		c := data[j]
		if c < 0x20 || c == '"' || c == '\\' {
			break
		}
		high |= uint64(c & 0x80)
	}
	return j, high != 0
}

// scanString validates the string literal starting with the quote at
// data[i] and returns the index just past its closing quote, together with
// strEscaped/strNonASCII flags.
func scanString(data []byte, i int) (int, uint8, error) {
	var flags uint8
	j := i + 1
	for {
		k, high := nextSpecial(data, j)
		if high {
			flags |= strNonASCII
		}
		j = k
		if j >= len(data) {
			return 0, 0, syntaxErr(data, j, "the end of a string")
		}
		switch data[j] {
		case '"':
			return j + 1, flags, nil
		case '\\':
			flags |= strEscaped
			switch {
			case j+1 < len(data) && unescape[data[j+1]] != 0:
				j += 2
			case j+5 < len(data) && data[j+1] == 'u' && isHex(data[j+2]) && isHex(data[j+3]) && isHex(data[j+4]) && isHex(data[j+5]):
				j += 6
			default:
				return 0, 0, syntaxErr(data, j+1, "an escape")
			}
		default: // control character
			return 0, 0, syntaxErr(data, j, "a character of a string")
		}
	}
}

// digits returns the index past the run of digits at data[j:], or an error
// when there is none.
func digits(data []byte, j int) (int, error) {
	if j >= len(data) || !isDigit(data[j]) {
		return 0, syntaxErr(data, j, "a digit")
	}
	for j < len(data) && isDigit(data[j]) {
		j++
	}
	return j, nil
}

// scanNumber validates the JSON number starting at data[i] (a '-' or a
// digit) and returns the index just past it.
func scanNumber(data []byte, i int) (int, error) {
	j := i
	if data[j] == '-' {
		j++
	}
	var err error
	if j < len(data) && data[j] == '0' {
		j++
	} else if j, err = digits(data, j); err != nil {
		return 0, err
	}
	if j < len(data) && data[j] == '.' {
		if j, err = digits(data, j+1); err != nil {
			return 0, err
		}
	}
	if j < len(data) && (data[j] == 'e' || data[j] == 'E') {
		j++
		if j < len(data) && (data[j] == '+' || data[j] == '-') {
			j++
		}
		return digits(data, j)
	}
	return j, nil
}

// scanWord checks that data[i:] starts with the literal lit (true, false,
// null or a Python token) and returns the index past it.
func scanWord(data []byte, i int, lit string) (int, error) {
	if len(data)-i >= len(lit) && string(data[i:i+len(lit)]) == lit {
		return i + len(lit), nil
	}
	for k := 0; k < len(lit); k++ {
		if i+k >= len(data) || data[i+k] != lit[k] {
			return 0, syntaxErr(data, i+k, strconv.Quote(lit))
		}
	}
	return 0, nil // unreachable
}

// words are the literals, by first byte (-Infinity starts like a number).
var words = [256]string{'t': "true", 'f': "false", 'n': "null", 'N': tokNaN, 'I': tokInf}

// scanScalar validates the non-container value starting at data[i] and
// returns the index past it and whether it is a Python number token.
func scanScalar(data []byte, i int) (int, bool, error) {
	switch c := data[i]; {
	case c == '"':
		end, _, err := scanString(data, i)
		return end, false, err
	case c == '-' && i+1 < len(data) && data[i+1] == 'I':
		end, err := scanWord(data, i, tokNegInf)
		return end, true, err
	case c == '-' || isDigit(c):
		end, err := scanNumber(data, i)
		return end, false, err
	case words[c] == "":
		return 0, false, syntaxErr(data, i, "a value")
	}
	word := words[data[i]]
	end, err := scanWord(data, i, word)
	return end, word == tokNaN || word == tokInf, err
}

// eachMember walks the object or array whose opening bracket is at
// data[i], nested inside depth containers. For each member it calls fn with
// the raw key literal (nil in an array), the key's scanString flags and the
// index of the value; fn returns the index past the value. eachMember
// returns the index past the container.
func eachMember(data []byte, i, depth int, fn func(key []byte, flags uint8, value int) (int, error)) (int, error) {
	if depth >= maxDepth {
		return 0, &SyntaxError{msg: "nesting too deep", Offset: int64(i + 1)}
	}
	obj, closer := data[i] == '{', data[i]+2 // '[' + 2 is ']', '{' + 2 is '}'
	if i = skipSpace(data, i+1); i < len(data) && data[i] == closer {
		return i + 1, nil
	}
	for {
		var key []byte
		var flags uint8
		if obj {
			if i >= len(data) || data[i] != '"' {
				return 0, syntaxErr(data, i, "an object key")
			}
			end, f, err := scanString(data, i)
			if err != nil {
				return 0, err
			}
			key, flags = data[i:end], f
			if i = skipSpace(data, end); i >= len(data) || data[i] != ':' {
				return 0, syntaxErr(data, i, "':' after an object key")
			}
			i = skipSpace(data, i+1)
		}
		var err error
		if i, err = fn(key, flags, i); err != nil {
			return 0, err
		}
		switch i = skipSpace(data, i); {
		case i < len(data) && data[i] == ',':
			i = skipSpace(data, i+1)
		case i < len(data) && data[i] == closer:
			return i + 1, nil
		default:
			return 0, syntaxErr(data, i, "',' or "+strconv.QuoteRune(rune(closer)))
		}
	}
}

// skipValue validates the JSON value (with Python extensions) starting at
// data[i], nested inside depth containers, and returns the index just past
// it and whether it contains a Python number token. The recursion is
// bounded by maxDepth.
func skipValue(data []byte, i, depth int) (end int, py bool, err error) {
	if i >= len(data) {
		return 0, false, syntaxErr(data, i, "a value")
	}
	if c := data[i]; c != '{' && c != '[' {
		return scanScalar(data, i)
	}
	end, err = eachMember(data, i, depth, func(_ []byte, _ uint8, value int) (int, error) {
		end, p, err := skipValue(data, value, depth+1)
		py = py || p
		return end, err
	})
	return end, py, err
}

// validate checks that data holds exactly one JSON value (with Python
// extensions) surrounded by optional whitespace, and reports whether it
// contains a Python number token.
func validate(data []byte) (py bool, err error) {
	end, py, err := skipValue(data, skipSpace(data, 0), 0)
	if err != nil {
		return false, err
	}
	return py, checkTrailing(data, end)
}

// checkTrailing returns an error if data[i:] is not all whitespace.
func checkTrailing(data []byte, i int) error {
	if i = skipSpace(data, i); i < len(data) {
		return syntaxErr(data, i, "the end of the input")
	}
	return nil
}
