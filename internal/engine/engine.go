// Package engine is the RPC and notification engine that packages client,
// server and notify share: calls and their replies, casts, request
// listeners and deliveries, notifications. A *transport.Transport owns one
// Engine; the user API stays in package transport, the machinery here
// (grpc-go keeps its internal/transport the same way).
//
// The errors users match (transport.RemoteError, transport.TimeoutError)
// are defined in package transport, which imports this one; the engine
// builds them through the functions in [Errors].
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/oslo-go/messaging/internal/ids"
	"github.com/oslo-go/messaging/internal/lazyctx"
	"github.com/oslo-go/messaging/internal/probe"
	"github.com/oslo-go/messaging/internal/ratelog"
	"github.com/oslo-go/messaging/internal/wire"
	"github.com/oslo-go/messaging/serializer"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport/driver"
)

// ErrNotificationsUnsupported is returned by Notify and
// ListenNotifications on a transport whose driver carries no
// notifications.
var ErrNotificationsUnsupported = errors.New("transport: the driver does not carry notifications")

// Errors builds the errors of package transport.
type Errors struct {
	// Timeout reports a call that got no reply in time, or a send that
	// did not complete in time.
	Timeout func(Failed) error
	// Remote turns a failure received in a reply into the error the caller
	// gets (a *transport.RemoteError, or a type registered for its class).
	Remote func(*wire.Failure) error
	// FailureOf describes how a handler's error travels.
	FailureOf func(error) *wire.Failure
	// Canceled reports a call or send whose ctx was canceled.
	Canceled func(Failed) error
}

// Failed describes a call or cast that ended without a result.
type Failed struct {
	Op     string        // "call", "cast" or "notify"
	Method string        // the method, or a notification's event type
	Target target.Target // exchange resolved
	MsgID  string        // "" for a cast
	// Monitor is true when the call-monitor timer expired (no heartbeat
	// from the server).
	Monitor bool
	// Cause is the ctx error, or the driver's error that wraps it (which
	// says, for example, that the broker was unreachable all along).
	Cause error
}

// Config configures an Engine.
type Config struct {
	Logger   *slog.Logger
	Exchange string           // the control exchange
	Codec    serializer.Codec // of sent messages
	Errors   Errors
	// Options are the driver-specific options (transport.WithDriverOption).
	Options []any
}

// Engine is the machinery of one transport: its driver connection and the
// calls waiting for replies. It is safe for concurrent use.
type Engine struct {
	conn     driver.Conn
	logger   *slog.Logger
	exchange string
	codec    serializer.Codec
	enc      wire.Encoder // codec, and the layout the driver asks for
	// copies: the driver is done with a message when sending it returns
	// (driver.MessageCopier), so bodies are encoded into pooled buffers
	// and casts' outgoing messages reused.
	copies   bool
	errs     Errors
	warnings ratelog.Limiter

	closed atomic.Bool

	mu      sync.Mutex
	waiters map[string]*waiter
}

// Open connects d to u and returns the engine around the connection.
func Open(ctx context.Context, d driver.Driver, u *driver.URL, cfg Config) (*Engine, error) {
	e := &Engine{
		logger:   cfg.Logger,
		exchange: cfg.Exchange,
		codec:    cfg.Codec,
		errs:     cfg.Errors,
		waiters:  make(map[string]*waiter),
	}
	conn, err := d.Open(ctx, u, driver.Config{OnReply: e.onReply, Logger: cfg.Logger, Options: cfg.Options})
	if err != nil {
		return nil, err
	}
	e.conn = conn
	e.enc = wire.Encoder{Codec: cfg.Codec}
	if um, ok := conn.(driver.UnwrappedMessages); ok && um.UnwrappedMessages() {
		e.enc.Unwrapped = true
	}
	if mc, ok := conn.(driver.MessageCopier); ok && mc.CopiesMessages() {
		e.copies = true
	}
	return e, nil
}

// Of returns the engine of a *transport.Transport. Package transport sets
// it in its init: it imports this package, so this one cannot name it.
var Of func(tr any) *Engine

// Close closes the connection. Calls in flight fail with ErrClosed.
// Close is idempotent.
func (e *Engine) Close() error {
	if e.closed.Swap(true) {
		return nil
	}
	// Calls in flight fail with ErrClosed, before the driver can report
	// its connections going away as something else.
	e.failWaiters("", driver.ErrClosed)
	return e.conn.Close()
}

// Driver returns the driver connection, for packages that need a driver's
// optional interfaces.
func (e *Engine) Driver() driver.Conn { return e.conn }

