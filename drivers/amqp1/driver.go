package amqp1

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/Azure/go-amqp"

	"github.com/oslo-go/messaging/internal/ids"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
	"github.com/oslo-go/messaging/transport/driver"
)

func init() { transport.Register("amqp", Driver{}) }

const jsonContentType = "application/json"

// Driver is the AMQP 1.0 driver, registered for the URL scheme amqp://.
type Driver struct{}

// Open parses the options (driver options, then the URL query) and
// connects, trying each listed host once: an unreachable message bus fails
// Open. Later losses of the connection are repaired by reconnecting.
func (Driver) Open(ctx context.Context, u *driver.URL, cfg driver.Config) (driver.Conn, error) {
	o, err := parseOptions(u.Query, cfg.Options)
	if err != nil {
		return nil, err
	}
	tlsCfg, err := buildTLS(o)
	if err != nil {
		return nil, err
	}
	// The core guarantees cfg.Logger and cfg.OnReply are set.
	log, onReply := cfg.Logger, cfg.OnReply
	for _, v := range o.ignoredPreSettled {
		log.Warn("amqp1: ignoring unrecognized pre_settled value", "value", v)
	}
	node, _ := os.Hostname()
	if node == "" {
		node = "<UNKNOWN>"
	}
	command := filepath.Base(os.Args[0])
	c := &conn{
		o:         o,
		log:       log,
		onReply:   onReply,
		hosts:     hostsFromURL(u, o.saslDefaultRealm),
		vhost:     u.VirtualHost,
		tls:       tlsCfg,
		ready:     make(chan struct{}),
		listeners: map[*listener]struct{}{},
		props:     map[string]any{"process": command, "pid": int64(os.Getpid()), "node": node},
	}
	c.containerID = o.containerName
	if c.containerID == "" {
		c.containerID = fmt.Sprintf("openstack.org/om/container/%s/%s/%d/%s", node, command, os.Getpid(), ids.Hex())
	}
	c.next = rand.IntN(len(c.hosts)) // oslo starts at a random host
	c.ctx, c.cancel = context.WithCancel(context.Background())
	// Like sql.Open, Open does not wait for the broker: the supervisor
	// connects in the background and operations wait for it within their
	// ctx (Ping reports it).
	c.wg.Add(1)
	go c.supervise()
	return c, nil
}

// buildTLS returns the TLS configuration, or nil without ssl. Without
// ssl_ca_file the system's CAs verify the peer, as in oslo.
func buildTLS(o *options) (*tls.Config, error) {
	if o.tlsConfig != nil {
		return o.tlsConfig.Clone(), nil
	}
	if !o.ssl && o.sslCAFile == "" && o.sslCertFile == "" {
		return nil, nil
	}
	t := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.sslCAFile != "" {
		pem, err := os.ReadFile(o.sslCAFile)
		if err != nil {
			return nil, fmt.Errorf("amqp1: ssl_ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("amqp1: ssl_ca_file %s holds no PEM certificate", o.sslCAFile)
		}
		t.RootCAs = pool
	}
	if o.sslCertFile != "" {
		key := o.sslKeyFile
		if key == "" {
			key = o.sslCertFile // the key may follow the certificate
		}
		cert, err := tls.LoadX509KeyPair(o.sslCertFile, key)
		if err != nil {
			return nil, fmt.Errorf("amqp1: ssl_cert_file/ssl_key_file: %w", err)
		}
		t.Certificates = []tls.Certificate{cert}
	}
	return t, nil
}

// conn is a driver.Conn: one AMQP connection (a session) at a time, which
// the supervisor replaces when it is lost.
type conn struct {
	o           *options
	log         *slog.Logger
	onReply     func(driver.Reply)
	hosts       []host
	next        int // index of the host to dial; the supervisor's
	vhost       string
	tls         *tls.Config
	containerID string
	props       map[string]any

	ctx    context.Context // canceled by Close
	cancel context.CancelFunc
	closed atomic.Bool
	wg     sync.WaitGroup

	mu        sync.Mutex
	cur       *session
	ready     chan struct{} // closed once cur is set
	lastErr   error         // why the last connection attempt failed; nil once one worked
	listeners map[*listener]struct{}
}

var (
	_ driver.Conn     = (*conn)(nil)
	_ driver.Notifier = (*conn)(nil)
	_ driver.Pinger   = (*conn)(nil)
)

// install makes s the current session; it reports false when the Conn is
// closed.
func (c *conn) install(s *session) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() {
		return false
	}
	c.cur = s
	c.lastErr = nil
	close(c.ready)
	return true
}

