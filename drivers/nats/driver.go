package nats

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/oslo-go/messaging/internal/ratelog"
	"github.com/oslo-go/messaging/transport"
	"github.com/oslo-go/messaging/transport/driver"
)

func init() { transport.Register("nats", Driver{}) }

// Driver is the NATS driver, registered as "nats".
type Driver struct{}

// Header names the driver sets on NATS messages.
const (
	hdrContentType = "Content-Type"
	// hdrBlob marks a message whose body is larger than the server's
	// max_payload: "<subject> <id> <size>"; the data holds the first chunk
	// and the rest is fetched from the sender (see large.go).
	hdrBlob      = "Oslo-Blob"
	hdrBlobError = "Oslo-Blob-Error"
	hdrStatus    = "Status" // set by the server on "no responders" (503)
)

// payloadHeadroom is kept free of body bytes in every message for the
// subject, reply and headers.
const payloadHeadroom = 8 << 10

// closeWait bounds what Close waits for (flushes, listeners winding down,
// nats.go's callback goroutine).
const closeWait = 5 * time.Second

// conn is a driver.Conn over one nats.go connection.
type conn struct {
	subjMu    sync.RWMutex
	subjCache map[sendKey]string // see sendSubject
	cfg       config
	log       *slog.Logger
	onReply   func(driver.Reply)
	subj      subjects
	secrets   secrets
	maxBody   atomic.Int64 // the server's max_payload minus payloadHeadroom
	closing   atomic.Bool  // Close has started

	// The connection is made in the background (see Open): nc is set once
	// nats.go returned it, connected is closed at the first connection,
	// dead when the connection is closed for good (then deadErr says why).
	ncMu        sync.Mutex
	nc          *natsgo.Conn
	connected   chan struct{}
	connectOnce sync.Once
	connectDone chan struct{}   // the goroutine calling nats.go's Connect returned
	connectErr  error           // what Connect returned, set before connectDone is closed
	closeGaveUp bool            // under ncMu: Close stopped waiting for Connect
	ctx         context.Context // canceled when Close starts: dials, fetches
	cancel      context.CancelFunc
	dead        chan struct{}
	deadOnce    sync.Once
	deadErr     error
	closedCB    chan struct{} // nats.go ran the closed handler

	sockMu sync.Mutex
	sock   net.Conn // the last socket dialed

	errMu   sync.Mutex
	lastErr error // the last connection error, scrubbed
	// reconnectedAt is when the connection came back (UnixNano), for the
	// reconnect grace of calls that find no server (see resend.go).
	reconnectedAt atomic.Int64
	failedFirst   atomic.Bool // a try failed before the first connection
	warn          ratelog.Limiter

	inboxMu sync.Mutex
	inbox   atomic.Pointer[inbox]

	mu        sync.Mutex
	listeners map[listenerCloser]struct{}

	blobs        blobStore
	fetches      fetchSlots   // see large.go
	replyFetches atomic.Int32 // large replies being fetched or waiting for a slot
	resend       resendState
	disconnected atomic.Bool    // between onDisconnect and onReconnect
	wg           sync.WaitGroup // goroutines the driver starts (large replies, notification pumps)

	js notifyState
}

type listenerCloser interface{ Close() error }

// inbox is the Conn's reply subscription: <prefix>.* .
type inbox struct {
	prefix string
	sub    *natsgo.Subscription
}

