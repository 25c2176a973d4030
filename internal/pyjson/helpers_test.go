package pyjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strconv"
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

// errorDiff reports why got and want differ: both nil, or the same message
// (which covers an UnmarshalTypeError's Value, Type, Struct and Field) and,
// for type errors, the same Field and Type.
func errorDiff(got, want error) string {
	if got == nil && want == nil {
		return ""
	}
	if got == nil || want == nil {
		return "got error " + describeErr(got) + ", want " + describeErr(want)
	}
	var wt, gt *json.UnmarshalTypeError
	if errors.As(want, &wt) {
		if !errors.As(got, &gt) {
			return "got error " + got.Error() + ", want UnmarshalTypeError " + want.Error()
		}
		if gt.Field != wt.Field || gt.Type != wt.Type || gt.Value != wt.Value || gt.Struct != wt.Struct {
			return "got type error " + got.Error() + ", want " + want.Error()
		}
		return ""
	}
	if got.Error() != want.Error() {
		return "got error " + got.Error() + ", want " + want.Error()
	}
	return ""
}

func describeErr(err error) string {
	if err == nil {
		return "<nil>"
	}
	return "(" + reflect.TypeOf(err).String() + ") " + err.Error()
}

// syntaxDiff checks that got is a *json.SyntaxError with the same
// message and offset as want.
func syntaxDiff(got, want error) string {
	var gs, ws *json.SyntaxError
	if !errors.As(want, &ws) {
		return "reference error is not a SyntaxError: " + describeErr(want)
	}
	if !errors.As(got, &gs) {
		return "got " + describeErr(got) + ", want SyntaxError " + want.Error()
	}
	if gs.Error() != ws.Error() || gs.Offset != ws.Offset {
		return "got SyntaxError " + gs.Error() + " at " + itoa(gs.Offset) + ", want " + ws.Error() + " at " + itoa(ws.Offset)
	}
	return ""
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

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

func mustSyntaxError(t *testing.T, err error) {
	t.Helper()
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("got %s, want *json.SyntaxError", describeErr(err))
	}
	if se.Error() == "" {
		t.Fatalf("SyntaxError with empty message")
	}
}