// failed records why a connection attempt failed.
func (c *conn) failed(err error) {
	c.mu.Lock()
	c.lastErr = err
	c.mu.Unlock()
}

// Ping waits for the connection within ctx; it returns the last connection
// error when ctx ends first.
func (c *conn) Ping(ctx context.Context) error {
	_, err := c.current(ctx)
	return err
}

// lose retires s, which is lost, and reports whether it had a reply link.
func (c *conn) lose(s *session) bool {
	c.mu.Lock()
	if c.cur == s {
		c.cur = nil
		c.ready = make(chan struct{})
	}
	c.mu.Unlock()
	s.close()
	return s.currentReplyAddress() != ""
}

// current returns the current session, waiting for a reconnection.
func (c *conn) current(ctx context.Context) (*session, error) {
	for {
		if c.closed.Load() {
			return nil, driver.ErrClosed
		}
		c.mu.Lock()
		s, ready := c.cur, c.ready
		c.mu.Unlock()
		if s != nil {
			return s, nil
		}
		select {
		case <-ready:
		case <-ctx.Done():
			c.mu.Lock()
			last := c.lastErr
			c.mu.Unlock()
			if last != nil {
				return nil, fmt.Errorf("amqp1: not connected (last error: %w): %w", last, ctx.Err())
			}
			return nil, fmt.Errorf("amqp1: not connected: %w", ctx.Err())
		case <-c.ctx.Done():
			return nil, driver.ErrClosed
		}
	}
}

// outgoing describes one message to send.
type outgoing struct {
	kind    string // for errors: "call", "cast", "notification", "reply"
	address func(addresser) string
	build   func(to string) *amqp.Message
	settled bool   // send pre-settled
	retry   int    // re-sends after recoverable failures; negative: until ctx ends
	replyTo string // calls: the reply address the request carries
}

// errRetry marks a failure after which the message may be sent again
// without risk of duplication; wait tells how to wait before that.
type errRetry struct {
	err  error
	link bool // a link failed or the message was released: link_retry_delay
}

func (e *errRetry) Error() string { return e.err.Error() }
func (e *errRetry) Unwrap() error { return e.err }

// transmit sends out, re-sending after released outcomes, link failures
// and connection losses as out.retry allows.
func (c *conn) transmit(ctx context.Context, out *outgoing) error {
	for attempt := 0; ; attempt++ {
		s, err := c.current(ctx)
		if err != nil {
			return err
		}
		if out.replyTo != "" && s.currentReplyAddress() != out.replyTo {
			return fmt.Errorf("amqp1: %s: the reply link of the request was lost with its connection: %w", out.kind, driver.ErrConnectionLost)
		}
		addr := out.address(s.addr)
		err = s.transmit(ctx, addr, out.build(addr), out.settled)
		if err == nil {
			return nil
		}
		if c.closed.Load() {
			return driver.ErrClosed
		}
		if ctx.Err() != nil {
			return fmt.Errorf("amqp1: %s to %s: %w", out.kind, addr, ctx.Err())
		}
		var re *errRetry
		if !errors.As(err, &re) {
			return err
		}
		if out.retry >= 0 && attempt >= out.retry {
			return err
		}
		c.log.Debug("amqp1: re-sending", "kind", out.kind, "address", addr, "error", err)
		if re.link {
			if !c.sleep(ctx, c.o.linkRetryDelay) {
				if c.closed.Load() {
					return driver.ErrClosed
				}
				return fmt.Errorf("amqp1: %s to %s: %w (after %v)", out.kind, addr, ctx.Err(), err)
			}
			continue
		}
		select { // the connection is gone: wait until the supervisor notices
		case <-s.ctx.Done():
		case <-ctx.Done():
			return fmt.Errorf("amqp1: %s to %s: %w (after %v)", out.kind, addr, ctx.Err(), err)
		}
	}
}

