package rabbit

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/oslo-go/messaging/internal/ids"
	"github.com/oslo-go/messaging/internal/probe"
	"github.com/oslo-go/messaging/internal/ratelog"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
	"github.com/oslo-go/messaging/transport/driver"
)

func init() {
	// amqp:// is not registered here: oslo.messaging gives it to its AMQP
	// 1.0 driver (drivers/amqp1), and a URL shared with Python peers must
	// mean the same protocol to both.
	for _, scheme := range []string{"rabbit", "kombu"} {
		transport.Register(scheme, Driver{})
	}
}

const (
	jsonContentType = "application/json"
	defaultExchange = transport.DefaultControlExchange
)

// Driver is the RabbitMQ driver, registered for the URL schemes rabbit://
// and kombu:// (and kombu+<anything>://).
type Driver struct{}

// Open parses the options (driver options, then the URL query) and
// returns without waiting for the broker, as sql.Open does: the publish
// connection is made in the background, and again after every loss;
// operations wait for it within their ctx. Consume connections (the reply
// queue, listeners) are opened when first needed. Ping waits for the
// connection.
func (Driver) Open(_ context.Context, u *driver.URL, cfg driver.Config) (driver.Conn, error) {
	o, err := parseOptions(u.Query, cfg.Options)
	if err != nil {
		return nil, err
	}
	tlsCfg, err := buildTLS(o)
	if err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	onReply := cfg.OnReply
	if onReply == nil {
		onReply = func(driver.Reply) {}
	}
	if o.ssl && o.sslInsecure && o.tlsConfig == nil {
		log.Warn("rabbit: TLS without certificate verification (ssl_insecure_skip_verify): anyone on the network path can pose as the broker and read the credentials")
	}
	c := &conn{
		o:          o,
		log:        log,
		onReply:    onReply,
		hosts:      newFailover(hostsFromURL(u), o.failover, nil),
		vhost:      vhostOf(u),
		tls:        tlsCfg,
		done:       make(chan struct{}),
		replySem:   make(chan struct{}, 1),
		listeners:  map[*listener]struct{}{},
		obsolete:   newObsoleteCache(200, time.Minute),
		replyFlate: newInflater(o),
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.pub = newPublisher(c)
	c.retrier = newReplyRetrier(c)
	c.wg.Add(1)
	go c.pub.run()
	return c, nil
}

// conn is a driver.Conn: a publish connection shared by every sender, one
// consume connection for the reply queue, and one per listener.
type conn struct {
	o       *options
	log     *slog.Logger
	onReply func(driver.Reply)
	hosts   *failover
	vhost   string
	tls     *tls.Config

	// warnings rate-limits the warnings that repeat (per connection
	// attempt, per lost connection, per dropped message).
	warnings ratelog.Limiter

	closed atomic.Bool
	done   chan struct{}   // closed by Close
	ctx    context.Context // canceled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	pub        *publisher
	obsolete   *obsoleteCache
	retrier    *replyRetrier
	replyFlate *inflater // decompresses replies

	replySem   chan struct{} // held while the reply queue is set up
	replyQueue atomic.Pointer[string]

	mu        sync.Mutex
	replySub  *subscription
	listeners map[*listener]struct{}
}

var (
	_ driver.Conn     = (*conn)(nil)
	_ driver.Notifier = (*conn)(nil)
	_ driver.Pinger   = (*conn)(nil)
)

// Ping waits until the publish connection is up, and returns nil then; or
// when ctx ends first, an error that wraps ctx's and the last connection
// error.
func (c *conn) Ping(ctx context.Context) error {
	if c.closed.Load() {
		return driver.ErrClosed
	}
	a := newAttempts(-1)
	if _, err := c.pub.waitSession(ctx, &a); err != nil {
		return fmt.Errorf("rabbit: ping: %w", err)
	}
	return nil
}

func exchangeName(t target.Target) string {
	if t.Exchange == "" {
		return defaultExchange
	}
	return t.Exchange
}

// publishingOf returns the AMQP message for m with kombu's properties:
// content type, utf-8 encoding, persistent, priority 0, and for call
// requests the expiration in milliseconds.
func (c *conn) publishingOf(m *driver.Message, call bool) (amqp.Publishing, error) {
	p := amqp.Publishing{
		ContentType:     jsonContentType,
		ContentEncoding: "utf-8",
		DeliveryMode:    amqp.Persistent,
		Priority:        0,
		Body:            m.Body,
	}
	if m.ContentType != "" && m.ContentType != jsonContentType {
		p.ContentType, p.ContentEncoding = m.ContentType, "binary"
	}
	if call && m.Expiration > 0 {
		p.Expiration = strconv.FormatInt(max(m.Expiration.Milliseconds(), 1), 10)
	}
	if c.o.compression != "" {
		body, kind, err := compress(c.o.compression, m.Body)
		if err != nil {
			return p, err
		}
		p.Body = body
		p.Headers = amqp.Table{compressionHeader: kind}
	}
	return p, nil
}

// parseExpiration reads an AMQP expiration (milliseconds).
func parseExpiration(s string) time.Duration {
	if s == "" {
		return 0
	}
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil || ms <= 0 {
		return 0
	}
	return time.Duration(ms) * time.Millisecond
}

// Send publishes a cast, call request or fanout cast: topic and server
// targets to the topic exchange with routing key <topic> or
// <topic>.<server>, fanout targets to <topic>_fanout with routing key "".
func (c *conn) Send(ctx context.Context, t target.Target, m *driver.Message) error {
	if c.closed.Load() {
		return driver.ErrClosed
	}
	msg, err := c.publishingOf(m, m.MsgID != "")
	if err != nil {
		return err
	}
	pb := publishing{msg: msg, mandatory: m.Mandatory}
	switch {
	case t.Fanout:
		pb.exchange = c.o.fanoutExchange(t.Topic)
	case t.Server != "":
		pb.exchange, pb.key = c.o.topicExchange(exchangeName(t)), t.Topic+"."+t.Server
	default:
		pb.exchange, pb.key = c.o.topicExchange(exchangeName(t)), t.Topic
	}
	if m.MsgID != "" {
		// A call request: its reply proves delivery, so the call waits
		// for the reply at once. A return fails the call through OnReply
		// when the confirm comes; a nack or a lost connection sends it
		// again within m.Retry and ctx's deadline first.
		msgID := m.MsgID
		pb.confirmed = func(err error) { c.onReply(driver.Reply{MsgID: msgID, Err: err}) }
		pb.retry = m.Retry
		pb.until, _ = ctx.Deadline()
		probe.Mark(probe.RequestPublish)
	}
	return c.pub.publish(ctx, m.Retry, &pb)
}

// Notify publishes a notification to the topic exchange with routing key
// t.Topic (<topic>.<priority>), after declaring the default queue of that
// name so that notifications wait for a listener.
func (c *conn) Notify(ctx context.Context, t target.Target, m *driver.Message) error {
	if c.closed.Load() {
		return driver.ErrClosed
	}
	msg, err := c.publishingOf(m, false)
	if err != nil {
		return err
	}
	q := c.o.topicQueue(t.Topic)
	pb := publishing{exchange: c.o.topicExchange(exchangeName(t)), queue: &q, key: t.Topic, mandatory: m.Mandatory, msg: msg}
	return c.pub.publish(ctx, m.Retry, &pb)
}

// ReplyAddress returns the name of this Conn's reply queue
// (reply_<uuid hex>), declaring it and starting its consumer on first
// use.
func (c *conn) ReplyAddress(ctx context.Context) (string, error) {
	if q := c.replyQueue.Load(); q != nil {
		return *q, nil
	}
	select {
	case c.replySem <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	case <-c.done:
		return "", driver.ErrClosed
	}
	defer func() { <-c.replySem }()
	if q := c.replyQueue.Load(); q != nil {
		return *q, nil
	}
	name := "reply_" + ids.Hex()
	q := c.o.transientQueue(name)
	sub := &subscription{
		c:       c,
		purpose: "reply",
		autoAck: true, // acknowledged on receipt
		setup: func(d *declarer) ([]string, error) {
			return []string{name}, d.queue(q)
		},
		// After a loss the subscription declares the queue again under
		// the same name: calls in flight keep waiting (until their own
		// timeout) for replies, which the broker kept in the queue, or
		// which their servers retry until the queue is back.
		deliver: c.deliverReply,
	}
	sub.registered = func() { c.replySub = sub }
	if err := sub.start(ctx); err != nil {
		return "", err
	}
	c.replyQueue.Store(&name)
	return name, nil
}

func (c *conn) deliverReply(d amqp.Delivery) bool {
	probe.Mark(probe.ClientReply)
	body, err := c.replyFlate.inflate(c.ctx, d.Headers, d.Body, c.done)
	if err != nil {
		c.warnings.Warn(c.log, "drop reply", "rabbit: dropping a reply that does not decompress", "size", len(d.Body), "error", err)
		return true
	}
	ct := d.ContentType
	if ct == jsonContentType {
		ct = ""
	}
	c.onReply(driver.Reply{Message: &driver.Message{Body: body, ContentType: ct}})
	return true
}

// register runs fn under the lock unless the Conn is closed.
func (c *conn) register(fn func()) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() {
		return false
	}
	fn()
	return true
}