// Open validates the URL and the options, tries the servers once (each
// within connect_timeout, all within ctx) and returns, connected or not:
// it fails only for a URL or options that cannot work. A connection that
// could not be made is retried in the background (every ReconnectWait, up
// to MaxReconnects), as nats.go reconnects a lost one. Operations wait for
// the first connection within their ctx and report the last connection
// error when it ends; Ping tells whether the server is reachable now. See
// the package doc for the URL and the options.
func (Driver) Open(ctx context.Context, u *driver.URL, dcfg driver.Config) (driver.Conn, error) {
	cfg, err := parseConfig(u, dcfg.Options)
	if err != nil {
		return nil, err
	}
	c := &conn{
		cfg:         cfg,
		log:         dcfg.Logger,
		onReply:     dcfg.OnReply,
		subj:        subjects{prefix: cfg.prefix},
		secrets:     secretsOf(u.Hosts),
		connected:   make(chan struct{}),
		connectDone: make(chan struct{}),
		dead:        make(chan struct{}),
		closedCB:    make(chan struct{}),
		listeners:   map[listenerCloser]struct{}{},
	}
	c.blobs.init()
	c.fetches.init(maxFetches)
	c.maxBody.Store(minBody)
	c.ctx, c.cancel = context.WithCancel(context.Background())
	o := natsgo.GetDefaultOptions()
	o.Servers = cfg.servers
	// The dialer first, so that NATSOptions may replace it.
	opts := append([]natsgo.Option{natsgo.SetCustomDialer(dialer{c})}, cfg.natsOpts()...)
	opts = append(opts,
		natsgo.ConnectHandler(c.onConnect),
		natsgo.DisconnectErrHandler(c.onDisconnect),
		natsgo.ReconnectHandler(c.onReconnect),
		natsgo.ReconnectErrHandler(c.onReconnectError),
		natsgo.ClosedHandler(c.onClosed),
		natsgo.ErrorHandler(c.onAsyncError),
	)
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			c.cancel()
			return nil, fmt.Errorf("nats: %w", c.secrets.scrub(err))
		}
	}
	if cfg.tlsUnverified() {
		c.log.Warn("nats: TLS without verifying the server's certificate (tls_insecure): " +
			"anyone between this process and the server can read the credentials and the messages")
	}
	go c.connect(o)
	// One try of the servers, so that a Conn whose server is up is
	// connected when Open returns; a server that is down or does not
	// answer within ctx is tried again in the background.
	select {
	case <-c.connectDone:
		if c.connectErr != nil { // not retried: the options cannot work
			c.Close()
			return nil, fmt.Errorf("nats: connecting to %s: %w", redactedServers(cfg.servers), c.connectErr)
		}
	case <-ctx.Done():
	}
	return c, nil
}

// dialer dials the servers for nats.go, recording the errors (nats.go
// reports a refused first connection only as "no servers available") and
// giving up at once when the Conn closes: Close cuts a dial short, and
// closes the socket of a handshake that does not end (a server that
// accepts but never speaks), which nats.go would wait connect_timeout for.
type dialer struct{ c *conn }

func (d dialer) Dial(network, address string) (net.Conn, error) {
	nd := net.Dialer{Timeout: d.c.cfg.connectTimeout}
	sock, err := nd.DialContext(d.c.ctx, network, address)
	if err != nil {
		d.c.setLastError(err)
		return nil, err
	}
	d.c.sockMu.Lock()
	d.c.sock = sock
	d.c.sockMu.Unlock()
	if d.c.ctx.Err() != nil { // Close ran meanwhile
		sock.Close()
	}
	return sock, nil
}

// connect makes the nats.go connection. With RetryOnFailedConnect it
// returns after one try of every server, connected or not; nats.go goes on
// trying in the background and runs onConnect when it gets through.
func (c *conn) connect(o natsgo.Options) {
	defer close(c.connectDone)
	nc, err := o.Connect()
	if err != nil { // not retried: RetryOnFailedConnect turned off with NATSOptions, or bad settings
		c.setLastError(err)
		c.connectErr = c.lastError()
		c.die(c.connectErr)
		if !c.closing.Load() {
			c.log.Error("nats: cannot connect", "servers", redactedServers(c.cfg.servers), "error", c.connectErr)
		}
		return
	}
	c.ncMu.Lock()
	if c.nc == nil {
		c.nc = nc
	}
	gaveUp := c.closeGaveUp
	c.ncMu.Unlock()
	if gaveUp { // Close stopped waiting for this Connect
		nc.Close()
		return
	}
	if nc.IsConnected() {
		c.markConnected(nc, false)
		return
	}
	if !c.closing.Load() {
		c.log.Info("nats: server not reachable yet; connecting in the background",
			"servers", redactedServers(c.cfg.servers), "error", c.lastError())
	}
}

