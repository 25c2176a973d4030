package pyjson

import "errors"

// Fields calls fn for each member of the top-level JSON object in data, in
// order, with the unescaped key and the raw bytes of the value (surrounding
// whitespace trimmed; a sub-slice of data, not a copy). Values may contain
// Python's extensions (NaN, Infinity, -Infinity).
//
// The whole object is validated: malformed input, including malformed
// nested values and trailing non-whitespace data, yields a *json.SyntaxError,
// and a JSON value that is not an object yields a plain error. Validation
// happens in the same single pass as the iteration, so fn may already have
// been called for the members preceding a syntax error; callers must discard
// what they collected when Fields returns an error. Duplicate keys are passed
// through in order. If fn returns an error, Fields stops and returns it.
//
// Keys are decoded like Parse decodes strings. Values cost no allocation,
// and neither does a short key without escapes or non-ASCII bytes that was
// seen recently (keys are interned in a small cache); other keys cost their
// string conversion.
func Fields(data []byte, fn func(key string, value []byte) error) error {
	n := len(data)
	i := skipSpace(data, 0)
	if i >= n {
		return errEOF(n)
	}
	if data[i] != '{' {
		end, _, err := skipValue(data, i, 0)
		if err != nil {
			return err
		}
		if err := checkTrailing(data, end); err != nil {
			return err
		}
		return notObjectError(data[i])
	}
	i = skipSpace(data, i+1)
	if i >= n {
		return errEOF(n)
	}
	if data[i] != '}' {
		var scratch []byte
		for {
			if data[i] != '"' {
				return synErr(ctxBeginKey, data[i], i+1)
			}
			end, flags, err := scanString(data, i)
			if err != nil {
				return err
			}
			var key string
			if flags == 0 {
				key = internKey(data[i+1 : end-1])
			} else {
				key = unquoteString(data[i+1:end-1], flags, &scratch)
			}
			colon, err := scanColon(data, end)
			if err != nil {
				return err
			}
			start := skipSpace(data, colon+1)
			end, _, err = skipValue(data, start, 1)
			if err != nil {
				return err
			}
			if err := fn(key, data[start:end]); err != nil {
				return err
			}
			i = skipSpace(data, end)
			if i >= n {
				return errEOF(n)
			}
			c := data[i]
			if c == '}' {
				break
			}
			if c != ',' {
				return synErr(ctxAfterPair, c, i+1)
			}
			i = skipSpace(data, i+1)
			if i >= n {
				return errEOF(n)
			}
		}
	}
	return checkTrailing(data, i+1)
}

var (
	errArray  = errors.New("pyjson: JSON value is an array, not an object")
	errString = errors.New("pyjson: JSON value is a string, not an object")
	errBool   = errors.New("pyjson: JSON value is a boolean, not an object")
	errNull   = errors.New("pyjson: JSON value is null, not an object")
	errNumber = errors.New("pyjson: JSON value is a number, not an object")
)

func notObjectError(c byte) error {
	switch c {
	case '[':
		return errArray
	case '"':
		return errString
	case 't', 'f':
		return errBool
	case 'n':
		return errNull
	}
	return errNumber
}
