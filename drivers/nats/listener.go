package nats

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	natsgo "github.com/nats-io/nats.go"

	"github.com/oslo-go/messaging/internal/probe"
	"github.com/oslo-go/messaging/internal/ratelog"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport/driver"
)

// Listen subscribes to the topic (queue group), topic.server (queue
// group) and fanout subjects of t, all feeding one backlog bounded by
// ListenerBuffer messages and ListenerBufferBytes bytes. It waits for the
// connection within ctx and returns once the server has the subscriptions.
func (c *conn) Listen(ctx context.Context, t target.Target, o driver.ListenOptions) (driver.Listener, error) {
	if err := c.ready(ctx); err != nil {
		return nil, err
	}
	if err := c.waitConnected(ctx); err != nil {
		if errors.Is(err, ctx.Err()) {
			err = c.notConnected(err)
		}
		return nil, err
	}
	lctx, cancel := context.WithCancel(context.Background())
	l := &rpcListener{
		c:      c,
		target: t,
		ctx:    lctx,
		cancel: cancel,
		q:      newBacklog(c.cfg.listenerBuffer, c.cfg.listenerBytes, o.Capacity),
	}
	subs := []struct {
		subj, queue string
	}{
		{c.subj.topic(t.Exchange, t.Topic), queueGroup},
		{c.subj.server(t.Exchange, t.Topic, t.Server), queueGroup},
		{c.subj.fanout(t.Topic), ""},
	}
	for i, s := range subs {
		var sub *natsgo.Subscription
		var err error
		if s.queue != "" {
			sub, err = c.nc.QueueSubscribe(s.subj, s.queue, l.onMsg)
		} else {
			sub, err = c.nc.Subscribe(s.subj, l.onMsg)
		}
		if err == nil {
			// The handler never blocks, so nats.go holds little; the same
			// bounds as the backlog's, in case it falls behind.
			err = sub.SetPendingLimits(c.cfg.listenerBuffer, int(min(c.cfg.listenerBytes, math.MaxInt)))
		}
		if err != nil {
			cancel()
			for _, prev := range l.subs {
				prev.Unsubscribe()
			}
			if sub != nil {
				sub.Unsubscribe()
			}
			return nil, c.natsError("subscribing to "+s.subj, err)
		}
		l.subs = append(l.subs, sub)
		if i == 2 {
			l.fanout = sub
		}
	}
	if !c.addListener(l) {
		l.closeSubs()
		cancel()
		return nil, driver.ErrClosed
	}
	// Consuming once the server has the subscriptions: a round trip.
	if err := c.flush(ctx); err != nil {
		c.log.Debug("nats: listening while not connected; the subscriptions go out on reconnect", "target", t.String(), "error", c.secrets.scrub(err))
	}
	c.log.Debug("nats: listening", "target", t.String(), "topic_subject", subs[0].subj, "server_subject", subs[1].subj,
		"fanout_subject", subs[2].subj, "buffer", c.cfg.listenerBuffer, "buffer_bytes", c.cfg.listenerBytes)
	return l, nil
}

// flush makes a round trip to the server, bounded by ctx and closeWait.
func (c *conn) flush(ctx context.Context) error {
	if !c.nc.IsConnected() {
		return natsgo.ErrConnectionReconnecting
	}
	ctx, cancel := context.WithTimeout(ctx, closeWait)
	defer cancel()
	return c.nc.FlushWithContext(ctx)
}

// rpcListener yields the RPC messages of one server target. nats.go hands
// every message to onMsg, which never blocks: it queues the message in the
// backlog, or drops it (logged) when the backlog is full, or sets a large
// message aside to fetch its body. Next takes messages from the backlog.
type rpcListener struct {
	c      *conn
	target target.Target
	subs   []*natsgo.Subscription
	fanout *natsgo.Subscription
	q      *backlog
	ctx    context.Context // canceled by Close
	cancel context.CancelFunc
	once   sync.Once

	fetching atomic.Int32   // claim checks being fetched or waiting for a slot
	fetchWG  sync.WaitGroup // their goroutines
	dropped  atomic.Int64   // messages dropped as a slow consumer
	warn     ratelog.Limiter
}

