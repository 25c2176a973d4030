package pyjson

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"net"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

type Embedded struct {
	E1 int `json:"e1"`
	E2 string
}

type embeddedHidden struct {
	U1 int
	u2 int //lint:ignore U1000 an unexported field Bind must skip
}

type PtrEmbedded struct {
	P1 string `json:"p1"`
}

type Inner struct {
	A int            `json:"a"`
	B []string       `json:"b"`
	C map[string]int `json:"c"`
}

// Conflicting promoted names: X appears in two embedded structs at the same
// depth (annihilated), Y is tagged in one of them (wins).
type Conflict1 struct {
	X int
	Y int `json:"Y"`
}
type Conflict2 struct {
	X int
	Y int
}

type Wide struct {
	Embedded
	*PtrEmbedded
	embeddedHidden
	Conflict1
	Conflict2

	Name      string `json:"name"`
	Skip      string `json:"-"`
	Dash      string `json:"-,"` //lint:ignore SA5008 encoding/json names this field "-"; Bind must too
	CamelCase int
	Ptr       *int `json:"ptr"`
	PtrPtr    **string
	Inner     Inner  `json:"inner"`
	InnerPtr  *Inner `json:"inner_ptr"`
	Inners    []Inner
	IntMap    map[int]string `json:"int_map"`
	UintMap   map[uint8]bool
	AddrMap   map[netip.Addr]int
	Arr       [3]int
	Bytes     []byte
	IP        net.IP
	Time      time.Time
	TimePtr   *time.Time
	Quoted    int     `json:",string"`
	QuotedS   string  `json:"qs,string"`
	QuotedB   bool    `json:"qb,string"`
	QuotedP   *int    `json:"qp,string"`
	QuotedF   float64 `json:"qf,string"`
	Num       json.Number
	Any       any
	AnyMap    map[string]any
	Iface     fmt.Stringer
	Big       *big.Int
	BigVal    big.Int
	F32       float32
	F64       float64
	I8        int8
	U16       uint16
	Raw       json.RawMessage
	Bool      bool
	Strs      []string
	Matrix    [][]int
	unexp     int //lint:ignore U1000 an unexported field Bind must skip
}

type Small struct {
	A  int            `json:"a"`
	B  string         `json:"b"`
	C  []float64      `json:"c"`
	D  map[string]any `json:"d"`
	E  *Small         `json:"e"`
	F  any            `json:"f"`
	G  json.Number    `json:"g"`
	H  [2]uint8       `json:"h"`
	I  map[int64]bool `json:"i"`
	J  []byte         `json:"j"`
	K  bool           `json:"k"`
	L  float32        `json:"l"`
	M  *big.Int       `json:"m"`
	N  int64          `json:"n,string"`
	Em Embedded
}

var wideInputs = []string{
	`{}`,
	`null`,
	`{"name":"n","Skip":"s","-":"dash","camelcase":3,"ptr":4,"PtrPtr":"pp"}`,
	`{"NAME":"upper","Name":"exact"}`,
	`{"name":"exact","NAME":"upper"}`,
	`{"e1":1,"E2":"two","p1":"three","U1":4,"u2":5,"X":6,"Y":7}`,
	`{"e1":"bad"}`,
	`{"p1":5}`,
	`{"inner":{"a":1,"b":["x","y"],"c":{"k":2}},"inner_ptr":{"a":3}}`,
	`{"inner":{"a":"x"}}`,
	`{"inner":{"b":[1]}}`,
	`{"inner":{"c":{"k":"v"}}}`,
	`{"inner_ptr":{"c":{"k":1.5}}}`,
	`{"Inners":[{"a":1},{"a":"bad"}]}`,
	`{"inner_ptr":null,"ptr":null,"PtrPtr":null,"Any":null,"AnyMap":null,"Bytes":null,"name":null,"Arr":null}`,
	`{"int_map":{"1":"a","-2":"b"},"UintMap":{"255":true},"AddrMap":{"1.2.3.4":1}}`,
	`{"int_map":{"x":"a"}}`,
	`{"UintMap":{"256":true}}`,
	`{"AddrMap":{"nope":1}}`,
	`{"Arr":[1,2,3,4,5]}`,
	`{"Arr":[1]}`,
	`{"Arr":[1,"x",3]}`,
	`{"Bytes":"aGVsbG8gd29ybGQ="}`,
	`{"Bytes":"!!!"}`,
	`{"Bytes":[1,2]}`,
	`{"IP":"10.0.0.1"}`,
	`{"IP":"not an ip"}`,
	`{"IP":42}`,
	`{"Time":"2021-02-03T04:05:06.789Z","TimePtr":"2021-02-03T04:05:06+02:00"}`,
	`{"Time":"yesterday"}`,
	`{"Time":17}`,
	`{"Quoted":"12","qs":"\"str\"","qb":"true","qp":"7","qf":"1.5"}`,
	`{"Quoted":12}`,
	`{"Quoted":"x"}`,
	`{"Quoted":"1.5"}`,
	`{"Quoted":null,"qp":"null"}`,
	`{"qs":"plain"}`,
	`{"qb":"nope"}`,
	`{"Num":1.5e300}`,
	`{"Num":"12"}`,
	`{"Num":"abc"}`,
	`{"Num":true}`,
	`{"Any":{"a":[1,"x",null,true,{"b":2.5}]},"AnyMap":{"n":123456789012345678901234567890}}`,
	`{"Any":[]}`,
	`{"Iface":1}`,
	`{"Iface":"x"}`,
	`{"Iface":{"a":1}}`,
	`{"Big":123456789012345678901234567890,"BigVal":-98765432109876543210}`,
	`{"Big":"12"}`,
	`{"Big":null,"BigVal":null}`,
	`{"F32":1e39}`,
	`{"F32":3.4e38,"F64":-1.7976931348623157e308}`,
	`{"F64":1e400}`,
	`{"I8":300}`,
	`{"I8":-128,"U16":65535}`,
	`{"U16":-1}`,
	`{"I8":1.5}`,
	`{"I8":1e2}`,
	`{"Raw":{"z":[1,2]}}`,
	`{"Bool":"true"}`,
	`{"Bool":1}`,
	`{"Strs":"x"}`,
	`{"Strs":{}}`,
	`{"Strs":[]}`,
	`{"Matrix":[[1,2],[],[3]]}`,
	`{"Matrix":[[1,"a"],["b"]]}`,
	`{"name":1,"ptr":"a","Bool":2}`,
	`{"unexp":1,"embeddedHidden":{"U1":2}}`,
	`[]`,
	`"str"`,
	`7`,
	`true`,
}

