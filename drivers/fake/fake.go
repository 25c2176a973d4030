// Package fake is an in-memory driver for the URL scheme fake://, for tests
// and single-process programs. Import it for its side effect:
//
//	import _ "github.com/oslo-go/messaging/drivers/fake"
//
//	tr, err := transport.Open(ctx, "fake:///"+t.Name())
//
// Transports opened with the same virtual host in one process share one
// in-memory broker; different virtual hosts are isolated, which keeps
// parallel tests apart. The broker behaves like RabbitMQ with oslo's
// topology: a topic queue shared by the servers of a topic (each message
// goes to one of them, round-robin), a queue per server, a copy of each
// fanout message per server, queues that keep messages until a consumer
// comes, call requests that expire with their timeout, notification queues
// per topic.priority with pools, acknowledgement and requeue. Messages
// handed to a server that closes before taking them are requeued.
//
// Like a broker with a prefetch, the broker hands a listener only as many
// messages as its buffer holds (inbox.ForCapacity of the listener's
// capacity: as many messages as the server's MaxConcurrency, at least 16,
// and 16 MiB); the rest wait in the broker's queue, where a free listener
// of the same topic takes them. The broker's queues themselves are
// unbounded, as a broker's queues are by default: they hold what was sent
// while no listener takes it (the backlog of a test), in the memory of the
// process.
//
// The driver accepts no URL query parameters and no options.
package fake

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oslo-go/messaging/drivers/internal/inbox"
	"github.com/oslo-go/messaging/internal/ids"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
	"github.com/oslo-go/messaging/transport/driver"
)

func init() { transport.Register("fake", Driver{}) }

// Driver is the fake driver. It is registered as "fake".
type Driver struct{}