func (c *conn) removeListener(l *listener) {
	c.mu.Lock()
	delete(c.listeners, l)
	c.mu.Unlock()
}

func (c *conn) startListener(ctx context.Context, l *listener) (driver.Listener, error) {
	if c.closed.Load() {
		return nil, driver.ErrClosed
	}
	l.sub.registered = func() { c.listeners[l] = struct{}{} }
	if err := l.sub.start(ctx); err != nil {
		return nil, err
	}
	l.startInflaters()
	return l, nil
}

// Listen consumes the RPC requests of t on a connection of its own: the
// queues <topic> and <topic>.<server> bound to the topic exchange, and a
// queue <topic>_fanout_<uuid hex> bound to the fanout exchange (deleted on
// Close, and otherwise expiring after rabbit_transient_queues_ttl).
func (c *conn) Listen(ctx context.Context, t target.Target, lo driver.ListenOptions) (driver.Listener, error) {
	prefetch := c.o.prefetchFor(lo.Capacity)
	l := newListener(c, false, prefetch)
	ex := c.o.topicExchange(exchangeName(t))
	topicQ := c.o.topicQueue(t.Topic)
	serverQ := c.o.topicQueue(t.Topic + "." + t.Server)
	fx := c.o.fanoutExchange(t.Topic)
	fanoutQ := c.o.transientQueue(t.Topic + "_fanout_" + ids.Hex())
	l.fanoutQueue = fanoutQ.name
	l.sub = &subscription{
		c:        c,
		purpose:  "listen " + t.Topic,
		prefetch: prefetch,
		setup: func(d *declarer) ([]string, error) {
			if err := d.topology(ex, topicQ, t.Topic); err != nil {
				return nil, err
			}
			if err := d.topology(ex, serverQ, serverQ.name); err != nil {
				return nil, err
			}
			if err := d.topology(fx, fanoutQ, t.Topic); err != nil {
				return nil, err
			}
			return []string{topicQ.name, serverQ.name, fanoutQ.name}, nil
		},
		teardown: func(ch *amqp.Channel) {
			ch.QueueDelete(fanoutQ.name, false, false, true)
		},
	}
	return c.startListener(ctx, l)
}

