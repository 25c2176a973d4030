// Package oslootel traces oslo.messaging RPC with OpenTelemetry: a span
// for every call and cast on the client and for every request a server
// handles, linked across the hop by the W3C trace context, which travels
// inside the oslo request context (the ctxt dict, as _context_traceparent
// and _context_tracestate on the wire). It thus crosses every driver, and a
// Python oslo.messaging service that passes the ctxt it received on to its
// own calls, as endpoints usually do, keeps the trace going (without a span
// of its own).
//
//	otel.SetTracerProvider(tp)
//	otel.SetTextMapPropagator(propagation.TraceContext{})
//	c, _ := client.New(tr, tg, client.WithMiddleware(oslootel.ClientMiddleware(oslootel.WithTransport(tr))))
//	srv, _ := server.New(tr, stg, endpoints, server.DispatchOptions(
//		dispatcher.WithMiddleware(oslootel.ServerMiddleware(oslootel.WithTransport(tr)))))
//
// # Spans
//
// Client spans are named "call <method>" (kind client) or "cast <method>"
// (kind producer); server spans "process <method>" (kind server for a call,
// consumer for a cast), "process _OTHER" for a method the server does not
// have. They follow OpenTelemetry's messaging semantic conventions
// (semconv v1.39.0): messaging.system (from WithTransport or System),
// messaging.destination.name (the topic), messaging.operation.type ("send"
// or "process"), messaging.operation.name ("call", "cast" or "process"),
// and rpc.method (the wire method name; _OTHER with rpc.method_original on
// the server for a method it does not have), server.address and
// server.port on the client. The oslo.messaging.* attributes hold the
// target's exchange, server, namespace, version and fanout, the endpoint
// that handled a request (its Go type name) and the request context's
// request_id, which operators use to follow a request through the logs. A
// failed call, cast or handler sets the span's status to Error, records the
// error and sets error.type to oslo's fully qualified exception class
// ("oslo_messaging.rpc.dispatcher.NoSuchMethod",
// "oslo_messaging.exceptions.MessagingTimeout"; Python's built-in classes
// without their module, "ValueError"), or _OTHER for a plain Exception.
//
// The client middleware writes the trace context into the ctx's
// serializer.RequestContext, which the default serializer sends; a client
// serializer that builds the request context otherwise must copy the
// traceparent and tracestate keys. The server middleware reads them from
// the request context as received, whatever the serializer.
//
// # Python services in the middle
//
// A Python endpoint receives the ctxt as a dict, traceparent included, and
// a call it makes with that ctxt sends it on; the Go server behind it
// starts its span as a child of the Go client's. A Python service whose
// serializer turns the ctxt into an oslo.context RequestContext
// (RequestContextSerializer, as nova's) drops keys RequestContext does not
// know, the trace context among them; the trace then ends there.
//
// # Notifications
//
// A Notifier sends only oslo's allowlist of request-context keys; let it
// send the trace context, inject the span's into the ctx, and pick it up
// in listener handlers:
//
//	n, _ := notify.New(tr, notify.ContextKeys(oslootel.ContextKeys()...))
//	n.Info(oslootel.Inject(ctx), "trove.instance.create.end", payload)
//
//	func (e *Listener) Info(ctx context.Context, publisherID, eventType string, payload P, md listener.Metadata) error {
//		ctx, span := tracer.Start(oslootel.Extract(ctx), "process "+eventType, trace.WithSpanKind(trace.SpanKindConsumer))
//		defer span.End()
//		...
//	}
package oslootel