var smallInputs = []string{
	`{"a":1,"b":"x","c":[1.5,2],"d":{"k":[1,{"z":null}]},"e":{"a":2,"e":{"b":"deep"}},"f":3,"g":4.5,"h":[1,2,3],"i":{"-5":true},"j":"AQID","k":true,"l":0.1,"m":100,"n":"-7","Em":{"e1":9}}`,
	`{"e":{"e":{"e":{"a":"x"}}}}`,
	`{"e":{"Em":{"e1":"x"}}}`,
	`{"d":{"k":{"x":1}}, "e":null, "f":[]}`,
	`{"h":[256]}`,
	`{"i":{"1.5":true}}`,
	`{"m":1.5}`,
	`{"a":1,"m":1e2,"n":"-7","Em":{"e1":9}}`,
	`{"n":"9223372036854775808"}`,
	`{"A":1,"B":"x","C":null,"D":null,"E":null,"F":null,"G":"1","H":null,"I":null,"J":null,"K":null,"L":null,"M":null,"N":null}`,
}

// bindBoth decodes in through the reference (encoding/json with UseNumber),
// through Bind(Parse(in)) and through Bind(parseOrdered(in)), into fresh
// values of type T, and compares.
func checkBind[T any](t *testing.T, in string, publicPath bool) {
	t.Helper()
	var want T
	wantErr := stdDecode([]byte(in), &want)

	var got T
	tree, err := parseOrdered([]byte(in))
	if err != nil {
		t.Fatalf("parseOrdered(%s): %v", in, err)
	}
	gotErr := Bind(tree, &got)
	if d := errorDiff(gotErr, wantErr); d != "" {
		t.Errorf("ordered Bind %s: %s", in, d)
	} else if !reflect.DeepEqual(got, want) {
		t.Errorf("ordered Bind %s:\n got %+v\nwant %+v", in, got, want)
	}

	if !publicPath {
		return
	}
	var got2 T
	generic, err := Parse([]byte(in))
	if err != nil {
		t.Fatalf("Parse(%s): %v", in, err)
	}
	gotErr = Bind(generic, &got2)
	if d := errorDiff(gotErr, wantErr); d != "" {
		t.Errorf("Bind(Parse) %s: %s", in, d)
	} else if !reflect.DeepEqual(got2, want) {
		t.Errorf("Bind(Parse) %s:\n got %+v\nwant %+v", in, got2, want)
	}
}

// orderSensitive reports inputs whose result depends on member order (keys
// differing only in case, or several errors), where Bind of an unordered map
// legitimately differs from encoding/json.
func orderSensitive(in string) bool {
	return strings.Contains(in, `"NAME"`) || strings.Contains(in, `"name":1,"ptr":"a"`) ||
		strings.Contains(in, `"m":1e2,"n"`)
}

func TestBindDifferentialWide(t *testing.T) {
	for _, in := range wideInputs {
		checkBind[Wide](t, in, !orderSensitive(in))
	}
}