// onConnect runs when the first connection succeeds, at once or after
// failed tries (then onReconnectError ran before, from the same queue of
// callbacks).
func (c *conn) onConnect(nc *natsgo.Conn) {
	c.ncMu.Lock()
	if c.nc == nil {
		c.nc = nc
	}
	c.ncMu.Unlock()
	c.markConnected(nc, c.failedFirst.Load())
}

// markConnected records the first connection. One made after failed tries
// opens the reconnect grace: the servers started with this one may not
// have subscribed yet.
func (c *conn) markConnected(nc *natsgo.Conn, retried bool) {
	c.connectOnce.Do(func() {
		c.setMaxBody(nc)
		if retried {
			c.reconnectedAt.Store(time.Now().UnixNano())
		}
		c.log.Debug("nats: connected", "server", nc.ConnectedAddr(), "server_id", nc.ConnectedServerId(),
			"max_payload", nc.MaxPayload(), "subject_prefix", c.cfg.prefix)
		if retried {
			c.log.Info("nats: connected", "server", nc.ConnectedAddr())
		}
		close(c.connected)
	})
}

func (c *conn) isConnectedOnce() bool {
	select {
	case <-c.connected:
		return true
	default:
		return false
	}
}

// ready waits for the first connection, until ctx ends or the Conn is
// closed or dead.
func (c *conn) ready(ctx context.Context) error {
	if c.closing.Load() {
		return driver.ErrClosed
	}
	select {
	case <-c.connected:
		return nil
	default:
	}
	select {
	case <-c.connected:
		return nil
	case <-c.dead:
		return c.deadError()
	case <-ctx.Done():
		return c.notConnected(ctx.Err())
	}
}

// notConnected reports that the server could not be reached before cause
// (the end of a ctx), with the last connection error.
func (c *conn) notConnected(cause error) error {
	if last := c.lastError(); last != nil {
		return fmt.Errorf("nats: not connected to %s (last error: %w): %w", redactedServers(c.cfg.servers), last, cause)
	}
	return fmt.Errorf("nats: not connected to %s: %w", redactedServers(c.cfg.servers), cause)
}

func (c *conn) setLastError(err error) {
	if err == nil {
		return
	}
	c.errMu.Lock()
	defer c.errMu.Unlock()
	// nats.go reports a refused connection as "no servers available":
	// keep the dial error, which says more.
	if errors.Is(err, natsgo.ErrNoServers) && c.lastErr != nil {
		return
	}
	c.lastErr = c.secrets.scrub(err)
}

func (c *conn) lastError() error {
	c.errMu.Lock()
	defer c.errMu.Unlock()
	return c.lastErr
}

// Ping reports whether the server is reachable: nil after a round trip to
// it, else, when ctx ends first, the last connection error.
func (c *conn) Ping(ctx context.Context) error {
	if err := c.ready(ctx); err != nil {
		return err
	}
	if err := c.waitConnected(ctx); err != nil {
		if errors.Is(err, ctx.Err()) {
			return c.notConnected(err)
		}
		return err
	}
	if err := c.nc.FlushWithContext(ctx); err != nil {
		if c.closing.Load() {
			return driver.ErrClosed
		}
		return c.notConnected(c.secrets.scrub(err))
	}
	return nil
}

// redactedServers lists the servers without their credentials.
func redactedServers(urls []string) string {
	out := make([]string, len(urls))
	for i, u := range urls {
		if at := strings.LastIndexByte(u, '@'); at >= 0 {
			u = "nats://***@" + u[at+1:]
		}
		out[i] = u
	}
	return strings.Join(out, ",")
}

// minBody is the body size under which messages are never chunked.
const minBody = 1024