// Open returns a connection to the in-memory broker of u's virtual host.
func (Driver) Open(_ context.Context, u *driver.URL, cfg driver.Config) (driver.Conn, error) {
	if len(u.Query) > 0 {
		keys := make([]string, 0, len(u.Query))
		for k := range u.Query {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return nil, fmt.Errorf("fake: unknown URL query parameter(s) %s: the fake driver takes none", strings.Join(keys, ", "))
	}
	if len(cfg.Options) > 0 {
		return nil, fmt.Errorf("fake: unknown driver option %T", cfg.Options[0])
	}
	c := &conn{b: brokerFor(u.VirtualHost), cfg: cfg, replyAddr: "reply_" + ids.Hex(), listeners: map[*listener]struct{}{}}
	c.b.mu.Lock()
	c.b.replies[c.replyAddr] = c
	c.b.mu.Unlock()
	return c, nil
}

var (
	brokersMu sync.Mutex
	brokers   = map[string]*broker{}
)

func brokerFor(vhost string) *broker {
	brokersMu.Lock()
	defer brokersMu.Unlock()
	b := brokers[vhost]
	if b == nil {
		b = &broker{queues: map[queueKey]*queue{}, fanout: map[string]map[*listener]struct{}{}, replies: map[string]*conn{}}
		brokers[vhost] = b
	}
	return b
}

// Reset discards every queued message and subscription of the broker of
// virtual host vhost, as oslo's fake driver cleanup does. Open connections
// keep working on a fresh broker only after they are reopened.
func Reset(vhost string) {
	brokersMu.Lock()
	defer brokersMu.Unlock()
	delete(brokers, vhost)
}

type queueKind int

const (
	topicQueue queueKind = iota
	serverQueue
	notifyQueue
)

type queueKey struct {
	kind                 queueKind
	exchange, topic, sub string // sub: server name or notification pool
}

type broker struct {
	mu      sync.Mutex
	queues  map[queueKey]*queue
	fanout  map[string]map[*listener]struct{} // topic -> listeners
	replies map[string]*conn                  // reply address -> conn
}

// queue holds messages until a consumer takes them, and hands them to its
// consumers in turn.
type queue struct {
	backlog   []item
	consumers []*listener
	next      int
}

type item struct {
	msg     *driver.Message
	expires time.Time // zero: never
	src     *queue    // where a requeue puts it back; nil for fanout copies
}

// deliver hands it to the next consumer, in turn, that has room for it;
// when none has, it waits in the backlog until one takes it (refill).
func (q *queue) deliver(it item) {
	if len(q.backlog) == 0 {
		for range q.consumers {
			l := q.consumers[q.next%len(q.consumers)]
			q.next++
			if ok, _ := l.inbox.Offer(it); ok {
				return
			}
		}
	}
	q.backlog = append(q.backlog, it)
}

// refill hands l what its room allows from q's backlog.
func (q *queue) refill(l *listener) {
	n := 0
	for n < len(q.backlog) {
		if ok, _ := l.inbox.Offer(q.backlog[n]); !ok {
			break
		}
		n++
	}
	if n > 0 {
		clear(q.backlog[:n])
		q.backlog = q.backlog[n:]
		if len(q.backlog) == 0 {
			q.backlog = nil
		}
	}
}

func (b *broker) queue(k queueKey) *queue {
	q := b.queues[k]
	if q == nil {
		q = &queue{}
		b.queues[k] = q
	}
	return q
}

func (b *broker) subscribe(q *queue, l *listener) {
	q.consumers = append(q.consumers, l)
	q.refill(l)
}

func (b *broker) unsubscribe(q *queue, l *listener) {
	for i, c := range q.consumers {
		if c == l {
			q.consumers = append(q.consumers[:i], q.consumers[i+1:]...)
			return
		}
	}
}

type conn struct {
	b         *broker
	cfg       driver.Config
	replyAddr string
	closed    atomic.Bool

	mu        sync.Mutex
	listeners map[*listener]struct{}
}

func (c *conn) Send(_ context.Context, t target.Target, m *driver.Message) error {
	it := item{msg: m}
	if m.Expiration > 0 {
		it.expires = time.Now().Add(m.Expiration)
	}
	b := c.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if c.closed.Load() {
		return driver.ErrClosed
	}
	switch {
	case t.Fanout:
		for l := range b.fanout[t.Topic] {
			l.fanout.deliver(it)
		}
	case t.Server != "":
		q := b.queue(queueKey{kind: serverQueue, exchange: t.Exchange, topic: t.Topic, sub: t.Server})
		it.src = q
		q.deliver(it)
	default:
		q := b.queue(queueKey{kind: topicQueue, exchange: t.Exchange, topic: t.Topic})
		it.src = q
		q.deliver(it)
	}
	return nil
}

func (c *conn) ReplyAddress(context.Context) (string, error) {
	if c.closed.Load() {
		return "", driver.ErrClosed
	}
	return c.replyAddr, nil
}

func (c *conn) Listen(_ context.Context, t target.Target, o driver.ListenOptions) (driver.Listener, error) {
	l := c.newListener(false, o)
	b := c.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if c.closed.Load() {
		return nil, driver.ErrClosed
	}
	for _, k := range []queueKey{
		{kind: topicQueue, exchange: t.Exchange, topic: t.Topic},
		{kind: serverQueue, exchange: t.Exchange, topic: t.Topic, sub: t.Server},
	} {
		q := b.queue(k)
		l.queues = append(l.queues, q)
		b.subscribe(q, l)
	}
	if b.fanout[t.Topic] == nil {
		b.fanout[t.Topic] = map[*listener]struct{}{}
	}
	b.fanout[t.Topic][l] = struct{}{}
	l.fanoutTopic = t.Topic
	l.fanout.consumers = []*listener{l}
	return l, nil
}

// Notify publishes to the default queue of t.Topic and to every pool queue
// that exists for it, like a RabbitMQ topic exchange with one queue per pool.
func (c *conn) Notify(_ context.Context, t target.Target, m *driver.Message) error {
	b := c.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if c.closed.Load() {
		return driver.ErrClosed
	}
	b.queue(queueKey{kind: notifyQueue, exchange: t.Exchange, topic: t.Topic}) // the publisher declares the default queue
	for k, q := range b.queues {
		if k.kind == notifyQueue && k.exchange == t.Exchange && k.topic == t.Topic {
			q.deliver(item{msg: m, src: q})
		}
	}
	return nil
}

func (c *conn) ListenNotifications(_ context.Context, targets []target.Target, pool string, o driver.ListenOptions) (driver.Listener, error) {
	l := c.newListener(true, o)
	b := c.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if c.closed.Load() {
		return nil, driver.ErrClosed
	}
	for _, t := range targets {
		q := b.queue(queueKey{kind: notifyQueue, exchange: t.Exchange, topic: t.Topic, sub: pool})
		l.queues = append(l.queues, q)
		b.subscribe(q, l)
	}
	return l, nil
}

func (c *conn) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	c.mu.Lock()
	ls := make([]*listener, 0, len(c.listeners))
	for l := range c.listeners {
		ls = append(ls, l)
	}
	c.mu.Unlock()
	for _, l := range ls {
		l.Close()
	}
	c.b.mu.Lock()
	delete(c.b.replies, c.replyAddr)
	c.b.mu.Unlock()
	return nil
}

