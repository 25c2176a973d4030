// Package server runs RPC endpoints: the Go form of oslo.messaging's RPC
// server (get_rpc_server) with its dispatcher and executor.
//
//	srv, err := server.New(tr, target.Target{Topic: "guestagent.ID", Server: "ID"},
//		[]any{&GuestManager{}}, server.DispatchOptions(dispatcher.Ping(true)))
//	if err := srv.Start(ctx); err != nil { ... }   // consuming when it returns
//	<-ctx.Done()
//	srv.Shutdown(shutdownCtx)                      // finish the calls in flight
//
// Endpoints follow package dispatcher's rules. Each request runs in its
// own goroutine, at most MaxConcurrency (64) at a time; requests are taken
// from the broker only as workers free up. As in oslo, a request is
// acknowledged when it is taken (at-most-once): a server that crashes loses
// the requests it was running.
//
// A call gets a reply: the handler's result, or its error as an oslo
// failure (see transport.FailureOf). While the handler of a monitored call
// runs, the server sends a heartbeat every CallMonitorTimeout/2. A handler's
// ctx carries the caller's request context (serializer.RequestContextFrom),
// the caller's deadline when the request has one, and is canceled by Close.
// Repeated deliveries of one message (same _unique_id) are handled once.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oslo-go/messaging/dispatcher"
	"github.com/oslo-go/messaging/internal/backoff"
	"github.com/oslo-go/messaging/internal/dedup"
	"github.com/oslo-go/messaging/internal/engine"
	"github.com/oslo-go/messaging/internal/lazyctx"
	"github.com/oslo-go/messaging/internal/ratelog"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
	"github.com/oslo-go/messaging/transport/driver"
)

// DefaultMaxConcurrency is the default number of requests handled at once
// (oslo's executor_thread_pool_size).
const DefaultMaxConcurrency = 64

// Errors returned by Start.
var (
	ErrServerStarted = errors.New("server: already started")
	ErrServerClosed  = errors.New("server: closed")
)

// An Option configures a Server.
type Option func(*options)

type options struct {
	maxConcurrency int
	logger         *slog.Logger
	dispatch       []dispatcher.Option
}

// MaxConcurrency bounds the requests handled at once; n < 1 means 1.
func MaxConcurrency(n int) Option { return func(o *options) { o.maxConcurrency = max(n, 1) } }

// DispatchOptions configures the server's dispatcher: the serializer of
// arguments, results and the request context (dispatcher.WithSerializer),
// oslo's ping endpoint (dispatcher.Ping, oslo's rpc_ping_enabled) and
// middleware around every dispatch (dispatcher.WithMiddleware). Several
// DispatchOptions add up in order.
//
//	server.New(tr, tg, endpoints, server.DispatchOptions(
//		dispatcher.WithSerializer(objects.NewSerializer(reg)), dispatcher.Ping(true)))
func DispatchOptions(opts ...dispatcher.Option) Option {
	return func(o *options) { o.dispatch = append(o.dispatch, opts...) }
}

// WithLogger sets the logger; the default is the transport's. Handler
// failures are logged at Error (expected errors at Debug), dropped
// messages at Warn.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// Server consumes the requests of one target and dispatches them to
// endpoints.
type Server struct {
	e        *engine.Engine
	target   target.Target
	resolved target.Target // target with the exchange, for middleware
	disp     *dispatcher.Dispatcher
	o        options
	dedup    *dedup.Window

	// handlerCtx is the parent of handler contexts; Close cancels it.
	handlerCtx    context.Context
	cancelHandler context.CancelFunc
	// replyCtx is the parent of reply sends; Close, and Shutdown when its
	// ctx ends, cancel it.
	replyCtx      context.Context
	cancelReplies context.CancelFunc

	inFlight atomic.Int64 // requests being handled or replied to
	dropped  atomic.Int64 // replies not sent: canceled, or undeliverable
	warnings ratelog.Limiter

	mu       sync.Mutex
	state    state
	listener *engine.Listener
	stopLoop context.CancelFunc

	// Workers wait in the listener's Next and handle what they receive
	// (leader/follower): no hand-off between a receiving goroutine and a
	// handling one. A worker that takes a message while no other waits in
	// Next starts another, up to maxConcurrency.
	workers  sync.WaitGroup
	wmu      sync.Mutex
	nworkers int          // guarded by wmu
	waiting  atomic.Int32 // workers waiting in Next
	// stopping is set by stop; then the worker that leaves Next last
	// signals idle, which waitReceivers waits on.
	stopping atomic.Bool
	idleMu   sync.Mutex
	idle     *sync.Cond // on idleMu
}

