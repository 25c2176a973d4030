package pyjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"testing"
)

// stdDecode is the reference: encoding/json.Unmarshal with UseNumber
// (json.Unmarshal itself first, for its syntax checking and errors).
func stdDecode(data []byte, v any) error {
	if !json.Valid(data) {
		return json.Unmarshal(data, v)
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	return d.Decode(v)
}

// errorDiff reports why got and want differ: one is nil and the other not,
// or they are not the same error (the fast path returns encoding/json's
// own errors).
func errorDiff(got, want error) string {
	if (got == nil) != (want == nil) || got != nil && got.Error() != want.Error() {
		return "got error " + describeErr(got) + ", want " + describeErr(want)
	}
	return ""
}

func describeErr(err error) string {
	if err == nil {
		return "<nil>"
	}
	return "(" + reflect.TypeOf(err).String() + ") " + err.Error()
}

// deepEqualNaN is reflect.DeepEqual that also treats NaN as equal to NaN
// inside generic values.
func deepEqualNaN(a, b any) bool {
	switch a := a.(type) {
	case float64:
		bf, ok := b.(float64)
		return ok && (a == bf || math.IsNaN(a) && math.IsNaN(bf))
	case map[string]any:
		bm, ok := b.(map[string]any)
		if !ok || len(a) != len(bm) || (a == nil) != (bm == nil) {
			return false
		}
		for k, v := range a {
			w, ok := bm[k]
			if !ok || !deepEqualNaN(v, w) {
				return false
			}
		}
		return true
	case []any:
		bs, ok := b.([]any)
		if !ok || len(a) != len(bs) || (a == nil) != (bs == nil) {
			return false
		}
		for i := range a {
			if !deepEqualNaN(a[i], bs[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

// mustSyntaxError checks that err is this package's *SyntaxError for
// input data, with a message and an offset within the input.
func mustSyntaxError(t *testing.T, err error, data []byte) {
	t.Helper()
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("got %s, want *SyntaxError", describeErr(err))
	}
	if se.msg == "" || se.Offset < 0 || se.Offset > int64(len(data)) {
		t.Fatalf("SyntaxError %q with offset %d for %d bytes", se.msg, se.Offset, len(data))
	}
}

// mustJSONSyntaxError checks that err is encoding/json's *json.SyntaxError.
func mustJSONSyntaxError(t *testing.T, err error) {
	t.Helper()
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("got %s, want *json.SyntaxError", describeErr(err))
	}
}

// equalNaN is reflect.DeepEqual for values of any type that also treats
// NaN as equal to NaN, wherever it is held.
func equalNaN(a, b reflect.Value) bool {
	if a.IsValid() != b.IsValid() {
		return false
	}
	if !a.IsValid() {
		return true
	}
	if a.Type() != b.Type() {
		return false
	}
	switch a.Kind() {
	case reflect.Float32, reflect.Float64:
		x, y := a.Float(), b.Float()
		return x == y && math.Signbit(x) == math.Signbit(y) || math.IsNaN(x) && math.IsNaN(y)
	case reflect.Pointer, reflect.Interface:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return equalNaN(a.Elem(), b.Elem())
	case reflect.Struct:
		for i := range a.NumField() {
			if !equalNaN(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	case reflect.Slice, reflect.Array:
		if a.Kind() == reflect.Slice && a.IsNil() != b.IsNil() || a.Len() != b.Len() {
			return false
		}
		for i := range a.Len() {
			if !equalNaN(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Map:
		if a.IsNil() != b.IsNil() || a.Len() != b.Len() {
			return false
		}
		for _, k := range a.MapKeys() {
			if bv := b.MapIndex(k); !bv.IsValid() || !equalNaN(a.MapIndex(k), bv) {
				return false
			}
		}
		return true
	}
	if a.CanInterface() {
		return reflect.DeepEqual(a.Interface(), b.Interface())
	}
	return fmt.Sprint(a) == fmt.Sprint(b) // an unexported field
}