func (c *conn) setMaxBody(nc *natsgo.Conn) {
	c.maxBody.Store(max(nc.MaxPayload()-payloadHeadroom, minBody))
}

// onDisconnect fails the calls in flight: their replies may be lost with
// the connection, and core NATS keeps nothing for a disconnected client.
func (c *conn) onDisconnect(_ *natsgo.Conn, err error) {
	if c.closing.Load() {
		return
	}
	c.disconnected.Store(true)
	err = c.secrets.scrub(err)
	c.setLastError(err)
	c.warn.Warn(c.log, "disconnected", "nats: disconnected; calls in flight fail, reconnecting", "error", err)
	c.onReply(driver.Reply{Err: fmt.Errorf("nats: disconnected from the server (%v): %w", err, driver.ErrConnectionLost)})
}

func (c *conn) onReconnect(nc *natsgo.Conn) {
	c.setMaxBody(nc)
	c.reconnectedAt.Store(time.Now().UnixNano())
	c.disconnected.Store(false)
	c.log.Info("nats: reconnected", "server", nc.ConnectedAddr(), "server_id", nc.ConnectedServerId())
}

// onReconnectError runs for every failed try to (re)connect: logged once
// per ratelog interval.
func (c *conn) onReconnectError(_ *natsgo.Conn, err error) {
	if !c.isConnectedOnce() {
		c.failedFirst.Store(true)
	}
	if c.closing.Load() {
		return
	}
	c.setLastError(err)
	c.warn.Warn(c.log, "reconnect", "nats: cannot reach the server; retrying", "servers", redactedServers(c.cfg.servers), "error", c.lastError())
}

func (c *conn) onClosed(nc *natsgo.Conn) {
	defer close(c.closedCB)
	if c.closing.Load() {
		return
	}
	c.setLastError(nc.LastError())
	c.die(c.lastError())
	c.log.Error("nats: connection closed for good; the transport must be reopened", "error", c.lastError())
	c.onReply(driver.Reply{Err: c.deadError()})
}

// die marks the Conn dead for good, because of cause.
func (c *conn) die(cause error) {
	c.deadOnce.Do(func() {
		switch {
		case c.closing.Load():
			c.deadErr = driver.ErrClosed
		case cause != nil:
			c.deadErr = fmt.Errorf("nats: connection closed after failed reconnects (last error: %v): %w", cause, driver.ErrConnectionLost)
		default:
			c.deadErr = fmt.Errorf("nats: connection closed after failed reconnects: %w", driver.ErrConnectionLost)
		}
		close(c.dead)
	})
}

// deadError is the error of operations on a dead Conn.
func (c *conn) deadError() error {
	<-c.dead
	if c.closing.Load() {
		return driver.ErrClosed
	}
	return c.deadErr
}

func (c *conn) onAsyncError(_ *natsgo.Conn, sub *natsgo.Subscription, err error) {
	if c.closing.Load() {
		return
	}
	subject := ""
	if sub != nil {
		subject = sub.Subject
	}
	err = c.secrets.scrub(err)
	if errors.Is(err, natsgo.ErrSlowConsumer) {
		c.warn.Warn(c.log, "slow consumer", "nats: slow consumer: messages dropped (raise ListenerBuffer or MaxConcurrency)", "subject", subject, "error", err)
		return
	}
	c.warn.Log(c.log, slog.LevelError, "async", "nats: asynchronous error", "subject", subject, "error", err)
}