type state int

const (
	stateNew state = iota
	stateRunning
	stateStopped
)

// New returns a server for t (which needs Topic and Server) dispatching to
// endpoints (see dispatcher.New). It does not start consuming.
func New(tr *transport.Transport, t target.Target, endpoints []any, opts ...Option) (*Server, error) {
	if tr == nil {
		return nil, errors.New("server: nil transport")
	}
	if err := t.ValidateServer(); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	o := options{maxConcurrency: DefaultMaxConcurrency}
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		o.logger = engine.Of(tr).Logger()
	}
	disp, err := dispatcher.New(endpoints, o.dispatch...)
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	hctx, cancel := context.WithCancel(context.Background())
	rctx, cancelReplies := context.WithCancel(context.Background())
	srv := &Server{
		e: engine.Of(tr), target: t, resolved: engine.Of(tr).ResolveTarget(t), disp: disp, o: o, dedup: dedup.New(256),
		handlerCtx: hctx, cancelHandler: cancel,
		replyCtx: rctx, cancelReplies: cancelReplies,
	}
	srv.idle = sync.NewCond(&srv.idleMu)
	return srv, nil
}

// InFlight returns how many requests the server is handling or replying
// to now.
func (s *Server) InFlight() int { return int(s.inFlight.Load()) }

// RepliesDropped returns how many replies the server could not send
// (undeliverable, given up at Shutdown, abandoned at Close) since it
// started.
func (s *Server) RepliesDropped() int64 { return s.dropped.Load() }

// Target returns the server's target.
func (s *Server) Target() target.Target { return s.target }

// Start begins consuming and returns once the server receives messages: a
// call made after Start returns is served. ctx bounds the start-up only.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.state {
	case stateRunning:
		return ErrServerStarted
	case stateStopped:
		return ErrServerClosed
	}
	l, err := s.e.Listen(ctx, s.target, driver.ListenOptions{Capacity: s.o.maxConcurrency})
	if err != nil {
		return fmt.Errorf("server: listening on %s: %w", s.target, err)
	}
	loopCtx, stop := context.WithCancel(context.Background())
	s.listener, s.stopLoop = l, stop
	s.state = stateRunning
	s.spawn(loopCtx)
	return nil
}

// Shutdown stops consuming and waits until the requests in flight are
// handled and replied to, or ctx ends. A reply that cannot be sent (the
// broker is down) is retried until its caller's deadline or until ctx
// ends, whichever is first. When ctx ends first, Shutdown gives up the
// replies still being sent and returns an error that wraps ctx's and says
// how many requests were still in flight; their handlers go on (Close
// cancels them). Shutdown is idempotent.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stop()
	done := make(chan struct{})
	go func() {
		s.workers.Wait()
		close(done)
	}()
	select {
	case <-done:
		if n := s.dropped.Load(); n > 0 {
			s.o.logger.Warn("server: shut down; replies were dropped", "target", s.target.String(), "dropped", n)
		}
		return nil
	case <-ctx.Done():
		n := s.inFlight.Load() // before giving up their replies ends them
		s.cancelReplies()
		s.o.logger.Warn("server: shutdown ended before the requests in flight", "target", s.target.String(),
			"in_flight", n, "dropped", s.dropped.Load(), "error", ctx.Err())
		return fmt.Errorf("server: shutdown of %s: %d requests still in flight, their replies dropped: %w", s.target, n, ctx.Err())
	}
}

