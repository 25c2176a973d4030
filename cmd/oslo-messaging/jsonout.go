package main

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"strconv"

	"github.com/oslo-go/messaging/serializer"
)

// appendJSON appends v, a value decoded by serializer.JSON (maps, slices,
// json.Number, float64, strings, bools, nil), as JSON: compact, or indented
// by two spaces after prefix. Object keys are sorted. NaN and the
// infinities, which Python sends, are written as Python's json module
// writes them (NaN, Infinity, -Infinity): what comes from the wire is
// shown as it is rather than refused.
func appendJSON(b []byte, v any, indent bool, prefix string) []byte {
	nl := func(b []byte, p string) []byte {
		if !indent {
			return b
		}
		return append(append(b, '\n'), p...)
	}
	inner := prefix + "  "
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		return strconv.AppendBool(b, x)
	case string:
		return append(b, jsonString(x)...)
	case json.Number:
		return append(b, x...)
	case float64:
		switch {
		case math.IsNaN(x):
			return append(b, "NaN"...)
		case math.IsInf(x, 1):
			return append(b, "Infinity"...)
		case math.IsInf(x, -1):
			return append(b, "-Infinity"...)
		}
		return strconv.AppendFloat(b, x, 'g', -1, 64)
	case map[string]any:
		if len(x) == 0 {
			return append(b, "{}"...)
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = nl(b, inner)
			b = append(b, jsonString(k)...)
			b = append(b, ':')
			if indent {
				b = append(b, ' ')
			}
			b = appendJSON(b, x[k], indent, inner)
		}
		return append(nl(b, prefix), '}')
	case []any:
		if len(x) == 0 {
			return append(b, "[]"...)
		}
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = nl(b, inner)
			b = appendJSON(b, e, indent, inner)
		}
		return append(nl(b, prefix), ']')
	}
	// Anything else (not produced by the decoder): encoding/json's form.
	data, err := json.Marshal(v)
	if err != nil {
		return append(b, jsonString(err.Error())...)
	}
	if indent {
		var out bytes.Buffer
		if json.Indent(&out, data, prefix, "  ") == nil {
			data = out.Bytes()
		}
	}
	return append(b, data...)
}

// decodeJSON decodes data with the library's codec, which reads what
// Python writes (NaN, big integers).
func decodeJSON(data []byte) (any, error) {
	var v any
	err := serializer.JSON{}.Unmarshal(data, &v)
	return v, err
}

// argValue is a key=value argument's value: JSON when it parses as JSON,
// else the text as a string (so name=web-1 needs no quotes, and
// name='"42"' sends the string "42"). Python's NaN and Infinity are
// strings here: Go cannot send them.
func argValue(s string) any {
	if !json.Valid([]byte(s)) {
		return s
	}
	v, err := decodeJSON([]byte(s))
	if err != nil {
		return s
	}
	return v
}
