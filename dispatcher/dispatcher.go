package dispatcher

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime/debug"

	"github.com/oslo-go/messaging/internal/probe"
	"github.com/oslo-go/messaging/serializer"
	"github.com/oslo-go/messaging/target"
)

// Dispatcher routes requests to endpoint methods. It is immutable after
// [New] and safe for concurrent use.
type Dispatcher struct {
	endpoints []*endpoint
	ser       serializer.Serializer
	noop      bool
	handler   Handler
	// hasMiddleware makes Dispatch record the method it resolves, for
	// MethodOf.
	hasMiddleware bool
}

// Option configures a [Dispatcher].
type Option func(*options)

type options struct {
	ser  serializer.Serializer
	ping bool
	mw   []Middleware
}

// WithSerializer sets the serializer of requests: DeserializeContext turns
// the request's context into the handler's ctx, DeserializeEntity sees each
// top-level argument value before it is bound to the method's parameter,
// and SerializeEntity the handler's result. The default is
// [serializer.NoOp], which skips the entity hooks.
func WithSerializer(s serializer.Serializer) Option {
	return func(o *options) { o.ser = s }
}

// Ping adds, when enabled, oslo's ping endpoint (rpc_ping_enabled) after
// the others: method oslo_rpc_server_ping in the null namespace at version
// 1.0 answers "pong". It is not added when an endpoint already has a
// method with that wire name. The default is false.
func Ping(enabled bool) Option {
	return func(o *options) { o.ping = enabled }
}

// WithMiddleware adds middleware around the whole dispatch, method lookup
// included. The first given is the outermost; several WithMiddleware
// options add up in order. Middleware sees the handler's ctx (with the
// request context deserialized) and its result before SerializeEntity.
func WithMiddleware(mw ...Middleware) Option {
	return func(o *options) { o.mw = append(o.mw, mw...) }
}

// Request is a decoded RPC request.
type Request struct {
	// Method is the wire name of the method.
	Method string
	// Namespace is the requested namespace; "" is oslo's null namespace.
	Namespace string
	// Version is the requested version; "" means "1.0", oslo's default.
	Version string
	// Args is the encoded args object (JSON by default). Empty Data, or a
	// null value, means {}.
	Args serializer.Raw
	// Context is the caller's request context as received (oslo's ctxt
	// dict), for the serializer's DeserializeContext; nil for none.
	Context map[string]any
	// Target is the target the request was received on (the server's,
	// with its exchange), for middleware; zero when dispatched otherwise.
	Target target.Target
	// Call is true when the caller waits for the result (a call, not a
	// cast), as the server received it.
	Call bool
}

// Handler dispatches a request; [Dispatcher.Dispatch] is one.
type Handler func(ctx context.Context, req *Request) (any, error)

// Middleware wraps a Handler. It may read the request, call next or answer
// without calling it.
type Middleware func(next Handler) Handler

// Method describes one callable method, as listed by
// [Dispatcher.Methods].
type Method struct {
	// Endpoint is the endpoint's Go type name ("PingEndpoint" for oslo's
	// ping endpoint), oslo.metrics' endpoint label.
	Endpoint string
	// Namespace is the endpoint's namespace ("" is the null namespace).
	Namespace string
	// Version is the endpoint's version; "" means 1.0.
	Version string
	// Name is the wire name.
	Name string
}

const pingMethod = "oslo_rpc_server_ping"

