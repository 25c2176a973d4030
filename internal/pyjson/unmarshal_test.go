package pyjson

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"strings"
	"sync"
	"testing"
)

type pythonStruct struct {
	X    float64     `json:"x"`
	Y    float64     `json:"y"`
	Z    float32     `json:"z"`
	Big  *big.Int    `json:"big"`
	BigN json.Number `json:"-"`
	S    string      `json:"s"`
	Lone string      `json:"lone"`
}

type pythonNumberStruct struct {
	X   any         `json:"x"`
	Big json.Number `json:"big"`
}

func TestUnmarshalPythonSample(t *testing.T) {
	var m map[string]any
	if err := Unmarshal([]byte(pythonSample), &m); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"x": math.NaN(), "y": math.Inf(-1), "z": math.Inf(1),
		"big": json.Number("123456789012345678901234567890"),
		"s":   "é😀", "lone": "\uFFFD",
	}
	if !deepEqualNaN(m, want) {
		t.Fatalf("map: got %#v", m)
	}

	var s pythonStruct
	if err := Unmarshal([]byte(pythonSample), &s); err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(s.X) || !math.IsInf(s.Y, -1) || !math.IsInf(float64(s.Z), 1) || s.S != "é😀" || s.Lone != "\uFFFD" {
		t.Fatalf("struct: got %+v", s)
	}
	if s.Big == nil || s.Big.String() != "123456789012345678901234567890" {
		t.Fatalf("fallback path lost the big integer: %v", s.Big)
	}

	var n pythonNumberStruct
	if err := Unmarshal([]byte(pythonSample), &n); err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(n.X.(float64)) || n.Big != "123456789012345678901234567890" {
		t.Fatalf("number struct: got %+v", n)
	}

	// The same big integer through the fast path (no Python tokens).
	plain := `{"x": 1.5, "big": 123456789012345678901234567890}`
	s = pythonStruct{}
	if err := Unmarshal([]byte(plain), &s); err != nil {
		t.Fatal(err)
	}
	if s.Big == nil || s.Big.String() != "123456789012345678901234567890" || s.X != 1.5 {
		t.Fatalf("fast path: got %+v", s)
	}
	n = pythonNumberStruct{}
	if err := Unmarshal([]byte(plain), &n); err != nil {
		t.Fatal(err)
	}
	if n.X != json.Number("1.5") || n.Big != "123456789012345678901234567890" {
		t.Fatalf("fast path UseNumber: got %+v", n)
	}
}

type nestedAny struct {
	Meta struct {
		Args map[string]any `json:"args"`
		List []any          `json:"list"`
	} `json:"meta"`
	Ptr *map[string]any `json:"ptr"`
}

func TestUnmarshalUseNumberNested(t *testing.T) {
	in := `{"meta": {"args": {"n": 12345678901234567890, "f": 0.1}, "list": [1, {"k": 2}]}, "ptr": {"p": 3}}`
	var v nestedAny
	if err := Unmarshal([]byte(in), &v); err != nil {
		t.Fatal(err)
	}
	if v.Meta.Args["n"] != json.Number("12345678901234567890") || v.Meta.Args["f"] != json.Number("0.1") {
		t.Fatalf("args: %#v", v.Meta.Args)
	}
	if v.Meta.List[0] != json.Number("1") || v.Meta.List[1].(map[string]any)["k"] != json.Number("2") {
		t.Fatalf("list: %#v", v.Meta.List)
	}
	if (*v.Ptr)["p"] != json.Number("3") {
		t.Fatalf("ptr: %#v", *v.Ptr)
	}
	var top any
	if err := Unmarshal([]byte(` 42 `), &top); err != nil || top != json.Number("42") {
		t.Fatalf("top-level number: %#v %v", top, err)
	}
	var inIface any = &v
	if err := Unmarshal([]byte(`{"ptr": {"q": 1}}`), &inIface); err != nil || (*v.Ptr)["q"] != json.Number("1") {
		t.Fatalf("through interface: %#v %v", v.Ptr, err)
	}
}

