package pyjson

import (
	"bytes"
	"encoding/json"
	"math"
	"math/big"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
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

// FuzzParse checks that Parse never panics, accepts exactly what
// encoding/json accepts plus the Python tokens, agrees with encoding/json
// (UseNumber) on standard JSON, and agrees with the other entry points
// sharing its scanner.
func FuzzParse(f *testing.F) {
	addSeeds(f, `[NaN, -Infinity, {"a": Infinity}]`, `"\ud83d\ude00\ud800"`)
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Parse(data)
		py, verr := validate(data)
		if (verr == nil) != (err == nil) {
			t.Fatalf("validate error %v, Parse error %v", verr, err)
		}
		if err != nil {
			mustSyntaxError(t, err, data)
			if json.Valid(data) {
				t.Fatalf("Parse rejects valid JSON: %v", err)
			}
			if _, err := Parse(sentinels(data)); err == nil {
				t.Fatalf("Parse rejects %q but accepts it with its Python tokens replaced", data)
			}
			return
		}
		if !py {
			var want any
			if err := stdDecode(data, &want); err != nil {
				t.Fatalf("Parse accepts what encoding/json rejects: %v", err)
			}
			if !deepEqualNaN(v, want) {
				t.Fatalf("Parse = %#v, want %#v", v, want)
			}
		} else if !json.Valid(sentinels(data)) {
			t.Fatalf("Parse accepts %q, invalid with its Python tokens replaced", data)
		}
		if s, ok := v.(string); ok {
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
			if (err == errNotObject) != (perr == nil) {
				t.Fatalf("Fields error %v, Parse error %v", err, perr)
			}
			return
		}
		if (err == nil) != (perr == nil) {
			t.Fatalf("Fields error %v, Parse error %v", err, perr)
		}
		if err != nil {
			mustSyntaxError(t, err, data)
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

type FuzzEmbedded struct {
	E  int `json:"e"`
	EF float64
}

type fuzzT struct {
	fuzzInner
	*FuzzEmbedded
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
	T   time.Time       `json:"t"`
}

type fuzzTyped struct {
	fuzzInner
	I  int64             `json:"i"`
	F  float64           `json:"f"`
	S  string            `json:"s"`
	L  []int             `json:"l"`
	MI map[int]fuzzInner `json:"mi"`
}

// fuzzFlat has a plan (plan.go): fields of every kind the plan parses
// itself, struct fields with their own plan, and fields it leaves to
// encoding/json.
type fuzzFlat struct {
	S      string `json:"s"`
	Sx     string
	B      bool     `json:"bool"`
	I      int      `json:"i"`
	I8     int8     `json:"i8"`
	U      uint16   `json:"u"`
	F      float64  `json:"f"`
	F32    float32  `json:"f32"`
	Named  fuzzName `json:"name"`
	K1     int      `json:"k"`
	K2     int      `json:"K"`
	In     fuzzPlain
	Deeper struct{ In fuzzPlain }
	N      json.Number     `json:"n"`
	Text   fuzzText        `json:"text"`
	Any    any             `json:"any"`
	M      map[string]int  `json:"m"`
	L      []string        `json:"l"`
	P      *fuzzPlain      `json:"p"`
	By     []byte          `json:"by"`
	Big    *big.Int        `json:"big"`
	T      time.Time       `json:"t"`
	Raw    json.RawMessage `json:"raw"`
	//lint:ignore U1000 unexported: encoding/json ignores it, and so must the plan
	hidden int
}

type fuzzPlain struct {
	A int    `json:"a"`
	S string `json:"s"`
	L []int  `json:"l"`
}

type fuzzName string

// fuzzText decodes through UnmarshalText, which the plan leaves to
// encoding/json.
type fuzzText string

func (t *fuzzText) UnmarshalText(b []byte) error {
	*t = fuzzText(strings.ToUpper(string(b)))
	return nil
}

// unmarshalSeeds are inputs for the Unmarshal fuzz targets.
var unmarshalSeeds = []string{
	`{"a": 1, "b": "x", "c": {"a": 2, "c": null}, "i": -5, "u": 255, "f": 1.5, "F32": 1e38, "s": "\u00e9"}`,
	`{"q": "12", "bool": true, "p": "ptr", "n": 12345678901234567890, "any": [1, {"x": null}], "m": {"k": 1}}`,
	`{"mi": {"1": "one", "-2": "two"}, "l": [1, 2, 3], "arr": ["a", "b", "c"], "by": "aGk=", "big": 123456789012345678901234567890}`,
	`{"raw": {"z": [1, 2]}, "in": {"a": 3}, "ins": [{"a": 4}, {"b": "y"}], "A": 9, "ARR": ["x"], "e": 1, "t": "2024-05-01T10:22:33Z"}`,
	`{"u": 256, "i": "x", "in": {"a": "bad"}, "ins": [{"c": {"a": []}}]}`,
	`{"f": NaN, "F32": -Infinity, "any": Infinity, "m": {"n": NaN}, "raw": [NaN], "EF": Infinity}`,
	`{"i": NaN}`, `{"q": 12}`, `{"by": "!"}`, `{"big": 1e3}`, `{"mi": {"x": "y"}}`, `{"q": NaN}`, `{"t": NaN}`,
	`{"in": {"c": {"c": {"a": NaN}}}, "a": 1, "a": {"b": 2}}`, `{"mi": {"7": {"a": NaN}}, "l": [1, NaN]}`,
	`{"s": "x\u00e9\ud83d\ude00", "sx": "fold", "SX": "Fold", "bool": false, "i": -9223372036854775808, "i8": 127, "u": 65535}`,
	`{"f": -0, "f32": 3.4e38, "name": "n", "k": 1, "K": 2, "\u212a": 3, "In": {"a": 1, "s": "in", "l": [1]}, "deeper": {"in": {"a": 2}}}`,
	`{"n": 1e400, "text": "up", "any": {"x": [1.5]}, "m": {"a": 1}, "m": {"b": 2}, "l": ["a"], "p": {"a": 3}, "by": "aGk=", "t": "2024-05-01T10:22:33Z"}`,
	`{"i8": 128, "u": -1, "f32": 1e39, "i": 1.0, "bool": "true", "s": 1, "In": [], "p": {"a": "x"}, "hidden": 1, "s": "after"}`,
	`{"s": null, "i": null, "In": null, "p": null, "any": null, "m": null, "\u0073": "escaped key", "s\xff": 1, "raw": [1, {}]}`,
	` 12 `, `-128`, `300`, `65536`, `-0`, `1.5`, `1e3`, `1e400`, `3.5e38`, `9223372036854775808`, `true`, `null`,
	`"caf\u00e9 \"q\""`, `"plain"`, `"12"`, `[1]`, `{}`, `{"n": "abc"}`, `{"n": "12"}`,
}

// FuzzUnmarshal is the differential test against encoding/json for
// standard JSON: Unmarshal gives encoding/json's result and error, and the
// fallback path, made to walk every object and array by hand, succeeds
// and fails with it and gives the same values.
func FuzzUnmarshal(f *testing.F) {
	addSeeds(f, unmarshalSeeds...)
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := validate(data); err != nil || !json.Valid(data) {
			if err == nil {
				return // Python tokens: FuzzPython
			}
			var got any
			if err := Unmarshal(data, &got); err == nil {
				t.Fatalf("Unmarshal accepts %q that validate rejects", data)
			}
			return
		}
		differential[fuzzT](t, data)
		differential[fuzzTyped](t, data)
		differential[any](t, data)
		differential[map[string]fuzzInner](t, data)
		differential[[]*fuzzInner](t, data)
		differential[fuzzFlat](t, data)
		differential[fuzzPlain](t, data)
		differential[int64](t, data)
		differential[int8](t, data)
		differential[uint16](t, data)
		differential[float32](t, data)
		differential[float64](t, data)
		differential[bool](t, data)
		differential[fuzzName](t, data)
		differential[fuzzText](t, data)
		differential[json.Number](t, data)
	})
}

func differential[T any](t *testing.T, data []byte) {
	var got, want, forced T
	gotErr := Unmarshal(data, &got)
	wantErr := stdDecode(data, &want)
	if d := errorDiff(gotErr, wantErr); d != "" {
		t.Fatalf("Unmarshal into %T: %s", got, d)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Unmarshal into %T:\n got %+v\nwant %+v", got, got, want)
	}
	forcedErr := fallback(data, &forced, true)
	if (forcedErr == nil) != (wantErr == nil) {
		t.Fatalf("fallback into %T: error %v, encoding/json: %v", got, forcedErr, wantErr)
	}
	if wantErr == nil && !reflect.DeepEqual(forced, want) {
		t.Fatalf("fallback into %T:\n got %+v\nwant %+v", got, forced, want)
	}
}

// FuzzPython checks input with Python tokens against encoding/json
// decoding the same input with each token replaced by a sentinel number:
// the same success or failure and, the sentinels mapped back to NaN and
// ±Inf, the same values.
func FuzzPython(f *testing.F) {
	addSeeds(f, unmarshalSeeds...)
	f.Fuzz(func(t *testing.T, data []byte) {
		py, err := validate(data)
		if err != nil || !py {
			return
		}
		var gotAny any
		if err := Unmarshal(data, &gotAny); err != nil {
			t.Fatalf("Unmarshal into any: %v", err)
		}
		if pv, _ := Parse(data); !deepEqualNaN(gotAny, pv) {
			t.Fatalf("Unmarshal into any = %#v, Parse = %#v", gotAny, pv)
		}
		pythonDifferential[fuzzPy](t, data)
		pythonDifferential[[]float32](t, data)
		pythonDifferential[map[string]*fuzzPy](t, data)
		pythonDifferential[fuzzTyped](t, data)
	})
}

// fuzzPy has the types a Python token may be stored into, and others.
type fuzzPy struct {
	FuzzEmbedded
	F   float64            `json:"f"`
	F32 float32            `json:"F32"`
	PF  *float64           `json:"pf"`
	LF  []float64          `json:"lf"`
	MF  map[string]float64 `json:"mf"`
	MIF map[int]float32    `json:"mif"`
	AF  [2]float64         `json:"af"`
	Any any                `json:"any"`
	LA  []any              `json:"la"`
	MA  map[string]any     `json:"ma"`
	I   int                `json:"i"`
	S   string             `json:"s"`
	Q   float64            `json:"q,string"`
	In  *fuzzPy            `json:"in"`
	Ins []fuzzPy           `json:"ins"`
}

func pythonDifferential[T any](t *testing.T, data []byte) {
	var got, want T
	gotErr := Unmarshal(data, &got)
	wantErr := stdDecode(sentinels(data), &want)
	if (gotErr == nil) != (wantErr == nil) {
		t.Fatalf("Unmarshal into %T: error %v, encoding/json with sentinels: %v", got, gotErr, wantErr)
	}
	if gotErr != nil {
		return
	}
	resentinel(reflect.ValueOf(&got).Elem())
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Unmarshal into %T:\n got %+v\nwant %+v", got, got, want)
	}
}

