package oslootel_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"

	"github.com/oslo-go/messaging/client"
	oslootel "github.com/oslo-go/messaging/contrib/otel"
	"github.com/oslo-go/messaging/dispatcher"
	"github.com/oslo-go/messaging/drivers/drivertest"
	"github.com/oslo-go/messaging/serializer"
	"github.com/oslo-go/messaging/server"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// uniqueTopic returns a topic no other test uses.
func uniqueTopic(prefix string) string {
	return fmt.Sprintf("oslootel_%s_%012x", prefix, rand.Uint64()>>16)
}

// openTransport opens a transport on url, closed when t ends.
func openTransport(t *testing.T, url string) *transport.Transport {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tr, err := transport.Open(ctx, url, transport.WithLogger(drivertest.TestLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

// startServer starts a server of endpoints on tg, with the tracing server
// middleware; it is closed when t ends.
func startServer(t *testing.T, tr *transport.Transport, tg target.Target, endpoints []any, opts ...oslootel.Option) {
	t.Helper()
	srv, err := server.New(tr, tg, endpoints, server.DispatchOptions(dispatcher.WithMiddleware(oslootel.ServerMiddleware(opts...))))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
}

// tracing is an SDK tracer provider recording into memory.
type tracing struct {
	exp *tracetest.InMemoryExporter
	tp  *sdktrace.TracerProvider
}

func newTracing(t *testing.T) *tracing {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return &tracing{exp: exp, tp: tp}
}

// opts are the middleware options for tr: this provider, the W3C trace
// context, the transport's system.
func (tg *tracing) opts(tr *transport.Transport) []oslootel.Option {
	return []oslootel.Option{
		oslootel.WithTracerProvider(tg.tp), oslootel.WithPropagator(propagation.TraceContext{}), oslootel.WithTransport(tr),
	}
}

// root starts the span a test's calls are made under.
func (tg *tracing) root(ctx context.Context) (context.Context, trace.Span) {
	return tg.tp.Tracer("test").Start(ctx, "root")
}

// child waits until a span named name whose parent is parent has ended,
// and returns it.
func (tg *tracing) child(t *testing.T, parent trace.SpanContext, name string) tracetest.SpanStub {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var names []string
		for _, s := range tg.exp.GetSpans() {
			if s.Parent.SpanID() == parent.SpanID() && s.Name == name {
				if s.SpanContext.TraceID() != parent.TraceID() {
					t.Fatalf("span %q: trace %s, its parent's %s", name, s.SpanContext.TraceID(), parent.TraceID())
				}
				return s
			}
			names = append(names, fmt.Sprintf("%s(parent %s)", s.Name, s.Parent.SpanID()))
		}
		if time.Now().After(deadline) {
			t.Fatalf("no span %q with parent %s after 10s; spans: %s", name, parent.SpanID(), strings.Join(names, ", "))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// named returns the ended spans called name.
func (tg *tracing) named(name string) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range tg.exp.GetSpans() {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

// attrs returns a span's attributes by key, as strings.
func attrs(s tracetest.SpanStub) map[attribute.Key]string {
	m := map[attribute.Key]string{}
	for _, kv := range s.Attributes {
		m[kv.Key] = kv.Value.Emit()
	}
	return m
}

// wantAttrs checks that s has the attributes of want.
func wantAttrs(t *testing.T, s tracetest.SpanStub, want map[attribute.Key]string) {
	t.Helper()
	got := attrs(s)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("span %q: %s = %q, want %q (all: %v)", s.Name, k, got[k], v, got)
		}
	}
}

// traceparent is the W3C traceparent of sc.
func traceparent(sc trace.SpanContext) string {
	return fmt.Sprintf("00-%s-%s-%s", sc.TraceID(), sc.SpanID(), sc.TraceFlags())
}

// Svc is the endpoint of the trace tests.
type Svc struct {
	casts chan string
	// c calls the service itself, for Nested.
	c *client.Client
}

// Echo returns the traceparent of its request context.
func (*Svc) Echo(ctx context.Context) (string, error) {
	return serializer.RequestContextFrom(ctx).String("traceparent"), nil
}

type RecordArgs struct {
	Text string `json:"text"`
}

func (s *Svc) Record(_ context.Context, a RecordArgs) error {
	s.casts <- a.Text
	return nil
}

var errValue = transport.NewKind("builtins", "ValueError", "svc: bad value")

func (*Svc) Fail(context.Context) error { return fmt.Errorf("fail: %w", errValue) }

// Nested calls echo on the service, under the span of its own request.
func (s *Svc) Nested(ctx context.Context) (string, error) {
	return client.Call[string](ctx, s.c, "echo", nil)
}
