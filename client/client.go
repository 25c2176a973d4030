// Package client makes RPC calls and casts: the Go form of oslo.messaging's
// RPCClient.
//
//	c, err := client.New(tr, target.Target{Topic: "trove-taskmanager", Version: "1.0"},
//		client.VersionCap("1.10"))
//	cc := c.Prepare(client.Version("1.2"), client.Server("host-1"), client.Timeout(5*time.Second))
//	err = cc.Cast(ctx, "create_instance", CreateInstanceArgs{ID: id})
//	stats, err := client.Call[FSStats](ctx, cc, "get_filesystem_stats", map[string]any{"fs_path": nil})
//
// Arguments are oslo's keyword arguments: a struct (encoded with its json
// tags) or a map with string keys. The request context travels from the
// ctx (see serializer.WithRequestContext).
//
// A call waits for the first of: the reply, the ctx deadline, the Timeout
// (60 s by default), or, with CallMonitorTimeout, a gap in the server's
// heartbeats. A timeout matches both transport.ErrTimeout and
// context.DeadlineExceeded. A failure raised by the server is a
// *transport.RemoteError; errors.Is matches it against sentinel kinds such
// as dispatcher.ErrNoSuchMethod.
//
// A Client is immutable and safe for concurrent use; Prepare returns a
// modified copy.
package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/oslo-go/messaging/internal/engine"
	"github.com/oslo-go/messaging/internal/probe"
	"github.com/oslo-go/messaging/internal/wire"
	"github.com/oslo-go/messaging/serializer"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
)

// DefaultTimeout is the call timeout when none is set (oslo's
// rpc_response_timeout).
const DefaultTimeout = 60 * time.Second

// Client sends calls and casts to one target.
type Client struct {
	e *engine.Engine
	s settings
	// castErr and callErr say why the settings cannot send a cast or a
	// call (invalid target or version, the version cap); computed once by
	// New and Prepare.
	castErr, callErr error
	// invoke is the middleware chain around invoke; nil without
	// middleware.
	invoke Invoker
}

// check computes castErr and callErr from the settings.
func (c *Client) check() {
	c.castErr = c.s.validate()
	if c.castErr == nil && c.s.versionCap != "" && !target.Compatible(c.s.versionCap, c.s.target.Version) {
		c.castErr = &VersionCapError{Version: c.s.target.Version, Cap: c.s.versionCap}
	}
	c.callErr = c.castErr
	if err := c.s.target.ValidateCall(); err != nil {
		c.callErr = fmt.Errorf("client: %w", err)
	}
	c.invoke = nil
	if len(c.s.mw) > 0 {
		h := Invoker(c.base)
		for i := len(c.s.mw) - 1; i >= 0; i-- {
			h = c.s.mw[i](h)
		}
		c.invoke = h
	}
}

type settings struct {
	target     target.Target
	timeout    time.Duration
	versionCap string
	retry      int
	monitor    time.Duration
	ser        serializer.Serializer
	atLeast    bool
	mw         []Middleware
}

// An Option sets a target field or a call setting, for New and Prepare.
// Options given to Prepare override the client's values, including with
// the zero value: Namespace("") clears the namespace, Timeout(0) restores
// the default timeout.
type Option func(*settings)

// Exchange sets the target exchange ("" is the transport's control exchange).
func Exchange(e string) Option { return func(s *settings) { s.target.Exchange = e } }

// Topic sets the target topic.
func Topic(t string) Option { return func(s *settings) { s.target.Topic = t } }

// Namespace sets the target namespace ("" is the null namespace).
func Namespace(ns string) Option { return func(s *settings) { s.target.Namespace = ns } }

// Version sets the requested API version, "X.Y" or "X.Y.Z".
func Version(v string) Option { return func(s *settings) { s.target.Version = v } }

// Server addresses one server of the topic.
func Server(name string) Option { return func(s *settings) { s.target.Server = name } }

// Fanout makes casts go to every server of the topic. Calls to a fanout
// target fail.
func Fanout(on bool) Option { return func(s *settings) { s.target.Fanout = on } }

// Timeout sets how long a call waits for its reply, and bounds how long a
// cast may take to be accepted; 0 means DefaultTimeout. A sooner ctx
// deadline wins.
func Timeout(d time.Duration) Option { return func(s *settings) { s.timeout = d } }

// VersionCap sets the highest version the client may send. A call or cast
// whose version is not compatible with it fails with a *VersionCapError,
// before anything is sent; with a cap set, an unversioned target fails
// too, as in oslo.
func VersionCap(v string) Option { return func(s *settings) { s.versionCap = v } }

// Retry bounds re-sending after connection failures: negative (the
// default) retries until the timeout, 0 sends once, N retries N times.
func Retry(n int) Option { return func(s *settings) { s.retry = n } }

