package pyjson

import (
	"bytes"
	"encoding/json"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
	"unsafe"
)

func addSeeds(f *testing.F, extra ...string) {
	for _, s := range invalidInputs {
		f.Add([]byte(s))
	}
	for _, s := range pythonInvalid {
		f.Add([]byte(s))
	}
	for _, s := range validInputs {
		f.Add([]byte(s))
	}
	for _, s := range extra {
		f.Add([]byte(s))
	}
	f.Add([]byte(pythonSample))
	f.Add([]byte(benchBody))
}

// FuzzParse checks that Parse never panics, agrees with encoding/json
// (UseNumber) on standard JSON, reports the same syntax errors as
// encoding/json on input without Python tokens, and agrees with the other
// entry points sharing its scanner.
func FuzzParse(f *testing.F) {
	addSeeds(f, `[NaN, -Infinity, {"a": Infinity}]`, `"\ud83d\ude00\ud800"`)
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Parse(data)
		valid := json.Valid(data)
		py := hasPythonToken(data)
		if valid {
			if err != nil {
				t.Fatalf("Parse rejects valid JSON: %v", err)
			}
			var want any
			if err := stdDecode(data, &want); err != nil {
				t.Fatalf("reference: %v", err)
			}
			if !deepEqualNaN(v, want) {
				t.Fatalf("Parse = %#v, want %#v", v, want)
			}
		} else if !py {
			if err == nil {
				t.Fatalf("Parse accepts invalid JSON without Python tokens: %#v", v)
			}
			if d := syntaxDiff(err, json.Unmarshal(data, new(any))); d != "" {
				t.Fatal(d)
			}
		}
		if err != nil {
			mustSyntaxError(t, err)
		}

		ov, oerr := parseOrdered(data)
		if (oerr == nil) != (err == nil) || err != nil && oerr.Error() != err.Error() {
			t.Fatalf("parseOrdered error %v, Parse error %v", oerr, err)
		}
		if err == nil && !deepEqualNaN(toGeneric(ov), v) {
			t.Fatalf("parseOrdered = %#v, Parse = %#v", toGeneric(ov), v)
		}
		vpy, verr := validate(data)
		if (verr == nil) != (err == nil) || err != nil && verr.Error() != err.Error() {
			t.Fatalf("validate error %v, Parse error %v", verr, err)
		}
		if err == nil && vpy != py {
			t.Fatalf("validate python=%v, hasPythonToken=%v", vpy, py)
		}
		if s, ok := v.(string); ok && err == nil {
			u, uerr := UnquoteString(data)
			if uerr != nil || u != s {
				t.Fatalf("UnquoteString = %q, %v; Parse = %q", u, uerr, s)
			}
		}
	})
}

// FuzzFields checks that Fields never panics, agrees with Parse (and so
// with encoding/json) on validity, and that its members reproduce the
// object.
func FuzzFields(f *testing.F) {
	addSeeds(f, `{"a": NaN, "b": [1, {"c": -Infinity}], "a": "dup"}`, `{"k\u00e9": {}}`, `{"x": 1} `, ` {"x": 1}}`)
	f.Fuzz(func(t *testing.T, data []byte) {
		var keys []string
		var values [][]byte
		err := Fields(data, func(k string, v []byte) error {
			keys = append(keys, k)
			values = append(values, v)
			return nil
		})
		pv, perr := Parse(data)
		trimmed := bytes.TrimLeft(data, " \t\r\n")
		isObject := len(trimmed) > 0 && trimmed[0] == '{'
		if !isObject {
			if err == nil {
				t.Fatal("Fields accepted a non-object")
			}
			if perr != nil && err.Error() != perr.Error() {
				t.Fatalf("Fields error %v, Parse error %v", err, perr)
			}
			return
		}
		if (err == nil) != (perr == nil) || err != nil && err.Error() != perr.Error() {
			t.Fatalf("Fields error %v, Parse error %v", err, perr)
		}
		if !hasPythonToken(data) && (err == nil) != json.Valid(data) {
			t.Fatalf("Fields error %v, json.Valid %v", err, json.Valid(data))
		}
		if err != nil {
			mustSyntaxError(t, err)
			return
		}
		// Rebuild the object from its members.
		rebuilt := []byte{'{'}
		base := uintptr(unsafe.Pointer(unsafe.SliceData(data)))
		for i, k := range keys {
			v := values[i]
			if len(v) == 0 || isSpace(v[0]) || isSpace(v[len(v)-1]) {
				t.Fatalf("value %q not trimmed", v)
			}
			if p := uintptr(unsafe.Pointer(unsafe.SliceData(v))); p < base || p+uintptr(len(v)) > base+uintptr(len(data)) {
				t.Fatalf("value %q is not a sub-slice of data", v)
			}
			if _, err := validate(v); err != nil {
				t.Fatalf("value %q is not a JSON value: %v", v, err)
			}
			if i > 0 {
				rebuilt = append(rebuilt, ',')
			}
			rebuilt = AppendString(rebuilt, k)
			rebuilt = append(rebuilt, ':')
			rebuilt = append(rebuilt, v...)
		}
		rebuilt = append(rebuilt, '}')
		rv, rerr := Parse(rebuilt)
		if rerr != nil || !deepEqualNaN(rv, pv) {
			t.Fatalf("rebuilt %s = %#v (%v), want %#v", rebuilt, rv, rerr, pv)
		}
	})
}

