package pyjson

import (
	"encoding/binary"
	"math/bits"
)

// maxDepth is the deepest nesting of arrays and objects accepted, the same
// limit as encoding/json's scanner.
const maxDepth = 10000

// Python's number tokens.
const (
	tokNaN    = "NaN"
	tokInf    = "Infinity"
	tokNegInf = "-Infinity"
)

func isSpace(c byte) bool {
	return c <= ' ' && (c == ' ' || c == '\t' || c == '\n' || c == '\r')
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// skipSpace returns the index of the first non-whitespace byte at or after i.
func skipSpace(data []byte, i int) int {
	for i < len(data) && isSpace(data[i]) {
		i++
	}
	return i
}

// SWAR constants: one in every byte, and the high bit of every byte.
const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// specialMask returns a mask whose lowest set bit is the high bit of the
// first byte of x (in little-endian order) that is a control character,
// '"' or '\\'; it is zero when there is none. Bits above the lowest one may
// be spurious.
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
	n := len(data)
	var flags uint8
	j := i + 1
	for {
		k, high := nextSpecial(data, j)
		if high {
			flags |= strNonASCII
		}
		j = k
		if j >= n {
			return 0, 0, errEOF(n)
		}
		switch c := data[j]; c {
		case '"':
			return j + 1, flags, nil
		case '\\':
			flags |= strEscaped
			if j+1 >= n {
				return 0, 0, synErr(ctxInEscape, ' ', n)
			}
			switch e := data[j+1]; e {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				for k := j + 2; k < j+6; k++ {
					if k >= n {
						return 0, 0, synErr(ctxInHex, ' ', n)
					}
					if !isHex(data[k]) {
						return 0, 0, synErr(ctxInHex, data[k], k+1)
					}
				}
				j += 6
			default:
				return 0, 0, synErr(ctxInEscape, e, j+2)
			}
		default: // control character
			return 0, 0, synErr(ctxInString, c, j+1)
		}
	}
}

// scanNumber validates the JSON number starting at data[i] (a '-' or a
// digit) and returns the index just past it.
func scanNumber(data []byte, i int) (int, error) {
	n := len(data)
	j := i
	if data[j] == '-' {
		j++
		if j >= n {
			return 0, synErr(ctxInNumber, ' ', n)
		}
	}
	switch c := data[j]; {
	case c == '0':
		j++
	case '1' <= c && c <= '9':
		j++
		for j < n && isDigit(data[j]) {
			j++
		}
	default:
		return 0, synErr(ctxInNumber, c, j+1)
	}
	if j < n && data[j] == '.' {
		j++
		if j >= n {
			return 0, synErr(ctxAfterDot, ' ', n)
		}
		if !isDigit(data[j]) {
			return 0, synErr(ctxAfterDot, data[j], j+1)
		}
		for j < n && isDigit(data[j]) {
			j++
		}
	}
	if j < n && (data[j] == 'e' || data[j] == 'E') {
		j++
		if j < n && (data[j] == '+' || data[j] == '-') {
			j++
		}
		if j >= n {
			return 0, synErr(ctxInExponent, ' ', n)
		}
		if !isDigit(data[j]) {
			return 0, synErr(ctxInExponent, data[j], j+1)
		}
		for j < n && isDigit(data[j]) {
			j++
		}
	}
	return j, nil
}

// scanLiteral checks that data[i:] starts with lit (true, false or null),
// whose first byte is already known to match, and returns the index past it.
func scanLiteral(data []byte, i int, lit string) (int, error) {
	if len(data)-i >= len(lit) && string(data[i:i+len(lit)]) == lit {
		return i + len(lit), nil
	}
	for k := 1; k < len(lit); k++ {
		if i+k >= len(data) {
			return 0, synErr(lit[:k], ' ', len(data))
		}
		if data[i+k] != lit[k] {
			return 0, synErr(lit[:k], data[i+k], i+k+1)
		}
	}
	return i + len(lit), nil // unreachable
}

// scanPython checks that data[i:] starts with the Python token tok, whose
// first byte (or first two for -Infinity) is known to match, and returns the
// index past it. A partial match is reported the way encoding/json reports
// the token's first byte (Python never emits anything else starting that
// way).
func scanPython(data []byte, i int, tok string) (int, error) {
	if len(data)-i >= len(tok) && string(data[i:i+len(tok)]) == tok {
		return i + len(tok), nil
	}
	if tok[0] == '-' {
		return 0, synErr(ctxInNumber, data[i+1], i+2)
	}
	return 0, synErr(ctxBeginValue, data[i], i+1)
}

