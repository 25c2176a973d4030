package listener

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/oslo-go/messaging/internal/backoff"
	"github.com/oslo-go/messaging/internal/dedup"
	"github.com/oslo-go/messaging/internal/engine"
	"github.com/oslo-go/messaging/internal/wire"
	"github.com/oslo-go/messaging/serializer"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
	"github.com/oslo-go/messaging/transport/driver"
)

// DefaultMaxConcurrency is the default number of notifications (or
// batches) handled at once (oslo's executor_thread_pool_size).
const DefaultMaxConcurrency = 64

// ErrRequeue asks for the notification to be redelivered: an endpoint
// method returns it (or an error wrapping it) to requeue without the error
// being logged. Any other error also requeues, after being logged at
// Error. Either is honoured only with AllowRequeue; otherwise the
// notification is acknowledged anyway, as in oslo.
var ErrRequeue = errors.New("listener: requeue")

// Errors returned by Listener.Start.
var (
	// ErrStarted: the listener was started before.
	ErrStarted = errors.New("listener: already started")
	// ErrClosed: the listener was shut down or closed; a Listener is
	// started once.
	ErrClosed = errors.New("listener: closed")
)

// An Option configures a Listener; see New.
type Option func(*options)

type options struct {
	pool           string
	allowRequeue   bool
	batch          bool
	batchSize      int
	batchTimeout   time.Duration
	maxConcurrency int
	ser            serializer.Serializer
	logger         *slog.Logger
}

// Pool makes the listener share its notifications with the other
// listeners of the same pool name: each pool gets every notification once,
// and so do the listeners without a pool, together (oslo's pool). A
// notifier always also feeds the pool-less queue: some listener must
// consume it, or it grows without bound.
func Pool(name string) Option {
	return func(o *options) { o.pool = name }
}

// AllowRequeue makes a notification whose handling failed go back to the
// broker for redelivery. Without it (the default, as in oslo) a failed
// notification is logged and acknowledged.
func AllowRequeue(allow bool) Option {
	return func(o *options) { o.allowRequeue = allow }
}

// Batch makes the listener hand notifications to endpoints in batches
// (oslo's get_batch_notification_listener): endpoint methods then have the
// type func(ctx context.Context, msgs []listener.Message) error. A batch is
// handed over when size notifications have arrived, or when timeout has
// passed since the first one arrived; timeout <= 0 waits for full batches.
// size < 1 means 1.
//
// Shutdown hands a partial batch to the endpoints; Close leaves it to the
// broker.
//
// The batch is split by priority; each endpoint method of a priority gets
// the messages of that priority its filter matches (it is not called when
// none do). An error from a method requeues every message of its priority
// in the batch (with AllowRequeue) and stops the dispatch of that priority.
func Batch(size int, timeout time.Duration) Option {
	return func(o *options) {
		o.batch, o.batchSize, o.batchTimeout = true, max(size, 1), timeout
	}
}

// MaxConcurrency bounds the notifications (in batch mode: the batches)
// handled at once; n < 1 means 1. The default is 64.
func MaxConcurrency(n int) Option {
	return func(o *options) { o.maxConcurrency = max(n, 1) }
}

// WithSerializer sets the serializer; the default is serializer.NoOp. The
// listener runs DeserializeContext on the received request context (the
// handlers' ctx carries its result) and DeserializeEntity on the payload
// before it is bound to the handler's payload type (not in batch mode).
func WithSerializer(s serializer.Serializer) Option {
	if s == nil {
		s = serializer.NoOp{}
	}
	return func(o *options) { o.ser = s }
}

// WithLogger sets the logger; the default is the transport's. The listener
// logs problems at Warn and Error and details at Debug.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.logger = l }
}

// Listener consumes notifications and dispatches them to endpoints (oslo's
// notification listener).
type Listener struct {
	e      *engine.Engine
	subs   []target.Target // "<topic>.<priority>"
	o      options
	byPrio map[string][]*handler
	dedup  *dedup.Window

	handlerCtx     context.Context
	cancelHandlers context.CancelFunc

	mu       sync.Mutex
	state    state
	nl       *engine.NotificationListener
	stopLoop context.CancelFunc
	loopDone chan struct{}

	sem      chan struct{}
	handlers sync.WaitGroup

	closeOnce sync.Once // closes nl
	stopOnce  sync.Once // ends the loop, starts draining
	drained   chan struct{}
}

type state int

const (
	stateNew state = iota
	stateRunning
	stateStopped
)

