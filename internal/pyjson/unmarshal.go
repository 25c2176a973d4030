package pyjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"sync"
)

// Unmarshal decodes data into v (a non-nil pointer) like
// encoding/json.Unmarshal with Decoder.UseNumber (numbers stored into
// interface values become json.Number), and also accepts Python's NaN,
// Infinity and -Infinity number tokens (outside strings): they become
// float64 NaN/±Inf in float fields and interface values.
//
// Standard JSON is decoded by encoding/json itself, with the same results
// and errors (*json.SyntaxError for malformed input or trailing data, in
// which case v is left untouched; *json.UnmarshalTypeError, whose Field
// names the offending member, for values that do not fit). Only input that
// contains a Python number token outside strings takes the slower path
// through Parse and Bind, which keeps document order and hands
// json.Unmarshaler targets (such as *big.Int or json.RawMessage) the
// original bytes of their value, so the only difference is that the
// Python tokens are accepted.
func Unmarshal(data []byte, v any) error {
	if !needsUseNumber(reflect.TypeOf(v)) {
		// No interface value can receive a number, so UseNumber makes no
		// difference and json.Unmarshal does everything.
		err := json.Unmarshal(data, v)
		if err != nil && isSyntaxError(err) && hasPythonToken(data) {
			return fallback(data, v)
		}
		return err
	}
	py, err := validate(data)
	if err != nil {
		if !json.Valid(data) {
			if hasPythonToken(data) {
				return fallback(data, v)
			}
			// Let encoding/json report its own error; it checks the syntax
			// before touching v.
			return json.Unmarshal(data, v)
		}
		// validate is stricter than encoding/json: cannot happen, but trust
		// encoding/json.
	} else if py {
		return fallback(data, v)
	}
	return decodeUseNumber(data, v)
}

func isSyntaxError(err error) bool {
	var se *json.SyntaxError
	return errors.As(err, &se)
}

// fallback decodes input containing Python number tokens.
func fallback(data []byte, v any) error {
	tree, err := parseOrdered(data)
	if err != nil {
		return err
	}
	return Bind(tree, v)
}

// pooledDecoder is a json.Decoder with UseNumber reading from a resettable
// in-memory reader. Decoders cannot be reset, but one that has consumed its
// whole input without a read error is ready for the next value; keeping it
// saves the Decoder, its buffer and its decodeState on every call.
type pooledDecoder struct {
	r   sliceReader
	dec *json.Decoder
}

type sliceReader struct{ data []byte }

func (r *sliceReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

var decoderPool = sync.Pool{New: func() any {
	pd := new(pooledDecoder)
	pd.dec = json.NewDecoder(&pd.r)
	pd.dec.UseNumber()
	return pd
}}

// maxPooledInput is the largest input whose decoder (whose buffer grows to
// the input size) goes back to the pool.
const maxPooledInput = 64 << 10

// decodeUseNumber decodes data, which validate has accepted and which has no
// Python tokens, into v with a pooled UseNumber decoder.
func decodeUseNumber(data []byte, v any) error {
	// Trailing whitespace is not fed to the decoder so that the decoder's
	// buffer ends exactly at the end of the value and nothing is left over
	// for the next use (leading whitespace is consumed with the value).
	end := len(data)
	for end > 0 && isSpace(data[end-1]) {
		end--
	}
	pd := decoderPool.Get().(*pooledDecoder)
	pd.r.data = data[:end]
	start := pd.dec.InputOffset()
	err := pd.dec.Decode(v)
	// A decoder that hit a syntax or read error keeps it forever; only
	// reuse one that consumed exactly this input.
	clean := len(pd.r.data) == 0 && pd.dec.InputOffset()-start == int64(end)
	pd.r.data = nil
	if clean && end <= maxPooledInput {
		decoderPool.Put(pd)
	}
	if !clean && err == nil {
		// Cannot happen after validate; be safe rather than silently wrong.
		d := json.NewDecoder(bytes.NewReader(data))
		d.UseNumber()
		return d.Decode(v)
	}
	return err
}

var needsCache sync.Map // map[reflect.Type]bool

// needsUseNumber reports whether decoding into a value of type t (the type
// of Unmarshal's argument) may store a number into an interface value, where
// UseNumber matters.
func needsUseNumber(t reflect.Type) bool {
	if t == nil || t.Kind() != reflect.Pointer {
		return false
	}
	if b, ok := needsCache.Load(t); ok {
		return b.(bool)
	}
	b := containsInterface(t, map[reflect.Type]bool{})
	needsCache.Store(t, b)
	return b
}

func containsInterface(t reflect.Type, visiting map[reflect.Type]bool) bool {
	if t.Kind() == reflect.Interface {
		return true
	}
	// json.Unmarshaler implementations receive raw bytes.
	if t.Implements(unmarshalerType) || reflect.PointerTo(t).Implements(unmarshalerType) {
		return false
	}
	if visiting[t] {
		return false
	}
	visiting[t] = true
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
		return containsInterface(t.Elem(), visiting)
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			if containsInterface(t.Field(i).Type, visiting) {
				return true
			}
		}
	}
	return false
}