// ListenNotifications consumes notifications: for each target the queue
// <topic>.<priority> (or the queue named pool, shared by every listener of
// the pool) bound to the topic exchange with routing key
// <topic>.<priority>. Notifications are acknowledged by Incoming.Ack and
// requeued by Incoming.Requeue.
func (c *conn) ListenNotifications(ctx context.Context, targets []target.Target, pool string, lo driver.ListenOptions) (driver.Listener, error) {
	if len(targets) == 0 {
		return nil, fmt.Errorf("rabbit: no notification targets")
	}
	prefetch := c.o.prefetchFor(lo.Capacity)
	l := newListener(c, true, prefetch)
	l.sub = &subscription{
		c:        c,
		purpose:  "notifications",
		prefetch: prefetch,
		setup: func(d *declarer) ([]string, error) {
			var queues []string
			for _, t := range targets {
				name := t.Topic
				if pool != "" {
					name = pool
				}
				if err := d.topology(c.o.topicExchange(exchangeName(t)), c.o.topicQueue(name), t.Topic); err != nil {
					return nil, err
				}
				if !slices.Contains(queues, name) {
					queues = append(queues, name)
				}
			}
			return queues, nil
		},
	}
	queues := map[string]bool{}
	for _, t := range targets {
		if pool != "" {
			queues[pool] = true
		} else {
			queues[t.Topic] = true
		}
	}
	l.setQueues(len(queues))
	return c.startListener(ctx, l)
}

