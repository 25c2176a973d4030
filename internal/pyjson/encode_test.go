package pyjson

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

// stdEncode is what AppendStruct must match: a json.Encoder without HTML
// escaping, less its newline.
func stdEncode(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

type encFlat struct {
	Seq    int64  `json:"seq"`
	Cargo  string `json:"cargo"`
	SentNs int64  `json:"client_ts"`
}

type encInner struct {
	Name  string  `json:"name,omitempty"`
	Ratio float32 `json:"ratio"`
	Hits  uint16
}

type encAll struct {
	S      string  `json:"s"`
	B      bool    `json:"b,omitempty"`
	I      int     `json:"i,omitempty"`
	I8     int8    `json:"i8"`
	U      uint    `json:"u,omitempty"`
	U8     uint8   `json:"-u8"`
	P      uintptr `json:"p"`
	F      float64 `json:"f,omitempty"`
	F32    float32
	Skip   string `json:"-"`
	hidden string
	Inner  encInner `json:"inner,omitempty"`
	Named  encState `json:"state"`
	Weird  string   `json:"odd name!#$%&()*+-./:;<=>?@[]^_{|}~"`
	Opts   int      `json:",omitempty"`
}

type encState string

type encMarshaler struct{ A int }

func (encMarshaler) MarshalJSON() ([]byte, error) { return []byte(`"custom"`), nil }

type encPtrText struct{ A int }

func (*encPtrText) MarshalText() ([]byte, error) { return []byte("text"), nil }

type encEmbedded struct {
	encFlat
	X int
}

func TestAppendStructMatchesEncodingJSON(t *testing.T) {
	type empty struct{}
	type strOpt struct {
		A string `json:"a,omitempty"`
		B int    `json:"b,omitempty"`
	}
	values := []any{
		encFlat{Seq: 1, Cargo: "x", SentNs: -5},
		encAll{},
		encAll{S: "s", B: true, I: -1, I8: -8, U: 1, U8: 8, P: 3, F: 0.5, F32: 2.5, Skip: "no", hidden: "no",
			Inner: encInner{Name: "in"}, Named: "named", Weird: "w", Opts: 4},
		&encFlat{Cargo: "<tag> & \"quote\" \\ \n\t\x01 é \u2028 \xff"},
		(*encFlat)(nil),
		empty{},
		&empty{},
		strOpt{},
		strOpt{A: "a"},
		encInner{},
		encInner{Name: "n", Ratio: 1e-7, Hits: 65535},
		encInner{Ratio: float32(math.MaxFloat32)},
		struct {
			F float64 `json:"f"`
		}{F: 1e21},
		struct {
			F float64 `json:"f"`
		}{F: 1e20},
		struct {
			F float64 `json:"f"`
		}{F: 1e-6},
		struct {
			F float64 `json:"f"`
		}{F: -1e-7},
		struct {
			F float64 `json:"f"`
		}{F: 123456789.125},
		struct {
			F float64 `json:"f"`
		}{F: math.Copysign(0, -1)},
		struct {
			A, B int
			C    struct{ D string }
		}{A: 1, C: struct{ D string }{D: "d"}},
		struct {
			Tags  []string   `json:"tags"`
			Nil   []string   `json:"nil"`
			Empty []int      `json:"empty,omitempty"`
			Sts   []encState `json:"states"`
			Fs    []float32
			P     *int    `json:"p"`
			Q     *string `json:"q,omitempty"`
			R     *bool
		}{Tags: []string{"a", "<b>"}, Sts: []encState{}, Fs: []float32{0.1, 1e22}, P: new(int), R: new(bool)},
	}
	for _, v := range values {
		want, err := stdEncode(v)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := AppendStruct([]byte("prefix"), v)
		if !ok {
			t.Errorf("AppendStruct(%#v): no plan", v)
			continue
		}
		if !bytes.Equal(got[len("prefix"):], want) {
			t.Errorf("AppendStruct(%#v) = %s, want %s", v, got[len("prefix"):], want)
		}
	}
}

func TestAppendStructDeclines(t *testing.T) {
	type quoted struct {
		N int `json:"n,string"`
	}
	type quotedString struct {
		S string `json:",omitempty,string"`
	}
	type omitzero struct {
		T string `json:"t,omitzero"`
	}
	type dup struct {
		A string `json:"X"`
		X string
	}
	type badTag struct {
		A string `json:"price€"` // € is no letter: encoding/json takes the name A
	}
	type withMap struct{ M map[string]int }
	type withBytes struct{ B []byte }
	type withAnySlice struct{ S []any }
	type withNestedSlice struct{ S [][]string }
	type withStructPtr struct{ P *encFlat }
	type withStructSlice struct{ S []encFlat }
	type withNumberSlice struct{ S []json.Number }
	type withMarshalerSlice struct{ S []encMarshaler }
	type withTextPtr struct{ P *encPtrText }
	type withArray struct{ A [2]int }
	type withAny struct{ V any }
	type withTime struct{ T time.Time }
	type withNumber struct{ N json.Number }
	type withMarshaler struct{ M encMarshaler }
	type withPtrText struct{ M encPtrText }
	type withBadInner struct{ In withMap }
	declined := []any{
		nil, 1, "s", map[string]any{"a": 1}, []int{1}, new(int),
		encMarshaler{}, &encMarshaler{}, encPtrText{}, &encPtrText{},
		encEmbedded{}, quoted{}, quotedString{}, omitzero{}, dup{}, badTag{},
		withMap{}, withBytes{}, withAnySlice{}, withNestedSlice{}, withStructPtr{}, withStructSlice{},
		withNumberSlice{}, withMarshalerSlice{}, withTextPtr{}, withArray{}, withAny{}, withTime{}, withNumber{},
		withMarshaler{}, withPtrText{}, withBadInner{},
		struct {
			F float64 `json:"f"`
		}{F: math.NaN()},
		struct{ F float32 }{F: float32(math.Inf(-1))},
		struct{ In struct{ F float64 } }{In: struct{ F float64 }{F: math.Inf(1)}},
	}
	for _, v := range declined {
		got, ok := AppendStruct([]byte("keep"), v)
		if ok || string(got) != "keep" {
			t.Errorf("AppendStruct(%#v) = %q, %v; want it declined with dst unchanged", v, got, ok)
		}
	}
}

// FuzzAppendStruct is the differential test against encoding/json: for
// values of planned struct types built from the fuzzer's input, the bytes
// must be encoding/json's (without HTML escaping), and a declined value
// must be one encoding/json refuses.
func FuzzAppendStruct(f *testing.F) {
	f.Add("cargo", "n", int64(7), uint64(9), 1.5, float32(0.25), true)
	f.Add("", "", int64(0), uint64(0), 0.0, float32(0), false)
	f.Add("<&>\"\\\u2028\xff\x00", "é中😀", int64(math.MinInt64), uint64(math.MaxUint64), 1e-7, float32(1e21), true)
	f.Add(strings.Repeat("abcdefg\"", 5), "\t", int64(-1), uint64(1), math.Inf(1), float32(math.NaN()), false)
	f.Add("1e20", "", int64(-7), uint64(3), 1e20, float32(1e20), false)
	f.Add("x", "y", int64(1<<53), uint64(1<<63), 5e-324, float32(1.4e-45), true)
	f.Fuzz(func(t *testing.T, s1, s2 string, i int64, u uint64, fl float64, f32 float32, b bool) {
		type nested struct {
			Name  string  `json:"name,omitempty"`
			Ratio float32 `json:"ratio,omitempty"`
			On    bool    `json:"on,omitempty"`
		}
		type planned struct {
			S     string `json:"s"`
			T     string `json:"t,omitempty"`
			I     int64
			I32   int32  `json:"i32,omitempty"`
			U     uint64 `json:"u,omitempty"`
			U8    uint8
			F     float64 `json:"f"`
			F32   float32 `json:"f32,omitempty"`
			B     bool    `json:"b"`
			In    nested  `json:"in"`
			State encState
			Tags  []string  `json:"tags,omitempty"`
			Nums  []float64 `json:"nums"`
			Ptr   *int64    `json:"ptr"`
			FPtr  *float32  `json:"fptr,omitempty"`
		}
		v := planned{
			S: s1, T: s2, I: i, I32: int32(i), U: u, U8: uint8(u), F: fl, F32: f32, B: b,
			In: nested{Name: s2, Ratio: f32, On: b}, State: encState(s1),
		}
		if b {
			v.Tags, v.Nums, v.Ptr, v.FPtr = []string{s1, s2}, []float64{fl, float64(f32)}, &i, &f32
		} else if s1 != "" {
			v.Tags, v.Nums = []string{}, []float64{}
		}
		for _, x := range []any{v, &v, v.In, encFlat{Seq: i, Cargo: s1, SentNs: int64(u)}} {
			want, err := stdEncode(x)
			got, ok := AppendStruct(nil, x)
			switch {
			case err != nil && ok:
				t.Fatalf("AppendStruct(%#v) = %s, but encoding/json fails: %v", x, got, err)
			case err == nil && !ok:
				t.Fatalf("AppendStruct(%#v) declined; encoding/json gives %s", x, want)
			case ok && !bytes.Equal(got, want):
				t.Fatalf("AppendStruct(%#v) = %s, want %s", x, got, want)
			}
		}
	})
}

// BenchmarkAppendStruct compares a plan with the encoder wire used before
// for struct arguments (rpcbench's payload).
func BenchmarkAppendStruct(b *testing.B) {
	v := &encFlat{Seq: 123456, Cargo: strings.Repeat("x", 100), SentNs: 1765000000000000000}
	b.Run("plan", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 512)
		for b.Loop() {
			buf, _ = AppendStruct(buf[:0], v)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		for b.Loop() {
			buf.Reset()
			if err := enc.Encode(v); err != nil {
				b.Fatal(err)
			}
		}
	})
}