func TestUnmarshalErrors(t *testing.T) {
	type target struct {
		A int            `json:"a"`
		B map[string]any `json:"b"`
	}
	type plain struct {
		A int `json:"a"`
	}
	inputs := append(append([]string{
		`{"a": "x"}`, `{"a": 1.5, "b": 2}`, `{"b": {"c": 1}, "a": true}`, `{"a": 1} x`, `{"a": 1}{}`,
		`{"a": 1}]`, `{"a": 1} 2`, `{"a": [}`, `[1, 2]`, `"str"`, ` `, `{"a": 1} `,
	}, invalidInputs...), validInputs...)
	for _, in := range inputs {
		var got, want target
		gotErr := Unmarshal([]byte(in), &got)
		wantErr := stdDecode([]byte(in), &want)
		if d := errorDiff(gotErr, wantErr); d != "" {
			t.Errorf("Unmarshal(%q) into interface-holding struct: %s", in, d)
		} else if !reflect.DeepEqual(got, want) {
			t.Errorf("Unmarshal(%q): got %+v, want %+v", in, got, want)
		}
		var got2, want2 plain
		gotErr = Unmarshal([]byte(in), &got2)
		wantErr = json.Unmarshal([]byte(in), &want2)
		if d := errorDiff(gotErr, wantErr); d != "" {
			t.Errorf("Unmarshal(%q) into plain struct: %s", in, d)
		} else if !reflect.DeepEqual(got2, want2) {
			t.Errorf("Unmarshal(%q): got %+v, want %+v", in, got2, want2)
		}
		var got3, want3 any
		gotErr = Unmarshal([]byte(in), &got3)
		wantErr = stdDecode([]byte(in), &want3)
		if d := errorDiff(gotErr, wantErr); d != "" {
			t.Errorf("Unmarshal(%q) into any: %s", in, d)
		}
	}

	// Type errors are *json.UnmarshalTypeError values, and decoding carries
	// on after them.
	var v struct {
		Args struct {
			Count int `json:"count"`
		} `json:"args"`
		Extra map[string]any `json:"extra"`
	}
	err := Unmarshal([]byte(`{"args": {"count": "three"}, "extra": {}}`), &v)
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) || te.Type != reflect.TypeFor[int]() {
		t.Fatalf("got %v", err)
	}
	// The same through the fallback path.
	err = Unmarshal([]byte(`{"args": {"count": "three"}, "extra": {"f": NaN}}`), &v)
	if !errors.As(err, &te) || te.Type != reflect.TypeFor[int]() || !math.IsNaN(v.Extra["f"].(float64)) {
		t.Fatalf("fallback: got %v, %v", err, v.Extra)
	}
	err = Unmarshal([]byte(`{"args": {"count": -Infinity}}`), &v)
	if !errors.As(err, &te) || te.Type != reflect.TypeFor[int]() || te.Value != "number -Infinity" {
		t.Fatalf("fallback NaN into int: got %v", err)
	}

	// Invalid targets.
	for _, target := range []any{nil, map[string]any{}, (*map[string]any)(nil), 3} {
		var ie *json.InvalidUnmarshalError
		if err := Unmarshal([]byte(`{"a": 1}`), target); !errors.As(err, &ie) {
			t.Errorf("Unmarshal into %T: got %v", target, err)
		}
		if err := Unmarshal([]byte(`{"a": NaN}`), target); !errors.As(err, &ie) {
			t.Errorf("Unmarshal NaN into %T: got %v", target, err)
		}
	}
}

func TestUnmarshalSyntaxErrorLeavesTarget(t *testing.T) {
	for _, in := range []string{`{"a": 1} x`, `{"a": 1}}`, `{"a": 1, "b": NaN} x`, `{"a": 1, "b": Nan}`} {
		m := map[string]any{"keep": true}
		err := Unmarshal([]byte(in), &m)
		mustJSONSyntaxError(t, err)
		if len(m) != 1 || m["keep"] != true {
			t.Errorf("Unmarshal(%q) modified the target: %v", in, m)
		}
	}
}

