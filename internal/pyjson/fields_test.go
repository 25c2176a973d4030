package pyjson

import (
	"errors"
	"strings"
	"testing"
	"unsafe"
)

type member struct{ key, value string }

func collect(data []byte) ([]member, error) {
	var got []member
	err := Fields(data, func(k string, v []byte) error {
		got = append(got, member{k, string(v)})
		return nil
	})
	return got, err
}

func TestFields(t *testing.T) {
	tests := []struct {
		in   string
		want []member
	}{
		{`{}`, nil},
		{" \n{ } \t", nil},
		{`{"a":1}`, []member{{"a", "1"}}},
		{`{ "a" : 1 , "b" : "x" }`, []member{{"a", "1"}, {"b", `"x"`}}},
		{`{"x": NaN, "y": -Infinity, "z": Infinity}`, []member{{"x", "NaN"}, {"y", "-Infinity"}, {"z", "Infinity"}}},
		{`{"nested": {"a": [1, {"b": NaN}], "c": "}"}, "after": null}`,
			[]member{{"nested", `{"a": [1, {"b": NaN}], "c": "}"}`}, {"after", "null"}}},
		{`{"a":1,"a":2}`, []member{{"a", "1"}, {"a", "2"}}},
		{`{"\u00e9\n":true,"é":false,"\ud800":[]}`, []member{{"é\n", "true"}, {"é", "false"}, {"\uFFFD", "[]"}}},
		{"{\"bad\xff\":-1.5e3}", []member{{"bad\uFFFD", "-1.5e3"}}},
		{`{"s": "a\"b\\", "e": ""}`, []member{{"s", `"a\"b\\"`}, {"e", `""`}}},
		{`{"big": 123456789012345678901234567890}`, []member{{"big", "123456789012345678901234567890"}}},
	}
	for _, tt := range tests {
		got, err := collect([]byte(tt.in))
		if err != nil {
			t.Errorf("Fields(%q): %v", tt.in, err)
			continue
		}
		if len(got) != len(tt.want) {
			t.Errorf("Fields(%q) = %q, want %q", tt.in, got, tt.want)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("Fields(%q) = %q, want %q", tt.in, got, tt.want)
				break
			}
		}
	}
}

func TestFieldsSubslice(t *testing.T) {
	data := []byte(`{"a": [1, 2] , "b":"x"}`)
	var values [][]byte
	Fields(data, func(_ string, v []byte) error {
		values = append(values, v)
		return nil
	})
	base := uintptr(unsafe.Pointer(&data[0]))
	for _, v := range values {
		p := uintptr(unsafe.Pointer(&v[0]))
		if p < base || p >= base+uintptr(len(data)) {
			t.Fatalf("value %q is not a sub-slice of data", v)
		}
	}
}

func TestFieldsErrors(t *testing.T) {
	for _, in := range invalidInputs {
		_, err := collect([]byte(in))
		if err == nil {
			t.Errorf("Fields(%q): no error", in)
			continue
		}
		mustSyntaxError(t, err, []byte(in))
	}
	for _, in := range []string{`{"a": Nan}`, `{"a": -NaN}`, `{"a": [Infinity,]}`, `{"a": 1}, `, `{"a": 1}{`, `{"a": {"b": 1}`} {
		_, err := collect([]byte(in))
		mustSyntaxError(t, err, []byte(in))
	}
	for _, in := range []string{`[]`, `[{"a":1}]`, `"x"`, `1`, `true`, `null`, `NaN`, ` -Infinity `} {
		got, err := collect([]byte(in))
		if err == nil || len(got) != 0 {
			t.Errorf("Fields(%q) = %v, %v; want not-an-object error", in, got, err)
			continue
		}
		var se *SyntaxError
		if errors.As(err, &se) || !strings.Contains(err.Error(), "not an object") {
			t.Errorf("Fields(%q): got %v, want not-an-object error", in, err)
		}
	}
	// Malformed non-objects are syntax errors.
	_, err := collect([]byte(`[1,]`))
	mustSyntaxError(t, err, []byte(`[1,]`))
}

func TestFieldsStops(t *testing.T) {
	stop := errors.New("stop")
	var keys []string
	err := Fields([]byte(`{"a":1,"b":2,"c":3}`), func(k string, _ []byte) error {
		keys = append(keys, k)
		if k == "b" {
			return stop
		}
		return nil
	})
	if err != stop || strings.Join(keys, ",") != "a,b" {
		t.Fatalf("err %v keys %v", err, keys)
	}
}

func TestFieldsAllocs(t *testing.T) {
	data := []byte(benchBody)
	var keys int
	Fields(data, func(string, []byte) error { keys++; return nil })
	allocs := testing.AllocsPerRun(100, func() {
		Fields(data, func(string, []byte) error { return nil })
	})
	if allocs > float64(keys) {
		t.Fatalf("%v allocations for %d keys", allocs, keys)
	}
}