// Close stops consuming at once and cancels the contexts of the handlers
// still running; their replies are abandoned (not sent: their callers time
// out, as when a server dies). Close is idempotent.
func (s *Server) Close() error {
	s.stop()
	s.cancelHandler()
	s.cancelReplies()
	return nil
}

// stop makes the workers stop receiving (they finish the requests they
// are handling) and closes the listener once none waits in Next any more.
func (s *Server) stop() {
	s.mu.Lock()
	prev := s.state
	s.state = stateStopped
	s.mu.Unlock()
	if prev != stateRunning {
		return
	}
	s.stopLoop()
	s.waitReceivers()
	if err := s.listener.Close(); err != nil {
		s.o.logger.Warn("server: closing listener", "target", s.target.String(), "error", err)
	}
}

// spawn starts a worker unless maxConcurrency are running or the server
// stops.
func (s *Server) spawn(ctx context.Context) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.nworkers >= s.o.maxConcurrency || ctx.Err() != nil {
		return
	}
	s.nworkers++
	s.workers.Add(1)
	go s.worker(ctx)
}

// worker receives and handles requests until ctx ends (Shutdown, Close).
func (s *Server) worker(ctx context.Context) {
	defer func() {
		s.wmu.Lock()
		s.nworkers--
		s.wmu.Unlock()
		s.workers.Done()
	}()
	retry := backoff.Exponential(10*time.Millisecond, time.Second)
	for {
		s.waiting.Add(1)
		d, err := s.listener.Next(ctx)
		if s.waiting.Add(-1) == 0 {
			if err == nil {
				s.spawn(ctx) // someone must wait for the next request
			}
			if s.stopping.Load() {
				s.idleMu.Lock()
				s.idle.Broadcast()
				s.idleMu.Unlock()
			}
		}
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, transport.ErrClosed) {
				return
			}
			s.o.logger.Error("server: receiving", "target", s.target.String(), "error", err)
			if !backoff.Sleep(ctx, retry.Next(), nil) {
				return
			}
			continue
		}
		retry.Reset()
		s.handle(d)
		if s.waiting.Load() >= spareWorkers {
			return // enough others wait for requests: the pool shrinks
		}
	}
}

// spareWorkers is how many idle workers waiting in Next make a worker that
// finishes a request exit rather than wait too. The pool thus follows the
// load: it grows (up to MaxConcurrency) while handlers block, and shrinks
// when they are quick, where extra workers only contend. Eight rather than
// fewer: under a steady load the number waiting swings, and every worker
// that exits is replaced by a new goroutine whose stack grows again on its
// first request (with 2, stack growth and goroutine starts cost about 10%
// of the CPU of 64 concurrent NATS calls; an idle worker costs one parked
// goroutine).
const spareWorkers = 8

// waitReceivers waits until no worker waits in Next (all have seen the
// stop), so that the listener closes with nothing taken but not handled.
func (s *Server) waitReceivers() {
	s.stopping.Store(true)
	s.idleMu.Lock()
	defer s.idleMu.Unlock()
	for s.waiting.Load() > 0 {
		s.idle.Wait()
	}
}

