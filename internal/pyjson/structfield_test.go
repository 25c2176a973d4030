package pyjson

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
)

type sfInner struct {
	A int `json:"a"`
	B int
	C int `json:"c,string"`
}

type SFTagged struct {
	B int `json:"B"` // tagged: wins over sfInner.B at the same depth
}

type sfHidden struct{ H int }

type sfTop struct {
	sfInner
	*SFTagged
	sfHidden
	Named  sfInner `json:"named"` // tagged embedded-like field: not promoted
	A      string  // shallower than sfInner.a (different name, A)
	Skip   int     `json:"-"`
	Dash   int     `json:"-,"` //lint:ignore SA5008 encoding/json names this field "-"
	S      string  `json:"s,string"`
	L      []int   `json:"l,string"` //lint:ignore SA5008 ",string" applies to scalars only
	hidden int     //lint:ignore U1000 an unexported field the lookup skips
}

func TestStructField(t *testing.T) {
	typ := reflect.TypeFor[sfTop]()
	tests := []struct {
		key    string
		index  []int
		quoted bool
	}{
		{"a", []int{0, 0}, false},
		{"A", []int{4}, false}, // exact match beats the case-insensitive one
		{"B", []int{1, 0}, false},
		{"b", []int{1, 0}, false},
		{"c", []int{0, 2}, true},
		{"C", []int{0, 2}, true},
		{"H", []int{2, 0}, false},
		{"named", []int{3}, false},
		{"-", []int{6}, false},
		{"s", []int{7}, true},
		{"l", []int{8}, false},
	}
	for _, tt := range tests {
		f, ok := StructField(typ, tt.key)
		if !ok || !reflect.DeepEqual(f.Index, tt.index) || f.Quoted != tt.quoted {
			t.Errorf("StructField(%q) = %+v, %v; want index %v quoted %v", tt.key, f, ok, tt.index, tt.quoted)
		}
	}
	for _, key := range []string{"Skip", "hidden", "sfInner", "sfHidden", "Named.a", ""} {
		if f, ok := StructField(typ, key); ok {
			t.Errorf("StructField(%q) = %+v, want none", key, f)
		}
	}
}

type rawCapture struct{ text string }

func (r *rawCapture) UnmarshalJSON(b []byte) error {
	r.text = string(b)
	return nil
}

func TestFallbackTargets(t *testing.T) {
	var v struct {
		sfInner
		*SFTagged
		O rawCapture         `json:"o"`
		N rawCapture         `json:"n"`
		P **float64          `json:"p"`
		M map[int][]float32  `json:"m"`
		I any                `json:"i"`
		E json.RawMessage    `json:"e"`
		K map[string]float64 `json:"k"`
	}
	v.K = map[string]float64{"old": 1}
	in := `{"o": {"b": [1, NaN], "a": "\u00e9"}, "n": -Infinity, "p": NaN, "m": {"-3": [Infinity, 2]},
		"i": {"x": [NaN]}, "e": [NaN], "k": {"new": -Infinity}, "B": 7, "a": 8}`
	if err := Unmarshal([]byte(in), &v); err != nil {
		t.Fatal(err)
	}
	if v.O.text != `{"b": [1, NaN], "a": "\u00e9"}` || v.N.text != "-Infinity" || string(v.E) != "[NaN]" {
		t.Errorf("json.Unmarshaler texts: %q %q %q", v.O.text, v.N.text, v.E)
	}
	if !math.IsNaN(**v.P) || !math.IsInf(float64(v.M[-3][0]), 1) || v.M[-3][1] != 2 {
		t.Errorf("pointers and maps: %v %v", **v.P, v.M)
	}
	if x := v.I.(map[string]any)["x"].([]any); !math.IsNaN(x[0].(float64)) {
		t.Errorf("interface: %#v", v.I)
	}
	if v.K["old"] != 1 || !math.IsInf(v.K["new"], -1) || v.SFTagged == nil || v.SFTagged.B != 7 || v.A != 8 {
		t.Errorf("merged map or embedded fields: %v %+v %+v", v.K, v.SFTagged, v.sfInner)
	}
	// A nil embedded pointer to an unexported struct cannot be allocated.
	var u struct{ *sfInner }
	if err := Unmarshal([]byte(`{"B": NaN}`), &u); err == nil || u.sfInner != nil {
		t.Errorf("embedded pointer to unexported struct: %v", err)
	}
}
