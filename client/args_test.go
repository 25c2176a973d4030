package client

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/oslo-go/messaging/serializer"
	"github.com/oslo-go/messaging/target"
)

type ArgsBase struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Title string
}

// ArgsOther's Title collides with ArgsBase's at the same depth:
// encoding/json drops both.
type ArgsOther struct {
	Title string
	Extra int `json:"extra"`
}

type argsHidden struct {
	Hidden string `json:"hidden"`
}

type ArgsPtr struct {
	P1 string `json:"p1"`
}

type ArgsTagged struct {
	Over string `json:"over"`
}

// stamp marshals itself, with a value receiver.
type stamp struct{ n int }

func (s stamp) MarshalJSON() ([]byte, error) { return []byte(fmt.Sprintf(`"stamp-%d"`, s.n)), nil }

// ptrStamp marshals itself with a pointer receiver: encoding/json calls it
// only on addressable values, that is when the arguments are a pointer.
type ptrStamp struct{ n int }

func (s *ptrStamp) MarshalJSON() ([]byte, error) { return []byte(fmt.Sprintf(`"ptr-%d"`, s.n)), nil }

type trickyArgs struct {
	ArgsBase
	ArgsOther
	argsHidden
	*ArgsPtr
	ArgsTagged `json:"tagged"` // a named field, not promoted
	Over       string          `json:"over"`
	Empty      string          `json:"empty,omitempty"`
	EmptyList  []int           `json:"empty_list,omitempty"`
	Zero       time.Time       `json:"zero,omitzero"`
	ZeroSet    time.Time       `json:"zero_set,omitzero"`
	Quoted     int             `json:"quoted,string"`
	QuotedB    bool            `json:"quoted_b,string"`
	Skip       string          `json:"-"`
	Dash       string          `json:"-,"` //lint:ignore SA5008 encoding/json names this field "-"
	private    string
	When       time.Time       `json:"when"`
	Big        *big.Int        `json:"big"`
	BigValue   big.Int         `json:"big_value"` // MarshalJSON is on *big.Int
	Stamp      stamp           `json:"stamp"`
	PtrStamp   ptrStamp        `json:"ptr_stamp"`
	Raw        json.RawMessage `json:"raw"`
	Nested     map[string]any  `json:"nested"`
	F          float64         `json:"f"`
	Bytes      []byte          `json:"bytes"`
	Iface      any             `json:"iface"`
	NilPtr     *ArgsPtr        `json:"nil_ptr"`
	CamelCase  int
}

// customArgs marshals itself: its members are not its fields.
type customArgs struct{ A int }

func (c customArgs) MarshalJSON() ([]byte, error) {
	return []byte(fmt.Sprintf(`{"renamed": %d, "A": "text"}`, c.A)), nil
}

// recording is a serializer that changes nothing and records the Go types
// SerializeEntity saw.
type recording struct {
	serializer.NoOp
	mu   sync.Mutex
	seen map[string]string
}

func (r *recording) SerializeEntity(_ context.Context, e any) (any, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen[fmt.Sprintf("%T", e)] = fmt.Sprint(e)
	return e, nil
}

// sentArgs casts args through c and returns the args object as received.
func sentArgs(t *testing.T, c *Client, args any) (map[string]any, error) {
	t.Helper()
	if err := c.Cast(context.Background(), "m", args); err != nil {
		return nil, err
	}
	var m map[string]any
	if err := lastRequest(t).Args.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m, nil
}