func (s *Server) handle(d *engine.Delivery) {
	if d.UniqueID != "" && s.dedup.Seen(d.UniqueID) {
		s.o.logger.Debug("server: dropping duplicate message", "unique_id", d.UniqueID, "method", d.Method)
		return
	}
	s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	ctx := s.handlerCtx
	// The handler's ctx and the reply's end at the caller's deadline; they
	// are allocated with the dispatcher's request. A request without one
	// (a cast) allocates the dispatcher's request alone.
	var (
		lazy *handling
		req  *dispatcher.Request
	)
	if !d.Deadline.IsZero() {
		lazy = new(handling)
		lazy.handler.Init(ctx, d.Deadline)
		defer lazy.handler.Release()
		ctx, req = &lazy.handler, &lazy.req
	} else {
		req = new(dispatcher.Request)
	}
	result, err := s.dispatch(ctx, d, req)
	if !d.Deadline.IsZero() && time.Now().After(d.Deadline) {
		// The caller stopped waiting (its deadline is no later than
		// d.Deadline); its own timeout reports the failure, and a reply
		// would only be dropped on arrival.
		if err != nil && errors.Is(err, context.DeadlineExceeded) {
			s.o.logger.Warn("server: handler ran past the caller's deadline", "method", d.Method, "msg_id", d.MsgID, "error", err)
			return
		}
		if d.IsCall() {
			s.o.logger.Debug("server: the caller's deadline has passed; reply not sent", "method", d.Method, "msg_id", d.MsgID)
			return
		}
	}
	if err != nil {
		s.logFailure(d, err)
	}
	if !d.IsCall() {
		return
	}
	if s.handlerCtx.Err() != nil {
		// Close canceled the handler: its reply is abandoned, on every
		// driver alike.
		s.dropped.Add(1)
		s.o.logger.Debug("server: closed; reply abandoned", "method", d.Method, "msg_id", d.MsgID)
		return
	}
	// A reply is worth sending until its caller stops waiting; Close, and
	// Shutdown when its ctx ends, cancel it.
	rctx := s.replyCtx
	if lazy != nil {
		lazy.reply.Init(rctx, d.Deadline)
		defer lazy.reply.Release()
		rctx = &lazy.reply
	}
	if rerr := d.Reply(rctx, result, err); rerr != nil {
		s.dropped.Add(1)
		s.warnings.Warn(s.o.logger, "reply", "server: sending reply", "method", d.Method, "msg_id", d.MsgID, "error", rerr)
	}
}

// handling is what the server allocates for one request: the dispatcher's
// request, and the lazy contexts of the handler and the reply when the
// request has a deadline.
type handling struct {
	req            dispatcher.Request
	handler, reply lazyctx.Ctx
}

// dispatch runs the handler, with heartbeats for monitored calls; req is
// where the dispatcher's request is built.
func (s *Server) dispatch(ctx context.Context, d *engine.Delivery, req *dispatcher.Request) (any, error) {
	if d.IsCall() && d.MonitorTimeout > 0 {
		stop := s.heartbeat(d)
		defer stop()
	}
	*req = dispatcher.Request{
		Method: d.Method, Namespace: d.Namespace, Version: d.Version, Args: d.Args, Context: d.Context,
		Target: s.resolved, Call: d.IsCall(),
	}
	return s.disp.Dispatch(ctx, req)
}

// minHeartbeat keeps a tiny monitor timeout from flooding the broker.
const minHeartbeat = 10 * time.Millisecond

// heartbeat sends call-monitor heartbeats every MonitorTimeout/2 until the
// returned function is called; that function waits for the sender to stop.
func (s *Server) heartbeat(d *engine.Delivery) (stop func()) {
	interval := max(d.MonitorTimeout/2, minHeartbeat)
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				ctx, cancel := context.WithTimeout(s.handlerCtx, interval)
				err := d.Heartbeat(ctx)
				cancel()
				if err != nil {
					s.o.logger.Debug("server: sending heartbeat", "msg_id", d.MsgID, "error", err)
				}
			case <-done:
				return
			}
		}
	}()
	return func() {
		close(done)
		<-exited
	}
}

func (s *Server) logFailure(d *engine.Delivery, err error) {
	level := slog.LevelError
	var nsm *dispatcher.NoSuchMethodError
	if dispatcher.IsExpected(err) || (errors.As(err, &nsm) && strings.HasSuffix(d.Method, "_ignore_errors")) {
		level = slog.LevelDebug
	}
	s.o.logger.Log(context.Background(), level, "server: handler failed",
		"method", d.Method, "namespace", d.Namespace, "version", d.Version, "call", d.IsCall(), "error", err)
}