// New returns a listener for the notifications sent to targets
// (each needs a Topic; Exchange is optional) dispatched to endpoints (oslo's
// get_notification_listener). It does not start consuming.
//
// An endpoint is a value whose methods named after priorities (Audit,
// Debug, Info, Warn, Error, Critical, Sample, matched case-insensitively
// against the notification's priority) have the type
//
//	func(ctx context.Context, publisherID, eventType string, payload P, md listener.Metadata) error
//
// where P is any type the payload decodes into (serializer.Raw gets it
// undecoded, any gets the generic form), and ctx carries the request
// context (serializer.RequestContextFrom). With Batch the methods have the
// type func(ctx context.Context, msgs []listener.Message) error. Wrap an
// endpoint with Filtered to give it a Filter. Endpoints are validated
// here: a method named after a priority with another type is an error.
//
// The listener consumes only the topics "<topic>.<priority>" of the
// priorities some endpoint handles. For each notification the endpoints
// that handle its priority run in list order; the first that fails stops
// the dispatch and requeues the notification (see AllowRequeue and
// ErrRequeue). The notification is acknowledged once handled. A
// notification with an unknown priority is logged and acknowledged; a
// redelivery of one already acknowledged (same _unique_id, among the last
// 256) is dropped.
func New(tr *transport.Transport, targets []target.Target, endpoints []any, opts ...Option) (*Listener, error) {
	if tr == nil {
		return nil, errors.New("listener: nil transport")
	}
	if len(targets) == 0 {
		return nil, errors.New("listener: no targets")
	}
	for _, t := range targets {
		if err := t.ValidateListener(); err != nil {
			return nil, fmt.Errorf("listener: %w", err)
		}
	}
	if len(endpoints) == 0 {
		return nil, errors.New("listener: no endpoints")
	}
	o := options{maxConcurrency: DefaultMaxConcurrency, ser: serializer.NoOp{}}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if o.logger == nil {
		o.logger = engine.Of(tr).Logger()
	}
	byPrio := map[string][]*handler{}
	for i, ep := range endpoints {
		hs, err := newEndpoint(i, ep, o.batch)
		if err != nil {
			return nil, err
		}
		for p, h := range hs {
			byPrio[p] = append(byPrio[p], h)
		}
	}
	var subs []target.Target
	seen := map[[2]string]bool{}
	for _, t := range targets {
		for _, p := range wire.Priorities {
			if len(byPrio[p]) == 0 {
				continue
			}
			st := target.Target{Exchange: t.Exchange, Topic: t.Topic + "." + p}
			if k := [2]string{st.Exchange, st.Topic}; !seen[k] {
				seen[k] = true
				subs = append(subs, st)
			}
		}
	}
	hctx, cancel := context.WithCancel(context.Background())
	return &Listener{
		e: engine.Of(tr), subs: subs, o: o, byPrio: byPrio, dedup: dedup.New(256),
		handlerCtx: hctx, cancelHandlers: cancel,
		sem:     make(chan struct{}, o.maxConcurrency),
		drained: make(chan struct{}),
	}, nil
}

// Targets returns the targets the listener consumes: "<topic>.<priority>"
// for each target and each priority some endpoint handles.
func (l *Listener) Targets() []target.Target { return append([]target.Target(nil), l.subs...) }

// Start begins consuming and returns once the listener receives
// notifications: one sent after Start returns is delivered, and so are
// those kept by the broker while no listener ran. ctx bounds the start-up
// only. A Listener is started once.
func (l *Listener) Start(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch l.state {
	case stateRunning:
		return ErrStarted
	case stateStopped:
		return ErrClosed
	}
	nl, err := l.e.ListenNotifications(ctx, l.subs, l.o.pool, driver.ListenOptions{Capacity: l.o.maxConcurrency})
	if err != nil {
		return fmt.Errorf("listener: listening on %s: %w", topicsOf(l.subs), err)
	}
	loopCtx, stop := context.WithCancel(context.Background())
	l.nl, l.stopLoop, l.loopDone = nl, stop, make(chan struct{})
	l.state = stateRunning
	if l.o.batch {
		go l.batchLoop(loopCtx)
	} else {
		go l.loop(loopCtx)
	}
	return nil
}

func topicsOf(ts []target.Target) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = t.Topic
	}
	return strings.Join(s, ", ")
}

