package nats

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	natsgo "github.com/nats-io/nats.go"

	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport/driver"
)

// Send publishes a cast, fanout cast or call request. A call request
// carries the reply subject <inbox>.<msg id>. Core NATS has no publisher
// confirmation: Send returns once nats.go has taken the message (written it
// to the connection's buffer, or to the reconnect buffer while
// disconnected).
func (c *conn) Send(ctx context.Context, t target.Target, m *driver.Message) error {
	if c.closing.Load() {
		return driver.ErrClosed
	}
	subj := c.sendSubject(t)
	var reply string
	if m.MsgID != "" {
		in, err := c.ensureInbox()
		if err != nil {
			return err
		}
		reply = replySubject(in.prefix, m.MsgID, m.Expiration)
	}
	return c.publish(ctx, subj, reply, m, t.Fanout)
}

// sendKey identifies the subject of a Send.
type sendKey struct {
	exchange, topic, server string
	fanout                  bool
}

// maxSubjectCache bounds the subjects cached per Conn; beyond it the cache
// starts over (topics such as guestagent.<instance id> come and go).
const maxSubjectCache = 4096

// sendSubject returns the subject of a Send to t, from a cache: building
// it escapes every field.
func (c *conn) sendSubject(t target.Target) string {
	k := sendKey{exchange: t.Exchange, topic: t.Topic, server: t.Server, fanout: t.Fanout}
	c.subjMu.RLock()
	subj, ok := c.subjCache[k]
	c.subjMu.RUnlock()
	if ok {
		return subj
	}
	switch {
	case t.Fanout:
		subj = c.subj.fanout(t.Topic)
	case t.Server != "":
		subj = c.subj.server(t.Exchange, t.Topic, t.Server)
	default:
		subj = c.subj.topic(t.Exchange, t.Topic)
	}
	c.subjMu.Lock()
	if c.subjCache == nil || len(c.subjCache) >= maxSubjectCache {
		c.subjCache = make(map[sendKey]string)
	}
	c.subjCache[k] = subj
	c.subjMu.Unlock()
	return subj
}

// ReplyAddress returns the Conn's reply inbox prefix; replies to a call go
// to <prefix>.<msg id>.
func (c *conn) ReplyAddress(context.Context) (string, error) {
	if c.closing.Load() {
		return "", driver.ErrClosed
	}
	in, err := c.ensureInbox()
	if err != nil {
		return "", err
	}
	return in.prefix, nil
}

// headerFor returns the NATS header carrying m's content type, or nil for
// JSON: the common message has no header, which nats.go parses at a cost.
func headerFor(m *driver.Message) natsgo.Header {
	if m.ContentType == "" {
		return nil
	}
	return natsgo.Header{hdrContentType: []string{m.ContentType}}
}

// publish sends m to subj, with reply subject reply when non-empty,
// honouring m.Retry after connection failures.
func (c *conn) publish(ctx context.Context, subj, reply string, m *driver.Message, fanout bool) error {
	if int64(len(m.Body)) > c.maxBody.Load() {
		return c.publishLarge(ctx, subj, reply, m, fanout)
	}
	msg := natsgo.Msg{Subject: subj, Reply: reply, Header: headerFor(m), Data: m.Body}
	return c.publishMsg(ctx, &msg, m.Retry)
}

func (c *conn) publishMsg(ctx context.Context, msg *natsgo.Msg, retry int) error {
	for {
		err := c.nc.PublishMsg(msg)
		if err == nil {
			return nil
		}
		if errors.Is(err, natsgo.ErrMaxPayload) {
			return fmt.Errorf("nats: publishing to %s: message of %d bytes exceeds the server's max_payload of %d: %w",
				msg.Subject, len(msg.Data), c.nc.MaxPayload(), err)
		}
		werr := c.natsError("publishing to "+msg.Subject, err)
		if retry == 0 || !errors.Is(err, natsgo.ErrReconnectBufExceeded) {
			return werr
		}
		if retry > 0 {
			retry--
		}
		c.log.Debug("nats: publish failed, waiting for the connection", "subject", msg.Subject, "error", err)
		if err := c.waitConnected(ctx); err != nil {
			return werr
		}
	}
}

