package amqp1

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/Azure/go-amqp"

	"github.com/oslo-go/messaging/internal/ids"
	"github.com/oslo-go/messaging/transport/driver"
)

// DefaultPort is the AMQP port used for hosts that name none.
const DefaultPort = 5672

// host is one message bus of the URL with its credentials.
type host struct {
	hostname, username, password string
	port                         int
}

func (h host) addr() string { return net.JoinHostPort(h.hostname, strconv.Itoa(h.port)) }

// hostsFromURL lists the hosts of u as oslo's Hosts does: localhost:5672
// when there are none, port 5672 when a host names none, and
// sasl_default_realm appended to user names without a realm.
func hostsFromURL(u *driver.URL, realm string) []host {
	if len(u.Hosts) == 0 {
		return []host{{hostname: "localhost", port: DefaultPort}}
	}
	hs := make([]host, 0, len(u.Hosts))
	for _, uh := range u.Hosts {
		h := host{hostname: uh.Hostname, port: uh.Port, username: uh.Username, password: uh.Password}
		if h.hostname == "" {
			h.hostname = "localhost"
		}
		if h.port == 0 {
			h.port = DefaultPort
		}
		if realm != "" && h.username != "" && !containsByte(h.username, '@') {
			h.username += "@" + realm
		}
		hs = append(hs, h)
	}
	return hs
}

func containsByte(s string, b byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == b {
			return true
		}
	}
	return false
}

// saslFor picks the SASL mechanism for h among sasl_mechanisms (any when
// empty): PLAIN with credentials, else ANONYMOUS; EXTERNAL when it is the
// only one allowed.
func saslFor(mechs []string, h host) (amqp.SASLType, error) {
	allowed := func(m string) bool {
		if len(mechs) == 0 {
			return m != "EXTERNAL"
		}
		for _, x := range mechs {
			if x == m {
				return true
			}
		}
		return false
	}
	switch {
	case h.username != "" && allowed("PLAIN"):
		return amqp.SASLTypePlain(h.username, h.password), nil
	case allowed("EXTERNAL") && (h.username != "" || !allowed("ANONYMOUS")):
		return amqp.SASLTypeExternal(""), nil
	case allowed("ANONYMOUS"):
		return amqp.SASLTypeAnonymous(), nil
	}
	return nil, fmt.Errorf("amqp1: sasl_mechanisms %v: none usable for %s", mechs, h.addr())
}

// session is one connection to the message bus, with its session, its
// addresser, the sender links opened on it and the reply link. A lost
// connection is never reused: the supervisor dials a new session.
type session struct {
	c        *conn
	host     host
	amqpConn *amqp.Conn
	sess     *amqp.Session
	addr     addresser
	product  string
	ctx      context.Context // ends when the session is lost or the Conn closes
	cancel   context.CancelFunc

	mu      sync.Mutex
	senders map[string]*senderEntry
	reply   *replyLink
}

type senderEntry struct {
	ready chan struct{}
	snd   *amqp.Sender
	err   error
	used  atomic.Bool // since the last idle sweep
}

type replyLink struct {
	ready chan struct{}
	rcv   *amqp.Receiver
	addr  string
	err   error
}

// dial connects to h and opens a session.
func (c *conn) dial(ctx context.Context, h host) (*session, error) {
	sasl, err := saslFor(c.o.saslMechanisms, h)
	if err != nil {
		return nil, err
	}
	opts := &amqp.ConnOptions{
		ContainerID: c.containerID,
		IdleTimeout: -1,
		Properties:  c.props,
		SASLType:    sasl,
	}
	if c.o.idleTimeout > 0 {
		opts.IdleTimeout = c.o.idleTimeout
	}
	if c.vhost != "" && !c.o.pseudoVhost {
		opts.HostName = c.vhost
	}
	scheme := "amqp://"
	if c.tls != nil {
		scheme = "amqps://"
		t := c.tls.Clone()
		if t.ServerName == "" {
			t.ServerName = h.hostname
			if c.o.sslVerifyVhost && c.vhost != "" {
				t.ServerName = c.vhost
			}
		}
		opts.TLSConfig = t
	}
	ac, err := amqp.Dial(ctx, scheme+h.addr(), opts)
	if err != nil {
		return nil, fmt.Errorf("amqp1: connecting to %s: %w", h.addr(), err)
	}
	sess, err := ac.NewSession(ctx, nil)
	if err != nil {
		ac.Close()
		return nil, fmt.Errorf("amqp1: opening a session on %s: %w", h.addr(), err)
	}
	product := ""
	switch p := ac.Properties()["product"].(type) {
	case string:
		product = p
	case amqp.Symbol:
		product = string(p)
	}
	vhost := ""
	if c.o.pseudoVhost {
		vhost = c.vhost
	}
	s := &session{c: c, host: h, amqpConn: ac, sess: sess, product: product,
		addr: newAddresser(c.o, product, vhost), senders: map[string]*senderEntry{}}
	s.ctx, s.cancel = context.WithCancel(c.ctx)
	return s, nil
}