// The sentinel numbers that stand for NaN, Infinity and -Infinity, exact
// in float32 and float64. sentinels writes them between spaces, so that
// they do not merge with what is around them.
const (
	sentNaN    = "1.5e30"
	sentInf    = "2.5e30"
	sentNegInf = "-2.5e30"
)

// sentinels returns data with the Python tokens outside strings replaced by
// the sentinel numbers.
func sentinels(data []byte) []byte {
	var out []byte
	inString := false
	for i := 0; i < len(data); i++ {
		c := data[i]
		switch {
		case inString && c == '\\' && i+1 < len(data):
			out = append(out, c, data[i+1])
			i++
			continue
		case c == '"':
			inString = !inString
		case !inString:
			for _, r := range [...][2]string{{tokNegInf, sentNegInf}, {tokNaN, sentNaN}, {tokInf, sentInf}} {
				if bytes.HasPrefix(data[i:], []byte(r[0])) {
					out = append(append(append(out, ' '), r[1]...), ' ')
					i += len(r[0]) - 1
					goto next
				}
			}
		}
		out = append(out, c)
	next:
	}
	return out
}

// resentinel replaces NaN and ±Inf in v by the sentinel numbers standing
// for them, as encoding/json decodes them: floats in float values,
// json.Number in interface values.
func resentinel(v reflect.Value) {
	sentinel := func(f float64) string {
		switch {
		case math.IsNaN(f):
			return sentNaN
		case math.IsInf(f, 1):
			return sentInf
		case math.IsInf(f, -1):
			return sentNegInf
		}
		return ""
	}
	switch v.Kind() {
	case reflect.Float32, reflect.Float64:
		if s := sentinel(v.Float()); s != "" {
			f, _ := strconv.ParseFloat(s, v.Type().Bits())
			v.SetFloat(f)
		}
	case reflect.Pointer:
		if !v.IsNil() {
			resentinel(v.Elem())
		}
	case reflect.Interface:
		if v.IsNil() {
			return
		}
		if f, ok := v.Interface().(float64); ok {
			v.Set(reflect.ValueOf(json.Number(sentinel(f))))
			return
		}
		e := reflect.New(v.Elem().Type()).Elem()
		e.Set(v.Elem())
		resentinel(e)
		v.Set(e)
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			resentinel(v.Index(i))
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			e := reflect.New(v.Type().Elem()).Elem()
			e.Set(v.MapIndex(k))
			resentinel(e)
			v.SetMapIndex(k, e)
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if f := v.Type().Field(i); f.IsExported() || f.Anonymous {
				resentinel(v.Field(i))
			}
		}
	}
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
		// Byte for byte encoding/json's encoding without HTML escaping,
		// which the wire encoder writes strings with in its place.
		var std bytes.Buffer
		enc := json.NewEncoder(&std)
		enc.SetEscapeHTML(false)
		enc.Encode(s)
		if std := bytes.TrimSuffix(std.Bytes(), []byte("\n")); !bytes.Equal(out, std) {
			t.Fatalf("AppendString(%q) = %s, encoding/json: %s", s, out, std)
		}
	})
}