func TestBindDifferentialSmall(t *testing.T) {
	for _, in := range append(smallInputs, wideInputs...) {
		checkBind[Small](t, in, !orderSensitive(in))
	}
}

func TestBindDifferentialGeneric(t *testing.T) {
	for _, in := range append(append([]string{}, validInputs...), smallInputs...) {
		checkBind[any](t, in, true)
		checkBind[map[string]any](t, in, true)
		checkBind[[]any](t, in, true)
		checkBind[map[string]json.RawMessage](t, in, false) // re-encoded by Bind(Parse)
		checkBind[[]json.Number](t, in, true)
		checkBind[*string](t, in, true)
	}
}

func TestBindIntoExisting(t *testing.T) {
	// Existing values are kept or overwritten like encoding/json does.
	in := `{"a":5,"c":[9],"d":{"new":1},"h":[7],"i":{"3":false}}`
	mk := func() Small {
		return Small{A: 1, B: "keep", C: []float64{1, 2, 3}, D: map[string]any{"old": "x"}, H: [2]uint8{1, 2}, I: map[int64]bool{1: true}}
	}
	want := mk()
	if err := stdDecode([]byte(in), &want); err != nil {
		t.Fatal(err)
	}
	got := mk()
	tree, _ := parseOrdered([]byte(in))
	if err := Bind(tree, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}

	// An interface holding a pointer is decoded into.
	var n int
	var iface any = &n
	if err := Bind(json.Number("42"), &iface); err != nil || n != 42 {
		t.Fatalf("n = %d, err %v", n, err)
	}
}

func TestBindPythonValues(t *testing.T) {
	tree, err := Parse([]byte(pythonSample))
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		X    float64
		Y    float32
		Z    any
		Big  *big.Int
		S    string
		Lone string
	}
	if err := Bind(tree, &s); err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(s.X) || !math.IsInf(float64(s.Y), -1) || s.Z != math.Inf(1) || s.S != "é😀" || s.Lone != "\uFFFD" {
		t.Fatalf("got %+v", s)
	}
	if s.Big == nil || s.Big.String() != "123456789012345678901234567890" {
		t.Fatalf("big = %v", s.Big)
	}

	var bad struct {
		Inner struct {
			N int `json:"n"`
		} `json:"inner"`
		S string `json:"s"`
	}
	tree, _ = Parse([]byte(`{"inner": {"n": NaN}, "s": Infinity}`))
	err = Bind(tree, &bad)
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) || te.Field != "inner.n" || te.Value != "number NaN" || te.Type != reflect.TypeFor[int]() {
		t.Fatalf("got %v", err)
	}
}

func TestBindSources(t *testing.T) {
	var v struct {
		A int
		B uint8
		C float64
		D json.Number
		E any
		F int
	}
	src := map[string]any{"A": int64(-5), "B": uint64(200), "C": 2.5, "D": 7, "E": int64(3), "F": 1.5}
	err := Bind(src, &v)
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) || te.Field != "F" || te.Value != "number 1.5" {
		t.Fatalf("err = %v", err)
	}
	if v.A != -5 || v.B != 200 || v.C != 2.5 || v.D != "7" || v.E != int64(3) {
		t.Fatalf("got %+v", v)
	}
	if err := Bind(map[string]any{"A": int32(1)}, &v); err == nil {
		t.Fatal("unsupported source type: no error")
	}
}

func TestBindInvalidTarget(t *testing.T) {
	var m map[string]any
	for _, v := range []any{nil, m, (*int)(nil), 5} {
		err := Bind("x", v)
		var ie *json.InvalidUnmarshalError
		if !errors.As(err, &ie) {
			t.Errorf("Bind into %T: got %v", v, err)
		}
	}
}

type rawCapture struct{ text string }

func (r *rawCapture) UnmarshalJSON(b []byte) error {
	r.text = string(b)
	return nil
}

func TestBindUnmarshalerText(t *testing.T) {
	in := `{"o": {"b": [1, NaN], "a": "\u00e9"}, "s": "x<y", "n": -Infinity}`
	var v struct {
		O rawCapture `json:"o"`
		S rawCapture `json:"s"`
		N rawCapture `json:"n"`
	}
	tree, _ := parseOrdered([]byte(in))
	if err := Bind(tree, &v); err != nil {
		t.Fatal(err)
	}
	if v.O.text != `{"b": [1, NaN], "a": "\u00e9"}` || v.S.text != `"x<y"` || v.N.text != "-Infinity" {
		t.Fatalf("ordered: %+v", v)
	}
	tree, _ = Parse([]byte(in))
	if err := Bind(tree, &v); err != nil {
		t.Fatal(err)
	}
	if v.O.text != `{"a":"é","b":[1,NaN]}` {
		t.Fatalf("generic: %+v", v)
	}
}
