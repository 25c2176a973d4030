package oslootel_test

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.39.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/oslo-go/messaging/client"
	oslootel "github.com/oslo-go/messaging/contrib/otel"
	"github.com/oslo-go/messaging/dispatcher"
	_ "github.com/oslo-go/messaging/drivers/nats"
	"github.com/oslo-go/messaging/drivers/nats/embedded"
	_ "github.com/oslo-go/messaging/drivers/rabbit"
	"github.com/oslo-go/messaging/drivers/rabbit/rabbittest"
	"github.com/oslo-go/messaging/serializer"
	"github.com/oslo-go/messaging/target"
)

// TestTraceAcrossTheHop calls, casts and fails through a broker and checks
// that each server span is the child of its client span, in one trace.
func TestTraceAcrossTheHop(t *testing.T) {
	for _, tc := range []struct {
		name, system string
		url          func(t *testing.T) string
	}{
		{"rabbit", "rabbitmq", func(t *testing.T) string {
			rabbittest.Need(t)
			return rabbittest.URL()
		}},
		{"nats", "nats", func(t *testing.T) string {
			e, err := embedded.Start(embedded.JetStream(false))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(e.Shutdown)
			return e.URL()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := tc.url(t)
			topic := uniqueTopic(tc.name)
			if tc.name == "rabbit" {
				t.Cleanup(func() { rabbittest.DeleteQueues(t, topic) })
			}
			testHop(t, url, topic, tc.system)
		})
	}
}

func testHop(t *testing.T, url, topic, system string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tr := openTransport(t, url)
	tg := newTracing(t)
	opts := tg.opts(tr)

	c, err := client.New(tr, target.Target{Topic: topic}, client.Timeout(20*time.Second),
		client.WithMiddleware(oslootel.ClientMiddleware(opts...)))
	if err != nil {
		t.Fatal(err)
	}
	svc := &Svc{casts: make(chan string, 1), c: c}
	startServer(t, tr, target.Target{Topic: topic, Server: "host-1"}, []any{svc}, opts...)

	ctx = serializer.WithRequestContext(ctx, serializer.RequestContext{"request_id": "req-trace", "user": "u1"})
	ctx, root := tg.root(ctx)
	seen, err := client.Call[string](ctx, c, "echo", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Cast(ctx, "record", RecordArgs{Text: "x"}); err != nil {
		t.Fatal(err)
	}
	<-svc.casts
	if err := c.Call(ctx, "fail", nil, nil); !errors.Is(err, errValue) {
		t.Fatalf("fail: %v, want the ValueError", err)
	}
	if err := c.Call(ctx, "no_such", nil, nil); !errors.Is(err, dispatcher.ErrNoSuchMethod) {
		t.Fatalf("no_such: %v, want NoSuchMethod", err)
	}
	nestedSeen, err := client.Call[string](ctx, c, "nested", nil)
	if err != nil {
		t.Fatal(err)
	}
	root.End()
	rootSC := root.SpanContext()
	host := tr.URL().Hosts[0]

	// call: client span, child of the caller's; server span, child of the
	// client span; the traceparent on the wire names the client span.
	call := tg.child(t, rootSC, "call echo")
	if call.SpanKind != trace.SpanKindClient {
		t.Errorf("call span kind %v, want client", call.SpanKind)
	}
	wantAttrs(t, call, map[attribute.Key]string{
		semconv.MessagingSystemKey:          system,
		semconv.MessagingDestinationNameKey: topic,
		semconv.MessagingOperationTypeKey:   "send",
		semconv.MessagingOperationNameKey:   "call",
		semconv.RPCMethodKey:                "echo",
		semconv.ServerAddressKey:            host.Hostname,
		semconv.ServerPortKey:               strconv.Itoa(host.Port),
		oslootel.ExchangeKey:                "openstack",
		oslootel.RequestIDKey:               "req-trace",
	})
	if seen != traceparent(call.SpanContext) {
		t.Errorf("the server saw traceparent %q, want the client span's %q", seen, traceparent(call.SpanContext))
	}
	handled := tg.child(t, call.SpanContext, "process echo")
	if handled.SpanKind != trace.SpanKindServer {
		t.Errorf("server span kind %v, want server", handled.SpanKind)
	}
	if !handled.Parent.IsRemote() {
		t.Error("the server span's parent is not remote")
	}
	wantAttrs(t, handled, map[attribute.Key]string{
		semconv.MessagingSystemKey:          system,
		semconv.MessagingDestinationNameKey: topic,
		semconv.MessagingOperationTypeKey:   "process",
		semconv.RPCMethodKey:                "echo",
		oslootel.ServerKey:                  "host-1",
		oslootel.EndpointKey:                "Svc",
		oslootel.RequestIDKey:               "req-trace",
	})
	if handled.Status.Code == codes.Error || call.Status.Code == codes.Error {
		t.Errorf("echo spans have status %v, %v", call.Status, handled.Status)
	}

	// cast: producer and consumer.
	cast := tg.child(t, rootSC, "cast record")
	if cast.SpanKind != trace.SpanKindProducer {
		t.Errorf("cast span kind %v, want producer", cast.SpanKind)
	}
	wantAttrs(t, cast, map[attribute.Key]string{semconv.MessagingOperationNameKey: "cast"})
	if consumed := tg.child(t, cast.SpanContext, "process record"); consumed.SpanKind != trace.SpanKindConsumer {
		t.Errorf("cast's server span kind %v, want consumer", consumed.SpanKind)
	}

	// A remote error: both spans failed, with the exception's class.
	failed := tg.child(t, rootSC, "call fail")
	failedSrv := tg.child(t, failed.SpanContext, "process fail")
	for _, s := range []tracetest.SpanStub{failed, failedSrv} {
		if s.Status.Code != codes.Error || len(s.Events) == 0 || s.Events[0].Name != "exception" {
			t.Errorf("span %q: status %v, events %v; want an error recorded", s.Name, s.Status, s.Events)
		}
		wantAttrs(t, s, map[attribute.Key]string{semconv.ErrorTypeKey: "ValueError"})
	}

	// A method the server lacks: _OTHER on the server.
	missing := tg.child(t, rootSC, "call no_such")
	wantAttrs(t, missing, map[attribute.Key]string{semconv.ErrorTypeKey: "oslo_messaging.rpc.dispatcher.NoSuchMethod"})
	other := tg.child(t, missing.SpanContext, "process _OTHER")
	wantAttrs(t, other, map[attribute.Key]string{
		semconv.RPCMethodKey:         "_OTHER",
		semconv.RPCMethodOriginalKey: "no_such",
		semconv.ErrorTypeKey:         "oslo_messaging.rpc.dispatcher.NoSuchMethod",
	})
	if _, ok := attrs(other)[oslootel.EndpointKey]; ok {
		t.Errorf("span %q has an endpoint", other.Name)
	}

	// A handler's call is a child of its request's span.
	nested := tg.child(t, rootSC, "call nested")
	nestedSrv := tg.child(t, nested.SpanContext, "process nested")
	inner := tg.child(t, nestedSrv.SpanContext, "call echo")
	innerSrv := tg.child(t, inner.SpanContext, "process echo")
	if nestedSeen != traceparent(inner.SpanContext) {
		t.Errorf("the nested call carried %q, want its own span's %q", nestedSeen, traceparent(inner.SpanContext))
	}
	if innerSrv.SpanContext.TraceID() != rootSC.TraceID() {
		t.Errorf("nested server span in trace %s, want %s", innerSrv.SpanContext.TraceID(), rootSC.TraceID())
	}
}
