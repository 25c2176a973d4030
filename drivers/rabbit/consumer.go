package rabbit

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/oslo-go/messaging/internal/probe"
	"github.com/oslo-go/messaging/transport/driver"
)

// A subscription owns one consume connection: it declares its topology,
// consumes its queues, and after the connection, the channel or a
// consumer is lost, reconnects with backoff (over the listed brokers),
// declares everything again and resumes consuming by itself. RPC
// listeners, notification listeners and the reply queue each have one.
type subscription struct {
	c       *conn
	purpose string
	// setup declares the topology on d and returns the queues to consume.
	setup   func(d *declarer) ([]string, error)
	autoAck bool
	// prefetch is the consumer prefetch of each queue (0: none).
	prefetch int
	// deliver, when set, is called by a goroutine per consumer with each
	// delivery; it returns false to stop. When nil, the consumers'
	// delivery channels are published in gen for the listener to select
	// on directly (one goroutine hop less per message).
	deliver func(d amqp.Delivery) bool
	// teardown runs on the live channel when the subscription closes.
	teardown func(ch *amqp.Channel)
	// registered records the subscription in the Conn, under its lock.
	registered func()

	ctx    context.Context // canceled by close
	cancel context.CancelFunc
	done   chan struct{} // closed when run returns

	gen atomic.Pointer[generation] // the delivery channels to select on

	mu           sync.Mutex
	current      *amqp.Connection // being set up or consumed from
	establishing bool             // current is being set up
}

// generation is the set of delivery channels of one consume session.
// stale is closed when the generation is replaced: by a placeholder
// without channels when the session ends, by the next session's
// generation when the placeholder is replaced.
type generation struct {
	chans       []<-chan amqp.Delivery
	stale       chan struct{}
	placeholder bool
}

func newPlaceholder() *generation {
	return &generation{stale: make(chan struct{}), placeholder: true}
}

// consumeSession is one connection's consumers.
type consumeSession struct {
	conn    *amqp.Connection
	ch      *amqp.Channel
	connErr chan *amqp.Error
	chErr   chan *amqp.Error
	cancels chan string   // consumers cancelled by the broker
	ended   chan struct{} // a forwarded consumer's delivery channel closed
	stale   chan struct{} // closed when the session is torn down
	wg      sync.WaitGroup
}

// start sets the subscription up, retrying with backoff within ctx (when
// ctx ends first, the error wraps ctx's and the last failure's), and keeps
// it running in the background until close.
func (s *subscription) start(ctx context.Context) error {
	s.gen.Store(newPlaceholder())
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.done = make(chan struct{})
	stop := context.AfterFunc(ctx, s.abort)
	sess, err := s.establishWithin(ctx)
	if !stop() && err == nil {
		// ctx ended just as the setup succeeded: give up, as if it had
		// ended a moment before.
		s.end(sess)
		err = fmt.Errorf("rabbit: %s: %w", s.purpose, ctx.Err())
	}
	if err != nil {
		s.cancel()
		close(s.done)
		return err
	}
	// Become part of the Conn (which Close stops) unless it is closing.
	if !s.c.register(func() {
		s.c.wg.Add(1)
		if s.registered != nil {
			s.registered()
		}
	}) {
		s.end(sess)
		s.cancel()
		close(s.done)
		return driver.ErrClosed
	}
	go s.run(sess)
	return nil
}

// establishWithin establishes the subscription, retrying connection
// failures until ctx ends (start's abort then cancels s.ctx).
func (s *subscription) establishWithin(ctx context.Context) (*consumeSession, error) {
	var last error
	for n := 0; ; n++ {
		sess, err := s.establish(s.ctx)
		if err == nil {
			return sess, nil
		}
		if s.ctx.Err() == nil {
			if errors.Is(err, driver.ErrClosed) || isSetupRefusal(err) || refused(err) {
				return nil, err
			}
			last = err
			s.c.log.Debug("rabbit: setting up the consumer failed; retrying", "purpose", s.purpose, "attempt", n+1, "error", err)
			err = s.c.pause(s.ctx, s.c.reconnectWait(n), err)
			if err == nil {
				continue
			}
			if errors.Is(err, driver.ErrClosed) {
				return nil, err
			}
		}
		if last != nil {
			return nil, fmt.Errorf("rabbit: %s: %w; last error: %w", s.purpose, ctx.Err(), last)
		}
		return nil, fmt.Errorf("rabbit: %s: %w", s.purpose, ctx.Err())
	}
}