// Logger returns the transport's logger.
func (e *Engine) Logger() *slog.Logger { return e.logger }

// ControlExchange returns the exchange of targets that name none.
func (e *Engine) ControlExchange() string { return e.exchange }

// ResolveTarget returns tg with the control exchange filled in.
func (e *Engine) ResolveTarget(tg target.Target) target.Target {
	if tg.Exchange == "" {
		tg.Exchange = e.exchange
	}
	return tg
}

// SendOptions tune one send.
type SendOptions struct {
	// Retry bounds re-sending after connection failures: negative retries
	// until ctx ends (oslo's retry=None), 0 sends once, N retries N times.
	Retry int
	// Mandatory makes the send fail with driver.ErrUndeliverable when the
	// broker routes the message to no queue (oslo's at_least_once).
	Mandatory bool
	// Timeout, when positive, bounds a Cast's send and a Call (its send
	// and its wait for the reply) unless ctx ends sooner: it is the ctx
	// deadline the driver sees, and a call's expiration. Notify ignores it.
	Timeout time.Duration
}

// outgoing is what Cast and Call allocate for one message: the message
// (a driver may keep it to deliver it) and the lazy deadline of the
// Timeout, which costs no timer unless the driver waits on it.
type outgoing struct {
	msg driver.Message
	ctx lazyctx.Ctx
	id  [32]byte // a call's message id
}

// outgoings are the casts' outgoing messages, reused with drivers that
// are done with a message when Send returns (Engine.copies).
var outgoings = sync.Pool{New: func() any { return new(outgoing) }}

// body returns the bytes of b for a message: b's own with a driver that
// copies them (the caller releases b once the driver has returned), else
// a copy the driver can keep.
func (e *Engine) body(b *wire.Body) []byte {
	if e.copies {
		return b.Bytes()
	}
	return b.Detach()
}

// newCastOutgoing returns the outgoing message of a cast: a reused one
// with a driver that copies messages, which freeOutgoing gives back.
func (e *Engine) newCastOutgoing() *outgoing {
	if e.copies {
		return outgoings.Get().(*outgoing)
	}
	return new(outgoing)
}

// freeOutgoing gives out back for reuse, once released, unless its lazy
// deadline was waited on (its timer may still fire) or the driver keeps
// messages.
func (e *Engine) freeOutgoing(out *outgoing) {
	if e.copies && out.ctx.Reset() {
		out.msg = driver.Message{}
		outgoings.Put(out)
	}
}

// newMsgID makes a new message id (ids.Hex) in out.id and returns it as a
// string that views out.id, which never changes afterwards: the id costs
// no allocation of its own.
func (out *outgoing) newMsgID() string {
	b := ids.AppendHex(out.id[:0])
	return unsafe.String(&b[0], len(b))
}

// withTimeout returns ctx bounded by timeout from now: out's lazy context
// when that deadline is sooner than ctx's (and then true: out.ctx must be
// released when the send or call is over), else ctx.
func (out *outgoing) withTimeout(ctx context.Context, timeout time.Duration) (context.Context, bool) {
	if timeout <= 0 {
		return ctx, false
	}
	dl := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && !d.After(dl) {
		return ctx, false
	}
	out.ctx.Init(ctx, dl)
	return &out.ctx, true
}

// CallOptions tune one call.
type CallOptions struct {
	SendOptions
	// MonitorTimeout enables oslo's call monitoring: the server sends a
	// heartbeat every MonitorTimeout/2 while the handler runs, and the call
	// fails when none arrives for MonitorTimeout.
	MonitorTimeout time.Duration
}

// Cast sends req to tg without waiting for a result. It returns once the
// driver has handed the message to the broker, or fails when ctx ends or
// o.Timeout passes first.
func (e *Engine) Cast(ctx context.Context, tg target.Target, req *wire.Request, o SendOptions) error {
	if e.closed.Load() {
		return driver.ErrClosed
	}
	if err := tg.ValidateSend(); err != nil {
		return err
	}
	body, err := e.enc.RequestBody(req, wire.Header{})
	if err != nil {
		return err
	}
	out := e.newCastOutgoing()
	defer func() { // after out.ctx.Release
		body.Release()
		e.freeOutgoing(out)
	}()
	out.msg = wire.MessageOf(e.codec, e.body(&body))
	m := &out.msg
	m.Retry, m.Mandatory = o.Retry, o.Mandatory
	// Most drivers hand a cast over without waiting: the timeout's timer
	// starts only if one waits.
	ctx, release := out.withTimeout(ctx, o.Timeout)
	if release {
		defer out.ctx.Release()
	}
	tg = e.ResolveTarget(tg)
	if err := e.conn.Send(ctx, tg, m); err != nil {
		return e.sendError(ctx, err, Failed{Op: "cast", Method: req.Method, Target: tg})
	}
	return nil
}

