package oslootel

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.39.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/oslo-go/messaging/client"
	"github.com/oslo-go/messaging/dispatcher"
	"github.com/oslo-go/messaging/serializer"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
)

// ScopeName is the instrumentation scope of the spans.
const ScopeName = "github.com/oslo-go/messaging/contrib/otel"

// DefaultSystem is messaging.system when neither WithTransport nor System
// is given.
const DefaultSystem = "oslo_messaging"

// Attribute keys of oslo.messaging's own target fields and context.
const (
	ExchangeKey  = attribute.Key("oslo.messaging.exchange")
	ServerKey    = attribute.Key("oslo.messaging.server")
	NamespaceKey = attribute.Key("oslo.messaging.namespace")
	VersionKey   = attribute.Key("oslo.messaging.version")
	FanoutKey    = attribute.Key("oslo.messaging.fanout")
	EndpointKey  = attribute.Key("oslo.messaging.endpoint")
	RequestIDKey = attribute.Key("oslo.messaging.request_id")
)

// An Option configures the middleware and the helpers.
type Option func(*config)

type config struct {
	tp     trace.TracerProvider
	prop   propagation.TextMapPropagator
	system string
	addr   string
	port   int
}

// WithTracerProvider sets the tracer provider; the default is the global
// one (otel.GetTracerProvider) at the time the middleware is made.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) { c.tp = tp }
}

// WithPropagator sets the propagator that writes the trace context into
// the request context and reads it back; the default is the global one
// (otel.GetTextMapPropagator), which does nothing until the program sets
// one, for example otel.SetTextMapPropagator(propagation.TraceContext{}).
func WithPropagator(p propagation.TextMapPropagator) Option {
	return func(c *config) { c.prop = p }
}

// System sets messaging.system ("rabbitmq", "nats", ...), overriding what
// WithTransport derives.
func System(name string) Option { return func(c *config) { c.system = name } }

// WithTransport describes the transport the spans go through: its URL's
// scheme gives messaging.system (rabbit and kombu: "rabbitmq", nats:
// "nats", zmq: "zeromq", others the scheme) unless System is given, its
// first host server.address and server.port on client spans. Credentials
// are not read.
func WithTransport(tr *transport.Transport) Option {
	return func(c *config) {
		if tr == nil {
			return
		}
		u := tr.URL()
		if c.system == "" {
			c.system = systemOf(u.Scheme)
		}
		if len(u.Hosts) > 0 {
			c.addr, c.port = u.Hosts[0].Hostname, u.Hosts[0].Port
		}
	}
}

// systemOf maps a transport URL scheme to messaging.system.
func systemOf(scheme string) string {
	base, _, _ := strings.Cut(scheme, "+")
	switch base {
	case "rabbit", "kombu":
		return "rabbitmq"
	case "zmq":
		return "zeromq"
	}
	return base
}

func newConfig(opts []Option) *config {
	var c config
	// WithTransport keeps a system already set and System overwrites
	// one: System wins in any order.
	for _, opt := range opts {
		if opt != nil {
			opt(&c)
		}
	}
	if c.tp == nil {
		c.tp = otel.GetTracerProvider()
	}
	if c.prop == nil {
		c.prop = otel.GetTextMapPropagator()
	}
	if c.system == "" {
		c.system = DefaultSystem
	}
	return &c
}

func (c *config) tracer() trace.Tracer {
	return c.tp.Tracer(ScopeName, trace.WithSchemaURL(semconv.SchemaURL))
}

// targetAttrs are the attributes of a target, client and server side.
func (c *config) targetAttrs(tg target.Target, method string) []attribute.KeyValue {
	attrs := []attribute.KeyValue{
		semconv.MessagingSystemKey.String(c.system),
		semconv.MessagingDestinationName(tg.Topic),
		semconv.RPCMethod(method),
	}
	for _, kv := range []struct {
		k attribute.Key
		v string
	}{{ExchangeKey, tg.Exchange}, {ServerKey, tg.Server}, {NamespaceKey, tg.Namespace}, {VersionKey, tg.Version}} {
		if kv.v != "" {
			attrs = append(attrs, kv.k.String(kv.v))
		}
	}
	if tg.Fanout {
		attrs = append(attrs, FanoutKey.Bool(true))
	}
	return attrs
}

// requestID is the request context's request_id attribute, if any.
func requestID(rc map[string]any) (attribute.KeyValue, bool) {
	id, ok := rc["request_id"].(string)
	return RequestIDKey.String(id), ok && id != ""
}