// queued is a message in the backlog, its body fetched.
type queued struct {
	m    *natsgo.Msg
	body []byte
	size int64
	at   time.Time // when it was received; zero for a cast, which has no expiration
}

// msgSize is what a message costs in the backlog.
func msgSize(m *natsgo.Msg, body []byte) int64 {
	n := len(body) + len(m.Subject) + len(m.Reply)
	for k, vs := range m.Header {
		n += len(k)
		for _, v := range vs {
			n += len(v)
		}
	}
	return int64(n)
}

// onMsg receives every message of the listener's subscriptions.
func (l *rpcListener) onMsg(m *natsgo.Msg) {
	probe.Mark(probe.ServerReceived)
	if m.Header != nil && m.Header.Get(hdrBlob) != "" {
		l.fetchLater(m)
		return
	}
	q := queued{m: m, body: m.Data, size: msgSize(m, m.Data)}
	if m.Reply != "" {
		// Only a call carries an expiration (in its reply subject); a
		// cast reads no clock.
		q.at = time.Now()
	}
	l.put(q)
}

// put queues q, or hands it back when the listener is closed, or drops it
// when the backlog is full.
func (l *rpcListener) put(q queued) {
	switch l.q.put(q) {
	case putOK:
	case putClosed:
		l.handBack(q.m)
	case putFull:
		l.dropFull(q.m, q.size)
	}
}

// dropFull logs (rate-limited) a message dropped because the backlog is
// full.
func (l *rpcListener) dropFull(m *natsgo.Msg, size int64) {
	n := l.dropped.Add(1)
	msgs, bytes := l.q.size()
	l.warn.Warn(l.c.log, "full", "nats: RPC listener full: dropping a message (slow consumer; raise MaxConcurrency, ListenerBuffer or ListenerBufferBytes)",
		"target", l.target.String(), "subject", m.Subject, "size", size, "queued", msgs, "queued_bytes", bytes,
		"buffer", l.c.cfg.listenerBuffer, "buffer_bytes", l.c.cfg.listenerBytes, "dropped", n)
}

// fetchLater fetches the body of a claim-check message beside the
// listener, then queues the message: a body that does not come blocks no
// worker and no other message.
func (l *rpcListener) fetchLater(m *natsgo.Msg) {
	c := l.c
	drop := func(msg string, err error) {
		l.warn.Warn(c.log, "large", "nats: dropping a large message: "+msg, "target", l.target.String(), "subject", m.Subject, "error", err)
	}
	ref, err := c.parseBlobRef(m)
	if err != nil {
		drop("bad claim check", err)
		return
	}
	stub := msgSize(m, m.Data)
	switch l.q.reserve(stub) {
	case putClosed:
		l.handBack(m)
		return
	case putFull:
		l.dropFull(m, stub)
		return
	}
	if l.fetching.Add(1) > maxWaitingFetches {
		l.fetching.Add(-1)
		l.q.unreserve(stub)
		drop("too many bodies being fetched", nil)
		return
	}
	l.fetchWG.Add(1)
	ok := c.spawn(func() {
		defer l.fetchWG.Done()
		defer l.fetching.Add(-1)
		timeout := blobFetchTimeout
		if _, exp := l.replyOf(m); exp > 0 {
			timeout = min(timeout, exp)
		}
		ctx, cancel := context.WithTimeout(l.ctx, timeout)
		body, err := c.fetchBody(ctx, m, ref)
		cancel()
		l.q.unreserve(stub)
		switch {
		case err == nil:
			l.put(queued{m: m, body: body, size: msgSize(m, body), at: time.Now()})
		case l.ctx.Err() != nil:
			l.handBack(m) // the body is still at the sender
		default:
			drop("its body cannot be fetched", err)
		}
	})
	if !ok {
		l.fetchWG.Done()
		l.fetching.Add(-1)
		l.q.unreserve(stub)
	}
}