// dialPass tries each host once, from the current one on.
func (c *conn) dialPass(ctx context.Context) (*session, error) {
	var errs []error
	for range c.hosts {
		h := c.hosts[c.next%len(c.hosts)]
		dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		s, err := c.dial(dctx, h)
		cancel()
		if err == nil {
			return s, nil
		}
		errs = append(errs, err)
		c.next++
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

// close closes the connection; its links go with it.
func (s *session) close() {
	s.cancel()
	s.amqpConn.Close()
}

// sender returns the sender link to addr, attaching it on first use.
func (s *session) sender(ctx context.Context, addr string) (*amqp.Sender, error) {
	s.mu.Lock()
	e := s.senders[addr]
	if e == nil {
		e = &senderEntry{ready: make(chan struct{})}
		s.senders[addr] = e
		s.mu.Unlock()
		actx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
		e.snd, e.err = s.sess.NewSender(actx, addr, &amqp.SenderOptions{
			Name:                        "openstack.org/om/sender/[" + addr + "]/" + ids.Hex(),
			SourceAddress:               addr,
			SettlementMode:              amqp.SenderSettleModeMixed.Ptr(),
			RequestedReceiverSettleMode: amqp.ReceiverSettleModeFirst.Ptr(),
		})
		cancel()
		if e.err != nil {
			e.err = fmt.Errorf("amqp1: attaching a sender to %s: %w", addr, e.err)
			s.dropSender(addr, e)
		}
		close(e.ready)
	} else {
		s.mu.Unlock()
	}
	select {
	case <-e.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	e.used.Store(true)
	return e.snd, e.err
}

func (s *session) dropSender(addr string, e *senderEntry) {
	s.mu.Lock()
	if s.senders[addr] == e {
		delete(s.senders, addr)
	}
	s.mu.Unlock()
}

// dropSenderLink forgets the sender snd of addr after it failed.
func (s *session) dropSenderLink(addr string, snd *amqp.Sender) {
	s.mu.Lock()
	e := s.senders[addr]
	if e != nil && e.snd == snd {
		delete(s.senders, addr)
	}
	s.mu.Unlock()
}

// purgeIdle detaches the sender links not used since the last call
// (oslo's default_sender_link_timeout maintenance).
func (s *session) purgeIdle() {
	var idle []*amqp.Sender
	s.mu.Lock()
	for addr, e := range s.senders {
		select {
		case <-e.ready:
		default:
			continue
		}
		if !e.used.Swap(false) && e.snd != nil {
			idle = append(idle, e.snd)
			delete(s.senders, addr)
		}
	}
	s.mu.Unlock()
	for _, snd := range idle {
		ctx, cancel := context.WithTimeout(s.ctx, 5*time.Second)
		snd.Close(ctx)
		cancel()
	}
}

// replyAddress returns the address of the session's reply link, a dynamic
// receiver (oslo's "rpc-response" link), attaching it on first use.
func (s *session) replyAddress(ctx context.Context) (string, error) {
	s.mu.Lock()
	r := s.reply
	if r == nil {
		r = &replyLink{ready: make(chan struct{})}
		s.reply = r
		s.mu.Unlock()
		actx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
		r.rcv, r.err = s.sess.NewReceiver(actx, "", &amqp.ReceiverOptions{
			Name:           "openstack.org/om/receiver/[rpc-response]/" + ids.Hex(),
			DynamicAddress: true,
			TargetAddress:  "rpc-response",
			Credit:         int32(s.c.o.replyCredit),
		})
		cancel()
		if r.err == nil {
			r.addr = r.rcv.Address()
			s.c.wg.Add(1)
			go s.consumeReplies(r.rcv)
		} else {
			r.err = fmt.Errorf("amqp1: attaching the reply link: %w", r.err)
			s.mu.Lock()
			s.reply = nil
			s.mu.Unlock()
		}
		close(r.ready)
	} else {
		s.mu.Unlock()
	}
	select {
	case <-r.ready:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	return r.addr, r.err
}

// currentReplyAddress returns the reply address of the session, or "".
func (s *session) currentReplyAddress() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reply == nil {
		return ""
	}
	select {
	case <-s.reply.ready:
		return s.reply.addr
	default:
		return ""
	}
}

// consumeReplies hands every reply to the core. When the link fails, the
// connection is closed and re-established (as oslo does: the reply address
// of every call in flight is gone).
func (s *session) consumeReplies(rcv *amqp.Receiver) {
	defer s.c.wg.Done()
	for {
		msg, err := rcv.Receive(s.ctx, nil)
		if err != nil {
			if s.ctx.Err() == nil {
				s.c.log.Warn("amqp1: reply link lost; reconnecting", "host", s.host.addr(), "error", err)
				s.amqpConn.Close()
			}
			return
		}
		body, err := decodeReply(wireBody(msg), idString(msg.Properties, true))
		if err != nil {
			s.c.log.Warn("amqp1: dropping reply that does not decode", "error", err)
			settle(rcv, msg, false)
			continue
		}
		settle(rcv, msg, true)
		s.c.onReply(driver.Reply{Message: &driver.Message{Body: body}})
	}
}

// settle accepts or rejects msg, unless the sender settled it already.
func settle(rcv *amqp.Receiver, msg *amqp.Message, accept bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if accept {
		return rcv.AcceptMessage(ctx, msg)
	}
	return rcv.RejectMessage(ctx, msg, nil)
}

// supervise connects, then watches the current session; when it is lost
// it reconnects. It also detaches idle sender links.
func (c *conn) supervise() {
	defer c.wg.Done()
	s := c.connect(false)
	if s == nil {
		return
	}
	purge := time.NewTicker(c.o.senderLinkTimeout)
	defer purge.Stop()
	for {
		select {
		case <-c.ctx.Done():
			s.close()
			return
		case <-purge.C:
			s.purgeIdle()
			continue
		case <-s.amqpConn.Done():
		}
		err := s.amqpConn.Err()
		hadReply := c.lose(s)
		if hadReply {
			// Replies to the calls in flight went to the lost reply link.
			c.onReply(driver.Reply{Err: fmt.Errorf("amqp1: connection to %s lost (%v): %w", s.host.addr(), err, driver.ErrConnectionLost)})
		}
		c.log.Warn("amqp1: connection lost; reconnecting", "host", s.host.addr(), "error", err, "in", c.o.retryInterval)
		if s = c.connect(true); s == nil {
			return
		}
	}
}

// connect returns a new current session, or nil once the Conn is closed.
// The first connection tries every host at once; after that (and after a
// loss) it goes over the hosts in turn, with pauses from
// connection_retry_interval growing by connection_retry_backoff up to
// connection_retry_interval_max.
func (c *conn) connect(lost bool) *session {
	delay := c.o.retryInterval
	install := func(s *session, how string, level slog.Level) *session {
		if !c.install(s) {
			s.close()
			return nil
		}
		c.log.Log(c.ctx, level, "amqp1: "+how, "host", s.host.addr(), "product", s.product)
		return s
	}
	if !lost {
		s, err := c.dialPass(c.ctx)
		if err == nil {
			return install(s, "connected", slog.LevelDebug)
		}
		c.failed(err)
		c.log.Warn("amqp1: connecting failed", "error", err, "retry_in", delay)
	}
	for {
		if !c.sleep(c.ctx, delay) {
			return nil
		}
		c.next++
		h := c.hosts[c.next%len(c.hosts)]
		dctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
		s, err := c.dial(dctx, h)
		cancel()
		if err == nil {
			return install(s, "reconnected", slog.LevelInfo)
		}
		c.failed(err)
		delay = time.Duration(float64(delay) * c.o.retryBackoff)
		delay = max(min(delay, c.o.retryIntervalMax), 100*time.Millisecond)
		c.log.Warn("amqp1: reconnecting failed", "host", h.addr(), "error", err, "retry_in", delay)
	}
}

// sleep waits d or until ctx ends; it reports whether d passed.
func (c *conn) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