// scanScalar validates the non-container value starting at data[i] and
// returns the index past it and whether it is a Python number token.
func scanScalar(data []byte, i int) (int, bool, error) {
	switch c := data[i]; c {
	case '"':
		end, _, err := scanString(data, i)
		return end, false, err
	case 't':
		end, err := scanLiteral(data, i, "true")
		return end, false, err
	case 'f':
		end, err := scanLiteral(data, i, "false")
		return end, false, err
	case 'n':
		end, err := scanLiteral(data, i, "null")
		return end, false, err
	case 'N':
		end, err := scanPython(data, i, tokNaN)
		return end, true, err
	case 'I':
		end, err := scanPython(data, i, tokInf)
		return end, true, err
	case '-':
		if i+1 < len(data) && data[i+1] == 'I' {
			end, err := scanPython(data, i, tokNegInf)
			return end, true, err
		}
		end, err := scanNumber(data, i)
		return end, false, err
	default:
		if isDigit(c) {
			end, err := scanNumber(data, i)
			return end, false, err
		}
		return 0, false, synErr(ctxBeginValue, c, i+1)
	}
}

// scanKey validates the object key starting at data[i] (which should be a
// quote) followed by optional whitespace and a colon, and returns the index
// of the colon.
func scanKey(data []byte, i int) (int, error) {
	if i >= len(data) {
		return 0, errEOF(len(data))
	}
	if data[i] != '"' {
		return 0, synErr(ctxBeginKey, data[i], i+1)
	}
	end, _, err := scanString(data, i)
	if err != nil {
		return 0, err
	}
	return scanColon(data, end)
}

// scanColon skips whitespace from i and checks for the colon after an object
// key, returning its index.
func scanColon(data []byte, i int) (int, error) {
	i = skipSpace(data, i)
	if i >= len(data) {
		return 0, errEOF(len(data))
	}
	if data[i] != ':' {
		return 0, synErr(ctxAfterKey, data[i], i+1)
	}
	return i, nil
}

// skipValue validates the JSON value (with Python extensions) starting at
// data[i], which must not be whitespace, nested inside depth containers, and
// returns the index just past it and whether it contains a Python number
// token. It does not recurse, so hostile nesting cannot exhaust the stack.
func skipValue(data []byte, i, depth int) (end int, py bool, err error) {
	n := len(data)
	// stack records the open containers: true for an object.
	var stackBuf [64]bool
	stack := stackBuf[:0]
	for {
		// A value starts at i.
		if i >= n {
			return 0, false, errEOF(n)
		}
		switch c := data[i]; c {
		case '{', '[':
			if depth+len(stack) >= maxDepth {
				return 0, false, errDepth(i)
			}
			closer := byte('}')
			if c == '[' {
				closer = ']'
			}
			i = skipSpace(data, i+1)
			if i >= n {
				return 0, false, errEOF(n)
			}
			if data[i] == closer {
				i++
				break
			}
			stack = append(stack, c == '{')
			if c == '{' {
				if i, err = scanKey(data, i); err != nil {
					return 0, false, err
				}
				i = skipSpace(data, i+1)
			}
			continue
		default:
			var p bool
			if i, p, err = scanScalar(data, i); err != nil {
				return 0, false, err
			}
			py = py || p
		}
		// A value ended at i: close containers until one continues.
		for {
			if len(stack) == 0 {
				return i, py, nil
			}
			obj := stack[len(stack)-1]
			i = skipSpace(data, i)
			if i >= n {
				return 0, false, errEOF(n)
			}
			c := data[i]
			if c == ',' {
				i = skipSpace(data, i+1)
				if obj {
					if i, err = scanKey(data, i); err != nil {
						return 0, false, err
					}
					i = skipSpace(data, i+1)
				}
				break
			}
			if obj && c == '}' || !obj && c == ']' {
				stack = stack[:len(stack)-1]
				i++
				continue
			}
			if obj {
				return 0, false, synErr(ctxAfterPair, c, i+1)
			}
			return 0, false, synErr(ctxAfterElem, c, i+1)
		}
	}
}

// validate checks that data holds exactly one JSON value (with Python
// extensions) surrounded by optional whitespace, and reports whether it
// contains a Python number token.
func validate(data []byte) (py bool, err error) {
	i := skipSpace(data, 0)
	end, py, err := skipValue(data, i, 0)
	if err != nil {
		return false, err
	}
	if err := checkTrailing(data, end); err != nil {
		return false, err
	}
	return py, nil
}

// checkTrailing returns an error if data[i:] is not all whitespace.
func checkTrailing(data []byte, i int) error {
	i = skipSpace(data, i)
	if i < len(data) {
		return synErr(ctxAfterTop, data[i], i+1)
	}
	return nil
}

// hasPythonToken reports whether data contains NaN or Infinity outside
// string literals. It assumes nothing about the validity of data.
func hasPythonToken(data []byte) bool {
	for i := 0; i < len(data); i++ {
		switch data[i] {
		case '"':
			for i++; i < len(data) && data[i] != '"'; i++ {
				if data[i] == '\\' {
					i++
				}
			}
		case 'N':
			if len(data)-i >= len(tokNaN) && string(data[i:i+len(tokNaN)]) == tokNaN {
				return true
			}
		case 'I':
			if len(data)-i >= len(tokInf) && string(data[i:i+len(tokInf)]) == tokInf {
				return true
			}
		}
	}
	return false
}