// Close closes the listeners (returning the RPC messages they hold to the
// broker), then the connection, and waits for nats.go's goroutines.
func (c *conn) Close() error {
	if c.closing.Swap(true) {
		return nil
	}
	c.mu.Lock()
	ls := make([]listenerCloser, 0, len(c.listeners))
	for l := range c.listeners {
		ls = append(ls, l)
	}
	c.mu.Unlock()
	for _, l := range ls {
		l.Close()
	}
	c.blobs.clear()
	c.resend.clear()
	c.cancel()
	if !c.isConnectedOnce() || c.disconnected.Load() {
		// A handshake may be under way: nats.go holds its lock for it.
		c.sockMu.Lock()
		if c.sock != nil {
			c.sock.Close()
		}
		c.sockMu.Unlock()
	}
	wait, cancel := context.WithTimeout(context.Background(), closeWait)
	defer cancel()
	select {
	case <-c.connectDone:
	case <-wait.Done():
		c.log.Warn("nats: connecting did not stop in time")
	}
	c.ncMu.Lock()
	nc := c.nc
	c.closeGaveUp = nc == nil
	c.ncMu.Unlock()
	if nc != nil {
		nc.Close()
	}
	c.die(nil)
	if nc != nil {
		select {
		case <-c.closedCB:
		case <-wait.Done():
			c.log.Warn("nats: closed handler did not run in time")
		}
	}
	if !waitGroup(&c.wg, closeWait) {
		c.log.Warn("nats: driver goroutines still running after Close")
	}
	return nil
}

func (c *conn) addListener(l listenerCloser) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing.Load() {
		return false
	}
	c.listeners[l] = struct{}{}
	return true
}

// spawn runs f in a goroutine that Close waits for; it reports false,
// without running f, once Close has started.
func (c *conn) spawn(f func()) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing.Load() {
		return false
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		f()
	}()
	return true
}

func (c *conn) removeListener(l listenerCloser) {
	c.mu.Lock()
	delete(c.listeners, l)
	c.mu.Unlock()
}

// ensureInbox sets up the Conn's reply subscription on first use.
func (c *conn) ensureInbox() (*inbox, error) {
	if in := c.inbox.Load(); in != nil {
		return in, nil
	}
	c.inboxMu.Lock()
	defer c.inboxMu.Unlock()
	if in := c.inbox.Load(); in != nil {
		return in, nil
	}
	if c.closing.Load() {
		return nil, driver.ErrClosed
	}
	prefix := c.nc.NewInbox()
	in := &inbox{prefix: prefix}
	sub, err := c.nc.Subscribe(prefix+".*", func(m *natsgo.Msg) { c.onInboxMsg(in, m) })
	if err != nil {
		return nil, c.natsError("subscribing to the reply inbox", err)
	}
	// Replies are handled at once (large ones are fetched aside): never
	// drop them.
	sub.SetPendingLimits(-1, -1)
	in.sub = sub
	c.inbox.Store(in)
	c.log.Debug("nats: reply inbox", "subject", prefix+".*")
	return in, nil
}

// natsError wraps a nats.go error, mapping a closed connection to the
// driver's errors.
func (c *conn) natsError(what string, err error) error {
	switch {
	case errors.Is(err, natsgo.ErrConnectionClosed), errors.Is(err, natsgo.ErrConnectionDraining):
		if c.closing.Load() {
			return driver.ErrClosed
		}
		return fmt.Errorf("nats: %s: %w (%w)", what, driver.ErrConnectionLost, err)
	case errors.Is(err, natsgo.ErrReconnectBufExceeded):
		return fmt.Errorf("nats: %s: disconnected and the reconnect buffer is full: %w (%w)", what, driver.ErrConnectionLost, err)
	}
	return fmt.Errorf("nats: %s: %w", what, c.secrets.scrub(err))
}

// Compile-time checks.
var (
	_ driver.Conn     = (*conn)(nil)
	_ driver.Notifier = (*conn)(nil)
	_ driver.Pinger   = (*conn)(nil)

	_ driver.UnwrappedMessages = (*conn)(nil)
	_ driver.MessageCopier     = (*conn)(nil)
)

// notifyState caches the streams and default consumers a Conn ensured.
type notifyState struct {
	once     sync.Once
	js       jetstream.JetStream
	err      error
	mu       sync.Mutex
	streams  map[string]jetstream.Stream // by exchange
	defaults map[[2]string]time.Time     // {exchange, topic} -> when its default consumer was ensured
}