// transmit sends msg to addr on this session and interprets the outcome.
func (s *session) transmit(ctx context.Context, addr string, msg *amqp.Message, settled bool) error {
	snd, err := s.sender(ctx, addr)
	if err != nil {
		return s.classify(err, addr, nil)
	}
	if settled {
		if err := snd.Send(ctx, msg, &amqp.SendOptions{Settled: true}); err != nil {
			return s.classify(err, addr, snd)
		}
		return nil
	}
	receipt, err := snd.SendWithReceipt(ctx, msg, nil)
	if err != nil {
		return s.classify(err, addr, snd)
	}
	state, err := receipt.Wait(ctx)
	if err != nil {
		return s.classify(err, addr, snd)
	}
	switch st := state.(type) {
	case *amqp.StateAccepted:
		return nil
	case *amqp.StateReleased:
		// Never forwarded beyond the next hop: safe to send again.
		return &errRetry{err: fmt.Errorf("amqp1: message to %s released: %w", addr, driver.ErrUndeliverable), link: true}
	case *amqp.StateModified:
		if !st.DeliveryFailed && !st.UndeliverableHere {
			return &errRetry{err: fmt.Errorf("amqp1: message to %s modified: %w", addr, driver.ErrUndeliverable), link: true}
		}
		return fmt.Errorf("amqp1: message to %s not delivered (modified, delivery-failed=%v, undeliverable-here=%v): %w",
			addr, st.DeliveryFailed, st.UndeliverableHere, driver.ErrUndeliverable)
	case *amqp.StateRejected:
		return fmt.Errorf("amqp1: message to %s rejected: %v: %w", addr, st.Error, driver.ErrUndeliverable)
	}
	return fmt.Errorf("amqp1: message to %s: unexpected outcome %v: %w", addr, state, driver.ErrUndeliverable)
}

// classify wraps a go-amqp error: link and connection failures may be
// retried.
func (s *session) classify(err error, addr string, snd *amqp.Sender) error {
	if snd != nil {
		var le *amqp.LinkError
		if errors.As(err, &le) {
			s.dropSenderLink(addr, snd)
		}
	}
	var (
		le *amqp.LinkError
		se *amqp.SessionError
		ce *amqp.ConnError
	)
	if errors.As(err, &se) {
		s.amqpConn.Close() // a session lost without its connection: start afresh
	}
	switch {
	case s.ctx.Err() != nil || errors.As(err, &ce) || errors.As(err, &se):
		return &errRetry{err: fmt.Errorf("amqp1: sending to %s: %v: %w", addr, err, driver.ErrConnectionLost)}
	case errors.As(err, &le):
		return &errRetry{err: fmt.Errorf("amqp1: sending to %s: link detached: %w", addr, err), link: true}
	}
	return err
}

// withDefaultTimeout bounds ctx by d when it has no deadline (oslo's
// default_*_timeout options).
func withDefaultTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok || d <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, d)
}

func checkContentType(m *driver.Message) error {
	if m.ContentType != "" && m.ContentType != jsonContentType {
		return fmt.Errorf("amqp1: content type %s: oslo's AMQP 1.0 wire format is JSON only", m.ContentType)
	}
	return nil
}