// reply publishes a reply to the default exchange with routing key
// m.ReplyTo, mandatory (direct_mandatory_flag), waiting for the publish
// connection within ctx and until the caller's deadline (ctx's, or without
// one deadline, the request's expiration; zero: unknown). A reply the broker returns because
// the queue does not exist goes to the background retrier, so that the
// worker is free at once; a reply to a queue known to be gone is dropped
// at once (oslo's ObsoleteReplyQueuesCache).
func (c *conn) reply(ctx context.Context, m *driver.Message, deadline time.Time) error {
	probe.Mark(probe.ReplyStart)
	if m.ReplyTo == "" {
		return nil
	}
	if c.closed.Load() {
		return driver.ErrClosed
	}
	if c.obsolete.contains(m.ReplyTo) {
		c.log.Debug("rabbit: dropping reply to a reply queue that is gone", "reply_q", m.ReplyTo, "msg_id", m.MsgID)
		return fmt.Errorf("rabbit: reply queue %s does not exist; reply dropped: %w", m.ReplyTo, driver.ErrUndeliverable)
	}
	if d, ok := ctx.Deadline(); ok {
		deadline = d // the core passes the caller's deadline
	} else if !deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	if !deadline.IsZero() && !time.Now().Before(deadline) {
		return fmt.Errorf("rabbit: reply to %s: the caller's deadline has passed: %w", m.ReplyTo, context.DeadlineExceeded)
	}
	msg, err := c.publishingOf(m, false)
	if err != nil {
		return err
	}
	pb := publishing{key: m.ReplyTo, mandatory: c.o.directMandatory, msg: msg}
	// later hands the reply to the retrier: oslo retries a reply whose
	// queue does not exist (yet, or any more) for
	// kombu_missing_consumer_retry_timeout, but never past the caller's
	// deadline.
	later := func() error {
		until := time.Now().Add(c.o.missingConsumerRetry)
		if !deadline.IsZero() && deadline.Before(until) {
			until = deadline
		}
		rp := pb
		rp.confirmed = nil // the retrier waits for each attempt's confirm
		return c.retrier.add(rp, m.MsgID, until)
	}
	// The worker does not wait for the confirm. A reply the broker returns
	// or refuses when the confirm comes goes to the retrier too (a caller
	// drops a reply it has already had); a heartbeat is not worth it.
	msgID, heartbeat := m.MsgID, m.Heartbeat
	pb.retry, pb.until = -1, deadline
	if deadline.IsZero() {
		pb.until = time.Now().Add(c.o.missingConsumerRetry)
	}
	pb.confirmed = func(err error) {
		if !heartbeat {
			err = later()
		}
		if err != nil && !errors.Is(err, driver.ErrUndeliverable) {
			c.log.Debug("rabbit: reply not confirmed", "reply_q", pb.key, "msg_id", msgID, "error", err)
		}
	}
	probe.Mark(probe.ReplyPublish)
	err = c.pub.publish(ctx, -1, &pb)
	probe.Mark(probe.ServerReplied)
	if !errors.Is(err, driver.ErrUndeliverable) || m.Heartbeat {
		return err
	}
	return later()
}

// Close closes every connection of the Conn and waits for its goroutines.
// Calls in flight are failed by the core (ErrClosed), not here.
func (c *conn) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	close(c.done)
	c.mu.Lock()
	ls := make([]*listener, 0, len(c.listeners))
	for l := range c.listeners {
		ls = append(ls, l)
	}
	reply := c.replySub
	c.mu.Unlock()
	c.cancel()
	for _, l := range ls {
		l.Close()
	}
	if reply != nil {
		reply.close()
	}
	c.pub.close()
	c.wg.Wait()
	return nil
}

// obsoleteCache remembers reply queues that do not exist (oslo's
// ObsoleteReplyQueuesCache: 200 entries for 60 s).
type obsoleteCache struct {
	size int
	ttl  time.Duration

	mu      sync.Mutex
	expires map[string]time.Time
	order   []string
}

func newObsoleteCache(size int, ttl time.Duration) *obsoleteCache {
	return &obsoleteCache{size: size, ttl: ttl, expires: map[string]time.Time{}}
}

func (o *obsoleteCache) contains(q string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.expires) == 0 {
		return false
	}
	exp, ok := o.expires[q]
	if ok && time.Now().After(exp) {
		delete(o.expires, q)
		return false
	}
	return ok
}

func (o *obsoleteCache) add(q string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, ok := o.expires[q]; !ok {
		o.order = append(o.order, q)
	}
	o.expires[q] = time.Now().Add(o.ttl)
	for len(o.expires) > o.size && len(o.order) > 0 {
		oldest := o.order[0]
		o.order = o.order[1:]
		delete(o.expires, oldest)
	}
	if len(o.order) > 2*o.size {
		kept := make([]string, 0, len(o.expires))
		seen := make(map[string]bool, len(o.expires))
		for _, k := range o.order {
			if _, ok := o.expires[k]; ok && !seen[k] {
				seen[k] = true
				kept = append(kept, k)
			}
		}
		o.order = kept
	}
}