// ClientMiddleware returns client middleware (client.WithMiddleware) that
// starts a span for every call (kind client) and cast (kind producer), a
// child of the span in the caller's ctx, and writes the span's trace
// context into the request context sent with the message.
func ClientMiddleware(opts ...Option) client.Middleware {
	c := newConfig(opts)
	tracer := c.tracer()
	return func(next client.Invoker) client.Invoker {
		return func(ctx context.Context, inv *client.Invocation) (err error) {
			kind := trace.SpanKindClient
			if inv.CallType == "cast" {
				kind = trace.SpanKindProducer
			}
			attrs := append(c.targetAttrs(inv.Target, inv.Method),
				semconv.MessagingOperationTypeSend,
				semconv.MessagingOperationName(inv.CallType))
			if c.addr != "" {
				attrs = append(attrs, semconv.ServerAddress(c.addr))
				if c.port > 0 {
					attrs = append(attrs, semconv.ServerPort(c.port))
				}
			}
			rc := serializer.RequestContextFrom(ctx).Clone()
			if rc == nil {
				rc = serializer.RequestContext{}
			}
			if kv, ok := requestID(rc); ok {
				attrs = append(attrs, kv)
			}
			ctx, span := tracer.Start(ctx, inv.CallType+" "+inv.Method, trace.WithSpanKind(kind), trace.WithAttributes(attrs...))
			defer func() { end(span, err, recover()) }()
			c.prop.Inject(ctx, carrier(rc))
			return next(serializer.WithRequestContext(ctx, rc), inv)
		}
	}
}

// ServerMiddleware returns server middleware (dispatcher.WithMiddleware,
// given with server.DispatchOptions) that starts a span for every request,
// a child of the trace context in the received request context: kind
// server for calls, consumer for casts. The handler's ctx carries the span,
// so calls the handler makes through a client with ClientMiddleware are
// its children.
func ServerMiddleware(opts ...Option) dispatcher.Middleware {
	c := newConfig(opts)
	tracer := c.tracer()
	return func(next dispatcher.Handler) dispatcher.Handler {
		return func(ctx context.Context, req *dispatcher.Request) (res any, err error) {
			kind := trace.SpanKindConsumer
			if req.Call {
				kind = trace.SpanKindServer
			}
			attrs := append(c.targetAttrs(req.Target, req.Method),
				semconv.MessagingOperationTypeProcess,
				semconv.MessagingOperationName("process"))
			if kv, ok := requestID(req.Context); ok {
				attrs = append(attrs, kv)
			}
			ctx = c.prop.Extract(ctx, carrier(req.Context))
			ctx, span := tracer.Start(ctx, "process "+req.Method, trace.WithSpanKind(kind), trace.WithAttributes(attrs...))
			defer func() {
				if m, ok := dispatcher.MethodOf(ctx); ok {
					span.SetAttributes(EndpointKey.String(m.Endpoint))
				} else {
					// Not a method of this server's: semconv's _OTHER.
					span.SetName("process _OTHER")
					span.SetAttributes(semconv.RPCMethod("_OTHER"), semconv.RPCMethodOriginal(req.Method))
				}
				end(span, err, recover())
			}()
			return next(ctx, req)
		}
	}
}

// end records err (or a recovered panic, which it raises again) and ends
// span.
func end(span trace.Span, err error, recovered any) {
	if recovered != nil {
		err = fmt.Errorf("panic: %v", recovered)
	}
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		span.SetAttributes(semconv.ErrorTypeKey.String(errorType(err)))
	}
	span.End()
	if recovered != nil {
		panic(recovered)
	}
}

// errorType is error.type: oslo's fully qualified exception class, as the
// failure travels (a remote error's module.class; a timeout is
// oslo_messaging.exceptions.MessagingTimeout), or _OTHER for a plain
// Exception.
func errorType(err error) string {
	if errors.Is(err, transport.ErrTimeout) {
		return "oslo_messaging.exceptions.MessagingTimeout"
	}
	f := transport.FailureOf(err)
	if f.Module == "builtins" && f.Class == "Exception" || f.Class == "" {
		return semconv.ErrorTypeOther.Value.AsString()
	}
	if f.Module == "" || f.Module == "builtins" {
		return f.Class
	}
	return f.Module + "." + f.Class
}

// Inject returns a copy of ctx whose request context carries the trace
// context of ctx's span, for a notification sent with ctx (give the
// notifier notify.ContextKeys(ContextKeys()...), or oslo's allowlist drops
// it) or any message sent without ClientMiddleware.
func Inject(ctx context.Context, opts ...Option) context.Context {
	c := newConfig(opts)
	rc := serializer.RequestContextFrom(ctx).Clone()
	if rc == nil {
		rc = serializer.RequestContext{}
	}
	c.prop.Inject(ctx, carrier(rc))
	return serializer.WithRequestContext(ctx, rc)
}

// Extract returns a copy of ctx with the remote span context found in ctx's
// request context, so that a span started from it is a child of the
// sender's: for notification listener handlers, whose ctx carries the
// notification's request context.
func Extract(ctx context.Context, opts ...Option) context.Context {
	return newConfig(opts).prop.Extract(ctx, carrier(serializer.RequestContextFrom(ctx)))
}

// ContextKeys returns the request-context keys the propagator writes
// (traceparent and tracestate for the W3C trace context), for
// notify.ContextKeys.
func ContextKeys(opts ...Option) []string { return newConfig(opts).prop.Fields() }

// carrier is a propagation.TextMapCarrier over a request context: the trace
// context travels as oslo's _context_<key> fields, string values.
type carrier map[string]any

func (c carrier) Get(key string) string {
	s, _ := c[key].(string)
	return s
}

func (c carrier) Set(key, value string) { c[key] = value }

func (c carrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}
