package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/oslo-go/messaging/client"
	oslootel "github.com/oslo-go/messaging/contrib/otel"
	osloprom "github.com/oslo-go/messaging/contrib/prometheus"
	"github.com/oslo-go/messaging/dispatcher"
	"github.com/oslo-go/messaging/server"
	"github.com/oslo-go/messaging/service"
	"github.com/oslo-go/messaging/transport"
)

// Observability are the flags of metrics and tracing.
type Observability struct {
	// MetricsListen is the address of /metrics (oslo.metrics' Prometheus
	// families); "" serves none.
	MetricsListen string
	// Trace is "stdout" (spans as JSON on the standard output), "otlp"
	// (to the OTLP/HTTP endpoint of $OTEL_EXPORTER_OTLP_ENDPOINT) or "".
	Trace string

	metrics *osloprom.Metrics
	tracer  *sdktrace.TracerProvider
	clients []client.Option
	servers []server.Option
	http    *HTTPService // /metrics
}

// AddFlags defines --metrics-listen and --trace on fs.
func (ob *Observability) AddFlags(fs *flag.FlagSet) {
	fs.StringVar(&ob.MetricsListen, "metrics-listen", "", "`address` of /metrics, the oslo.metrics Prometheus families (default: none)")
	fs.StringVar(&ob.Trace, "trace", "", "export spans: stdout or otlp ($OTEL_EXPORTER_OTLP_ENDPOINT) (default: none)")
}

// Start sets up what the flags ask for, for the service binary on tr,
// writing stdout spans to out. Launch then serves /metrics beside the
// services.
func (ob *Observability) Start(ctx context.Context, binary string, tr *transport.Transport, out io.Writer, log *slog.Logger) error {
	var mws []dispatcher.Middleware
	switch ob.Trace {
	case "":
	case "stdout", "otlp":
		var exp sdktrace.SpanExporter
		var err error
		if ob.Trace == "stdout" {
			exp, err = stdouttrace.New(stdouttrace.WithWriter(out))
		} else {
			exp, err = otlptracehttp.New(ctx)
		}
		if err != nil {
			return fmt.Errorf("--trace=%s: %w", ob.Trace, err)
		}
		ob.tracer = sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp))
		otel.SetTextMapPropagator(propagation.TraceContext{})
		opts := []oslootel.Option{oslootel.WithTracerProvider(ob.tracer), oslootel.WithTransport(tr)}
		ob.clients = append(ob.clients, client.WithMiddleware(oslootel.ClientMiddleware(opts...)))
		mws = append(mws, oslootel.ServerMiddleware(opts...))
	default:
		return Usagef("--trace must be stdout or otlp, not %q", ob.Trace)
	}
	if ob.MetricsListen != "" {
		ob.metrics = osloprom.New(osloprom.ProcessName(binary))
		reg := prometheus.NewRegistry()
		reg.MustRegister(ob.metrics)
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		ob.http = &HTTPService{Listen: ob.MetricsListen, Handler: mux, Logger: log.With("endpoint", "metrics")}
		ob.clients = append(ob.clients, client.WithMiddleware(ob.metrics.ClientMiddleware()))
		mws = append(mws, ob.metrics.ServerMiddleware())
	}
	if len(mws) > 0 {
		ob.servers = append(ob.servers, server.DispatchOptions(dispatcher.WithMiddleware(mws...)))
	}
	return nil
}

// ClientOptions are the client middleware Start set up.
func (ob *Observability) ClientOptions() []client.Option { return ob.clients }

// ServerOptions are the server middleware Start set up.
func (ob *Observability) ServerOptions() []server.Option { return ob.servers }

// around adds /metrics to the services, and their servers' gauges to it.
func (ob *Observability) around(services []service.Runnable) []service.Runnable {
	if ob.metrics == nil {
		return services
	}
	for _, r := range services {
		switch s := r.(type) {
		case *service.Service:
			ob.metrics.AddServer(s.Server())
		case interface{ Service() *service.Service }:
			ob.metrics.AddServer(s.Service().Server())
		}
	}
	return append(services, ob.http)
}

// Shutdown flushes the spans.
func (ob *Observability) Shutdown(ctx context.Context) error {
	if ob.tracer == nil {
		return nil
	}
	return errors.Join(ob.tracer.Shutdown(ctx))
}