func TestUnmarshalPythonTokens(t *testing.T) {
	tests := []struct {
		in   string
		want any
	}{
		{`NaN`, math.NaN()},
		{` -Infinity `, math.Inf(-1)},
		{`[1, NaN, "NaN", Infinity]`, []any{json.Number("1"), math.NaN(), "NaN", math.Inf(1)}},
		{`{"a": {"b": [Infinity]}}`, map[string]any{"a": map[string]any{"b": []any{math.Inf(1)}}}},
	}
	for _, tt := range tests {
		var got any
		if err := Unmarshal([]byte(tt.in), &got); err != nil {
			t.Errorf("Unmarshal(%q): %v", tt.in, err)
			continue
		}
		if !deepEqualNaN(got, tt.want) {
			t.Errorf("Unmarshal(%q) = %#v, want %#v", tt.in, got, tt.want)
		}
	}
	for _, in := range pythonInvalid {
		var got any
		if err := Unmarshal([]byte(in), &got); err == nil {
			t.Errorf("Unmarshal(%q) = %#v, want error", in, got)
		}
		var f struct{ A float64 }
		if err := Unmarshal([]byte(in), &f); err == nil {
			t.Errorf("Unmarshal(%q) into struct succeeded", in)
		}
	}
	// A string "NaN" is not special, and the token is not a string.
	var s struct{ A, B string }
	if err := Unmarshal([]byte(`{"A": "NaN", "B": "Infinity"}`), &s); err != nil || s.A != "NaN" || s.B != "Infinity" {
		t.Fatalf("got %+v, %v", s, err)
	}
	err := Unmarshal([]byte(`{"A": NaN}`), &s)
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) || te.Type != reflect.TypeFor[string]() || te.Value != "number NaN" {
		t.Fatalf("NaN into string: got %v", err)
	}
	// json.RawMessage keeps the Python text for later decoding.
	var r struct{ R json.RawMessage }
	if err := Unmarshal([]byte(`{"R": [NaN, 1]}`), &r); err != nil || string(r.R) != "[NaN, 1]" {
		t.Fatalf("raw: %q %v", r.R, err)
	}
}

// TestUnmarshalDecoderReuse exercises the pooled decoders with inputs of
// every shape, so that state left over from one use would show up in the
// next.
func TestUnmarshalDecoderReuse(t *testing.T) {
	inputs := []string{
		`{"a": 1}`, "  [1, 2]\n\n", `7`, ` "s" `, `null`, `true`, `{"a": 1} x`, `{"a": `, `{"a": NaN}`,
		`-0.5e3`, `{}`, "\t{\"b\": [true]}\t", `[1] [2]`, `"\ud800"`,
		strings.Repeat(`{"k": [1, 2, 3, "abcdefghijklmnopqrstuvwxyz"]},`, 100)[:100*46-1],
		"[" + strings.Repeat(`"abcdefghijklmnopqrstuvwxyz", `, 2500) + "1]",
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for round := 0; round < 12; round++ {
				for i := range inputs {
					in := inputs[(i+g+round)%len(inputs)]
					var got, want any
					gotErr := Unmarshal([]byte(in), &got)
					var wantErr error
					if strings.Contains(in, "NaN") {
						want, wantErr = Parse([]byte(in))
					} else {
						wantErr = stdDecode([]byte(in), &want)
					}
					if d := errorDiff(gotErr, wantErr); d != "" {
						t.Errorf("Unmarshal(%.40q): %s", in, d)
						return
					}
					if !deepEqualNaN(got, want) {
						t.Errorf("Unmarshal(%.40q) = %.80v, want %.80v", in, fmt.Sprint(got), fmt.Sprint(want))
						return
					}
				}
			}
		}(g)
	}
	wg.Wait()
}

func TestNeedsUseNumber(t *testing.T) {
	type rec struct {
		Next *rec
		N    int
	}
	type recAny struct {
		Next *recAny
		V    []map[string]any
	}
	tests := []struct {
		v    any
		want bool
	}{
		{nil, false},
		{3, false},
		{new(int), false},
		{new(any), true},
		{new(map[string]any), true},
		{new([]any), true},
		{new(rec), false},
		{new(recAny), true},
		{new(struct{ A *big.Int }), false},
		{new(struct{ A []json.RawMessage }), false},
		{new(struct{ A fmt.Stringer }), true},
		{new(big.Int), false},
		{new(pythonStruct), false},
		{new(nestedAny), true},
	}
	for _, tt := range tests {
		if got := needsUseNumber(reflect.TypeOf(tt.v)); got != tt.want {
			t.Errorf("needsUseNumber(%T) = %v, want %v", tt.v, got, tt.want)
		}
	}
}