// Call sends req to tg and waits for the reply until ctx ends or
// o.Timeout passes. The sooner of the two deadlines is the call timeout
// and travels with the request as its expiration.
func (e *Engine) Call(ctx context.Context, tg target.Target, req *wire.Request, o CallOptions) (serializer.Raw, error) {
	if e.closed.Load() {
		return serializer.Raw{}, driver.ErrClosed
	}
	if err := tg.ValidateCall(); err != nil {
		return serializer.Raw{}, err
	}
	tg = e.ResolveTarget(tg)
	// The call is timed by its waiter's timer: the lazy deadline starts a
	// timer only if the driver waits on it.
	out := new(outgoing)
	ctx, release := out.withTimeout(ctx, o.Timeout)
	if release {
		defer out.ctx.Release()
	}
	replyTo, err := e.conn.ReplyAddress(ctx)
	if err != nil {
		return serializer.Raw{}, e.sendError(ctx, err, Failed{Op: "call", Method: req.Method, Target: tg})
	}
	h := wire.Header{MsgID: out.newMsgID(), ReplyTo: replyTo, Monitor: o.MonitorTimeout}
	body, err := e.enc.RequestBody(req, h)
	if err != nil {
		return serializer.Raw{}, err
	}
	defer body.Release() // detached by e.body, it does nothing
	out.msg = wire.MessageOf(e.codec, e.body(&body))
	m := &out.msg
	m.MsgID, m.ReplyTo, m.Retry, m.Mandatory = h.MsgID, replyTo, o.Retry, o.Mandatory
	f := Failed{Op: "call", Method: req.Method, Target: tg, MsgID: h.MsgID}
	if dl, ok := ctx.Deadline(); ok {
		m.Expiration = time.Until(dl)
		if m.Expiration <= 0 {
			f.Cause = context.DeadlineExceeded
			return serializer.Raw{}, e.errs.Timeout(f)
		}
	}

	w := getWaiter()
	e.mu.Lock()
	e.waiters[h.MsgID] = w
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		delete(e.waiters, h.MsgID)
		e.mu.Unlock()
		// Replies reach a waiter only under e.mu while it is in the map,
		// so nothing can touch it any more.
		w.release()
	}()
	if e.closed.Load() { // Close ran between the check above and registration
		return serializer.Raw{}, driver.ErrClosed
	}
	probe.Mark(probe.ClientEncoded)
	if err := e.conn.Send(ctx, tg, m); err != nil {
		return serializer.Raw{}, e.sendError(ctx, err, f)
	}
	probe.Mark(probe.ClientSent)
	return e.wait(ctx, f, w, o.MonitorTimeout)
}

func (e *Engine) wait(ctx context.Context, f Failed, w *waiter, monitor time.Duration) (serializer.Raw, error) {
	// The call's deadline runs on the waiter's own timer, and only the
	// parent's cancellation on a channel: a lazyctx costs no timer or
	// goroutine of its own.
	done := ctx.Done
	if lc, ok := ctx.(*lazyctx.Ctx); ok {
		done = lc.Parent().Done
	}
	var deadlineC, monitorC <-chan time.Time
	if dl, ok := ctx.Deadline(); ok {
		w.deadline.Reset(time.Until(dl))
		defer w.deadline.Stop()
		deadlineC = w.deadline.C
	}
	if monitor > 0 {
		w.monitor.Reset(monitor)
		defer w.monitor.Stop()
		monitorC = w.monitor.C
	}
	for {
		select {
		case r := <-w.done:
			probe.Mark(probe.ClientWoken)
			return e.result(r)
		case <-w.beat:
			if monitor > 0 {
				w.monitor.Reset(monitor)
			}
		case <-monitorC:
			f.Monitor, f.Cause = true, context.DeadlineExceeded
			return serializer.Raw{}, e.errs.Timeout(f)
		case <-deadlineC:
			f.Cause = context.DeadlineExceeded
			return serializer.Raw{}, e.errs.Timeout(f)
		case <-done():
			return serializer.Raw{}, e.ctxError(ctx, f)
		}
	}
}