type fuzzInner struct {
	A int        `json:"a"`
	B string     `json:"b,omitempty"`
	C *fuzzInner `json:"c"`
}

type fuzzT struct {
	fuzzInner
	I   int64   `json:"i"`
	U   uint8   `json:"u"`
	F   float64 `json:"f"`
	F32 float32
	S   string          `json:"s"`
	Q   int             `json:"q,string"`
	B   bool            `json:"bool"`
	P   *string         `json:"p"`
	N   json.Number     `json:"n"`
	Any any             `json:"any"`
	M   map[string]any  `json:"m"`
	MI  map[int]string  `json:"mi"`
	L   []int           `json:"l"`
	Arr [2]string       `json:"arr"`
	By  []byte          `json:"by"`
	Big *big.Int        `json:"big"`
	Raw json.RawMessage `json:"raw"`
	In  fuzzInner       `json:"in"`
	Ins []fuzzInner     `json:"ins"`
}

type fuzzTyped struct {
	fuzzInner
	I  int64             `json:"i"`
	F  float64           `json:"f"`
	S  string            `json:"s"`
	L  []int             `json:"l"`
	MI map[int]fuzzInner `json:"mi"`
}

// FuzzUnmarshal checks Unmarshal against encoding/json (UseNumber), and
// Bind on the fallback path's parse tree against encoding/json, for fixed
// struct types and for interface values.
func FuzzUnmarshal(f *testing.F) {
	addSeeds(f,
		`{"a": 1, "b": "x", "c": {"a": 2, "c": null}, "i": -5, "u": 255, "f": 1.5, "F32": 1e38, "s": "\u00e9"}`,
		`{"q": "12", "bool": true, "p": "ptr", "n": 12345678901234567890, "any": [1, {"x": null}], "m": {"k": 1}}`,
		`{"mi": {"1": "one", "-2": "two"}, "l": [1, 2, 3], "arr": ["a", "b", "c"], "by": "aGk=", "big": 123456789012345678901234567890}`,
		`{"raw": {"z": [1, 2]}, "in": {"a": 3}, "ins": [{"a": 4}, {"b": "y"}], "A": 9, "ARR": ["x"]}`,
		`{"u": 256, "i": "x", "in": {"a": "bad"}, "ins": [{"c": {"a": []}}]}`,
		`{"f": NaN, "F32": -Infinity, "any": Infinity, "m": {"n": NaN}, "raw": [NaN]}`,
		`{"i": NaN}`, `{"q": 12}`, `{"by": "!"}`, `{"big": 1e3}`, `{"mi": {"x": "y"}}`,
	)
	f.Fuzz(func(t *testing.T, data []byte) {
		py := hasPythonToken(data)
		var got fuzzT
		gotErr := Unmarshal(data, &got)
		var gotTyped fuzzTyped
		gotTypedErr := Unmarshal(data, &gotTyped)
		var gotAny any
		gotAnyErr := Unmarshal(data, &gotAny)

		if py {
			// Python extensions: Unmarshal into any must agree with Parse.
			pv, perr := Parse(data)
			if (gotAnyErr == nil) != (perr == nil) {
				t.Fatalf("Unmarshal into any: %v, Parse: %v", gotAnyErr, perr)
			}
			if perr == nil && !deepEqualNaN(gotAny, pv) {
				t.Fatalf("Unmarshal into any = %#v, Parse = %#v", gotAny, pv)
			}
			if perr != nil && (gotErr == nil || gotTypedErr == nil) {
				t.Fatalf("Unmarshal accepted %q that Parse rejects: %v", data, perr)
			}
			return
		}

		var want fuzzT
		wantErr := stdDecode(data, &want)
		if d := errorDiff(gotErr, wantErr); d != "" {
			t.Fatalf("Unmarshal: %s", d)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("Unmarshal:\n got %+v\nwant %+v", got, want)
		}
		var wantTyped fuzzTyped
		wantTypedErr := json.Unmarshal(data, &wantTyped)
		if d := errorDiff(gotTypedErr, wantTypedErr); d != "" {
			t.Fatalf("Unmarshal typed: %s", d)
		}
		if !reflect.DeepEqual(gotTyped, wantTyped) {
			t.Fatalf("Unmarshal typed:\n got %+v\nwant %+v", gotTyped, wantTyped)
		}
		var wantAny any
		wantAnyErr := stdDecode(data, &wantAny)
		if d := errorDiff(gotAnyErr, wantAnyErr); d != "" {
			t.Fatalf("Unmarshal any: %s", d)
		}
		if !reflect.DeepEqual(gotAny, wantAny) {
			t.Fatalf("Unmarshal any:\n got %#v\nwant %#v", gotAny, wantAny)
		}

		// The fallback path (ordered parse + Bind) on standard JSON must
		// behave exactly like encoding/json too.
		if wantErr != nil && isSyntaxError(wantErr) {
			return
		}
		tree, err := parseOrdered(data)
		if err != nil {
			t.Fatalf("parseOrdered: %v", err)
		}
		var viaBind fuzzT
		bindErr := Bind(tree, &viaBind)
		if d := errorDiff(bindErr, wantErr); d != "" {
			t.Fatalf("Bind: %s", d)
		}
		if !reflect.DeepEqual(viaBind, want) {
			t.Fatalf("Bind:\n got %+v\nwant %+v", viaBind, want)
		}
		var viaBindTyped fuzzTyped
		bindErr = Bind(tree, &viaBindTyped)
		if d := errorDiff(bindErr, wantTypedErr); d != "" {
			t.Fatalf("Bind typed: %s", d)
		}
		if !reflect.DeepEqual(viaBindTyped, wantTyped) {
			t.Fatalf("Bind typed:\n got %+v\nwant %+v", viaBindTyped, wantTyped)
		}
	})
}