// New builds a dispatcher for endpoints, tried in list order. Each element
// is an endpoint value (usually a pointer to a struct), a [Funcs], or an
// [Endpoint] result. New fails when an element is nil, has no eligible
// method, has two methods with one wire name, has an invalid version, or
// when a [MethodName] or [Expose] option names a method the endpoint
// lacks.
func New(endpoints []any, opts ...Option) (*Dispatcher, error) {
	var o options
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	d := &Dispatcher{ser: o.ser}
	if d.ser == nil {
		d.ser = serializer.NoOp{}
	}
	d.noop = serializer.IsNoOp(d.ser)
	hasPing := false
	for i, e := range endpoints {
		ep, err := newEndpoint(i, e)
		if err != nil {
			return nil, err
		}
		if _, ok := ep.methods[pingMethod]; ok {
			hasPing = true
		}
		d.endpoints = append(d.endpoints, ep)
	}
	if o.ping && !hasPing {
		d.endpoints = append(d.endpoints, &endpoint{
			typeName: "PingEndpoint",
			ver:      target.Version{Major: 1},
			methods: map[string]*method{pingMethod: {
				wire:    pingMethod,
				goName:  pingMethod,
				funcs:   func(context.Context, serializer.Raw) (any, error) { return "pong", nil },
				allowed: true,
			}},
			names: []string{pingMethod},
		})
	}
	h := Handler(d.dispatch)
	for i := len(o.mw) - 1; i >= 0; i-- {
		if o.mw[i] == nil {
			return nil, fmt.Errorf("dispatcher: middleware %d is nil", i)
		}
		if h = o.mw[i](h); h == nil {
			return nil, fmt.Errorf("dispatcher: middleware %d returned a nil Handler", i)
		}
	}
	d.handler = h
	d.hasMiddleware = len(o.mw) > 0
	return d, nil
}

type resolvedKey struct{}

// resolution is the method a request resolves to, recorded before the
// middleware runs so that MethodOf works for middleware before next.
type resolution struct {
	method, namespace, version string // the request it is for
	ep                         *endpoint
	m                          *method
	err                        error
	info                       Method
}

// MethodOf returns, to middleware and handlers, the endpoint method a
// request is dispatched to; false when there is none (the dispatch fails
// with NoSuchMethod or UnsupportedVersion) or the dispatcher has no
// middleware. It gives metrics their endpoint label. A middleware that
// changes the request sees the new method once next returns.
func MethodOf(ctx context.Context) (Method, bool) {
	r, ok := ctx.Value(resolvedKey{}).(*resolution)
	if !ok || r.m == nil {
		return Method{}, false
	}
	return r.info, true
}

// Methods returns every callable method in dispatch order: endpoint by
// endpoint, in list order (the ping endpoint last), and by name within an
// endpoint. A method of an endpoint with legacy namespaces is listed once,
// under its namespace.
func (d *Dispatcher) Methods() []Method {
	var out []Method
	for _, ep := range d.endpoints {
		for _, n := range ep.names {
			out = append(out, Method{Endpoint: ep.typeName, Namespace: ep.namespace, Version: ep.version, Name: n})
		}
	}
	return out
}

// resolve records in r the method req resolves to.
func (d *Dispatcher) resolve(r *resolution, req *Request) {
	*r = resolution{method: req.Method, namespace: req.Namespace, version: req.Version}
	r.ep, r.m, r.err = d.lookup(req)
	if r.m != nil {
		r.info = Method{Endpoint: r.ep.typeName, Namespace: r.ep.namespace, Version: r.ep.version, Name: r.m.wire}
	}
}

// Dispatch calls the method req names, through the middleware, and returns
// its result and error. The serializer makes the handler's ctx from
// req.Context and serializes the result. It returns a [*NoSuchMethodError],
// [*UnsupportedVersionError] or [*ArgumentError] when the request cannot be
// dispatched, and a [*PanicError] when a handler or middleware panics.
// An error matching the endpoint's [ExpectedErrors] is returned marked with
// [Expected]. A nil req is an empty Request.
func (d *Dispatcher) Dispatch(ctx context.Context, req *Request) (res any, err error) {
	if req == nil {
		req = &Request{}
	}
	defer func() {
		if v := recover(); v != nil {
			res, err = nil, &PanicError{Method: req.Method, Value: v, Stack: debug.Stack()}
		}
	}()
	if ctx == nil {
		ctx = context.Background()
	}
	if d.hasMiddleware {
		r := new(resolution)
		d.resolve(r, req)
		ctx = context.WithValue(ctx, resolvedKey{}, r)
	}
	if ctx, err = d.ser.DeserializeContext(ctx, req.Context); err != nil {
		return nil, fmt.Errorf("dispatcher: %s(): deserializing the request context: %w", req.Method, err)
	}
	if res, err = d.handler(ctx, req); err != nil || d.noop {
		return res, err
	}
	if res, err = d.ser.SerializeEntity(ctx, res); err != nil {
		return nil, fmt.Errorf("dispatcher: %s(): serializing the result: %w", req.Method, err)
	}
	return res, nil
}