// Shutdown stops consuming, waits until the notifications in flight are
// handled and acknowledged (or requeued), then releases the subscription:
// notifications received but not yet handed to an endpoint go back to the
// broker. A batch listener first hands its partial batch to the endpoints,
// as oslo's batch listener does when it stops. If ctx ends first, Shutdown returns ctx's error; the handlers go
// on and the subscription is released when they finish (Close cancels
// their ctx and releases it at once). Shutdown is idempotent.
func (l *Listener) Shutdown(ctx context.Context) error {
	if !l.stop() {
		return nil
	}
	select {
	case <-l.drained:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close cancels the ctx of the handlers still running, stops consuming at
// once and releases the subscription: notifications not yet acknowledged
// (including a partial batch) go back to the broker, and handlers that
// return later are not acknowledged. Close is idempotent.
func (l *Listener) Close() error {
	l.cancelHandlers() // first: no handler starts from here on
	l.stop()
	l.closeListener()
	return nil
}

// stop ends the receive loop and starts draining; it reports whether the
// listener had been started. Concurrent callers return once the loop has
// ended.
func (l *Listener) stop() bool {
	l.mu.Lock()
	l.state = stateStopped
	started := l.nl != nil
	l.mu.Unlock()
	if !started {
		return false
	}
	l.stopOnce.Do(func() {
		l.stopLoop()
		<-l.loopDone
		// No handler starts after the loop has ended.
		go func() {
			l.handlers.Wait()
			l.cancelHandlers()
			l.closeListener()
			close(l.drained)
		}()
	})
	return true
}

func (l *Listener) closeListener() {
	l.mu.Lock()
	nl := l.nl
	l.mu.Unlock()
	if nl == nil {
		return
	}
	l.closeOnce.Do(func() {
		if err := nl.Close(); err != nil {
			l.o.logger.Warn("listener: releasing the subscription", "error", err)
		}
	})
}

// next returns the next notification, retrying receive errors with a
// backoff; it returns nil when ctx ends or the listener is closed.
func (l *Listener) next(ctx context.Context, retry *backoff.Backoff) *engine.NotificationDelivery {
	for {
		d, err := l.nl.Next(ctx)
		if err == nil {
			retry.Reset()
			return d
		}
		if ctx.Err() != nil || errors.Is(err, transport.ErrClosed) {
			return nil
		}
		l.o.logger.Error("listener: receiving notifications", "topics", topicsOf(l.subs), "error", err)
		if !backoff.Sleep(ctx, retry.Next(), nil) {
			return nil
		}
	}
}

// receiveRetry is the backoff of the receive loops.
func receiveRetry() *backoff.Backoff { return backoff.Exponential(10*time.Millisecond, time.Second) }

func (l *Listener) loop(ctx context.Context) {
	defer close(l.loopDone)
	retry := receiveRetry()
	for {
		select {
		case l.sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		d := l.next(ctx, retry)
		if d == nil {
			<-l.sem
			return
		}
		l.handlers.Add(1)
		go l.handle(d)
	}
}

func (l *Listener) handle(d *engine.NotificationDelivery) {
	defer l.handlers.Done()
	defer func() { <-l.sem }()
	if l.handlerCtx.Err() != nil || l.duplicate(d) {
		return // closed: the broker gets it back
	}
	requeue := l.dispatch(d)
	l.settle(d, requeue)
}

// duplicate acknowledges and reports a redelivery of a notification that
// was already acknowledged.
func (l *Listener) duplicate(d *engine.NotificationDelivery) bool {
	if d.UniqueID == "" || !l.dedup.Contains(d.UniqueID) {
		return false
	}
	l.o.logger.Debug("listener: dropping duplicate notification", "unique_id", d.UniqueID, "event_type", d.EventType)
	if err := d.Ack(); err != nil {
		l.o.logger.Debug("listener: acknowledging a duplicate notification", "error", err)
	}
	return true
}

// settle acknowledges or requeues a handled notification.
func (l *Listener) settle(d *engine.NotificationDelivery, requeue bool) {
	if l.handlerCtx.Err() != nil {
		// Close released the subscription: the broker has it back.
		l.o.logger.Debug("listener: closed; notification left to the broker", "message_id", d.MessageID)
		return
	}
	if requeue && l.o.allowRequeue {
		if err := d.Requeue(); err != nil {
			l.o.logger.Warn("listener: requeueing notification", "message_id", d.MessageID, "error", err)
		}
		return
	}
	if err := d.Ack(); err != nil {
		l.o.logger.Warn("listener: acknowledging notification", "message_id", d.MessageID, "error", err)
		return
	}
	if d.UniqueID != "" {
		l.dedup.Add(d.UniqueID)
	}
}

// logFailure logs a failed handler; ErrRequeue is not a failure to log.
func (l *Listener) logFailure(h *handler, eventType, messageID string, err error) {
	level := slog.LevelError
	if errors.Is(err, ErrRequeue) || l.handlerCtx.Err() != nil { // asked for, or canceled by Close
		level = slog.LevelDebug
	}
	attrs := []any{"endpoint", h.name, "event_type", eventType, "message_id", messageID, "requeue", l.o.allowRequeue, "error", err}
	var pe *PanicError
	if errors.As(err, &pe) {
		attrs = append(attrs, "stack", string(pe.Stack))
	}
	l.o.logger.Log(context.Background(), level, "listener: notification handler failed", attrs...)
}

// priorityOf returns the lower-case priority of d, logging an unknown one.
func (l *Listener) priorityOf(d *engine.NotificationDelivery) (string, bool) {
	prio := strings.ToLower(d.Priority)
	if !wire.IsPriority(prio) {
		l.o.logger.Warn("listener: unknown priority", "priority", d.Priority, "event_type", d.EventType, "message_id", d.MessageID)
		return "", false
	}
	return prio, true
}

// dispatch runs the endpoints of one notification; it reports whether the
// notification should be requeued.
func (l *Listener) dispatch(d *engine.NotificationDelivery) (requeue bool) {
	prio, ok := l.priorityOf(d)
	if !ok {
		return false
	}
	hs := l.byPrio[prio]
	if len(hs) == 0 {
		return false
	}
	ctx, err := l.requestContext(d)
	if err != nil {
		return true
	}
	md := Metadata{MessageID: d.MessageID, Timestamp: d.Timestamp}
	p := &payloadCache{raw: d.Payload}
	for _, h := range hs {
		if !h.filter.match(d.Context, d.PublisherID, d.EventType, md, p.generic) {
			continue
		}
		arg, err := l.payloadValue(ctx, p, h.payload)
		if err == nil {
			err = h.call([]reflect.Value{reflect.ValueOf(ctx), reflect.ValueOf(d.PublisherID), reflect.ValueOf(d.EventType), arg, reflect.ValueOf(md)})
		}
		if err != nil {
			l.logFailure(h, d.EventType, d.MessageID, err)
			return true
		}
	}
	return false
}

// requestContext returns the handler ctx carrying d's request context.
func (l *Listener) requestContext(d *engine.NotificationDelivery) (context.Context, error) {
	ctx, err := l.o.ser.DeserializeContext(l.handlerCtx, d.Context)
	if err != nil {
		l.o.logger.Error("listener: deserializing request context", "event_type", d.EventType, "message_id", d.MessageID, "error", err)
		return nil, err
	}
	if ctx == nil {
		ctx = l.handlerCtx
	}
	return ctx, nil
}

// payloadCache decodes a payload at most once per form.
type payloadCache struct {
	raw serializer.Raw

	gen     any
	genErr  error
	genDone bool

	ent     any
	entErr  error
	entDone bool
}

// generic returns the payload decoded into generic form (nil when it does
// not decode).
func (p *payloadCache) generic() any {
	if !p.genDone {
		p.genDone = true
		if !p.raw.IsNull() {
			p.genErr = p.raw.Decode(&p.gen)
		}
	}
	return p.gen
}

// entity returns the payload after DeserializeEntity.
func (p *payloadCache) entity(ctx context.Context, ser serializer.Serializer) (any, error) {
	if !p.entDone {
		p.entDone = true
		g := p.generic()
		if p.genErr != nil {
			p.entErr = p.genErr
		} else {
			p.ent, p.entErr = ser.DeserializeEntity(ctx, g)
		}
	}
	return p.ent, p.entErr
}

// payloadValue builds the handler's payload argument of type t.
func (l *Listener) payloadValue(ctx context.Context, p *payloadCache, t reflect.Type) (reflect.Value, error) {
	ptr := reflect.New(t)
	if serializer.IsNoOp(l.o.ser) {
		if t == rawType {
			return reflect.ValueOf(p.raw), nil
		}
		if !p.raw.IsNull() {
			if err := p.raw.Decode(ptr.Interface()); err != nil {
				return reflect.Value{}, fmt.Errorf("listener: decoding payload into %s: %w", t, err)
			}
		}
		return ptr.Elem(), nil
	}
	ent, err := p.entity(ctx, l.o.ser)
	if err != nil {
		return reflect.Value{}, fmt.Errorf("listener: deserializing payload: %w", err)
	}
	if ent == nil {
		if t == rawType {
			return reflect.ValueOf(serializer.Raw{Data: []byte("null")}), nil
		}
		return ptr.Elem(), nil
	}
	if ev := reflect.ValueOf(ent); ev.Type().AssignableTo(t) {
		ptr.Elem().Set(ev)
		return ptr.Elem(), nil
	}
	codec := serializer.CodecOf(p.raw.Codec)
	data, err := codec.Marshal(ent)
	if err != nil {
		return reflect.Value{}, fmt.Errorf("listener: encoding deserialized payload: %w", err)
	}
	raw := serializer.Raw{Data: data, Codec: p.raw.Codec}
	if t == rawType {
		return reflect.ValueOf(raw), nil
	}
	if err := raw.Decode(ptr.Interface()); err != nil {
		return reflect.Value{}, fmt.Errorf("listener: decoding payload into %s: %w", t, err)
	}
	return ptr.Elem(), nil
}

// batchLoop collects batches and hands each to a goroutine.
func (l *Listener) batchLoop(ctx context.Context) {
	defer close(l.loopDone)
	retry := receiveRetry()
	for {
		select {
		case l.sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		batch, stopped := l.collect(ctx, retry)
		if stopped && (len(batch) == 0 || l.handlerCtx.Err() != nil) {
			// After Close, a partial batch stays unacknowledged: closing
			// the subscription gives it back to the broker.
			<-l.sem
			return
		}
		l.handlers.Add(1)
		go l.handleBatch(batch)
		if stopped {
			return // Shutdown: the partial batch was handed over
		}
	}
}

// collect returns a batch that is full or whose timeout passed; stopped is
// true when the loop must end.
func (l *Listener) collect(ctx context.Context, retry *backoff.Backoff) (batch []*engine.NotificationDelivery, stopped bool) {
	var deadline time.Time
	for len(batch) < l.o.batchSize {
		nctx, cancel := ctx, context.CancelFunc(func() {})
		if len(batch) > 0 && l.o.batchTimeout > 0 {
			nctx, cancel = context.WithDeadline(ctx, deadline)
		}
		d := l.next(nctx, retry)
		cancel()
		if d == nil {
			if ctx.Err() != nil || nctx == ctx {
				return batch, true
			}
			if !time.Now().Before(deadline) {
				return batch, false // the batch timeout
			}
			return batch, true // the listener was closed
		}
		if len(batch) == 0 {
			deadline = time.Now().Add(l.o.batchTimeout)
		}
		batch = append(batch, d)
	}
	return batch, false
}

func (l *Listener) handleBatch(batch []*engine.NotificationDelivery) {
	defer l.handlers.Done()
	defer func() { <-l.sem }()
	kept := batch[:0:0]
	for _, d := range batch {
		if !l.duplicate(d) {
			kept = append(kept, d)
		}
	}
	requeue := l.dispatchBatch(kept)
	for _, d := range kept {
		l.settle(d, requeue[d])
	}
}

// dispatchBatch runs the endpoints of a batch, priority by priority (in
// sorted order, as oslo groups them); it returns the notifications to
// requeue.
func (l *Listener) dispatchBatch(batch []*engine.NotificationDelivery) map[*engine.NotificationDelivery]bool {
	groups := map[string][]*engine.NotificationDelivery{}
	for _, d := range batch {
		if prio, ok := l.priorityOf(d); ok {
			groups[prio] = append(groups[prio], d)
		}
	}
	names := make([]string, 0, len(groups))
	for p := range groups {
		names = append(names, p)
	}
	sort.Strings(names)
	requeue := map[*engine.NotificationDelivery]bool{}
	for _, prio := range names {
		group := groups[prio]
		hs := l.byPrio[prio]
		if len(hs) == 0 {
			continue
		}
		msgs := make([]Message, 0, len(group))
		var raws []*engine.NotificationDelivery
		for _, d := range group {
			ctx, err := l.requestContext(d)
			if err != nil {
				requeue[d] = true
				continue
			}
			msgs = append(msgs, Message{
				Context: ctx, PublisherID: d.PublisherID, EventType: d.EventType, Priority: prio,
				Payload: d.Payload, Metadata: Metadata{MessageID: d.MessageID, Timestamp: d.Timestamp},
			})
			raws = append(raws, d)
		}
		for _, h := range hs {
			in := msgs
			if h.filter != nil {
				in = nil
				for i, m := range msgs {
					p := &payloadCache{raw: m.Payload}
					if h.filter.match(raws[i].Context, m.PublisherID, m.EventType, m.Metadata, p.generic) {
						in = append(in, m)
					}
				}
			}
			if len(in) == 0 {
				continue
			}
			if err := h.call([]reflect.Value{reflect.ValueOf(l.handlerCtx), reflect.ValueOf(in)}); err != nil {
				l.logFailure(h, in[0].EventType, in[0].Metadata.MessageID, err)
				for _, d := range group {
					requeue[d] = true
				}
				break
			}
		}
	}
	return requeue
}
