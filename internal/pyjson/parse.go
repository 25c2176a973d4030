package pyjson

import (
	"encoding/json"
	"math"
)

// Parse decodes a JSON text with Python extensions into generic values:
// map[string]any, []any, string, json.Number, float64 (only for NaN and ±Inf),
// bool and nil.
//
// The input is fully validated: invalid syntax, trailing non-whitespace data
// and nesting deeper than 10000 arrays/objects yield a *SyntaxError. Numbers
// keep their exact text as json.Number, so integers of any size survive.
// Strings are decoded like encoding/json does: surrogate pairs are combined,
// and lone surrogates and invalid UTF-8 become U+FFFD. As with encoding/json,
// when an object repeats a key the last value wins, and an empty array is a
// non-nil empty []any.
func Parse(data []byte) (any, error) {
	p := parser{data: data}
	v, end, err := p.value(skipSpace(data, 0), 0)
	if err != nil {
		return nil, err
	}
	if err := checkTrailing(data, end); err != nil {
		return nil, err
	}
	return v, nil
}

type parser struct {
	data    []byte
	scratch []byte // reusable buffer for unescaping strings
}

// value parses the value starting at data[i], nested inside depth
// containers, and returns it with the index past it. The recursion is
// bounded by maxDepth.
func (p *parser) value(i, depth int) (any, int, error) {
	data := p.data
	if i >= len(data) {
		return nil, 0, syntaxErr(data, i, "a value")
	}
	switch data[i] {
	case '[':
		arr := []any{}
		end, err := eachMember(data, i, depth, func(_ []byte, _ uint8, value int) (int, error) {
			v, end, err := p.value(value, depth+1)
			arr = append(arr, v)
			return end, err
		})
		return arr, end, err
	case '{':
		obj := map[string]any{}
		end, err := eachMember(data, i, depth, func(key []byte, flags uint8, value int) (int, error) {
			v, end, err := p.value(value, depth+1)
			obj[keyString(key, flags, &p.scratch)] = v
			return end, err
		})
		return obj, end, err
	case '"':
		end, flags, err := scanString(data, i)
		if err != nil {
			return nil, 0, err
		}
		return unquoteString(data[i+1:end-1], flags, &p.scratch), end, nil
	}
	end, py, err := scanScalar(data, i)
	if err != nil {
		return nil, 0, err
	}
	switch data[i] {
	case 't':
		return true, end, nil
	case 'f':
		return false, end, nil
	case 'n':
		return nil, end, nil
	}
	if py {
		return pyFloat(data[i:end]), end, nil
	}
	return json.Number(data[i:end]), end, nil
}

// pyFloat returns the value of a Python number token.
func pyFloat(tok []byte) float64 {
	switch tok[0] {
	case 'N':
		return math.NaN()
	case 'I':
		return math.Inf(1)
	}
	return math.Inf(-1)
}
