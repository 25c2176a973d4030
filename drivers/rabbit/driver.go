package rabbit

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/oslo-go/messaging/internal/ids"
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

// Open parses the options (driver options, then the URL query), and
// connects the publish connection, trying each listed broker once: an
// unreachable broker or wrong credentials fail Open. Consume connections
// (the reply queue, listeners) are opened when first needed.
func (Driver) Open(ctx context.Context, u *driver.URL, cfg driver.Config) (driver.Conn, error) {
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
	c := &conn{
		o:         o,
		log:       log,
		onReply:   onReply,
		hosts:     newFailover(hostsFromURL(u), o.failover, nil),
		vhost:     vhostOf(u),
		tls:       tlsCfg,
		done:      make(chan struct{}),
		replySem:  make(chan struct{}, 1),
		listeners: map[*listener]struct{}{},
		obsolete:  newObsoleteCache(200, time.Minute),
	}
	c.pub = newPublisher(c)
	if _, err := c.pub.session(ctx); err != nil {
		c.Close()
		return nil, err
	}
	c.opened.Store(true)
	return c, nil
}

// conn is a driver.Conn: a publish connection shared by every sender, one
// consume connection for the reply queue, and one per listener.
type conn struct {
	// opened is set once Open succeeded: before that, a broker that cannot
	// be reached is reported by Open's error alone, not logged too.
	opened atomic.Bool

	o       *options
	log     *slog.Logger
	onReply func(driver.Reply)
	hosts   *failover
	vhost   string
	tls     *tls.Config

	closed atomic.Bool
	done   chan struct{} // closed by Close
	wg     sync.WaitGroup

	pub      *publisher
	obsolete *obsoleteCache

	replySem   chan struct{} // held while the reply queue is set up
	replyQueue atomic.Pointer[string]

	mu        sync.Mutex
	replySub  *subscription
	listeners map[*listener]struct{}
}

var (
	_ driver.Conn     = (*conn)(nil)
	_ driver.Notifier = (*conn)(nil)
)

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
	pb := publishing{msg: msg}
	switch {
	case t.Fanout:
		pb.exchange = c.o.fanoutExchange(t.Topic)
	case t.Server != "":
		pb.exchange, pb.key = c.o.topicExchange(exchangeName(t)), t.Topic+"."+t.Server
	default:
		pb.exchange, pb.key = c.o.topicExchange(exchangeName(t)), t.Topic
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
	pb := publishing{exchange: c.o.topicExchange(exchangeName(t)), queue: &q, key: t.Topic, msg: msg}
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
		deliver: c.deliverReply,
		lost: func(err error) {
			if !c.closed.Load() {
				// Replies of the calls in flight may be lost: fail them now
				// rather than at their timeout.
				c.onReply(driver.Reply{Err: fmt.Errorf("rabbit: reply connection lost (%v): %w", err, driver.ErrConnectionLost)})
			}
		},
	}
	sub.registered = func() { c.replySub = sub }
	if err := sub.start(ctx); err != nil {
		return "", err
	}
	c.replyQueue.Store(&name)
	return name, nil
}

func (c *conn) deliverReply(d amqp.Delivery) bool {
	body, err := decompress(d.Headers, d.Body)
	if err != nil {
		c.log.Warn("rabbit: dropping reply", "error", err)
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
	return l, nil
}

// Listen consumes the RPC requests of t on a connection of its own: the
// queues <topic> and <topic>.<server> bound to the topic exchange, and a
// queue <topic>_fanout_<uuid hex> bound to the fanout exchange (deleted on
// Close, and otherwise expiring after rabbit_transient_queues_ttl).
func (c *conn) Listen(ctx context.Context, t target.Target) (driver.Listener, error) {
	l := newListener(c, false)
	ex := c.o.topicExchange(exchangeName(t))
	topicQ := c.o.topicQueue(t.Topic)
	serverQ := c.o.topicQueue(t.Topic + "." + t.Server)
	fx := c.o.fanoutExchange(t.Topic)
	fanoutQ := c.o.transientQueue(t.Topic + "_fanout_" + ids.Hex())
	l.fanoutQueue = fanoutQ.name
	l.sub = &subscription{
		c:       c,
		purpose: "listen " + t.Topic,
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
func (c *conn) ListenNotifications(ctx context.Context, targets []target.Target, pool string) (driver.Listener, error) {
	if len(targets) == 0 {
		return nil, fmt.Errorf("rabbit: no notification targets")
	}
	l := newListener(c, true)
	l.sub = &subscription{
		c:       c,
		purpose: "notifications",
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
// m.ReplyTo, mandatory (direct_mandatory_flag). A reply the broker returns
// because the queue does not exist is retried every 0.25 s for
// kombu_missing_consumer_retry_timeout, then dropped, and the queue is
// remembered as gone for a minute so that later replies to it are
// dropped at once (oslo's ObsoleteReplyQueuesCache).
func (c *conn) reply(ctx context.Context, m *driver.Message) error {
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
	msg, err := c.publishingOf(m, false)
	if err != nil {
		return err
	}
	pb := publishing{key: m.ReplyTo, mandatory: c.o.directMandatory, msg: msg}
	deadline := time.Now().Add(c.o.missingConsumerRetry)
	for {
		err := c.pub.publish(ctx, -1, &pb)
		if err != errNoRoute {
			return err
		}
		if !time.Now().Before(deadline) {
			c.obsolete.add(m.ReplyTo)
			c.log.Warn("rabbit: reply queue does not exist; abandoning the reply", "reply_q", m.ReplyTo, "msg_id", m.MsgID, "after", c.o.missingConsumerRetry)
			return fmt.Errorf("rabbit: reply queue %s does not exist after %v: %w", m.ReplyTo, c.o.missingConsumerRetry, err)
		}
		c.log.Debug("rabbit: reply queue does not exist; retrying", "reply_q", m.ReplyTo, "msg_id", m.MsgID)
		if serr := c.sleep(ctx, 250*time.Millisecond); serr != nil {
			return fmt.Errorf("rabbit: reply queue %s does not exist: %w (%w)", m.ReplyTo, driver.ErrUndeliverable, serr)
		}
	}
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
