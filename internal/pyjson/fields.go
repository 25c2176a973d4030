package pyjson

import "errors"

// Fields calls fn for each member of the top-level JSON object in data, in
// order, with the unescaped key and the raw bytes of the value (surrounding
// whitespace trimmed; a sub-slice of data, not a copy). Values may contain
// Python's extensions (NaN, Infinity, -Infinity).
//
// The whole object is validated: malformed input, including malformed
// nested values and trailing non-whitespace data, yields a *SyntaxError,
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
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		if _, err := validate(data); err != nil {
			return err
		}
		return errNotObject
	}
	var scratch []byte
	end, err := eachMember(data, i, 0, func(rawKey []byte, flags uint8, value int) (int, error) {
		key := keyString(rawKey, flags, &scratch)
		end, _, err := skipValue(data, value, 1)
		if err == nil {
			err = fn(key, data[value:end])
		}
		return end, err
	})
	if err != nil {
		return err
	}
	return checkTrailing(data, end)
}

// keyString decodes the raw key literal of an object member: short plain
// keys are interned.
func keyString(rawKey []byte, flags uint8, scratch *[]byte) string {
	if flags == 0 {
		return internKey(rawKey[1 : len(rawKey)-1])
	}
	return unquoteString(rawKey[1:len(rawKey)-1], flags, scratch)
}

var errNotObject = errors.New("pyjson: JSON value is not an object")