// CallMonitorTimeout enables call monitoring: the server sends a heartbeat
// every d/2 while the method runs, and the call fails when none arrives for
// d. The overall Timeout still applies, so long calls set both. 0 disables
// it.
func CallMonitorTimeout(d time.Duration) Option { return func(s *settings) { s.monitor = d } }

// Invocation is one call or cast as client middleware sees it.
type Invocation struct {
	// CallType is "call" or "cast" (oslo.metrics' call_type).
	CallType string
	Method   string
	// Args are the keyword arguments as given to Call or Cast.
	Args any
	// Target is the client's target, with the transport's control
	// exchange filled in when it names none.
	Target target.Target
	// Timeout is the call's timeout, or the bound on a cast's sending.
	Timeout time.Duration
	// Reply is where a call's result is decoded once next returns; nil for
	// casts and discarded results.
	Reply any
}

// Invoker sends an invocation; the innermost one is the client's own.
type Invoker func(ctx context.Context, inv *Invocation) error

// Middleware wraps an Invoker: it may read or change the invocation and
// the ctx (its request context travels with the message), call next, and
// look at the error and inv.Reply when next returns. It is the client side
// of dispatcher.Middleware: metrics, tracing, logging.
type Middleware func(next Invoker) Invoker

// WithMiddleware adds middleware around every call and cast of the
// client, after the client's own checks (target, version cap); the first
// given is the outermost. Prepare adds to the client's middleware.
func WithMiddleware(mw ...Middleware) Option {
	return func(s *settings) { s.mw = append(s.mw[:len(s.mw):len(s.mw)], mw...) }
}

// base is the innermost Invoker: the client's own call or cast.
func (c *Client) base(ctx context.Context, inv *Invocation) error {
	if inv.CallType == "cast" {
		return c.cast(ctx, inv.Method, inv.Args)
	}
	return c.call(ctx, inv.Method, inv.Args, inv.Reply)
}

// invocation describes one call or cast for the middleware.
func (c *Client) invocation(callType, method string, args, reply any) *Invocation {
	tg := c.s.target
	if tg.Exchange == "" {
		tg.Exchange = c.e.ControlExchange()
	}
	return &Invocation{CallType: callType, Method: method, Args: args, Target: tg, Timeout: c.timeout(), Reply: reply}
}

// AtLeastOnce makes the broker confirm that the message reached a queue
// (oslo's TransportOptions(at_least_once=True), which publishes with
// AMQP's mandatory flag): a cast or call that no queue takes fails with an
// error matching transport.ErrUndeliverable instead of vanishing, for
// example while a server's queue is being declared again after a broker
// restart. It applies to New and to Prepare.
//
// What each mode promises, on drivers that can tell (RabbitMQ; see each
// driver's documentation):
//
//   - default: Cast returns nil once the broker accepted the message (a
//     publisher confirm on RabbitMQ); a message no queue was bound for is
//     dropped by the broker, and nothing says so.
//   - AtLeastOnce: Cast returns nil only once a queue holds the message;
//     otherwise it returns ErrUndeliverable, and the caller may retry.
//
// Neither mode says the message was handled: servers acknowledge requests
// when they take them (oslo's at-most-once delivery), so a server that
// dies while handling a request loses it.
func AtLeastOnce(on bool) Option { return func(s *settings) { s.atLeast = on } }

// WithSerializer sets the serializer for arguments, results and the request
// context; the default is serializer.NoOp.
func WithSerializer(ser serializer.Serializer) Option {
	if ser == nil {
		ser = serializer.NoOp{}
	}
	return func(s *settings) { s.ser = ser }
}

// New returns a client for t. t needs a Topic; a Version and a VersionCap,
// when set, must parse.
func New(tr *transport.Transport, t target.Target, opts ...Option) (*Client, error) {
	if tr == nil {
		return nil, errors.New("client: nil transport")
	}
	c := &Client{e: engine.Of(tr), s: settings{target: t, retry: -1, ser: serializer.NoOp{}}}
	for _, o := range opts {
		o(&c.s)
	}
	if err := c.s.validate(); err != nil {
		return nil, err
	}
	c.check()
	return c, nil
}

func (s settings) validate() error {
	if err := s.target.ValidateSend(); err != nil {
		return fmt.Errorf("client: %w", err)
	}
	if s.versionCap != "" {
		if _, err := target.ParseVersion(s.versionCap); err != nil {
			return fmt.Errorf("client: version cap: %w", err)
		}
	}
	return nil
}

// Prepare returns a copy of the client with opts applied (oslo's
// prepare). It does not fail: invalid settings make every Call and Cast of
// the copy fail with the reason, and CanSendVersion return false.
func (c *Client) Prepare(opts ...Option) *Client {
	cc := &Client{e: c.e, s: c.s}
	for _, o := range opts {
		o(&cc.s)
	}
	cc.check()
	return cc
}

