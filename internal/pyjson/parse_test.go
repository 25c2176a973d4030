package pyjson

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

const pythonSample = `{"x": NaN, "y": -Infinity, "z": Infinity, "big": 123456789012345678901234567890, "s": "\u00e9\ud83d\ude00", "lone": "\ud800"}`

func TestParsePythonSample(t *testing.T) {
	got, err := Parse([]byte(pythonSample))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"x":    math.NaN(),
		"y":    math.Inf(-1),
		"z":    math.Inf(1),
		"big":  json.Number("123456789012345678901234567890"),
		"s":    "é😀",
		"lone": "\uFFFD",
	}
	if !deepEqualNaN(got, want) {
		t.Fatalf("got %#v\nwant %#v", got, want)
	}
}

func TestParseValues(t *testing.T) {
	tests := []struct {
		in   string
		want any
	}{
		{`null`, nil},
		{` true `, true},
		{"\t\r\nfalse\n", false},
		{`0`, json.Number("0")},
		{`-0`, json.Number("-0")},
		{`-12.5e+3`, json.Number("-12.5e+3")},
		{`1E-7`, json.Number("1E-7")},
		{`123456789012345678901234567890123456789`, json.Number("123456789012345678901234567890123456789")},
		{`NaN`, math.NaN()},
		{`Infinity`, math.Inf(1)},
		{`-Infinity`, math.Inf(-1)},
		{`[NaN,Infinity,-Infinity]`, []any{math.NaN(), math.Inf(1), math.Inf(-1)}},
		{`""`, ""},
		{`"NaN"`, "NaN"},
		{`"Infinity"`, "Infinity"},
		{`"a\"b\\c\/d\be\ff\ng\rh\ti"`, "a\"b\\c/d\be\ff\ng\rh\ti"},
		{`"\u0041\u00e9\u4e2d\ud83d\ude00"`, "Aé中😀"},
		{`"\uD83D\uDE00"`, "😀"},
		{`"\ud800"`, "\uFFFD"},
		{`"\udc00"`, "\uFFFD"},
		{`"\ud800\ud800"`, "\uFFFD\uFFFD"},
		{`"\ud800x"`, "\uFFFDx"},
		{`"\ud800\u0041"`, "\uFFFDA"},
		{`"\ude00\ud83d"`, "\uFFFD\uFFFD"},
		{"\"raw é 😀\"", "raw é 😀"},
		{"\"bad \xff utf8 \xc3\"", "bad \uFFFD utf8 \uFFFD"},
		{"\"\xed\xa0\x80\"", "\uFFFD\uFFFD\uFFFD"}, // UTF-8 encoded surrogate
		{"\"\u2028\u2029\x7f\"", "\u2028\u2029\x7f"},
		{`[]`, []any{}},
		{`{}`, map[string]any{}},
		{` [ 1 , "a" , [ ] , { } ] `, []any{json.Number("1"), "a", []any{}, map[string]any{}}},
		{`{"a":{"b":[{"c":null}]}}`, map[string]any{"a": map[string]any{"b": []any{map[string]any{"c": nil}}}}},
		{`{"a":1,"a":2}`, map[string]any{"a": json.Number("2")}},
		{`{"\u0061":1, "é\n":2}`, map[string]any{"a": json.Number("1"), "é\n": json.Number("2")}},
		{`{"NaN": NaN, "s": "-Infinity"}`, map[string]any{"NaN": math.NaN(), "s": "-Infinity"}},
	}
	for _, tt := range tests {
		got, err := Parse([]byte(tt.in))
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if !deepEqualNaN(got, tt.want) {
			t.Errorf("Parse(%q) = %#v, want %#v", tt.in, got, tt.want)
		}
	}
}

// invalidInputs are malformed for both encoding/json and Python's json.
var invalidInputs = []string{
	``, ` `, `[`, `{`, `]`, `}`, `,`, `:`, `x`, `[1,]`, `[,1]`, `[1 2]`, `{"a"}`, `{"a":}`,
	`{"a" 1}`, `{"a":1,}`, `{,}`, `{1:2}`, `{'a':1}`, `{"a":1 "b":2}`, `{"a":1]`, `[1}`,
	`"abc`, `"\"`, `"\x"`, `"\u12"`, `"\u12g4"`, "\"a\tb\"", "\"a\nb\"", "\"\x00\"", `"\'"`,
	`01`, `-`, `-a`, `1.`, `1.e5`, `.5`, `1e`, `1e+`, `1e+x`, `+1`, `0x10`, `1_000`,
	`t`, `tru`, `trUe`, `f`, `fals`, `nul`, `nulll`, `True`, `NULL`,
	`1 2`, `[] []`, `{} x`, `"a" "b"`, `null,`, `[1]]`, `{"a":[}`,
	`[[[`, `{"a":{"b":`, "\xef\xbb\xbf{}", "[1,\n2,\n3,\nx]",
}

