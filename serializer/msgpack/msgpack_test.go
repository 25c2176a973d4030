package msgpack

import (
	"reflect"
	"testing"

	"github.com/oslo-go/messaging/serializer"
)

type args struct {
	Name   string         `json:"name"`
	Size   int            `json:"size"`
	Tags   []string       `json:"tags,omitempty"`
	Nested map[string]any `json:"nested"`
}

func TestRoundTrip(t *testing.T) {
	var c Codec
	in := args{Name: "db1", Size: 10, Tags: []string{"a"}, Nested: map[string]any{"k": "v", "n": int64(3)}}
	b, err := c.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out args
	if err := c.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("round trip: %+v, want %+v", out, in)
	}
	// The json tag names the keys.
	var generic map[string]any
	if err := c.Unmarshal(b, &generic); err != nil {
		t.Fatal(err)
	}
	if generic["name"] != "db1" || generic["nested"].(map[string]any)["k"] != "v" {
		t.Fatalf("generic = %#v", generic)
	}
	if c.Name() != "application/x-msgpack" {
		t.Fatal(c.Name())
	}
}

func TestUnmarshalGarbage(t *testing.T) {
	var v map[string]any
	if err := (Codec{}).Unmarshal([]byte{0xc1, 0xff}, &v); err == nil {
		t.Fatal("garbage decoded without error")
	}
}

func FuzzUnmarshal(f *testing.F) {
	b, _ := Codec{}.Marshal(map[string]any{"a": []any{1, "x", nil, true, 1.5}})
	f.Add(b)
	f.Add([]byte{0x80})
	f.Fuzz(func(t *testing.T, data []byte) {
		var v any
		_ = Codec{}.Unmarshal(data, &v)
	})
}

func TestRawIsNull(t *testing.T) {
	c := Codec{}
	null, err := c.Marshal(nil)
	if err != nil {
		t.Fatal(err)
	}
	one, _ := c.Marshal(1)
	empty, _ := c.Marshal(map[string]any{})
	for _, tt := range []struct {
		data []byte
		want bool
	}{{null, true}, {nil, true}, {one, false}, {empty, false}, {[]byte("null"), false}} {
		if got := (serializer.Raw{Data: tt.data, Codec: c}).IsNull(); got != tt.want {
			t.Errorf("IsNull(%x) = %v, want %v", tt.data, got, tt.want)
		}
	}
}