func (e *Engine) result(r callResult) (serializer.Raw, error) {
	switch {
	case r.err != nil:
		return serializer.Raw{}, r.err
	case r.failure != nil:
		return serializer.Raw{}, e.errs.Remote(r.failure)
	}
	return r.result, nil
}

func (e *Engine) ctxError(ctx context.Context, f Failed) error {
	if f.Cause == nil {
		f.Cause = ctx.Err()
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return e.errs.Timeout(f)
	}
	return e.errs.Canceled(f)
}

// sendError reports a send failure; a send cut short by the ctx deadline
// is a timeout like any other, with the driver's error (which may name the
// connection problem behind it) as its cause.
func (e *Engine) sendError(ctx context.Context, err error, f Failed) error {
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		f.Cause = err
		return e.ctxError(ctx, f)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		f.Cause = err
		return e.errs.Timeout(f)
	}
	return err
}

// Ping checks the driver's connection (driver.Pinger); drivers without
// it are taken to be connected once opened.
func (e *Engine) Ping(ctx context.Context) error {
	if e.closed.Load() {
		return driver.ErrClosed
	}
	if p, ok := e.conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return ctx.Err()
}

// callResult is the outcome of one call.
type callResult struct {
	result  serializer.Raw
	failure *wire.Failure
	err     error
}

// waiter is the rendezvous of one call and its replies. Its fields other
// than the channels are guarded by the engine's mu: replies are routed to
// it under that lock.
type waiter struct {
	done chan callResult // the final outcome; capacity 1, extra ones dropped
	beat chan struct{}   // a heartbeat arrived; capacity 1, coalesced
	// deadline and monitor time the call; stopped while pooled.
	deadline, monitor *time.Timer

	partial serializer.Raw // result of a legacy non-ending reply
}

var waiters = sync.Pool{New: func() any {
	w := &waiter{done: make(chan callResult, 1), beat: make(chan struct{}, 1),
		deadline: time.NewTimer(time.Hour), monitor: time.NewTimer(time.Hour)}
	w.deadline.Stop()
	w.monitor.Stop()
	return w
}}

func getWaiter() *waiter { return waiters.Get().(*waiter) }

// release empties w and returns it to the pool.
func (w *waiter) release() {
	select {
	case <-w.done:
	default:
	}
	select {
	case <-w.beat:
	default:
	}
	w.partial = serializer.Raw{}
	waiters.Put(w)
}

func (w *waiter) finish(r callResult) {
	select {
	case w.done <- r:
	default: // a duplicate final reply
	}
}

func (w *waiter) heartbeat() {
	select {
	case w.beat <- struct{}{}:
	default:
	}
}

// onReply receives every reply from the driver. It never blocks.
func (e *Engine) onReply(r driver.Reply) {
	if r.Err != nil {
		e.failWaiters(r.MsgID, r.Err)
		return
	}
	if r.Message == nil {
		return
	}
	var rep wire.IncomingReply
	if err := wire.DecodeReplyInto(&rep, r.Message.Body, r.Message.ContentType, e.codec); err != nil {
		// When the reply names its call, the call fails now rather than
		// at its timeout.
		id := r.Message.MsgID
		if id == "" {
			id = wire.ReplyMsgID(r.Message.Body)
		}
		e.warnings.Warn(e.logger, "bad reply", "transport: dropping reply that does not decode", "msg_id", id, "error", err)
		if id != "" {
			e.failWaiters(id, fmt.Errorf("transport: the reply to message ID %s does not decode: %w", id, err))
		}
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	w := e.waiters[rep.MsgID]
	if w == nil {
		e.logger.Debug("transport: no calling threads waiting for msg_id", "msg_id", rep.MsgID)
		return
	}
	switch {
	case rep.Failure != nil:
		w.finish(callResult{failure: rep.Failure})
	case rep.Ending:
		res := rep.Result
		if res.IsNull() && !w.partial.IsNull() {
			res = w.partial
		}
		w.finish(callResult{result: res})
	default:
		if !rep.Result.IsNull() { // oslo < 4.0 sent the result first, then ending
			w.partial = rep.Result
		}
		w.heartbeat()
	}
}

// failWaiters fails the call msgID, or every call when msgID is "".
func (e *Engine) failWaiters(msgID string, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if msgID != "" {
		if w := e.waiters[msgID]; w != nil {
			w.finish(callResult{err: err})
		}
		return
	}
	for _, w := range e.waiters {
		w.finish(callResult{err: err})
	}
}
