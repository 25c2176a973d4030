package rabbit

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	amqp "github.com/rabbitmq/amqp091-go"

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
	// deliver, when set, is called by a goroutine per consumer with each
	// delivery; it returns false to stop. When nil, the consumers'
	// delivery channels are published in gen for the listener to select
	// on directly (one goroutine hop less per message).
	deliver func(d amqp.Delivery) bool
	// lost is called when the connection was lost (not on close).
	lost func(err error)
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

// start sets the subscription up (within ctx) and keeps it running in the
// background until close.
func (s *subscription) start(ctx context.Context) error {
	s.gen.Store(newPlaceholder())
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.done = make(chan struct{})
	stop := context.AfterFunc(ctx, s.abort)
	sess, err := s.establish(s.ctx)
	if !stop() && err == nil {
		// ctx ended just as the setup succeeded: give up, as if it had
		// ended a moment before.
		s.end(sess)
		err = ctx.Err()
	}
	if err != nil {
		s.cancel()
		close(s.done)
		if ctx.Err() != nil && s.ctx.Err() != nil {
			return fmt.Errorf("rabbit: %s: %w", s.purpose, ctx.Err())
		}
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
	if s.c.o.prefetch > 0 {
		if err := ch.Qos(s.c.o.prefetch, 0, false); err != nil {
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
		s.c.log.Warn("rabbit: consumer connection lost; reconnecting", "purpose", s.purpose, "error", err)
		if s.lost != nil {
			s.lost(err)
		}
		sess = s.reconnect()
		if sess == nil {
			return
		}
		s.c.log.Info("rabbit: consumer reconnected", "purpose", s.purpose)
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
	for n := 0; ; n++ {
		if err := s.c.sleep(s.ctx, s.c.reconnectWait(n)); err != nil {
			return nil
		}
		sess, err := s.establish(s.ctx)
		if err == nil {
			return sess
		}
		if s.ctx.Err() != nil {
			return nil
		}
		s.c.log.Warn("rabbit: reconnecting failed", "purpose", s.purpose, "attempt", n+1, "error", err)
	}
}

// listener is a driver.Listener over a subscription. Next selects on the
// consumers' delivery channels directly when there are at most
// maxDirect of them, and on out (fed by forwarders) otherwise.
type listener struct {
	c             *conn
	sub           *subscription
	notifications bool
	out           chan amqp.Delivery
	closing       chan struct{}
	closeOnce     sync.Once
	fanoutQueue   string // deleted on close, as oslo does
}

const maxDirect = 3

func newListener(c *conn, notifications bool) *listener {
	return &listener{c: c, notifications: notifications, out: make(chan amqp.Delivery), closing: make(chan struct{})}
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
		if in, ok := l.accept(d); ok {
			return in, nil
		}
	}
}

// accept turns a delivery into an Incoming: RPC requests are acknowledged
// first (oslo's ack-before-dispatch); a body that does not decompress is
// rejected without requeue.
func (l *listener) accept(d amqp.Delivery) (*incoming, bool) {
	body, err := decompress(d.Headers, d.Body)
	if err != nil {
		l.c.log.Warn("rabbit: rejecting message", "routing_key", d.RoutingKey, "error", err)
		d.Reject(false)
		return nil, false
	}
	if !l.notifications {
		if err := d.Ack(false); err != nil {
			// The channel is gone: the broker redelivers the message.
			l.c.log.Debug("rabbit: dropping request whose ack failed", "routing_key", d.RoutingKey, "error", err)
			return nil, false
		}
	}
	in := &incoming{l: l, d: d}
	in.msg.Body = body
	in.msg.ContentType = d.ContentType
	if d.ContentType == jsonContentType {
		in.msg.ContentType = ""
	}
	in.msg.Expiration = parseExpiration(d.Expiration)
	in.d.Body = nil
	return in, true
}

func (l *listener) Close() error {
	l.closeOnce.Do(func() {
		close(l.closing)
		l.sub.close()
		l.c.removeListener(l)
	})
	return nil
}

// incoming is one received message.
type incoming struct {
	l       *listener
	d       amqp.Delivery
	msg     driver.Message
	settled atomic.Bool
}

func (in *incoming) Message() *driver.Message { return &in.msg }

func (in *incoming) Reply(ctx context.Context, m *driver.Message) error {
	if in.l.notifications {
		return nil
	}
	return in.l.c.reply(ctx, m)
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