// newMessage returns an AMQP message to addr with body as its AMQP value
// (a string, as oslo sends it); a nil body gives a message without one.
func newMessage(to string, body []byte) *amqp.Message {
	m := &amqp.Message{Properties: &amqp.MessageProperties{To: &to}}
	if body != nil {
		m.Value = string(body)
	}
	return m
}

// Send sends a call request or a cast: pre-settled or not as pre_settled
// says (by default calls wait for the peer's outcome, casts do not), to
// the anycast, unicast or multicast address of t. A call carries its
// message id as message-id, its reply address as reply-to and its timeout
// as the header TTL.
func (c *conn) Send(ctx context.Context, t target.Target, m *driver.Message) error {
	if c.closed.Load() {
		return driver.ErrClosed
	}
	if err := checkContentType(m); err != nil {
		return err
	}
	body, err := encodeRequest(m.Body)
	if err != nil {
		return err
	}
	ctx, cancel := withDefaultTimeout(ctx, c.o.sendTimeout)
	defer cancel()
	call := m.MsgID != ""
	out := &outgoing{
		kind:    "cast",
		address: func(a addresser) string { return resolve(a, t, serviceRPC) },
		settled: c.o.preSettled["rpc-cast"],
		retry:   m.Retry,
	}
	msgID, replyTo, ttl := m.MsgID, m.ReplyTo, m.Expiration
	if call {
		out.kind, out.settled, out.replyTo = "call", c.o.preSettled["rpc-call"], replyTo
	}
	out.build = func(to string) *amqp.Message {
		msg := newMessage(to, body)
		if call {
			msg.Properties.MessageID = msgID
			msg.Properties.ReplyTo = &replyTo
			if ttl > 0 {
				msg.Header = &amqp.MessageHeader{TTL: max(ttl, time.Millisecond)}
			}
		}
		return msg
	}
	return c.transmit(ctx, out)
}

// Notify sends a notification to the anycast notification address of
// t.Topic (<topic>.<priority>), waiting for the peer's outcome unless
// pre_settled has "notify".
func (c *conn) Notify(ctx context.Context, t target.Target, m *driver.Message) error {
	if c.closed.Load() {
		return driver.ErrClosed
	}
	if err := checkContentType(m); err != nil {
		return err
	}
	body, err := encodeNotification(m.Body)
	if err != nil {
		return err
	}
	ctx, cancel := withDefaultTimeout(ctx, c.o.notifyTimeout)
	defer cancel()
	return c.transmit(ctx, &outgoing{
		kind:    "notification",
		address: func(a addresser) string { return a.anycast(t, serviceNotify) },
		build:   func(to string) *amqp.Message { return newMessage(to, body) },
		settled: c.o.preSettled["notify"],
		retry:   m.Retry,
	})
}

// reply sends a reply, or a call-monitor heartbeat (a message without a
// body whose TTL is the caller's call-monitor timeout), to the caller's
// reply address, correlated by correlation-id.
func (c *conn) reply(ctx context.Context, m *driver.Message, monitor time.Duration) error {
	if m.ReplyTo == "" {
		return nil
	}
	if c.closed.Load() {
		return driver.ErrClosed
	}
	body, err := encodeReply(m.Body, m.Heartbeat)
	if err != nil {
		return err
	}
	heartbeat := body == nil
	out := &outgoing{
		kind:    "reply",
		address: func(addresser) string { return m.ReplyTo },
		settled: c.o.preSettled["rpc-reply"],
		retry:   c.o.replyRetry,
	}
	if heartbeat {
		// Worst effort, as oslo: pre-settled, no retry.
		out.kind, out.settled, out.retry = "heartbeat", true, 0
	}
	msgID := m.MsgID
	out.build = func(to string) *amqp.Message {
		msg := newMessage(to, body)
		msg.Properties.CorrelationID = msgID
		if heartbeat && monitor > 0 {
			msg.Header = &amqp.MessageHeader{TTL: monitor}
		}
		return msg
	}
	ctx, cancel := context.WithTimeout(ctx, c.o.replyTimeout)
	defer cancel()
	return c.transmit(ctx, out)
}

