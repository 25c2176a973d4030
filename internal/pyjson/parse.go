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
// and nesting deeper than 10000 arrays/objects yield a *json.SyntaxError with
// encoding/json's message and Offset. Numbers keep their exact text as
// json.Number, so integers of any size survive. Strings are decoded like
// encoding/json does: surrogate pairs are combined, and lone surrogates and
// invalid UTF-8 become U+FFFD. As with encoding/json, when an object repeats
// a key the last value wins, and an empty array is a non-nil empty []any.
func Parse(data []byte) (any, error) {
	p := parser{data: data}
	return p.parse()
}

// parseOrdered is like Parse but represents objects as *object, arrays as
// *array and strings with escapes as *rawString, keeping member order,
// duplicates and the raw text of containers and strings,
// so that Bind can mirror encoding/json exactly (first error in document
// order, last duplicate wins, json.Unmarshaler gets the original bytes).
func parseOrdered(data []byte) (any, error) {
	p := parser{data: data, ordered: true}
	return p.parse()
}

// object is an ordered JSON object produced by parseOrdered.
type object struct {
	keys []string
	vals []any
	raw  []byte
}

// rawString is a string produced by parseOrdered whose literal had escapes
// or non-ASCII bytes, so that its original text cannot be recomputed from
// the decoded string (plain strings stay strings).
type rawString struct {
	s   string
	raw []byte
}

// array is a JSON array produced by parseOrdered.
type array struct {
	vals []any
	raw  []byte
}

type parser struct {
	data    []byte
	ordered bool
	scratch []byte // reusable buffer for unescaping strings
}

// frame is an open container during parsing.
type frame struct {
	obj   bool
	start int
	key   string
	m     map[string]any // unordered objects
	keys  []string       // ordered objects
	vals  []any          // arrays and ordered objects
}

func (p *parser) parse() (any, error) {
	data := p.data
	n := len(data)
	var stack []frame
	var val any
	i := skipSpace(data, 0)
outer:
	for {
		// A value starts at i.
		if i >= n {
			return nil, errEOF(n)
		}
		switch c := data[i]; c {
		case '{', '[':
			if len(stack) >= maxDepth {
				return nil, errDepth(i)
			}
			start := i
			closer := byte('}')
			if c == '[' {
				closer = ']'
			}
			i = skipSpace(data, i+1)
			if i >= n {
				return nil, errEOF(n)
			}
			if data[i] == closer {
				i++
				val = p.finish(&frame{obj: c == '{', start: start}, i)
				break
			}
			stack = append(stack, frame{obj: c == '{', start: start})
			if c == '{' {
				f := &stack[len(stack)-1]
				if !p.ordered {
					f.m = make(map[string]any)
				}
				var err error
				if f.key, i, err = p.key(i); err != nil {
					return nil, err
				}
			}
			continue
		case '"':
			end, flags, err := scanString(data, i)
			if err != nil {
				return nil, err
			}
			val = unquoteString(data[i+1:end-1], flags, &p.scratch)
			if p.ordered && flags != 0 {
				val = &rawString{s: val.(string), raw: data[i:end]}
			}
			i = end
		case 't':
			end, err := scanLiteral(data, i, "true")
			if err != nil {
				return nil, err
			}
			val, i = true, end
		case 'f':
			end, err := scanLiteral(data, i, "false")
			if err != nil {
				return nil, err
			}
			val, i = false, end
		case 'n':
			end, err := scanLiteral(data, i, "null")
			if err != nil {
				return nil, err
			}
			val, i = nil, end
		case 'N':
			end, err := scanPython(data, i, tokNaN)
			if err != nil {
				return nil, err
			}
			val, i = math.NaN(), end
		case 'I':
			end, err := scanPython(data, i, tokInf)
			if err != nil {
				return nil, err
			}
			val, i = math.Inf(1), end
		default:
			if c == '-' && i+1 < n && data[i+1] == 'I' {
				end, err := scanPython(data, i, tokNegInf)
				if err != nil {
					return nil, err
				}
				val, i = math.Inf(-1), end
				break
			}
			if c != '-' && !isDigit(c) {
				return nil, synErr(ctxBeginValue, c, i+1)
			}
			end, err := scanNumber(data, i)
			if err != nil {
				return nil, err
			}
			val, i = json.Number(data[i:end]), end
		}
		// A value ended at i: store it and close containers until one
		// continues.
		for {
			if len(stack) == 0 {
				if err := checkTrailing(data, i); err != nil {
					return nil, err
				}
				return val, nil
			}
			f := &stack[len(stack)-1]
			switch {
			case !f.obj:
				f.vals = append(f.vals, val)
			case p.ordered:
				f.keys = append(f.keys, f.key)
				f.vals = append(f.vals, val)
			default:
				f.m[f.key] = val
			}
			i = skipSpace(data, i)
			if i >= n {
				return nil, errEOF(n)
			}
			c := data[i]
			if c == ',' {
				i = skipSpace(data, i+1)
				if f.obj {
					var err error
					if f.key, i, err = p.key(i); err != nil {
						return nil, err
					}
				}
				continue outer
			}
			if f.obj && c == '}' || !f.obj && c == ']' {
				i++
				val = p.finish(f, i)
				stack[len(stack)-1] = frame{}
				stack = stack[:len(stack)-1]
				continue
			}
			if f.obj {
				return nil, synErr(ctxAfterPair, c, i+1)
			}
			return nil, synErr(ctxAfterElem, c, i+1)
		}
	}
}

// key parses an object key starting at data[i] together with the following
// colon and whitespace, and returns the key and the index of the value.
func (p *parser) key(i int) (string, int, error) {
	data := p.data
	if i >= len(data) {
		return "", 0, errEOF(len(data))
	}
	if data[i] != '"' {
		return "", 0, synErr(ctxBeginKey, data[i], i+1)
	}
	end, flags, err := scanString(data, i)
	if err != nil {
		return "", 0, err
	}
	var key string
	if flags == 0 {
		key = internKey(data[i+1 : end-1])
	} else {
		key = unquoteString(data[i+1:end-1], flags, &p.scratch)
	}
	colon, err := scanColon(data, end)
	if err != nil {
		return "", 0, err
	}
	return key, skipSpace(data, colon+1), nil
}

// finish returns the value of the container f, which ended just before end.
func (p *parser) finish(f *frame, end int) any {
	switch {
	case p.ordered && f.obj:
		return &object{keys: f.keys, vals: f.vals, raw: p.data[f.start:end]}
	case p.ordered:
		return &array{vals: f.vals, raw: p.data[f.start:end]}
	case f.obj:
		if f.m == nil {
			return map[string]any{}
		}
		return f.m
	default:
		if f.vals == nil {
			return []any{}
		}
		return f.vals
	}
}

// toGeneric converts the ordered representation of parseOrdered into the
// generic one of Parse.
func toGeneric(v any) any {
	switch v := v.(type) {
	case *object:
		m := make(map[string]any, len(v.keys))
		for i, k := range v.keys {
			m[k] = toGeneric(v.vals[i])
		}
		return m
	case *array:
		a := make([]any, len(v.vals))
		for i, e := range v.vals {
			a[i] = toGeneric(e)
		}
		return a
	case *rawString:
		return v.s
	}
	return v
}