// isSetupRefusal reports a refusal of the broker to declare or consume
// (an inequivalent declaration, access refused) that retrying cannot
// cure; connection failures (dial errors) are not.
func isSetupRefusal(err error) bool {
	var de *dialError
	return !errors.As(err, &de) && finalCode(err)
}

// close stops the subscription and waits until its connection is closed
// and its goroutines have exited. Deliveries not acknowledged are
// requeued by the broker.
func (s *subscription) close() {
	s.abort()
	<-s.done
}

// abort cancels the subscription and interrupts a setup in progress (a
// live session is closed by run, after teardown).
func (s *subscription) abort() {
	s.cancel()
	s.mu.Lock()
	ac := s.current
	if !s.establishing {
		ac = nil
	}
	s.mu.Unlock()
	closeAMQP(ac)
}

func (s *subscription) setCurrent(ac *amqp.Connection, establishing bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx.Err() != nil {
		return false
	}
	s.current, s.establishing = ac, establishing
	return true
}

// establish connects, declares and starts consuming.
func (s *subscription) establish(ctx context.Context) (*consumeSession, error) {
	ac, err := s.c.dial(ctx, s.purpose)
	if err != nil {
		return nil, err
	}
	if !s.setCurrent(ac, true) {
		closeAMQP(ac)
		return nil, ctx.Err()
	}
	sess, err := s.consume(ac)
	if err != nil {
		closeAMQP(ac)
		return nil, err
	}
	if !s.setCurrent(ac, false) {
		s.end(sess)
		return nil, ctx.Err()
	}
	return sess, nil
}

func (s *subscription) consume(ac *amqp.Connection) (*consumeSession, error) {
	d := &declarer{conn: ac, log: s.c.log}
	queues, err := s.setup(d)
	d.close()
	if err != nil {
		return nil, err
	}
	ch, err := ac.Channel()
	if err != nil {
		return nil, fmt.Errorf("rabbit: opening a channel: %w", err)
	}
	if s.prefetch > 0 {
		// Per consumer, as oslo's basic_qos: quorum queues refuse a
		// channel-wide (global) prefetch.
		if err := ch.Qos(s.prefetch, 0, false); err != nil {
			return nil, fmt.Errorf("rabbit: setting prefetch: %w", err)
		}
	}
	sess := &consumeSession{
		conn:    ac,
		ch:      ch,
		connErr: ac.NotifyClose(make(chan *amqp.Error, 1)),
		chErr:   ch.NotifyClose(make(chan *amqp.Error, 1)),
		cancels: ch.NotifyCancel(make(chan string, len(queues))),
		ended:   make(chan struct{}, len(queues)),
		stale:   make(chan struct{}),
	}
	chans := make([]<-chan amqp.Delivery, 0, len(queues))
	for i, q := range queues {
		// Consumer tags "1", "2", ... as oslo's.
		deliveries, err := ch.Consume(q, strconv.Itoa(i+1), s.autoAck, false, false, false, s.c.o.consumerArgs())
		if err != nil {
			closeAMQP(ac)
			close(sess.stale)
			sess.wg.Wait()
			return nil, fmt.Errorf("rabbit: consuming from %s: %w", q, err)
		}
		if s.deliver == nil {
			chans = append(chans, deliveries)
			continue
		}
		sess.wg.Add(1)
		go s.forward(sess, deliveries)
	}
	if s.deliver == nil {
		old := s.gen.Swap(&generation{chans: chans, stale: sess.stale})
		if old.placeholder {
			close(old.stale)
		}
	}
	return sess, nil
}

// forward hands the deliveries of one consumer on until the consumer ends.
func (s *subscription) forward(sess *consumeSession, deliveries <-chan amqp.Delivery) {
	defer sess.wg.Done()
	for d := range deliveries {
		if !s.deliver(d) {
			return
		}
	}
	sess.ended <- struct{}{} // cancelled by the broker, or the channel closed
}

// run watches the session and replaces it when it fails.
func (s *subscription) run(sess *consumeSession) {
	defer s.c.wg.Done()
	defer close(s.done)
	for {
		var err error
		select {
		case <-s.ctx.Done():
			if s.teardown != nil && !sess.ch.IsClosed() {
				s.teardown(sess.ch)
			}
			s.end(sess)
			return
		case e := <-sess.connErr:
			err = errOrClosed(e, "connection closed")
		case e := <-sess.chErr:
			err = errOrClosed(e, "channel closed")
		case tag, ok := <-sess.cancels:
			err = errors.New("channel closed")
			if ok {
				err = fmt.Errorf("consumer %s cancelled by the broker", tag)
			}
		case <-sess.ended:
			err = errors.New("consumer ended")
		}
		s.end(sess)
		if s.ctx.Err() != nil {
			return
		}
		lost := time.Now()
		s.c.warnings.Warn(s.c.log, "consumer lost "+s.purpose, "rabbit: consumer connection lost; reconnecting", "purpose", s.purpose, "error", err)
		sess = s.reconnect()
		if sess == nil {
			return
		}
		s.c.log.Info("rabbit: consumer reconnected", "purpose", s.purpose, "after", time.Since(lost).Round(time.Millisecond))
	}
}

