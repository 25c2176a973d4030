package oslootel_test

import (
	"context"
	"fmt"
	"log"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/oslo-go/messaging/client"
	oslootel "github.com/oslo-go/messaging/contrib/otel"
	"github.com/oslo-go/messaging/dispatcher"
	_ "github.com/oslo-go/messaging/drivers/fake"
	"github.com/oslo-go/messaging/server"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
)

// Guest is a trove-guestagent-like endpoint.
type Guest struct{}

// FSStats is what get_filesystem_stats returns.
type FSStats struct {
	Used float64 `json:"used"`
}

func (*Guest) GetFilesystemStats(context.Context) (FSStats, error) { return FSStats{Used: 2.25}, nil }

// A call traced on both sides: the server's span is the child of the
// client's, in the caller's trace. A program sets its tracer provider (an
// OTLP exporter, say) and the W3C propagator once, globally, and the
// middleware picks them up:
//
//	otel.SetTracerProvider(tp)
//	otel.SetTextMapPropagator(propagation.TraceContext{})
//
// examples/trove wires it the same way: ClientMiddleware given to the
// client.New of every RPC API (taskmanager.NewAPI, conductor.NewAPI,
// guestagent.NewAPI), ServerMiddleware to each server.New (or
// service.ServerOptions) through server.DispatchOptions, both with
// WithTransport(tr); trove-api starts a span per HTTP request (otelhttp),
// the parent of the calls it makes; notifiers get
// notify.ContextKeys(oslootel.ContextKeys()...) and send with
// oslootel.Inject(ctx).
func Example() {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})

	ctx := context.Background()
	tr, err := transport.Open(ctx, "fake:///oslootel-example")
	if err != nil {
		log.Fatal(err)
	}
	defer tr.Close()
	topic := target.Target{Topic: "guestagent.i-1", Server: "i-1"}
	srv, err := server.New(tr, topic, []any{&Guest{}}, server.DispatchOptions(
		dispatcher.WithMiddleware(oslootel.ServerMiddleware(oslootel.WithTransport(tr)))))
	if err == nil {
		err = srv.Start(ctx)
	}
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Shutdown(ctx)
	guest, err := client.New(tr, topic, client.WithMiddleware(oslootel.ClientMiddleware(oslootel.WithTransport(tr))))
	if err != nil {
		log.Fatal(err)
	}

	ctx, span := otel.Tracer("trove-api").Start(ctx, "GET /instances/i-1")
	stats, err := client.Call[FSStats](ctx, guest, "get_filesystem_stats", nil)
	span.End()
	fmt.Println(stats.Used, err)

	spans := exp.GetSpans()
	names := map[string]string{}
	for _, s := range spans {
		names[s.SpanContext.SpanID().String()] = s.Name
	}
	for _, s := range spans {
		if s.Parent.IsValid() {
			fmt.Printf("%q (%s) is a child of %q, same trace: %v\n", s.Name, s.SpanKind,
				names[s.Parent.SpanID().String()], s.SpanContext.TraceID() == span.SpanContext().TraceID())
		}
	}
	// Output:
	// 2.25 <nil>
	// "process get_filesystem_stats" (server) is a child of "call get_filesystem_stats", same trace: true
	// "call get_filesystem_stats" (client) is a child of "GET /instances/i-1", same trace: true
}
