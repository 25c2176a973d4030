package objects

import (
	"encoding/json"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
)

// This file holds Python's conversions as oslo's field types apply them to
// received values: str(), int(), float() and bool() of the JSON values a
// Python peer may send, with Python's error messages.

// pyTypeName names the Python type a decoded JSON value stands for.
func pyTypeName(v any) string {
	switch v := v.(type) {
	case nil:
		return "NoneType"
	case bool:
		return "bool"
	case string:
		return "str"
	case []any:
		return "list"
	case map[string]any:
		return "dict"
	case json.Number:
		if isIntText(string(v)) {
			return "int"
		}
		return "float"
	case float32, float64:
		return "float"
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return "int"
	}
	return "object"
}

// pyRepr is Python's repr() of a str, close enough for error messages.
func pyRepr(s string) string {
	q := "'"
	if strings.Contains(s, "'") && !strings.Contains(s, `"`) {
		q = `"`
	}
	r := strings.NewReplacer(`\`, `\\`, "\n", `\n`, "\r", `\r`, "\t", `\t`, q, `\`+q)
	return q + r.Replace(s) + q
}

func isIntText(s string) bool {
	return !strings.ContainsAny(s, ".eEnN") // NaN and Infinity are floats too
}

// number returns v as a number: an integer (as big.Int when it is one) or
// a float. ok is false for non-numbers; bool is not a number here.
func number(v any) (i *big.Int, f float64, isInt, ok bool) {
	switch v := v.(type) {
	case json.Number:
		s := string(v)
		if isIntText(s) {
			if n, good := new(big.Int).SetString(s, 10); good {
				return n, 0, true, true
			}
			return nil, 0, false, false
		}
		x, err := strconv.ParseFloat(s, 64)
		if err != nil && !isRangeErr(err) {
			return nil, 0, false, false
		}
		return nil, x, false, true
	case float64:
		return nil, v, false, true
	case float32:
		return nil, float64(v), false, true
	case int:
		return big.NewInt(int64(v)), 0, true, true
	case int8:
		return big.NewInt(int64(v)), 0, true, true
	case int16:
		return big.NewInt(int64(v)), 0, true, true
	case int32:
		return big.NewInt(int64(v)), 0, true, true
	case int64:
		return big.NewInt(v), 0, true, true
	case uint:
		return new(big.Int).SetUint64(uint64(v)), 0, true, true
	case uint8:
		return new(big.Int).SetUint64(uint64(v)), 0, true, true
	case uint16:
		return new(big.Int).SetUint64(uint64(v)), 0, true, true
	case uint32:
		return new(big.Int).SetUint64(uint64(v)), 0, true, true
	case uint64:
		return new(big.Int).SetUint64(v), 0, true, true
	}
	return nil, 0, false, false
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// pyStr is str(v) for the types oslo's String field accepts (int, float,
// str; bool is an int in Python). ok is false for other types.
func pyStr(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case bool:
		if x {
			return "True", true
		}
		return "False", true
	}
	i, f, isInt, ok := number(v)
	if !ok {
		return "", false
	}
	if isInt {
		return i.String(), true
	}
	return pyFloatRepr(f), true
}

// pyFloatRepr is Python's repr() of a float: the shortest digits that
// round-trip, in fixed notation when the decimal exponent is in [-4, 16),
// else in exponent notation with a signed exponent of two digits or more.
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
	exp, _ := strconv.Atoi(e[strings.IndexByte(e, 'e')+1:])
	if exp < -4 || exp >= 16 {
		return e
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

var (
	pyIntText   = regexp.MustCompile(`^[+-]?[0-9]+(_[0-9]+)*$`)
	pyFloatText = regexp.MustCompile(`^[+-]?(([0-9]+(_[0-9]+)*(\.([0-9]+(_[0-9]+)*)?)?|\.[0-9]+(_[0-9]+)*)([eE][+-]?[0-9]+(_[0-9]+)*)?|(?i:inf|infinity|nan))$`)
)

// pyStrip removes the whitespace Python's int() and float() ignore.
func pyStrip(s string) string { return strings.TrimSpace(s) }

// pyInt is int(v) into an int64. class is the Python exception class of
// a failure.
func pyInt(v any) (n int64, class, msg string) {
	if b, ok := v.(bool); ok {
		return boolInt(b), "", ""
	}
	switch x := v.(type) {
	case string:
		s := pyStrip(x)
		if !pyIntText.MatchString(s) {
			return 0, "ValueError", "invalid literal for int() with base 10: " + pyRepr(x)
		}
		b, _ := new(big.Int).SetString(strings.ReplaceAll(s, "_", ""), 10)
		return bigToInt64(b)
	}
	i, f, isInt, ok := number(v)
	if !ok {
		return 0, "TypeError", "int() argument must be a string, a bytes-like object or a real number, not '" + pyTypeName(v) + "'"
	}
	if isInt {
		return bigToInt64(i)
	}
	switch {
	case math.IsNaN(f):
		return 0, "ValueError", "cannot convert float NaN to integer"
	case math.IsInf(f, 0):
		return 0, "OverflowError", "cannot convert float infinity to integer"
	}
	b, _ := big.NewFloat(math.Trunc(f)).Int(nil)
	return bigToInt64(b)
}

// boolInt is int(b): Python's bool is an int.
func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func bigToInt64(b *big.Int) (int64, string, string) {
	if !b.IsInt64() {
		return 0, "ValueError", "integer " + b.String() + " does not fit in 64 bits"
	}
	return b.Int64(), "", ""
}

// pyFloat is float(v).
func pyFloat(v any) (f float64, class, msg string) {
	if b, ok := v.(bool); ok {
		return float64(boolInt(b)), "", ""
	}
	switch x := v.(type) {
	case string:
		s := pyStrip(x)
		if !pyFloatText.MatchString(s) {
			return 0, "ValueError", "could not convert string to float: " + pyRepr(x)
		}
		f, err := strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), 64)
		if err != nil && !isRangeErr(err) {
			return 0, "ValueError", "could not convert string to float: " + pyRepr(x)
		}
		return f, "", ""
	}
	i, f, isInt, ok := number(v)
	if !ok {
		return 0, "TypeError", "float() argument must be a string or a real number, not '" + pyTypeName(v) + "'"
	}
	if isInt {
		g, _ := new(big.Float).SetInt(i).Float64()
		if math.IsInf(g, 0) {
			return 0, "OverflowError", "int too large to convert to float"
		}
		return g, "", ""
	}
	return f, "", ""
}

// pyBool is bool(v): Python's truth value of a decoded JSON value.
func pyBool(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != ""
	case []any:
		return len(x) > 0
	case map[string]any:
		return len(x) > 0
	}
	i, f, isInt, ok := number(v)
	if !ok {
		return true
	}
	if isInt {
		return i.Sign() != 0
	}
	return f != 0
}