func errOrClosed(e *amqp.Error, what string) error {
	if e != nil {
		return e
	}
	return errors.New(what)
}

// end closes the session's connection and waits for its forwarders.
func (s *subscription) end(sess *consumeSession) {
	if s.deliver == nil {
		s.gen.Store(newPlaceholder())
	}
	close(sess.stale)
	closeAMQP(sess.conn)
	sess.wg.Wait()
	s.mu.Lock()
	if s.current == sess.conn {
		s.current = nil
	}
	s.mu.Unlock()
}

// reconnect sets the subscription up again, with backoff, until it works
// or the subscription closes (then it returns nil).
func (s *subscription) reconnect() *consumeSession {
	var last error
	for n := 0; ; n++ {
		if err := s.c.pause(s.ctx, s.c.reconnectWait(n), last); err != nil {
			return nil
		}
		sess, err := s.establish(s.ctx)
		if err == nil {
			return sess
		}
		if s.ctx.Err() != nil {
			return nil
		}
		last = err
		s.c.warnings.Warn(s.c.log, "reconnect "+s.purpose, "rabbit: reconnecting failed", "purpose", s.purpose, "attempt", n+1, "error", err)
	}
}

// listener is a driver.Listener over a subscription. Next selects on the
// consumers' delivery channels directly when there are at most
// maxDirect of them, and on out (fed by forwarders) otherwise.
// Compressed bodies are decompressed by the listener's inflater
// goroutines, so that a server's workers waiting in Next are not held up
// by them (a compression bomb costs an inflater, not the server's intake).
type listener struct {
	c             *conn
	sub           *subscription
	flate         *inflater
	notifications bool
	out           chan amqp.Delivery
	flateQ        chan queued    // compressed deliveries, for the inflaters
	ready         chan *incoming // decompressed by an inflater, for Next
	flateWG       sync.WaitGroup
	closing       chan struct{}
	closeOnce     sync.Once
	fanoutQueue   string // deleted on close, as oslo does
}

// queued is a compressed delivery and when Next received it.
type queued struct {
	d  amqp.Delivery
	at time.Time
}

const (
	maxDirect = 3
	inflaters = 2 // per listener
)

// newListener returns a listener whose consumers prefetch up to prefetch
// messages each.
func newListener(c *conn, notifications bool, prefetch int) *listener {
	return &listener{
		c: c, flate: newInflater(c.o), notifications: notifications,
		out:   make(chan amqp.Delivery),
		ready: make(chan *incoming),
		// Unacknowledged deliveries are at most the prefetch: queueing
		// never blocks, except without prefetch (then Next inflates).
		flateQ:  make(chan queued, max(prefetch, inflaters)),
		closing: make(chan struct{}),
	}
}

// startInflaters starts the inflater goroutines; Close stops them.
func (l *listener) startInflaters() {
	l.flateWG.Add(inflaters)
	for range inflaters {
		go l.inflater()
	}
}

// setQueues makes the subscription forward the deliveries of its n queues
// to out when there are too many to select on directly.
func (l *listener) setQueues(n int) {
	if n > maxDirect {
		l.sub.deliver = l.deliver
	}
}

func (l *listener) deliver(d amqp.Delivery) bool {
	select {
	case l.out <- d:
		return true
	case <-l.closing:
		return false
	}
}

func (l *listener) Next(ctx context.Context) (driver.Incoming, error) {
	for {
		g := l.sub.gen.Load()
		var a, b, c <-chan amqp.Delivery
		switch len(g.chans) {
		case 3:
			c = g.chans[2]
			fallthrough
		case 2:
			b = g.chans[1]
			fallthrough
		case 1:
			a = g.chans[0]
		}
		var d amqp.Delivery
		ok := true
		select {
		case d, ok = <-a:
		case d, ok = <-b:
		case d, ok = <-c:
		case d = <-l.out:
		case in := <-l.ready:
			if l.take(in) {
				return in, nil
			}
			continue
		case <-g.stale:
			continue
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-l.closing:
			return nil, driver.ErrClosed
		}
		if !ok {
			// The consumer ended: wait for the subscription to replace
			// the session.
			select {
			case <-g.stale:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-l.closing:
				return nil, driver.ErrClosed
			}
		}
		probe.Mark(probe.ServerReceived)
		at := time.Now()
		if _, compressed := d.Headers[compressionHeader]; compressed {
			select {
			case l.flateQ <- queued{d, at}:
				continue
			default: // no prefetch bounds the queue: inflate here
			}
		}
		in, err := l.decode(ctx, d, at)
		if err != nil {
			l.drop(ctx, d, err)
			continue
		}
		if l.take(in) {
			probe.Mark(probe.ServerTaken)
			return in, nil
		}
	}
}

