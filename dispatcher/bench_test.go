package dispatcher

import (
	"context"
	"testing"

	"github.com/oslo-go/messaging/serializer"
)

type benchArgs struct {
	InstanceID string `json:"instance_id"`
	Flavor     int    `json:"flavor"`
	Force      bool   `json:"force"`
}

type benchRequired struct {
	InstanceID string `json:"instance_id" rpc:"required"`
	Flavor     int    `json:"flavor"`
	Force      bool   `json:"force"`
}

type benchResult struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Flavor int    `json:"flavor"`
}

type benchEP struct{}

func (*benchEP) Resize(_ context.Context, a benchArgs) (benchResult, error) {
	return benchResult{ID: a.InstanceID, Status: "RESIZE", Flavor: a.Flavor}, nil
}

func (*benchEP) ResizeRequired(_ context.Context, a benchRequired) (benchResult, error) {
	return benchResult{ID: a.InstanceID, Status: "RESIZE", Flavor: a.Flavor}, nil
}

func (*benchEP) Ping(context.Context) (string, error) { return "pong", nil }

var benchData = []byte(`{"instance_id": "6c7f7a4e-5a8b-4c4e-9c1d-1f2e3d4c5b6a", "flavor": 42, "force": true}`)

func benchDispatch(b *testing.B, method string, opts ...Option) {
	benchDispatchTo(b, &benchEP{}, method, opts...)
}

func benchDispatchTo(b *testing.B, ep any, method string, opts ...Option) {
	d, err := New([]any{ep}, opts...)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	req := &Request{Method: method, Version: "1.0", Args: serializer.Raw{Data: benchData}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := d.Dispatch(ctx, req)
		if err != nil || res == nil {
			b.Fatal(res, err)
		}
	}
}

// BenchmarkDispatch: struct argument with 3 fields, JSON, struct result.
func BenchmarkDispatch(b *testing.B) { benchDispatch(b, "resize") }

// BenchmarkDispatchFunc is BenchmarkDispatch with the method as a Funcs
// handler made by Func: no reflect.Value.Call.
func BenchmarkDispatchFunc(b *testing.B) {
	benchDispatchTo(b, Funcs{"resize": Func((&benchEP{}).Resize)}, "resize")
}

// BenchmarkDispatchRequired adds a required field (a second, generic decode).
func BenchmarkDispatchRequired(b *testing.B) { benchDispatch(b, "resize_required") }

// BenchmarkDispatchSerializer uses a custom serializer (decode, hook per
// value, re-encode, decode).
func BenchmarkDispatchSerializer(b *testing.B) {
	benchDispatch(b, "resize", WithSerializer(passThrough{}))
}

// BenchmarkDispatchNoArgs is the dispatch overhead alone.
func BenchmarkDispatchNoArgs(b *testing.B) { benchDispatch(b, "ping") }

type passThrough struct{ serializer.NoOp }