// waitConnected waits until the connection is up again, ctx ends or the
// Conn closes.
func (c *conn) waitConnected(ctx context.Context) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for !c.nc.IsConnected() {
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		case <-c.dead:
			return errConnLost
		}
	}
	return nil
}

// onInboxMsg handles a message on the reply inbox: a reply or heartbeat,
// a "no responders" status, or a request for a chunk of a large message.
func (c *conn) onInboxMsg(in *inbox, m *natsgo.Msg) {
	token := ""
	if len(m.Subject) > len(in.prefix)+1 {
		token = m.Subject[len(in.prefix)+1:]
	}
	if token == blobToken {
		c.serveBlob(m)
		return
	}
	if m.Header != nil {
		if len(m.Data) == 0 && m.Header.Get(hdrStatus) == "503" {
			msgID, _, err := parseReplyToken(token)
			if err != nil {
				c.log.Warn("nats: no-responders status for a malformed reply subject", "subject", m.Subject)
				return
			}
			c.onReply(driver.Reply{MsgID: msgID, Err: fmt.Errorf("nats: no server listens on the target of call %s: %w", msgID, driver.ErrNoServers)})
			return
		}
		if m.Header.Get(hdrBlob) != "" {
			msgID, _, _ := parseReplyToken(token)
			c.spawn(func() {
				ctx, cancel := context.WithTimeout(context.Background(), blobFetchTimeout)
				defer cancel()
				body, err := c.fetchBody(ctx, m)
				if err != nil {
					if c.closing.Load() {
						return
					}
					c.log.Warn("nats: fetching a large reply", "msg_id", msgID, "error", err)
					if msgID != "" {
						c.onReply(driver.Reply{MsgID: msgID, Err: err})
					}
					return
				}
				c.onReply(driver.Reply{Message: &driver.Message{Body: body, ContentType: m.Header.Get(hdrContentType), MsgID: msgID}})
			})
			return
		}
	}
	dm := &driver.Message{Body: m.Data, MsgID: token}
	if id, _, err := parseReplyToken(token); err == nil {
		dm.MsgID = id
	}
	if m.Header != nil {
		dm.ContentType = m.Header.Get(hdrContentType)
	}
	c.onReply(driver.Reply{Message: dm})
}

// Listen subscribes to the topic (queue group), topic.server (queue
// group) and fanout subjects of t, all feeding one buffered channel.
func (c *conn) Listen(ctx context.Context, t target.Target, _ driver.ListenOptions) (driver.Listener, error) {
	if c.closing.Load() {
		return nil, driver.ErrClosed
	}
	l := &rpcListener{c: c, ch: make(chan *natsgo.Msg, c.cfg.listenerBuffer), done: make(chan struct{}), target: t}
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
			sub, err = c.nc.ChanQueueSubscribe(s.subj, s.queue, l.ch)
		} else {
			sub, err = c.nc.ChanSubscribe(s.subj, l.ch)
		}
		if err != nil {
			for _, prev := range l.subs {
				prev.Unsubscribe()
			}
			return nil, c.natsError("subscribing to "+s.subj, err)
		}
		l.subs = append(l.subs, sub)
		if i == 2 {
			l.fanout = sub
		}
	}
	if !c.addListener(l) {
		for _, s := range l.subs {
			s.Unsubscribe()
		}
		return nil, driver.ErrClosed
	}
	// Consuming once the server has the subscriptions: a round trip.
	if err := c.flush(ctx); err != nil {
		c.log.Debug("nats: listening while not connected; the subscriptions go out on reconnect", "target", t.String(), "error", err)
	}
	c.log.Debug("nats: listening", "target", t.String(), "topic_subject", subs[0].subj, "server_subject", subs[1].subj, "fanout_subject", subs[2].subj)
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