var version10 = target.Version{Major: 1}

// dispatch is oslo's RPCDispatcher.dispatch: the innermost Handler.
func (d *Dispatcher) dispatch(ctx context.Context, req *Request) (any, error) {
	r, ok := ctx.Value(resolvedKey{}).(*resolution)
	if !ok {
		_, m, err := d.lookup(req)
		if err != nil {
			return nil, err
		}
		return d.call(ctx, m, req)
	}
	if r.method != req.Method || r.namespace != req.Namespace || r.version != req.Version {
		d.resolve(r, req) // a middleware changed the request
	}
	if r.err != nil {
		return nil, r.err
	}
	return d.call(ctx, r.m, req)
}

// lookup finds the method req names: the first endpoint whose namespace
// and version accept the request and which has the method.
func (d *Dispatcher) lookup(req *Request) (*endpoint, *method, error) {
	version := req.Version
	if version == "" {
		version = "1.0"
	}
	want, werr := version10, error(nil)
	if version != "1.0" {
		want, werr = target.ParseVersion(version)
	}
	found := false
	for _, ep := range d.endpoints {
		if !ep.accepts(req.Namespace) || werr != nil || !compatible(ep.ver, want) {
			continue
		}
		if m := ep.methods[req.Method]; m != nil && m.allowed {
			return ep, m, nil
		}
		found = true
	}
	if found {
		return nil, nil, &NoSuchMethodError{Method: req.Method}
	}
	return nil, nil, &UnsupportedVersionError{Version: version, Method: req.Method}
}

// compatible is target.Compatible on parsed versions (have is never None
// here: an endpoint without a version is 1.0).
func compatible(have, want target.Version) bool {
	if have.Major != want.Major || want.Minor > have.Minor {
		return false
	}
	return want.Minor != have.Minor || want.Rev <= have.Rev
}

func (d *Dispatcher) call(ctx context.Context, m *method, req *Request) (any, error) {
	var (
		res any
		err error
	)
	if m.funcs != nil {
		args := req.Args
		if !d.noop {
			args, err = d.deserializeRaw(ctx, req)
		} else if args.IsNull() {
			args, err = emptyArgs(args.Codec)
		}
		if err != nil {
			return nil, err
		}
		res, err = m.funcs(ctx, args)
		if ae, ok := err.(*argError); ok { // from Func or Proc
			err = ae.argumentError(req.Method)
		}
	} else {
		var in [3]reflect.Value
		in[0] = m.recv
		frame := reflect.New(m.frame).Elem()
		*frame.Field(0).Addr().Interface().(*context.Context) = ctx // never nil: Dispatch made sure
		in[1] = frame.Field(0)
		n := 2
		if m.kind != argNone {
			var slot reflect.Value
			if frame.NumField() > 1 {
				slot = frame.Field(1)
			}
			a, aerr := d.decodeArg(ctx, m, req, slot)
			if aerr != nil {
				return nil, aerr
			}
			in[2] = a
			n = 3
		}
		probe.Mark(probe.HandlerCalled)
		out := m.fn.Call(in[:n])
		if ev := out[len(out)-1]; !ev.IsNil() {
			err = ev.Interface().(error)
		} else if m.result {
			res = out[0].Interface()
		}
	}
	if err != nil {
		return nil, m.expect(err)
	}
	return res, nil
}

// expect marks err as expected when it matches the endpoint's
// ExpectedErrors.
func (m *method) expect(err error) error {
	for _, e := range m.expected {
		if errors.Is(err, e) {
			return Expected(err)
		}
	}
	return err
}