// pythonInvalid are malformed even with Python's extensions.
var pythonInvalid = []string{
	`Nan`, `nan`, `NAN`, `-NaN`, `+NaN`, `+Infinity`, `infinity`, `-infinity`, `Inf`, `-Inf`,
	`Infinit`, `NaN1`, `NaNx`, `Infinityx`, `[NaN,]`, `{"a":NaN`, `{NaN:1}`, `-Infinity.5`,
	`[Infinity Infinity]`, `N`, `I`, `-I`,
}

func TestParseErrors(t *testing.T) {
	for _, in := range append(append([]string{}, invalidInputs...), pythonInvalid...) {
		v, err := Parse([]byte(in))
		if err == nil {
			t.Errorf("Parse(%q) = %#v, want error", in, v)
			continue
		}
		mustSyntaxError(t, err, []byte(in))
	}
}

func TestParseErrorOffsets(t *testing.T) {
	// The offset counts the bytes up to and including the offending one.
	tests := []struct {
		in     string
		offset int64
	}{
		{`Nan`, 3},
		{`[1, -NaN]`, 6},
		{`{"a": +Infinity}`, 7},
		{`[Infinity, Infinit]`, 19},
		{`NaN x`, 5},
		{`{"a" 1}`, 6},
		{`[1,`, 3},
		{`"\u12x"`, 3}, // at the escape
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.in))
		se, ok := err.(*SyntaxError)
		if !ok {
			t.Errorf("Parse(%q): got %v, want *SyntaxError", tt.in, err)
			continue
		}
		if se.Offset != tt.offset {
			t.Errorf("Parse(%q): offset %d (%v), want %d", tt.in, se.Offset, se, tt.offset)
		}
	}
}

// validInputs are standard JSON documents used for differential tests.
var validInputs = []string{
	`null`, `true`, `false`, `0`, `-1.5e10`, `"x"`, `[]`, `{}`, `[[]]`, `[{}]`,
	`{"a":1,"b":[1,2,{"c":"d"}],"e":{"f":null,"g":true}}`,
	`{"a":1,"a":{"x":1},"a":[2]}`,
	`[1, 2.5, -0, 1e400, 123456789012345678901234567890, "é", "\u00e9", "\ud83d\ude00", "\ud800"]`,
	"{\"k\\u0000\": \"\\u0000\", \"\\ud800\": \"\xff\"}",
	` { "spaces" : [ 1 , 2 ] } `,
	`"NaN"`, `["Infinity", "-Infinity", "NaN"]`,
	`{"oslo.version": "2.0", "oslo.message": "{\"method\": \"ping\", \"args\": {}}"}`,
}

func TestParseDifferential(t *testing.T) {
	for _, in := range validInputs {
		got, err := Parse([]byte(in))
		if err != nil {
			t.Errorf("Parse(%q): %v", in, err)
			continue
		}
		var want any
		if err := stdDecode([]byte(in), &want); err != nil {
			t.Fatalf("reference decode of %q: %v", in, err)
		}
		if !deepEqualNaN(got, want) {
			t.Errorf("Parse(%q) = %#v, want %#v", in, got, want)
		}
	}
}

func TestParseDepth(t *testing.T) {
	// Exactly the limit is accepted, one more is not, like encoding/json.
	ok := strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth)
	if _, err := Parse([]byte(ok)); err != nil {
		t.Fatalf("depth %d: %v", maxDepth, err)
	}
	tooDeep := strings.Repeat(`{"a":`, maxDepth) + "[]" + strings.Repeat("}", maxDepth)
	if _, err := Parse([]byte(tooDeep)); err == nil || json.Unmarshal([]byte(tooDeep), new(any)) == nil {
		t.Fatalf("depth %d: accepted", maxDepth+1)
	}

	start := time.Now()
	hostile := []byte(strings.Repeat("[", 100000))
	for _, f := range []func([]byte) error{
		func(b []byte) error { _, err := Parse(b); return err },
		func(b []byte) error { return Fields(b, func(string, []byte) error { return nil }) },
		func(b []byte) error { _, err := validate(b); return err },
	} {
		mustSyntaxError(t, f(hostile), hostile)
	}
	for _, f := range []func([]byte) error{
		func(b []byte) error { var v any; return Unmarshal(b, &v) },
		func(b []byte) error { var v struct{ A []any }; return Unmarshal(b, &v) },
	} {
		mustJSONSyntaxError(t, f(hostile))
	}
	// Python tokens deep inside typed values: linear work.
	type rec struct {
		F float64
		R []rec
	}
	deep := []byte(strings.Repeat(`{"R":[`, maxDepth/2-1) + `{"F":NaN}` + strings.Repeat("]}", maxDepth/2-1))
	var r rec
	if err := Unmarshal(deep, &r); err != nil {
		t.Fatalf("deep NaN: %v", err)
	}
	for i := 0; i < maxDepth/2-1; i++ {
		r = r.R[0]
	}
	if !math.IsNaN(r.F) {
		t.Fatalf("deep NaN: got %v", r.F)
	}
	hostileObj := []byte("{\"a\":" + strings.Repeat(`{"a":[`, 50000))
	if err := Fields(hostileObj, func(string, []byte) error { return nil }); err == nil {
		t.Fatal("deep object: no error")
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("deep nesting took %v", time.Since(start))
	}
}
