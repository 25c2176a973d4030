package serializer

import (
	"context"
	"encoding/json"
	"math"
	"testing"
)

func TestRequestContextRoundTrip(t *testing.T) {
	ctx := context.Background()
	if RequestContextFrom(ctx) != nil {
		t.Fatal("empty ctx has a request context")
	}
	rc := RequestContext{"request_id": "req-1", "is_admin": true}
	ctx = WithRequestContext(ctx, rc)
	got := RequestContextFrom(ctx)
	if got.String("request_id") != "req-1" || got.String("is_admin") != "" || got.String("missing") != "" {
		t.Fatalf("got %v", got)
	}
	c := got.Clone()
	c["user"] = "u"
	if _, ok := got["user"]; ok {
		t.Fatal("Clone shares the map")
	}
	if RequestContext(nil).Clone() != nil {
		t.Fatal("Clone(nil) != nil")
	}
}

func TestNoOp(t *testing.T) {
	var s Serializer = NoOp{}
	ctx := WithRequestContext(context.Background(), RequestContext{"user": "u1"})
	m, err := s.SerializeContext(ctx)
	if err != nil || m["user"] != "u1" {
		t.Fatalf("SerializeContext = %v, %v", m, err)
	}
	ctx2, err := s.DeserializeContext(context.Background(), map[string]any{"user": "u2"})
	if err != nil || RequestContextFrom(ctx2).String("user") != "u2" {
		t.Fatalf("DeserializeContext: %v", err)
	}
	v, err := s.SerializeEntity(ctx, 42)
	if v != 42 || err != nil {
		t.Fatalf("SerializeEntity = %v, %v", v, err)
	}
	v, err = s.DeserializeEntity(ctx, "x")
	if v != "x" || err != nil {
		t.Fatalf("DeserializeEntity = %v, %v", v, err)
	}
	for _, s := range []Serializer{nil, NoOp{}, &NoOp{}} {
		if !IsNoOp(s) {
			t.Errorf("IsNoOp(%T) = false", s)
		}
	}
	if IsNoOp(upper{}) {
		t.Error("IsNoOp(custom) = true")
	}
}

type upper struct{ NoOp }

func TestJSONPython(t *testing.T) {
	// What Python's json.dumps emits for float('nan'), float('inf'), a big
	// int and non-ASCII text with ensure_ascii=True.
	data := []byte(`{"x": NaN, "y": -Infinity, "z": Infinity, "big": 123456789012345678901234567890, "s": "\u00e9\ud83d\ude00"}`)
	var m map[string]any
	if err := (JSON{}).Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	if f, _ := m["x"].(float64); !math.IsNaN(f) {
		t.Errorf("x = %v", m["x"])
	}
	if f, _ := m["y"].(float64); !math.IsInf(f, -1) {
		t.Errorf("y = %v", m["y"])
	}
	if n, _ := m["big"].(json.Number); n != "123456789012345678901234567890" {
		t.Errorf("big = %#v", m["big"])
	}
	if m["s"] != "é😀" {
		t.Errorf("s = %q", m["s"])
	}
	var typed struct {
		X float64 `json:"x"`
		Z float64 `json:"z"`
		S string  `json:"s"`
	}
	if err := (JSON{}).Unmarshal(data, &typed); err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(typed.X) || !math.IsInf(typed.Z, 1) || typed.S != "é😀" {
		t.Errorf("typed = %+v", typed)
	}
}

func TestRaw(t *testing.T) {
	for _, r := range []Raw{{}, {Data: []byte("null")}} {
		if !r.IsNull() {
			t.Errorf("%q: IsNull = false", r.Data)
		}
	}
	r := Raw{Data: []byte(`{"a": 1}`)}
	if r.IsNull() {
		t.Fatal("IsNull on object")
	}
	var m map[string]int
	if err := r.Decode(&m); err != nil || m["a"] != 1 {
		t.Fatalf("Decode = %v, %v", m, err)
	}
	if CodecOf(nil).Name() != JSONContentType {
		t.Fatal("CodecOf(nil) is not JSON")
	}
}

// xmlish is a codec without the NullChecker interface: Raw.IsNull
// compares with its encoding of nil.
type xmlish struct{}

func (xmlish) Name() string { return "application/x-test" }
func (xmlish) Marshal(v any) ([]byte, error) {
	if v == nil {
		return []byte("<nil/>"), nil
	}
	return []byte("<v/>"), nil
}
func (xmlish) Unmarshal([]byte, any) error { return nil }

func TestRawIsNullOtherCodec(t *testing.T) {
	if !(Raw{Data: []byte("<nil/>"), Codec: xmlish{}}).IsNull() || (Raw{Data: []byte("<v/>"), Codec: xmlish{}}).IsNull() {
		t.Fatal("IsNull does not follow the codec's null")
	}
	if (Raw{Data: []byte("null"), Codec: xmlish{}}).IsNull() {
		t.Fatal("JSON null taken as null of another codec")
	}
}
