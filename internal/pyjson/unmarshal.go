package pyjson

import (
	"bytes"
	"encoding/json"
	"reflect"
	"sync"
)

// Unmarshal decodes data into v (a non-nil pointer) like
// encoding/json.Unmarshal with Decoder.UseNumber (numbers stored into
// interface values become json.Number), and also accepts Python's NaN,
// Infinity and -Infinity number tokens (outside strings): they become
// float64 NaN/±Inf in float fields and interface values.
//
// Standard JSON is decoded with encoding/json's results and errors: objects
// into most structs of strings, booleans, numbers and other such structs by
// this package's own plan for the struct type (plan.go), which hands every
// other field, and every value that does not fit its field, to
// encoding/json; everything else by encoding/json itself. Malformed input
// always gets encoding/json's *json.SyntaxError, and v is then left
// untouched. Input holding a Python token takes a slower
// path: each part of it without one still goes through encoding/json (so
// integers of any size survive as json.Number, or reach a json.Unmarshaler
// such as *big.Int with their text), and only the objects and arrays around
// a token are walked by hand, with [StructField]'s lookup; json.Unmarshaler
// targets get the original text, tokens included. A token stored into
// anything but a float or an empty interface is a *json.UnmarshalTypeError,
// after which Unmarshal carries on; it returns the first error.
func Unmarshal(data []byte, v any) error {
	py, err := validate(data)
	switch {
	case err != nil:
		// Let encoding/json report the error; it checks the syntax before
		// touching v.
		return json.Unmarshal(data, v)
	case py:
		return fallback(data, v, false)
	}
	return unmarshalValid(data, v)
}

// UnmarshalZero is Unmarshal for a v that points to a zero value, such as
// a fresh argument: the same result and error, in one pass over data where
// a struct plan or an in-place scalar applies (Unmarshal validates data
// first, so that a syntax error leaves v untouched; here v is zeroed again
// before Unmarshal decides).
func UnmarshalZero(data []byte, v any) error {
	if decodeInPlace(data, v) {
		return nil
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && !rv.IsNil() {
		rv.Elem().SetZero() // what a plan stored before it stopped
	}
	return Unmarshal(data, v)
}

// pooledDecoder is a json.Decoder reading from a resettable reader.
// Decoders cannot be reset, but one that has consumed its whole input
// without a read error is ready for the next value; keeping it saves the
// Decoder, its buffer and its decodeState on every call.
type pooledDecoder struct {
	r   bytes.Reader
	dec *json.Decoder
}

// numberDecoders have UseNumber set, plainDecoders do not.
var (
	numberDecoders = sync.Pool{New: func() any { return newPooledDecoder(true) }}
	plainDecoders  = sync.Pool{New: func() any { return newPooledDecoder(false) }}
)

func newPooledDecoder(useNumber bool) *pooledDecoder {
	pd := new(pooledDecoder)
	pd.dec = json.NewDecoder(&pd.r)
	if useNumber {
		pd.dec.UseNumber()
	}
	return pd
}

// maxPooledInput is the largest input whose decoder (whose buffer grows to
// the input size) goes back to the pool.
const maxPooledInput = 64 << 10

// decodeUseNumber decodes data, which validate has accepted and which has no
// Python tokens, into v with a pooled UseNumber decoder.
func decodeUseNumber(data []byte, v any) error { return decodePooled(&numberDecoders, data, v) }

// decodePooled decodes data, which validate has accepted and which has no
// Python tokens, into v with a decoder from pool.
func decodePooled(pool *sync.Pool, data []byte, v any) error {
	// Trailing whitespace is not fed to the decoder so that the decoder's
	// buffer ends exactly at the end of the value and nothing is left over
	// for the next use (leading whitespace is consumed with the value).
	end := len(data)
	for end > 0 && isSpace(data[end-1]) {
		end--
	}
	pd := pool.Get().(*pooledDecoder)
	pd.r.Reset(data[:end])
	start := pd.dec.InputOffset()
	err := pd.dec.Decode(v)
	// A decoder that hit a syntax or read error keeps it forever; only
	// reuse one that consumed exactly this input.
	clean := pd.r.Len() == 0 && pd.dec.InputOffset()-start == int64(end)
	pd.r.Reset(nil)
	if clean && end <= maxPooledInput {
		pool.Put(pd)
	}
	if !clean && err == nil {
		return json.Unmarshal(data, v) // cannot happen after validate
	}
	return err
}

var (
	unmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	needsCache      sync.Map // map[reflect.Type]bool
)

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