// Target returns the client's target.
func (c *Client) Target() target.Target { return c.s.target }

// CanSendVersion reports whether version v (or the target's version when v
// is "") is allowed by the version cap. It never fails.
func (c *Client) CanSendVersion(v string) bool {
	if v == "" {
		v = c.s.target.Version
	}
	return c.s.versionCap == "" || target.Compatible(c.s.versionCap, v)
}

// ErrVersionCap is matched by every *VersionCapError.
var ErrVersionCap = errors.New("client: requested version exceeds the version cap")

// VersionCapError reports a message whose version the version cap forbids
// (oslo's RPCVersionCapError, with its text).
type VersionCapError struct{ Version, Cap string }

// Error implements the error interface.
func (e *VersionCapError) Error() string {
	return "client: Requested message version, " + e.Version + " is incompatible.  It needs to be equal in major version and less than or equal in minor version as the specified version cap " + e.Cap + "."
}

// Is makes errors.Is(err, ErrVersionCap) hold.
func (e *VersionCapError) Is(target error) bool { return target == ErrVersionCap }

// prepare builds the request for one message into req.
func (c *Client) prepare(ctx context.Context, req *wire.Request, method string, args any) error {
	if method == "" {
		return errors.New("client: empty method name")
	}
	t := c.s.target
	rc, err := c.s.ser.SerializeContext(ctx)
	if err != nil {
		return fmt.Errorf("client: serializing request context: %w", err)
	}
	if !serializer.IsNoOp(c.s.ser) {
		if args, err = serializeArgs(ctx, c.s.ser, args); err != nil {
			return err
		}
	}
	*req = wire.Request{Method: method, Args: args, Namespace: t.Namespace, Version: t.Version, Context: rc}
	return nil
}

// Cast sends method with args to the target and returns once the broker
// has accepted it; nothing tells whether a server handled it.
func (c *Client) Cast(ctx context.Context, method string, args any) error {
	if c.castErr != nil {
		return c.castErr
	}
	if c.invoke != nil {
		return c.invoke(ctx, c.invocation("cast", method, args, nil))
	}
	return c.cast(ctx, method, args)
}

func (c *Client) cast(ctx context.Context, method string, args any) error {
	var req wire.Request
	if err := c.prepare(ctx, &req, method, args); err != nil {
		return err
	}
	return c.e.Cast(ctx, c.s.target, &req, engine.SendOptions{Retry: c.s.retry, Mandatory: c.s.atLeast, Timeout: c.timeout()})
}

// timeout returns the client's timeout, DefaultTimeout when unset.
func (c *Client) timeout() time.Duration {
	if c.s.timeout <= 0 {
		return DefaultTimeout
	}
	return c.s.timeout
}

// Call sends method with args to one server of the target and waits for
// the result, which it decodes into reply (a pointer, or nil to discard
// it).
func (c *Client) Call(ctx context.Context, method string, args, reply any) error {
	if c.callErr != nil {
		return c.callErr
	}
	if c.invoke != nil {
		return c.invoke(ctx, c.invocation("call", method, args, reply))
	}
	return c.call(ctx, method, args, reply)
}

func (c *Client) call(ctx context.Context, method string, args, reply any) error {
	probe.Start()
	var req wire.Request
	if err := c.prepare(ctx, &req, method, args); err != nil {
		return err
	}
	// The engine applies the timeout (unless ctx ends sooner) and times
	// the call itself.
	raw, err := c.e.Call(ctx, c.s.target, &req, engine.CallOptions{
		SendOptions:    engine.SendOptions{Retry: c.s.retry, Mandatory: c.s.atLeast, Timeout: c.timeout()},
		MonitorTimeout: c.s.monitor,
	})
	if err != nil || reply == nil {
		return err
	}
	if err := c.decodeResult(ctx, raw, reply); err != nil {
		return fmt.Errorf("client: decoding the result of %s: %w", method, err)
	}
	probe.Mark(probe.CallReturned)
	return nil
}

func (c *Client) decodeResult(ctx context.Context, raw serializer.Raw, reply any) error {
	if serializer.IsNoOp(c.s.ser) {
		if raw.IsNull() {
			return nil
		}
		return raw.Decode(reply)
	}
	var generic any
	if !raw.IsNull() {
		if err := raw.Decode(&generic); err != nil {
			return err
		}
	}
	v, err := c.s.ser.DeserializeEntity(ctx, generic)
	if err != nil {
		return err
	}
	codec := serializer.CodecOf(raw.Codec)
	data, err := codec.Marshal(v)
	if err != nil {
		return err
	}
	return codec.Unmarshal(data, reply)
}

// Call calls method and returns its result decoded as an R.
func Call[R any](ctx context.Context, c *Client, method string, args any) (R, error) {
	var r R
	err := c.Call(ctx, method, args, &r)
	return r, err
}