// FuzzAppendString checks that AppendString always produces valid JSON
// that decodes back to s (to s with each invalid byte replaced by U+FFFD,
// like encoding/json, when s is not valid UTF-8), with the escaping rules
// the encoder relies on.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "q\"b\\s", "\x00\x1f\x7f\b\f\n\r\t", "<>&", "é中😀",
		"\u2028\u2029", "bad\xff\xc3", "\xed\xa0\x80", strings.Repeat("abcdefg\"", 5)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := AppendString([]byte("x"), s)[1:]
		if !json.Valid(out) {
			t.Fatalf("AppendString(%q) = %s: invalid JSON", s, out)
		}
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatal(err)
		}
		want := s
		if !utf8.ValidString(s) {
			std, _ := json.Marshal(s)
			json.Unmarshal(std, &want)
		}
		if back != want {
			t.Fatalf("AppendString(%q) = %s decodes to %q, want %q", s, out, back, want)
		}
		u, err := UnquoteString(out)
		if err != nil || u != want {
			t.Fatalf("UnquoteString(%s) = %q, %v; want %q", out, u, err, want)
		}
		if !utf8.Valid(out) || bytes.ContainsAny(out, "\u2028\u2029") {
			t.Fatalf("AppendString(%q) = %q: invalid UTF-8 or raw U+2028/U+2029", s, out)
		}
		for _, c := range out {
			if c < 0x20 {
				t.Fatalf("AppendString(%q) = %q: raw control character", s, out)
			}
		}
		if strings.Count(s, "<") != bytes.Count(out, []byte("<")) {
			t.Fatalf("AppendString(%q) = %s: escaped <", s, out)
		}
	})
}
