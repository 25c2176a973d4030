package pyjson

import (
	"encoding/json"
	"math/big"
	"reflect"
	"testing"
)

// TestPlanFor: which struct types are decoded with a plan, and how each
// field of one is.
func TestPlanFor(t *testing.T) {
	type embeds struct{ fuzzPlain }
	type quoted struct {
		N int `json:"n,string"`
	}
	type twoNames struct {
		A int `json:"X"`
		X int
	}
	type badTag struct {
		//lint:ignore SA5008 a name encoding/json does not take, on purpose
		A int `json:"a\"b"`
	}
	type ptrEmbeds struct{ *FuzzEmbedded }
	for _, typ := range []reflect.Type{
		reflect.TypeFor[embeds](), reflect.TypeFor[quoted](), reflect.TypeFor[twoNames](), reflect.TypeFor[badTag](),
		reflect.TypeFor[ptrEmbeds](), reflect.TypeFor[fuzzT](), reflect.TypeFor[big.Int](),
	} {
		if planFor(typ) != nil {
			t.Errorf("%v has a plan", typ)
		}
	}
	p := planFor(reflect.TypeFor[fuzzFlat]())
	if p == nil {
		t.Fatal("fuzzFlat has no plan")
	}
	kinds := map[string]reflect.Kind{}
	for _, f := range p.fields {
		kinds[f.name] = f.kind
	}
	want := map[string]reflect.Kind{
		"s": reflect.String, "Sx": reflect.String, "bool": reflect.Bool, "i": reflect.Int, "i8": reflect.Int8,
		"u": reflect.Uint16, "f": reflect.Float64, "f32": reflect.Float32, "name": reflect.String, "k": reflect.Int,
		"K": reflect.Int, "In": reflect.Struct, "Deeper": reflect.Struct, "n": reflect.Invalid, "text": reflect.Invalid,
		"any": reflect.Invalid, "m": reflect.Invalid, "l": reflect.Invalid, "p": reflect.Invalid, "by": reflect.Invalid,
		"big": reflect.Invalid, "t": reflect.Invalid, "raw": reflect.Invalid,
	}
	if !reflect.DeepEqual(kinds, want) {
		t.Errorf("fields:\n got %v\nwant %v", kinds, want)
	}
}

// TestPlanDecode: decoding with a plan gives encoding/json's values,
// including the cases where it hands the value back to encoding/json.
func TestPlanDecode(t *testing.T) {
	for _, data := range []string{
		`{"s": "a", "Sx": "b", "bool": true, "i": -3, "i8": -128, "u": 7, "f": 1.25, "f32": 0.5, "name": "nm"}`,
		`{"K": 2, "k": 1, "\u212a": 9, "SX": "fold", "In": {"a": 1, "S": "x", "l": [3]}, "Deeper": {"In": {"a": 4}}}`,
		`{"n": 12345678901234567890, "text": "up", "any": [1, "x"], "m": {"a": 1}, "l": ["z"], "p": {"a": 5}}`,
		`{"s": "caf\u00e9 \"q\"", "unknown": {"deep": [1, 2, {"x": null}]}, "s": "last"}`,
		`{"i8": 300, "s": "set before the error"}`,
		`{"In": {"a": "not a number"}, "i": 1}`,
		`{"p": {"a": []}, "u": 3}`,
		`{"s": null, "In": null, "p": null}`,
		`{"n": "abc", "i": 1}`,
		`{"n": "12", "s": "x"}`,
	} {
		var got, want fuzzFlat
		gotErr := Unmarshal([]byte(data), &got)
		wantErr := stdDecode([]byte(data), &want)
		if d := errorDiff(gotErr, wantErr); d != "" {
			t.Errorf("%s: %s", data, d)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", data, got, want)
		}
	}
}

// TestPlanNullClears: null into a slice, map, pointer or interface that
// holds a value does what encoding/json does (sets it to nil, or decodes
// into what an interface points at), which decoding into zero values, as
// the fuzz targets do, cannot tell from leaving the field alone.
func TestPlanNullClears(t *testing.T) {
	data := []byte(`{"any": null, "m": null, "l": null, "p": null, "by": null, "big": null, "raw": null, "text": null}`)
	fill := func() fuzzFlat {
		return fuzzFlat{M: map[string]int{"a": 1}, L: []string{"x"}, P: &fuzzPlain{A: 2}, By: []byte("b"),
			Big: big.NewInt(3), Raw: json.RawMessage(`1`), Text: "t"}
	}
	for _, held := range []func() any{
		func() any { return nil },
		func() any { return 5 },
		func() any { return &fuzzPlain{A: 1} },
		func() any { p := &fuzzPlain{A: 1}; return &p },
		func() any { var p *fuzzPlain; return &p },
	} {
		got, want := fill(), fill()
		got.Any, want.Any = held(), held()
		gotErr, wantErr := Unmarshal(data, &got), stdDecode(data, &want)
		if d := errorDiff(gotErr, wantErr); d != "" {
			t.Errorf("any %T: %s", want.Any, d)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("any %T:\n got %+v\nwant %+v", want.Any, got, want)
		}
	}
}

// TestPlanAllocations: a struct of strings and numbers costs its strings
// and nothing else.
func TestPlanAllocations(t *testing.T) {
	data := []byte(`{"a": 12, "s": "some text", "l": null}`)
	var v fuzzPlain
	if n := testing.AllocsPerRun(100, func() {
		if err := Unmarshal(data, &v); err != nil {
			t.Fatal(err)
		}
	}); n > 1 {
		t.Errorf("%v allocations per decode, want 1 (the string)", n)
	}
	var std fuzzPlain
	json.Unmarshal(data, &std)
	if !reflect.DeepEqual(v, std) {
		t.Errorf("got %+v, want %+v", v, std)
	}
}

// TestScalarAllocations: a number costs nothing to decode, a string its
// bytes.
func TestScalarAllocations(t *testing.T) {
	var n int64
	var s string
	for _, c := range []struct {
		data string
		v    any
		want float64
	}{
		{` 1700000000123 `, &n, 0},
		{`"some text"`, &s, 1},
	} {
		data := []byte(c.data)
		if got := testing.AllocsPerRun(100, func() {
			if err := Unmarshal(data, c.v); err != nil {
				t.Fatal(err)
			}
		}); got > c.want {
			t.Errorf("%s: %v allocations per decode, want %v", c.data, got, c.want)
		}
	}
	if n != 1700000000123 || s != "some text" {
		t.Errorf("decoded %d, %q", n, s)
	}
}
