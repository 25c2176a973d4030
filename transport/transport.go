// Package transport connects to a message broker through a driver chosen by
// URL scheme and carries oslo.messaging's RPC wire format over it. A
// *Transport is to a broker what *sql.DB is to a database: open one per
// broker, share it between clients and servers, close it at exit.
//
//	import _ "github.com/oslo-go/messaging/drivers/rabbit" // registers rabbit://
//
//	tr, err := transport.Open(ctx, "rabbit://guest:guest@h1:5672,guest:guest@h2:5672/")
//	defer tr.Close()
//
// Most programs use a Transport only through packages client, server and
// notify. This package also holds the wire envelope (one place for every
// driver), the errors shared by all drivers ([ErrTimeout], [ErrClosed],
// [*RemoteError]) and the driver registry.
package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oslo-go/messaging/internal/ids"
	"github.com/oslo-go/messaging/serializer"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport/driver"
)

// Transport is a connection to a broker. It is safe for concurrent use.
type Transport struct {
	conn     driver.Conn
	url      *URL
	logger   *slog.Logger
	exchange string
	codec    serializer.Codec
	rebuild  map[errorClass]func(*RemoteError) error

	closed atomic.Bool

	mu      sync.Mutex
	waiters map[string]*waiter
}

// Open parses rawURL, picks the driver registered for its scheme and
// connects. The query parameter control_exchange is read by the transport
// (see [ControlExchange]); every other parameter belongs to the driver,
// which rejects those it does not know.
func Open(ctx context.Context, rawURL string, opts ...Option) (*Transport, error) {
	u, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	return OpenURL(ctx, u, opts...)
}

// OpenURL is Open for an already parsed URL.
func OpenURL(ctx context.Context, u *URL, opts ...Option) (*Transport, error) {
	o := options{exchange: DefaultControlExchange, codec: serializer.JSON{}}
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		o.logger = slog.Default()
	}
	if o.codec == nil {
		o.codec = serializer.JSON{}
	}
	d, err := lookupDriver(u.Driver())
	if err != nil {
		return nil, err
	}
	du := *u
	du.Query = make(map[string]string, len(u.Query))
	for k, v := range u.Query {
		if k == "control_exchange" {
			o.exchange = v
			continue
		}
		du.Query[k] = v
	}
	if o.exchange == "" {
		return nil, errors.New("transport: empty control exchange")
	}
	t := &Transport{
		url:      u,
		logger:   o.logger,
		exchange: o.exchange,
		codec:    o.codec,
		rebuild:  o.remoteErrors,
		waiters:  make(map[string]*waiter),
	}
	conn, err := d.Open(ctx, &du, driver.Config{OnReply: t.onReply, Logger: o.logger, Options: o.driverOpts})
	if err != nil {
		return nil, fmt.Errorf("transport: open %s: %w", RedactURL(u), err)
	}
	t.conn = conn
	return t, nil
}

// Close closes the connection. Calls in flight fail with ErrClosed.
// Close is idempotent.
func (t *Transport) Close() error {
	if t.closed.Swap(true) {
		return nil
	}
	// Calls in flight fail with ErrClosed, before the driver can report
	// its connections going away as something else.
	t.failWaiters("", ErrClosed)
	return t.conn.Close()
}

// URL returns the URL the transport was opened with.
func (t *Transport) URL() *URL { u := *t.url; return &u }

// Driver returns the driver connection, for packages that need a driver's
// optional interfaces.
func (t *Transport) Driver() driver.Conn { return t.conn }

// Logger returns the transport's logger.
func (t *Transport) Logger() *slog.Logger { return t.logger }

// ControlExchange returns the exchange used for targets that name none.
func (t *Transport) ControlExchange() string { return t.exchange }

// ResolveTarget returns tg with the control exchange filled in.
func (t *Transport) ResolveTarget(tg target.Target) target.Target {
	if tg.Exchange == "" {
		tg.Exchange = t.exchange
	}
	return tg
}