// rpcListener yields the RPC messages of one server target.
type rpcListener struct {
	c      *conn
	target target.Target
	ch     chan *natsgo.Msg
	subs   []*natsgo.Subscription
	fanout *natsgo.Subscription
	done   chan struct{}
	once   sync.Once
}

func (l *rpcListener) Next(ctx context.Context) (driver.Incoming, error) {
	for {
		select {
		case <-l.done:
			return nil, driver.ErrClosed
		default:
		}
		select {
		case m := <-l.ch:
			if in := l.incoming(ctx, m); in != nil {
				return in, nil
			}
		case <-l.done:
			return nil, driver.ErrClosed
		case <-l.c.dead:
			if l.c.closing.Load() {
				return nil, driver.ErrClosed
			}
			return nil, errConnLost
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// incoming turns a NATS message into an Incoming; nil drops it.
func (l *rpcListener) incoming(ctx context.Context, m *natsgo.Msg) *rpcIncoming {
	in := &rpcIncoming{c: l.c, reply: m.Reply}
	in.msg.Body = m.Data
	if h := m.Header; h != nil {
		in.msg.ContentType = h.Get(hdrContentType)
		if h.Get(hdrBlob) != "" {
			fctx, cancel := context.WithTimeout(ctx, blobFetchTimeout)
			body, err := l.c.fetchBody(fctx, m)
			cancel()
			if err != nil {
				l.c.log.Warn("nats: dropping a large message whose body cannot be fetched", "subject", m.Subject, "error", err)
				return nil
			}
			in.msg.Body = body
		}
	}
	if m.Reply != "" {
		if i := strings.LastIndexByte(m.Reply, '.'); i > 0 {
			in.msg.ReplyTo = m.Reply[:i]
			in.msg.MsgID, in.msg.Expiration, _ = parseReplyToken(m.Reply[i+1:])
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
		close(l.done)
		c := l.c
		for _, s := range l.subs {
			if err := s.Drain(); err != nil {
				s.Unsubscribe()
			}
		}
		// After this round trip every message the server sent before it
		// processed the unsubscriptions is in l.ch.
		if err := c.flush(context.Background()); err != nil {
			c.log.Debug("nats: flush while closing a listener", "error", err)
		}
		n := 0
		for {
			select {
			case m := <-l.ch:
				if m.Sub == l.fanout {
					continue
				}
				if err := c.nc.PublishMsg(&natsgo.Msg{Subject: m.Subject, Reply: m.Reply, Header: m.Header, Data: m.Data}); err != nil {
					c.log.Warn("nats: could not hand back a message taken by a closing listener", "subject", m.Subject, "error", err)
				}
				n++
				continue
			default:
			}
			break
		}
		if n > 0 {
			c.log.Debug("nats: listener closed; handed messages back", "target", l.target.String(), "count", n)
		}
		c.removeListener(l)
	})
	return nil
}

// rpcIncoming is one RPC message.
type rpcIncoming struct {
	c     *conn
	reply string // the NATS reply subject of the request
	msg   driver.Message
}

func (in *rpcIncoming) Message() *driver.Message { return &in.msg }

// Reply publishes m to the request's NATS reply subject.
func (in *rpcIncoming) Reply(ctx context.Context, m *driver.Message) error {
	subj := in.reply
	if subj == "" {
		if m.ReplyTo == "" || m.MsgID == "" {
			return nil // a cast
		}
		subj = replySubject(m.ReplyTo, m.MsgID, 0)
	}
	if in.c.closing.Load() {
		return driver.ErrClosed
	}
	return in.c.publish(ctx, subj, "", m, false)
}

// Ack is a no-op: RPC messages are taken at most once.
func (in *rpcIncoming) Ack() error { return nil }

// Requeue is a no-op for RPC messages.
func (in *rpcIncoming) Requeue() error { return nil }
