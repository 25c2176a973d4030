package config

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// This file holds the parts of Python's str, int and float that oslo.config
// relies on, so that values convert as they do in Python.

// pyIsSpace reports whether Python's str.isspace holds for r. It is
// unicode.IsSpace plus the information separators U+001C..U+001F.
func pyIsSpace(r rune) bool {
	return unicode.IsSpace(r) || r >= 0x1c && r <= 0x1f
}

func pyStrip(s string) string  { return strings.TrimFunc(s, pyIsSpace) }
func pyLstrip(s string) string { return strings.TrimLeftFunc(s, pyIsSpace) }
func pyRstrip(s string) string { return strings.TrimRightFunc(s, pyIsSpace) }

// pyLower is Python's str.lower: the full lower-case mapping, in which
// U+0130 becomes "i" and a combining dot.
func pyLower(s string) string {
	return strings.ToLower(strings.ReplaceAll(s, "\u0130", "i\u0307"))
}

// errNumber is the reason of a value int() or float() refuses.
var errNumber = errors.New("invalid literal")

// pyDigits rewrites the decimal digits of s (any Unicode decimal digit,
// as Python's int and float accept) as ASCII and removes the underscores
// Python allows between digits. It fails on misplaced underscores.
func pyDigits(s string) (string, error) {
	var b strings.Builder
	prevDigit := false
	for i, r := range s {
		switch {
		case r == '_':
			next, _ := utf8.DecodeRuneInString(s[i+1:])
			if !prevDigit || !unicode.IsDigit(next) {
				return "", errNumber
			}
			prevDigit = false
			continue
		case r < utf8.RuneSelf:
			b.WriteRune(r)
		case unicode.IsDigit(r):
			b.WriteByte('0' + byte(digitValue(r)))
		default:
			return "", errNumber
		}
		prevDigit = unicode.IsDigit(r)
	}
	return b.String(), nil
}

// digitValue returns the value of the decimal digit r. Unicode encodes
// each set of decimal digits as one run from 0 to 9, and adjacent runs
// start at a 0.
func digitValue(r rune) int {
	start := r
	for unicode.IsDigit(start - 1) {
		start--
	}
	return int(r-start) % 10
}

// pyInt parses s as Python's int(s) does (surrounding white space, a sign,
// decimal digits with single underscores between them), within int64.
func pyInt(s string) (int64, error) {
	d, err := pyDigits(pyStrip(s))
	if err != nil || d == "" {
		return 0, errNumber
	}
	digits := strings.TrimLeft(d, "+-")
	if len(d)-len(digits) > 1 || digits == "" || strings.IndexFunc(digits, func(r rune) bool { return r < '0' || r > '9' }) >= 0 {
		return 0, errNumber
	}
	n, err := strconv.ParseInt(d, 10, 64)
	if err != nil {
		return 0, errors.New("out of the range this package supports (64-bit integers)")
	}
	return n, nil
}

// pyFloat parses s as Python's float(s) does: decimal notation with an
// optional exponent, or inf, infinity and nan in any case, with a sign.
// Hexadecimal, which Go accepts, is refused. Overflow gives an infinity.
func pyFloat(s string) (float64, error) {
	d, err := pyDigits(pyStrip(s))
	if err != nil {
		return 0, errNumber
	}
	body := strings.TrimLeft(d, "+-")
	if len(d)-len(body) > 1 {
		return 0, errNumber
	}
	switch strings.ToLower(body) {
	case "inf", "infinity", "nan":
		f, _ := strconv.ParseFloat(d, 64)
		return f, nil
	}
	if !isDecimalFloat(body) {
		return 0, errNumber
	}
	f, err := strconv.ParseFloat(d, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, errNumber
	}
	return f, nil
}

// isDecimalFloat matches digits [. digits] [e [sign] digits] with at least
// one mantissa digit.
func isDecimalFloat(s string) bool {
	i, mant := 0, 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i, mant = i+1, mant+1
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i, mant = i+1, mant+1
		}
	}
	if mant == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		exp := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i, exp = i+1, exp+1
		}
		if exp == 0 {
			return false
		}
	}
	return i == len(s)
}

// pyFloatRepr formats f as Python's repr(float): the shortest digits that
// read back as f, in positional notation for exponents -4..15 (with ".0"
// when integral) and in scientific notation otherwise.
func pyFloatRepr(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	e := strconv.FormatFloat(f, 'e', -1, 64)
	_, exp, _ := strings.Cut(e, "e")
	x, _ := strconv.Atoi(exp)
	if x < -4 || x >= 16 {
		return e
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// pyRepr formats s as Python's repr(str): single quotes unless s holds a
// single quote and no double quote, backslash escapes for the quote, the
// backslash, \t \n \r and characters that are not printable.
func pyRepr(s string) string {
	q := byte('\'')
	if strings.ContainsRune(s, '\'') && !strings.ContainsRune(s, '"') {
		q = '"'
	}
	var b strings.Builder
	b.WriteByte(q)
	for _, r := range s {
		switch {
		case r == rune(q) || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case unicode.IsPrint(r):
			b.WriteRune(r)
		case r < 0x100:
			b.WriteString(`\x`)
			b.WriteString(hex(uint32(r), 2))
		case r < 0x10000:
			b.WriteString(`\u`)
			b.WriteString(hex(uint32(r), 4))
		default:
			b.WriteString(`\U`)
			b.WriteString(hex(uint32(r), 8))
		}
	}
	b.WriteByte(q)
	return b.String()
}

func hex(v uint32, width int) string {
	s := strconv.FormatUint(uint64(v), 16)
	return strings.Repeat("0", width-len(s)) + s
}