// SendOptions tune one send.
type SendOptions struct {
	// Retry bounds re-sending after connection failures: negative retries
	// until ctx ends (oslo's retry=None), 0 sends once, N retries N times.
	Retry int
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
// driver has handed the message to the broker.
func (t *Transport) Cast(ctx context.Context, tg target.Target, req *Request, o SendOptions) error {
	if t.closed.Load() {
		return ErrClosed
	}
	if err := tg.ValidateSend(); err != nil {
		return err
	}
	body, err := encodeRequest(t.codec, req, requestHeader{uniqueID: newUniqueID()})
	if err != nil {
		return err
	}
	m := newMessage(t.codec, body)
	m.Retry = o.Retry
	if err := t.conn.Send(ctx, t.ResolveTarget(tg), m); err != nil {
		return sendError(ctx, err, "")
	}
	return nil
}

// Call sends req to tg and waits for the reply until ctx ends. The ctx
// deadline is the call timeout and travels with the request as its
// expiration. A failure raised by the server comes back as a
// *RemoteError, or as the error registered with AllowRemoteError.
func (t *Transport) Call(ctx context.Context, tg target.Target, req *Request, o CallOptions) (serializer.Raw, error) {
	if t.closed.Load() {
		return serializer.Raw{}, ErrClosed
	}
	if err := tg.ValidateCall(); err != nil {
		return serializer.Raw{}, err
	}
	replyTo, err := t.conn.ReplyAddress(ctx)
	if err != nil {
		return serializer.Raw{}, sendError(ctx, err, "")
	}
	h := requestHeader{msgID: ids.Hex(), replyTo: replyTo, uniqueID: newUniqueID(), monitor: o.MonitorTimeout}
	body, err := encodeRequest(t.codec, req, h)
	if err != nil {
		return serializer.Raw{}, err
	}
	m := newMessage(t.codec, body)
	m.MsgID, m.ReplyTo, m.Retry = h.msgID, replyTo, o.Retry
	if dl, ok := ctx.Deadline(); ok {
		m.Expiration = time.Until(dl)
		if m.Expiration <= 0 {
			return serializer.Raw{}, &TimeoutError{MsgID: h.msgID, cause: context.DeadlineExceeded}
		}
	}

	w := getWaiter()
	t.mu.Lock()
	t.waiters[h.msgID] = w
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		delete(t.waiters, h.msgID)
		t.mu.Unlock()
		// Replies reach a waiter only under t.mu while it is in the map,
		// so nothing can touch it any more.
		w.release()
	}()
	if t.closed.Load() { // Close ran between the check above and registration
		return serializer.Raw{}, ErrClosed
	}
	if err := t.conn.Send(ctx, t.ResolveTarget(tg), m); err != nil {
		return serializer.Raw{}, sendError(ctx, err, h.msgID)
	}
	return t.wait(ctx, h.msgID, w, o.MonitorTimeout)
}

func (t *Transport) wait(ctx context.Context, msgID string, w *waiter, monitor time.Duration) (serializer.Raw, error) {
	var monitorC <-chan time.Time
	if monitor > 0 {
		timer := time.NewTimer(monitor)
		defer timer.Stop()
		monitorC = timer.C
		for {
			select {
			case r := <-w.done:
				return t.result(r)
			case <-w.beat:
				timer.Reset(monitor)
			case <-monitorC:
				return serializer.Raw{}, &TimeoutError{MsgID: msgID, Monitor: true, cause: context.DeadlineExceeded}
			case <-ctx.Done():
				return serializer.Raw{}, ctxError(ctx, msgID)
			}
		}
	}
	select {
	case r := <-w.done:
		return t.result(r)
	case <-ctx.Done():
		return serializer.Raw{}, ctxError(ctx, msgID)
	}
}

func (t *Transport) result(r callResult) (serializer.Raw, error) {
	switch {
	case r.err != nil:
		return serializer.Raw{}, r.err
	case r.failure != nil:
		return serializer.Raw{}, t.remoteError(r.failure)
	}
	return r.result, nil
}

// remoteError rebuilds a failure as a registered error type, if any.
func (t *Transport) remoteError(f *RemoteError) error {
	if fn := t.rebuild[errorClass{f.Module, f.Class}]; fn != nil {
		if err := fn(f); err != nil {
			return err
		}
	}
	return f
}

func ctxError(ctx context.Context, msgID string) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &TimeoutError{MsgID: msgID, cause: ctx.Err()}
	}
	return fmt.Errorf("transport: call %s: %w", msgID, ctx.Err())
}

// sendError reports a send failure; a send cut short by the ctx deadline
// is a timeout like any other.
func sendError(ctx context.Context, err error, msgID string) error {
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return ctxError(ctx, msgID)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &TimeoutError{MsgID: msgID, cause: err}
	}
	return err
}

// callResult is the outcome of one call.
type callResult struct {
	result  serializer.Raw
	failure *RemoteError
	err     error
}

// waiter is the rendezvous of one call and its replies. Its fields other
// than the channels are guarded by the transport's mu: replies are routed
// to it under that lock.
type waiter struct {
	done chan callResult // the final outcome; capacity 1, extra ones dropped
	beat chan struct{}   // a heartbeat arrived; capacity 1, coalesced

	partial serializer.Raw // result of a legacy non-ending reply
}

var waiters = sync.Pool{New: func() any {
	return &waiter{done: make(chan callResult, 1), beat: make(chan struct{}, 1)}
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
func (t *Transport) onReply(r driver.Reply) {
	if r.Err != nil {
		t.failWaiters(r.MsgID, r.Err)
		return
	}
	if r.Message == nil {
		return
	}
	rep, err := DecodeReply(r.Message.Body, r.Message.ContentType, t.codec)
	if err != nil {
		t.logger.Warn("transport: dropping reply that does not decode", "error", err)
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	w := t.waiters[rep.MsgID]
	if w == nil {
		t.logger.Debug("transport: no calling threads waiting for msg_id", "msg_id", rep.MsgID)
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
func (t *Transport) failWaiters(msgID string, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if msgID != "" {
		if w := t.waiters[msgID]; w != nil {
			w.finish(callResult{err: err})
		}
		return
	}
	for _, w := range t.waiters {
		w.finish(callResult{err: err})
	}
}

func newUniqueID() string { return ids.Hex() }