// FuzzUnmarshalZero checks that UnmarshalZero into a zero value gives
// Unmarshal's result and error on any input: invalid JSON, Python tokens
// and trailing data included.
func FuzzUnmarshalZero(f *testing.F) {
	addSeeds(f, append(unmarshalSeeds, `{"s": "x"} x`, `{"s": "x", "i": NaN}`, `{"s": "x", "i":`, `{"s": "unterminated`,
		` 12 3`, `{"In": {"a": 1, "s": "in"}, "s": "x\u00e9", "i": -Infinity}`, `{"f": -Infinity, "s": "x"}`,
		`{"raw": NaN}`, `{"zz": Infinity, "s": "x"}`, `{"f32": NaN}`)...)
	f.Fuzz(func(t *testing.T, data []byte) {
		zeroDifferential[fuzzT](t, data)
		zeroDifferential[fuzzTyped](t, data)
		zeroDifferential[fuzzFlat](t, data)
		zeroDifferential[fuzzPlain](t, data)
		zeroDifferential[fuzzPy](t, data)
		zeroDifferential[int64](t, data)
		zeroDifferential[float64](t, data)
		zeroDifferential[string](t, data)
		zeroDifferential[bool](t, data)
		zeroDifferential[any](t, data)
	})
}

func zeroDifferential[T any](t *testing.T, data []byte) {
	var got, want T
	gotErr := UnmarshalZero(data, &got)
	wantErr := Unmarshal(data, &want)
	if d := errorDiff(gotErr, wantErr); d != "" {
		t.Fatalf("UnmarshalZero into %T: %s", got, d)
	}
	if !equalNaN(reflect.ValueOf(got), reflect.ValueOf(want)) {
		t.Fatalf("UnmarshalZero into %T:\n got %#v\nwant %#v", got, got, want)
	}
}