// replyOf returns the reply address and expiration of a call request.
func (l *rpcListener) replyOf(m *natsgo.Msg) (replyTo string, exp time.Duration) {
	if m.Reply == "" {
		return "", 0
	}
	i := strings.LastIndexByte(m.Reply, '.')
	if i <= 0 {
		return "", 0
	}
	_, exp, _ = parseReplyToken(m.Reply[i+1:])
	return m.Reply[:i], exp
}

// handBack publishes a message the listener took but will not handle
// again on its subject, for another server of the topic (or a "no
// responders" answer to its caller). Fanout copies are not handed back:
// every server got one.
func (l *rpcListener) handBack(m *natsgo.Msg) {
	if m.Sub == l.fanout {
		return
	}
	if err := l.c.nc.PublishMsg(&natsgo.Msg{Subject: m.Subject, Reply: m.Reply, Header: m.Header, Data: m.Data}); err != nil {
		l.warn.Warn(l.c.log, "hand back", "nats: could not hand back a message taken by a closing listener", "subject", m.Subject, "error", l.c.secrets.scrub(err))
	}
}

func (l *rpcListener) Next(ctx context.Context) (driver.Incoming, error) {
	for {
		if l.ctx.Err() != nil {
			return nil, driver.ErrClosed
		}
		if q, ok := l.q.get(); ok {
			if in := l.incoming(q); in != nil {
				probe.Mark(probe.ServerTaken)
				return in, nil
			}
			continue
		}
		select {
		case <-l.q.ready:
		case <-l.ctx.Done():
			return nil, driver.ErrClosed
		case <-l.c.dead:
			return nil, l.c.deadError()
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// incoming turns a queued message into an Incoming; nil drops a call
// request that expired while it waited.
func (l *rpcListener) incoming(q queued) *rpcIncoming {
	m := q.m
	in := &rpcIncoming{c: l.c, reply: m.Reply}
	in.msg.Body = q.body
	if h := m.Header; h != nil {
		in.msg.ContentType = h.Get(hdrContentType)
	}
	if m.Reply != "" {
		if i := strings.LastIndexByte(m.Reply, '.'); i > 0 {
			in.msg.ReplyTo = m.Reply[:i]
			in.msg.MsgID, in.msg.Expiration, _ = parseReplyToken(m.Reply[i+1:])
		}
	}
	if exp := in.msg.Expiration; exp > 0 && !q.at.IsZero() {
		if left := exp - time.Since(q.at); left > 0 {
			in.msg.Expiration = left
		} else {
			l.c.log.Debug("nats: dropping a call request that expired while waiting for a worker", "subject", m.Subject, "msg_id", in.msg.MsgID)
			return nil
		}
	}
	return in
}

// Close drains the subscriptions and puts the messages taken from the
// server but not returned by Next back on their subject (fanout copies
// excepted): another server of the topic gets them, or the caller gets
// "no responders" at once instead of a timeout.
func (l *rpcListener) Close() error {
	l.once.Do(func() {
		c := l.c
		l.cancel()
		left := l.q.close() // from now on onMsg hands messages back itself
		closed := l.closeSubs()
		// After this round trip the server has processed the
		// unsubscriptions: what is handed back does not come back here.
		if err := c.flush(context.Background()); err != nil {
			c.log.Debug("nats: flush while closing a listener", "error", c.secrets.scrub(err))
		}
		for _, q := range left {
			l.handBack(q.m)
		}
		wait, cancel := context.WithTimeout(context.Background(), closeWait)
		defer cancel()
		for _, ch := range closed {
			select {
			case <-ch:
			case <-wait.Done():
			}
		}
		if !waitGroup(&l.fetchWG, closeWait) {
			c.log.Warn("nats: large-message fetches of a closing listener did not stop in time", "target", l.target.String())
		}
		if len(left) > 0 {
			c.log.Debug("nats: listener closed; handed messages back", "target", l.target.String(), "count", len(left))
		}
		c.removeListener(l)
	})
	return nil
}

// closeSubs drains the subscriptions (nats.go delivers what it holds to
// onMsg) and returns channels closed when each drain is done.
func (l *rpcListener) closeSubs() []<-chan natsgo.SubStatus {
	var closed []<-chan natsgo.SubStatus
	connected := l.c.nc.IsConnected()
	for _, s := range l.subs {
		if !connected { // a drain would wait for the reconnection
			s.Unsubscribe()
			continue
		}
		ch := s.StatusChanged(natsgo.SubscriptionClosed)
		if err := s.Drain(); err != nil {
			s.Unsubscribe() // gone with the connection, or closed at once
			continue
		}
		closed = append(closed, ch)
	}
	return closed
}

// backlog is an RPC listener's queue of received messages, bounded in
// messages and bytes. Its storage grows with what it holds.
type backlog struct {
	ready chan struct{} // a message was queued; capacity 1

	mu       sync.Mutex
	items    []queued
	head     int
	bytes    int64 // queued, plus reserved for bodies being fetched
	maxMsgs  int
	maxBytes int64
	closed   bool
}

func newBacklog(maxMsgs int, maxBytes int64, capacity int) *backlog {
	return &backlog{
		ready:    make(chan struct{}, 1),
		items:    make([]queued, 0, min(max(capacity, 16), maxMsgs)),
		maxMsgs:  maxMsgs,
		maxBytes: maxBytes,
	}
}

type putResult int

const (
	putOK putResult = iota
	putFull
	putClosed
)

// fits reports whether n more bytes fit; a message of any size fits an
// empty backlog, so that one larger than the bound still gets through.
func (b *backlog) fits(n int64) bool { return b.bytes == 0 || b.bytes+n <= b.maxBytes }

func (b *backlog) put(q queued) putResult {
	b.mu.Lock()
	switch {
	case b.closed:
		b.mu.Unlock()
		return putClosed
	case len(b.items)-b.head >= b.maxMsgs || !b.fits(q.size):
		b.mu.Unlock()
		return putFull
	}
	b.items = append(b.items, q)
	b.bytes += q.size
	b.mu.Unlock()
	b.signal()
	return putOK
}

func (b *backlog) signal() {
	select {
	case b.ready <- struct{}{}:
	default:
	}
}

// get takes the oldest message, if any.
func (b *backlog) get() (queued, bool) {
	b.mu.Lock()
	if b.head == len(b.items) {
		b.mu.Unlock()
		return queued{}, false
	}
	q := b.items[b.head]
	b.items[b.head] = queued{}
	b.head++
	b.bytes -= q.size
	switch {
	case b.head == len(b.items):
		b.items, b.head = b.items[:0], 0
	case b.head >= 1024 && b.head*2 >= len(b.items):
		n := copy(b.items, b.items[b.head:])
		clear(b.items[n:])
		b.items, b.head = b.items[:n], 0
	}
	more := b.head < len(b.items)
	b.mu.Unlock()
	if more {
		b.signal() // wake another waiting worker
	}
	return q, true
}

// reserve counts n bytes of a body being fetched, if they fit.
func (b *backlog) reserve(n int64) putResult {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.closed:
		return putClosed
	case !b.fits(n):
		return putFull
	}
	b.bytes += n
	return putOK
}

func (b *backlog) unreserve(n int64) {
	b.mu.Lock()
	b.bytes -= n
	b.mu.Unlock()
}

// size returns the messages and bytes held.
func (b *backlog) size() (int, int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.items) - b.head, b.bytes
}

// close refuses further messages and returns those still queued.
func (b *backlog) close() []queued {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	left := append([]queued(nil), b.items[b.head:]...)
	b.items, b.head = nil, 0
	return left
}