// inflater decompresses the deliveries of flateQ until the listener
// closes.
func (l *listener) inflater() {
	defer l.flateWG.Done()
	ctx := context.Background() // the wait for room in the budget ends with closing
	for {
		select {
		case q := <-l.flateQ:
			in, err := l.decode(ctx, q.d, q.at)
			if err != nil {
				l.drop(ctx, q.d, err)
				continue
			}
			select {
			case l.ready <- in:
			case <-l.closing: // not acknowledged: the broker requeues it
				return
			}
		case <-l.closing:
			return
		}
	}
}

// take acknowledges an RPC request before Next returns it (oslo's
// ack-before-dispatch: a server that crashes loses the requests it was
// running, it does not run them twice). Notifications are acknowledged
// by Incoming.Ack once handled.
func (l *listener) take(in *incoming) bool {
	if l.notifications {
		return true
	}
	if err := in.d.Ack(false); err != nil {
		// The channel is gone: the broker redelivers the message.
		l.c.log.Debug("rabbit: dropping request whose ack failed", "routing_key", in.d.RoutingKey, "error", err)
		return false
	}
	return true
}

// decode turns a delivery received at at into an Incoming, decompressing
// its body.
func (l *listener) decode(ctx context.Context, d amqp.Delivery, at time.Time) (*incoming, error) {
	body, err := l.flate.inflate(ctx, d.Headers, d.Body, l.closing)
	if err != nil {
		return nil, err
	}
	in := &incoming{l: l, d: d}
	in.msg.Body = body
	in.msg.ContentType = d.ContentType
	if d.ContentType == jsonContentType {
		in.msg.ContentType = ""
	}
	in.msg.Expiration = parseExpiration(d.Expiration)
	if in.msg.Expiration > 0 {
		in.deadline = at.Add(in.msg.Expiration)
	}
	in.d.Body = nil
	return in, nil
}

// drop settles a delivery whose body does not decompress (corrupt, over
// max_message_size, or no room in the decompression budget): an RPC
// request is acknowledged, a notification rejected without requeue (kept
// by a dead-letter exchange, if its queue has one); never requeued, so
// never redelivered in a loop. A delivery cut short by the listener
// closing (or ctx ending) is requeued instead: it is not at fault.
func (l *listener) drop(ctx context.Context, d amqp.Delivery, err error) {
	if ctx.Err() != nil || l.isClosing() {
		d.Reject(true)
		return
	}
	if l.notifications {
		d.Reject(false)
	} else {
		d.Ack(false)
	}
	l.c.warnings.Warn(l.c.log, "undecodable", "rabbit: dropping a message that does not decompress",
		"routing_key", d.RoutingKey, "size", len(d.Body), "error", err)
}

func (l *listener) isClosing() bool {
	select {
	case <-l.closing:
		return true
	default:
		return false
	}
}

func (l *listener) Close() error {
	l.closeOnce.Do(func() {
		close(l.closing)
		l.sub.close()
		l.flateWG.Wait()
		l.c.removeListener(l)
	})
	return nil
}

// incoming is one received message.
type incoming struct {
	l        *listener
	d        amqp.Delivery
	msg      driver.Message
	deadline time.Time // the caller's, from the expiration; zero when unknown
	settled  atomic.Bool
}

func (in *incoming) Message() *driver.Message { return &in.msg }

func (in *incoming) Reply(ctx context.Context, m *driver.Message) error {
	if in.l.notifications {
		return nil
	}
	return in.l.c.reply(ctx, m, in.deadline)
}

func (in *incoming) Ack() error {
	if !in.l.notifications || in.settled.Swap(true) {
		return nil
	}
	if err := in.d.Ack(false); err != nil {
		return fmt.Errorf("rabbit: acknowledging notification: %w", err)
	}
	return nil
}

func (in *incoming) Requeue() error {
	if !in.l.notifications || in.settled.Swap(true) {
		return nil
	}
	if err := in.d.Reject(true); err != nil {
		return fmt.Errorf("rabbit: requeueing notification: %w", err)
	}
	return nil
}