func (c *conn) newListener(notifications bool, o driver.ListenOptions) *listener {
	l := &listener{c: c, notifications: notifications, unacked: map[*incoming]struct{}{}}
	l.inbox = inbox.New(inbox.Config[item]{
		Limits: inbox.ForCapacity(o.Capacity, 0, 0),
		Size:   func(it item) int { return len(it.msg.Body) },
		OnRoom: l.refill,
	})
	c.mu.Lock()
	c.listeners[l] = struct{}{}
	c.mu.Unlock()
	return l
}

// reply hands a reply to the conn that owns the address.
func (b *broker) reply(m *driver.Message) error {
	b.mu.Lock()
	c := b.replies[m.ReplyTo]
	b.mu.Unlock()
	if c == nil {
		return fmt.Errorf("fake: reply queue %q: %w", m.ReplyTo, driver.ErrUndeliverable)
	}
	c.cfg.OnReply(driver.Reply{Message: m})
	return nil
}

type listener struct {
	c             *conn
	notifications bool
	queues        []*queue // guarded by the broker's lock
	fanoutTopic   string   // guarded by the broker's lock
	fanout        queue    // this listener's copies of fanout messages; guarded by the broker's lock

	inbox *inbox.Queue[item]

	mu      sync.Mutex
	unacked map[*incoming]struct{}
	closed  bool
}

// refill hands l, which has room again, what waits in its queues.
func (l *listener) refill() {
	b := l.c.b
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, q := range l.queues {
		q.refill(l)
	}
	l.fanout.refill(l)
}

func (l *listener) Next(ctx context.Context) (driver.Incoming, error) {
	it, err := l.inbox.Next(ctx, unexpired)
	if err != nil {
		return nil, err
	}
	in := &incoming{l: l, it: it}
	if !l.notifications {
		return in, nil
	}
	l.mu.Lock()
	if l.closed {
		// Close ran after the item left the inbox: it was not among what
		// Close handed back, so hand it back here.
		l.mu.Unlock()
		if it.src != nil {
			b := l.c.b
			b.mu.Lock()
			it.src.deliver(it)
			b.mu.Unlock()
		}
		return nil, driver.ErrClosed
	}
	l.unacked[in] = struct{}{}
	l.mu.Unlock()
	return in, nil
}

// unexpired drops requests whose expiration passed in the queue, as an
// AMQP broker does.
func unexpired(it item) bool { return it.expires.IsZero() || time.Now().Before(it.expires) }

func (l *listener) Close() error {
	b := l.c.b
	b.mu.Lock()
	defer b.mu.Unlock()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	pending := l.inbox.Close()
	for in := range l.unacked {
		pending = append(pending, in.it)
	}
	l.unacked = nil
	l.mu.Unlock()

	for _, q := range l.queues {
		b.unsubscribe(q, l)
	}
	if l.fanoutTopic != "" {
		delete(b.fanout[l.fanoutTopic], l)
	}
	l.fanout = queue{} // its copies go with it, as an auto-delete queue's
	for _, it := range pending {
		if it.src != nil {
			it.src.deliver(it)
		}
	}
	l.c.mu.Lock()
	delete(l.c.listeners, l)
	l.c.mu.Unlock()
	return nil
}

type incoming struct {
	l  *listener
	it item
}

func (in *incoming) Message() *driver.Message { return in.it.msg }

func (in *incoming) Reply(_ context.Context, m *driver.Message) error {
	if m.ReplyTo == "" {
		return nil
	}
	return in.l.c.b.reply(m)
}

// settle removes a notification from the unacked set; it reports whether it
// was still there.
func (in *incoming) settle() bool {
	in.l.mu.Lock()
	defer in.l.mu.Unlock()
	if _, ok := in.l.unacked[in]; !ok {
		return false
	}
	delete(in.l.unacked, in)
	return true
}

func (in *incoming) Ack() error {
	in.settle()
	return nil
}

func (in *incoming) Requeue() error {
	if !in.l.notifications || !in.settle() || in.it.src == nil {
		return nil
	}
	b := in.l.c.b
	b.mu.Lock()
	defer b.mu.Unlock()
	in.it.src.deliver(in.it)
	return nil
}