// TestArgsSameWithSerializer checks that a struct's arguments reach the
// wire the same with the NoOp serializer (encoded directly) and with a
// serializer (one keyword argument at a time).
func TestArgsSameWithSerializer(t *testing.T) {
	tr := openRecorder(t, nil)
	plain, err := New(tr, target.Target{Topic: "t"})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recording{seen: map[string]string{}}
	hooked, err := New(tr, target.Target{Topic: "t"}, WithSerializer(rec))
	if err != nil {
		t.Fatal(err)
	}
	big1, _ := new(big.Int).SetString("123456789012345678901234567890", 10)
	full := trickyArgs{
		ArgsBase: ArgsBase{ID: "id", Name: "base", Title: "t1"}, ArgsOther: ArgsOther{Title: "t2", Extra: 3},
		argsHidden: argsHidden{Hidden: "h"}, ArgsPtr: &ArgsPtr{P1: "p1"}, ArgsTagged: ArgsTagged{Over: "inner"},
		Over: "outer", ZeroSet: time.Date(2024, 5, 1, 10, 22, 33, 123456000, time.UTC), Quoted: 7, QuotedB: true,
		Skip: "skip", Dash: "dash", private: "private", When: time.Date(2020, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600)),
		Big: big1, BigValue: *big1, Stamp: stamp{1}, PtrStamp: ptrStamp{2}, Raw: json.RawMessage(`{"r": [1, 2.50]}`),
		Nested: map[string]any{"n": json.Number("98765432109876543210"), "s": "<&>"}, F: 1e21, Bytes: []byte("hi"),
		Iface: []int{1}, CamelCase: 4,
	}
	tests := []struct {
		name string
		args any
	}{
		{"full", full},
		{"full pointer", &full},
		{"zero", trickyArgs{}},
		{"zero pointer", &trickyArgs{}},
		{"pointer to pointer", func() **trickyArgs { p := &full; return &p }()},
		{"custom marshaler", customArgs{A: 5}},
		{"anonymous", struct {
			ArgsBase
			Name string `json:"name"` // shadows ArgsBase.Name
			N    int    `json:",omitempty"`
		}{ArgsBase{"i", "base", "t"}, "outer", 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := sentArgs(t, plain, tt.args)
			if err != nil {
				t.Fatal(err)
			}
			got, err := sentArgs(t, hooked, tt.args)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("with a serializer:\n%v\nwithout:\n%v", got, want)
			}
		})
	}

	// What the wire holds and what the hook saw, for the full arguments.
	rec.seen = map[string]string{}
	got, _ := sentArgs(t, hooked, &full)
	for _, key := range []string{"Title", "private", "Skip", "empty", "empty_list", "zero", "nil_ptr"} {
		if _, ok := got[key]; ok && key != "nil_ptr" {
			t.Errorf("%q sent: %v", key, got[key])
		}
	}
	if got["nil_ptr"] != nil || got["name"] != "base" || got["extra"] != json.Number("3") || got["hidden"] != "h" || got["p1"] != "p1" || got["over"] != "outer" || got["-"] != "dash" ||
		got["quoted"] != "7" || got["quoted_b"] != "true" || got["big"] != json.Number("123456789012345678901234567890") ||
		got["big_value"] != json.Number("123456789012345678901234567890") || got["ptr_stamp"] != "ptr-2" || got["stamp"] != "stamp-1" ||
		got["f"] != json.Number("1e+21") || got["when"] != "2020-01-02T03:04:05+01:00" || got["CamelCase"] != json.Number("4") {
		t.Errorf("sent %v", got)
	}
	// Go values, except for the ",string" fields (strings on the wire).
	for _, typ := range []string{"time.Time", "*big.Int", "*client.ptrStamp", "client.stamp", "client.ArgsTagged", "[]uint8", "string"} {
		if _, ok := rec.seen[typ]; !ok {
			t.Errorf("the hook saw no %s: %v", typ, rec.seen)
		}
	}
	if rec.seen["*big.Int"] != "123456789012345678901234567890" {
		t.Errorf("the hook saw %v", rec.seen)
	}

	// Arguments that do not encode to an object fail both ways.
	type embedsTime struct{ time.Time } // time.Time's MarshalJSON is promoted
	for _, args := range []any{embedsTime{}, struct{ F float64 }{F: math.NaN()}} {
		if _, err := sentArgs(t, plain, args); err == nil {
			t.Errorf("%T: sent without a serializer", args)
		}
		if _, err := sentArgs(t, hooked, args); err == nil {
			t.Errorf("%T: sent with a serializer", args)
		}
	}
}

// BenchmarkKwargs is the cost of splitting struct arguments into keyword
// arguments for a serializer (the NoOp serializer skips it).
func BenchmarkKwargs(b *testing.B) {
	type opts struct {
		Depth int      `json:"depth"`
		Tags  []string `json:"tags,omitempty"`
	}
	args := &struct {
		ArgsBase
		FSPath string    `json:"fs_path"`
		Limit  int64     `json:"limit"`
		When   time.Time `json:"when"`
		Opts   opts      `json:"opts"`
	}{ArgsBase{ID: "i-1", Name: "db"}, "/var/lib/mysql", 10, time.Unix(1700000000, 0).UTC(), opts{2, []string{"a"}}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := kwargs(args); err != nil {
			b.Fatal(err)
		}
	}
}