// ReplyAddress returns the address of the reply link of the current
// connection (a dynamic receiver), attaching it on first use. It changes
// when the connection is re-established.
func (c *conn) ReplyAddress(ctx context.Context) (string, error) {
	s, err := c.current(ctx)
	if err != nil {
		return "", err
	}
	return s.replyAddress(ctx)
}

// Listen consumes the RPC requests of t from its unicast, multicast and
// anycast addresses, with rpc_server_credit credit on each link.
func (c *conn) Listen(ctx context.Context, t target.Target, _ driver.ListenOptions) (driver.Listener, error) {
	return c.startListener(ctx, false, c.o.rpcCredit, func(a addresser) []string {
		addrs := make([]string, 0, 3)
		if t.Server != "" {
			addrs = append(addrs, a.unicast(t, serviceRPC))
		}
		return append(addrs, a.multicast(t, serviceRPC), a.anycast(t, serviceRPC))
	})
}

// ErrPoolsUnsupported is returned by ListenNotifications for a non-empty
// pool: as oslo's AMQP 1.0 driver, this driver has no notification
// listener pools. It matches errors.ErrUnsupported.
var ErrPoolsUnsupported = fmt.Errorf("amqp1: notification listener pools are not supported by the AMQP 1.0 driver: %w", errors.ErrUnsupported)

// ListenNotifications consumes the anycast notification addresses of the
// targets, with notify_server_credit credit on each link. Incoming.Ack
// accepts a notification, Incoming.Requeue releases it.
func (c *conn) ListenNotifications(ctx context.Context, targets []target.Target, pool string, _ driver.ListenOptions) (driver.Listener, error) {
	if pool != "" {
		return nil, fmt.Errorf("pool %q: %w", pool, ErrPoolsUnsupported)
	}
	if len(targets) == 0 {
		return nil, errors.New("amqp1: no notification targets")
	}
	ts := append([]target.Target(nil), targets...)
	return c.startListener(ctx, true, c.o.notifyCredit, func(a addresser) []string {
		var addrs []string
		seen := map[string]bool{}
		for _, t := range ts {
			if addr := a.anycast(t, serviceNotify); !seen[addr] {
				seen[addr] = true
				addrs = append(addrs, addr)
			}
		}
		return addrs
	})
}

// Close closes the listeners and the connection and waits for the
// driver's goroutines. Calls in flight are failed by the core.
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
	c.cancel()
	c.wg.Wait()
	return nil
}

// wireBody returns the body of msg: its AMQP value (a string, as oslo
// sends it, or binary) or its data sections; nil when it has none (a
// heartbeat).
func wireBody(msg *amqp.Message) []byte {
	switch v := msg.Value.(type) {
	case string:
		return []byte(v)
	case []byte:
		return v
	}
	switch len(msg.Data) {
	case 0:
		return nil
	case 1:
		return msg.Data[0]
	}
	var b []byte
	for _, d := range msg.Data {
		b = append(b, d...)
	}
	return b
}

// idString returns the correlation-id (or message-id) of props as a
// string.
func idString(props *amqp.MessageProperties, correlation bool) string {
	if props == nil {
		return ""
	}
	v := props.MessageID
	if correlation {
		v = props.CorrelationID
	}
	switch id := v.(type) {
	case nil:
		return ""
	case string:
		return id
	case []byte:
		return string(id)
	case uint64:
		return strconv.FormatUint(id, 10)
	case amqp.UUID:
		return id.String()
	}
	return fmt.Sprint(v)
}

func replyTo(props *amqp.MessageProperties) string {
	if props == nil || props.ReplyTo == nil {
		return ""
	}
	return *props.ReplyTo
}
