package nats

import (
	"context"
	"errors"
	"fmt"
	"time"

	natsgo "github.com/nats-io/nats.go"

	"github.com/oslo-go/messaging/internal/probe"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport/driver"
)

// Send publishes a cast, fanout cast or call request. A call request
// carries the reply subject <inbox>.<msg id>. Core NATS has no publisher
// confirmation: Send returns once nats.go has taken the message (written it
// to the connection's buffer). While disconnected it waits for the
// connection within ctx (rather than fill nats.go's reconnect buffer, so
// that when ctx ends first the error says why), unless m.Retry is 0: then
// the message goes to the reconnect buffer, sent on reconnect.
func (c *conn) Send(ctx context.Context, t target.Target, m *driver.Message) error {
	if err := c.ready(ctx); err != nil {
		return err
	}
	exp := m.Expiration
	if m.Retry != 0 && c.disconnected.Load() {
		start := time.Now()
		if err := c.waitConnected(ctx); err != nil {
			if errors.Is(err, ctx.Err()) {
				err = c.notConnected(err)
			}
			return err
		}
		if exp > 0 {
			exp = max(exp-time.Since(start), time.Millisecond)
		}
	}
	subj := c.sendSubject(t)
	var reply string
	if m.MsgID != "" {
		in, err := c.ensureInbox()
		if err != nil {
			return err
		}
		reply = replySubject(in.prefix, m.MsgID, exp)
		probe.Mark(probe.RequestPublish)
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

// UnwrappedMessages returns true: no Python peer reads this wire, so RPC
// messages go without oslo's 2.0 envelope (see the package doc).
func (c *conn) UnwrappedMessages() bool { return true }

// CopiesMessages returns true: Send and Reply hand the body to nats.go,
// which copies it into its write buffer before PublishMsg returns, and
// what is kept to send again (resend.go, large.go) is a copy.
func (c *conn) CopiesMessages() bool { return true }

// ReplyAddress returns the Conn's reply inbox prefix; replies to a call go
// to <prefix>.<msg id>.
func (c *conn) ReplyAddress(ctx context.Context) (string, error) {
	if err := c.ready(ctx); err != nil {
		return "", err
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

// publish sends m to subj, with reply subject reply when non-empty (a
// call request), honouring m.Retry after connection failures. A body over
// the server's max_payload goes as a claim check (large.go).
func (c *conn) publish(ctx context.Context, subj, reply string, m *driver.Message, fanout bool) error {
	if len(m.Body) > c.cfg.maxMessageSize {
		return fmt.Errorf("nats: message of %d bytes to %s is over max_message_size (%d): %w",
			len(m.Body), subj, c.cfg.maxMessageSize, driver.ErrMessageTooLarge)
	}
	msg := &natsgo.Msg{Subject: subj, Reply: reply, Header: headerFor(m), Data: m.Body}
	var blobID string
	if int64(len(m.Body)) > c.maxBody.Load() {
		var err error
		if blobID, err = c.claimCheck(msg, m, fanout); err != nil {
			return err
		}
	}
	tracked := reply != "" && c.resend.track(c, m.MsgID, msg, m.Expiration)
	err := c.publishMsg(ctx, msg, m.Retry)
	if err != nil {
		if blobID != "" {
			c.blobs.remove(blobID)
		}
		if tracked {
			c.resend.forget(m.MsgID)
		}
	}
	return err
}

func (c *conn) publishMsg(ctx context.Context, msg *natsgo.Msg, retry int) error {
	for {
		err := c.nc.PublishMsg(msg)
		if err == nil {
			return nil
		}
		if errors.Is(err, natsgo.ErrMaxPayload) {
			return fmt.Errorf("nats: publishing to %s: message of %d bytes exceeds the server's max_payload of %d: %w (%w)",
				msg.Subject, len(msg.Data), c.nc.MaxPayload(), driver.ErrMessageTooLarge, err)
		}
		werr := c.natsError("publishing to "+msg.Subject, err)
		if retry == 0 || !errors.Is(err, natsgo.ErrReconnectBufExceeded) {
			return werr
		}
		if retry > 0 {
			retry--
		}
		c.log.Debug("nats: publish failed, waiting for the connection", "subject", msg.Subject, "error", werr)
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
			return c.deadError()
		}
	}
	return nil
}

// onInboxMsg handles a message on the reply inbox: a reply or heartbeat,
// a "no responders" status, or a request for a chunk of a large message.
func (c *conn) onInboxMsg(in *inbox, m *natsgo.Msg) {
	probe.Mark(probe.ClientReply)
	token := ""
	if len(m.Subject) > len(in.prefix)+1 {
		token = m.Subject[len(in.prefix)+1:]
	}
	if token == blobToken {
		c.serveBlob(m)
		return
	}
	msgID, _, err := parseReplyToken(token)
	if m.Header != nil && len(m.Data) == 0 && m.Header.Get(hdrStatus) == "503" {
		if err != nil {
			c.warn.Warn(c.log, "reply subject", "nats: no-responders status for a malformed reply subject", "subject", m.Subject)
			return
		}
		if c.resend.again(c, msgID) {
			return
		}
		c.onReply(driver.Reply{MsgID: msgID, Err: fmt.Errorf("nats: no server listens on the target of call %s: %w (%w)",
			msgID, driver.ErrNoServers, driver.ErrUndeliverable)})
		return
	}
	if err != nil {
		msgID = token // the core correlates by the id in the body
	}
	c.resend.forget(msgID) // a server took the call
	if m.Header != nil && m.Header.Get(hdrBlob) != "" {
		c.fetchReply(m, msgID)
		return
	}
	dm := &driver.Message{Body: m.Data, MsgID: msgID}
	if m.Header != nil {
		dm.ContentType = m.Header.Get(hdrContentType)
	}
	c.onReply(driver.Reply{Message: dm})
}

// fetchReply fetches the body of a large reply beside the inbox, which
// goes on delivering other replies.
func (c *conn) fetchReply(m *natsgo.Msg, msgID string) {
	fail := func(err error) {
		if c.closing.Load() {
			return
		}
		c.warn.Warn(c.log, "large reply", "nats: dropping a large reply whose body cannot be fetched", "msg_id", msgID, "error", err)
		c.onReply(driver.Reply{MsgID: msgID, Err: err})
	}
	ref, err := c.parseBlobRef(m)
	if err != nil {
		fail(err)
		return
	}
	if c.replyFetches.Add(1) > maxWaitingFetches {
		c.replyFetches.Add(-1)
		fail(fmt.Errorf("nats: %d large replies already being fetched", maxWaitingFetches))
		return
	}
	if !c.spawn(func() {
		defer c.replyFetches.Add(-1)
		ctx, cancel := context.WithTimeout(c.ctx, blobFetchTimeout)
		defer cancel()
		body, err := c.fetchBody(ctx, m, ref)
		if err != nil {
			fail(err)
			return
		}
		c.onReply(driver.Reply{Message: &driver.Message{Body: body, ContentType: m.Header.Get(hdrContentType), MsgID: msgID}})
	}) {
		c.replyFetches.Add(-1)
	}
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
	probe.Mark(probe.ReplyStart)
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
	probe.Mark(probe.ReplyPublish)
	err := in.c.publish(ctx, subj, "", m, false)
	probe.Mark(probe.ServerReplied)
	return err
}

// Ack is a no-op: RPC messages are taken at most once.
func (in *rpcIncoming) Ack() error { return nil }

// Requeue is a no-op for RPC messages.
func (in *rpcIncoming) Requeue() error { return nil }
