package oslootel

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/oslo-go/messaging/dispatcher"
	_ "github.com/oslo-go/messaging/drivers/fake"
	"github.com/oslo-go/messaging/serializer"
	"github.com/oslo-go/messaging/transport"
)

func TestSystemOf(t *testing.T) {
	for scheme, want := range map[string]string{
		"rabbit": "rabbitmq", "kombu": "rabbitmq", "nats": "nats", "zmq": "zeromq", "zmq+redis": "zeromq",
		"fake": "fake", "amqp": "amqp",
	} {
		if got := systemOf(scheme); got != want {
			t.Errorf("systemOf(%q) = %q, want %q", scheme, got, want)
		}
	}
}

func TestSystemWins(t *testing.T) {
	tr, err := transport.Open(context.Background(), "fake:///oslootel-system")
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	for _, opts := range [][]Option{
		{System("rabbitmq"), WithTransport(tr)},
		{WithTransport(tr), System("rabbitmq")},
	} {
		if c := newConfig(opts); c.system != "rabbitmq" {
			t.Errorf("system %q, want System's", c.system)
		}
	}
	if c := newConfig([]Option{WithTransport(tr)}); c.system != "fake" {
		t.Errorf("system %q from the transport, want fake", c.system)
	}
	if c := newConfig(nil); c.system != DefaultSystem {
		t.Errorf("system %q, want %q", c.system, DefaultSystem)
	}
}

type quotaError struct{}

func (quotaError) Error() string { return "over quota" }

func TestErrorType(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&transport.RemoteError{Module: "nova.exception", Class: "InstanceNotFound"}, "nova.exception.InstanceNotFound"},
		{&transport.RemoteError{Module: "nova.exception_Remote", Class: "InstanceNotFound_Remote"}, "nova.exception.InstanceNotFound"},
		{fmt.Errorf("x: %w", &transport.RemoteError{Module: "builtins", Class: "ValueError"}), "ValueError"},
		{&transport.TimeoutError{Op: "call"}, "oslo_messaging.exceptions.MessagingTimeout"},
		{&dispatcher.NoSuchMethodError{Method: "m"}, "oslo_messaging.rpc.dispatcher.NoSuchMethod"},
		{quotaError{}, "github.com/oslo-go/messaging/contrib/otel.quotaError"},
		{errors.New("boom"), "_OTHER"},
	} {
		if got := errorType(tc.err); got != tc.want {
			t.Errorf("errorType(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

func TestInjectExtract(t *testing.T) {
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{0x0a, 0xf7, 0x65, 0x19, 0x16, 0xcd, 0x43, 0xdd, 0x84, 0x48, 0xeb, 0x21, 0x1c, 0x80, 0x31, 0x9c},
		SpanID:     trace.SpanID{0xb7, 0xad, 0x6b, 0x71, 0x69, 0x20, 0x33, 0x31},
		TraceFlags: trace.FlagsSampled,
	})
	prop := WithPropagator(propagation.TraceContext{})
	rc := serializer.RequestContext{"request_id": "req-1"}
	ctx := trace.ContextWithSpanContext(serializer.WithRequestContext(context.Background(), rc), sc)
	out := serializer.RequestContextFrom(Inject(ctx, prop))
	if out["traceparent"] != "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" || out["request_id"] != "req-1" {
		t.Fatalf("Inject: request context %v", out)
	}
	if _, ok := rc["traceparent"]; ok {
		t.Fatal("Inject changed the caller's request context")
	}
	got := trace.SpanContextFromContext(Extract(serializer.WithRequestContext(context.Background(), out), prop))
	if !got.IsRemote() || got.TraceID() != sc.TraceID() || got.SpanID() != sc.SpanID() {
		t.Fatalf("Extract: %v, want %v (remote)", got, sc)
	}
	// No request context, a non-string value: nothing extracted.
	for _, rc := range []serializer.RequestContext{nil, {"traceparent": 42}} {
		if got := trace.SpanContextFromContext(Extract(serializer.WithRequestContext(context.Background(), rc), prop)); got.IsValid() {
			t.Errorf("Extract from %v: %v", rc, got)
		}
	}
	// The global propagator does nothing until the program sets one.
	if out := serializer.RequestContextFrom(Inject(ctx)); len(out) != 1 {
		t.Errorf("Inject with the default propagator: %v", out)
	}
}
