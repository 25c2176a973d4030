package nats

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

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
	nc        *natsgo.Conn
	cfg       config
	log       *slog.Logger
	onReply   func(driver.Reply)
	subj      subjects
	maxBody   atomic.Int64 // the server's max_payload minus payloadHeadroom
	closing   atomic.Bool  // Close has started
	dead      chan struct{}
	deadOnce  sync.Once
	closedCB  chan struct{} // nats.go ran the closed handler

	inboxMu sync.Mutex
	inbox   atomic.Pointer[inbox]

	mu        sync.Mutex
	listeners map[listenerCloser]struct{}

	blobs blobStore
	wg    sync.WaitGroup // goroutines the driver starts (large replies, notification pumps)

	js notifyState
}

type listenerCloser interface{ Close() error }

// inbox is the Conn's reply subscription: <prefix>.* .
type inbox struct {
	prefix string
	sub    *natsgo.Subscription
}

var errConnLost = fmt.Errorf("nats: connection closed after failed reconnects: %w", driver.ErrConnectionLost)

// Open connects to the servers of u. See the package doc for the URL and
// the options.
func (Driver) Open(ctx context.Context, u *driver.URL, dcfg driver.Config) (driver.Conn, error) {
	cfg, err := parseConfig(u, dcfg.Options)
	if err != nil {
		return nil, err
	}
	c := &conn{
		cfg:       cfg,
		log:       dcfg.Logger,
		onReply:   dcfg.OnReply,
		subj:      subjects{prefix: cfg.prefix},
		dead:      make(chan struct{}),
		closedCB:  make(chan struct{}),
		listeners: map[listenerCloser]struct{}{},
	}
	c.blobs.init()
	opts := append(cfg.natsOpts(),
		natsgo.DisconnectErrHandler(c.onDisconnect),
		natsgo.ReconnectHandler(c.onReconnect),
		natsgo.ClosedHandler(c.onClosed),
		natsgo.ErrorHandler(c.onAsyncError),
	)
	type result struct {
		nc  *natsgo.Conn
		err error
	}
	done := make(chan result, 1)
	go func() {
		nc, err := natsgo.Connect(strings.Join(cfg.servers, ","), opts...)
		done <- result{nc, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		go func() { // close the connection if it comes after all
			if r := <-done; r.nc != nil {
				r.nc.Close()
			}
		}()
		return nil, fmt.Errorf("nats: connecting: %w", ctx.Err())
	}
	if r.err != nil {
		return nil, fmt.Errorf("nats: connecting to %s: %w", redactedServers(cfg.servers), r.err)
	}
	c.nc = r.nc
	c.setMaxBody(r.nc)
	c.log.Debug("nats: connected", "server", c.nc.ConnectedUrlRedacted(), "server_id", c.nc.ConnectedServerId(),
		"max_payload", c.nc.MaxPayload(), "subject_prefix", cfg.prefix)
	return c, nil
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

func (c *conn) setMaxBody(nc *natsgo.Conn) {
	c.maxBody.Store(max(nc.MaxPayload()-payloadHeadroom, 1024))
}

// onDisconnect fails the calls in flight: their replies may be lost with
// the connection, and core NATS keeps nothing for a disconnected client.
func (c *conn) onDisconnect(nc *natsgo.Conn, err error) {
	if c.closing.Load() {
		return
	}
	c.log.Warn("nats: disconnected; calls in flight fail, reconnecting", "error", err)
	c.onReply(driver.Reply{Err: fmt.Errorf("nats: disconnected from the server (%v): %w", err, driver.ErrConnectionLost)})
}

func (c *conn) onReconnect(nc *natsgo.Conn) {
	c.setMaxBody(nc)
	c.log.Info("nats: reconnected", "server", nc.ConnectedUrlRedacted(), "server_id", nc.ConnectedServerId())
}

func (c *conn) onClosed(nc *natsgo.Conn) {
	defer close(c.closedCB)
	if c.closing.Load() {
		return
	}
	c.log.Error("nats: connection closed for good; the transport must be reopened", "error", nc.LastError())
	c.markDead()
	c.onReply(driver.Reply{Err: errConnLost})
}

func (c *conn) markDead() { c.deadOnce.Do(func() { close(c.dead) }) }

func (c *conn) onAsyncError(nc *natsgo.Conn, sub *natsgo.Subscription, err error) {
	if c.closing.Load() {
		return
	}
	subject := ""
	if sub != nil {
		subject = sub.Subject
	}
	if errors.Is(err, natsgo.ErrSlowConsumer) {
		c.log.Warn("nats: slow consumer: messages dropped (raise ListenerBuffer or MaxConcurrency)", "subject", subject, "error", err)
		return
	}
	c.log.Error("nats: asynchronous error", "subject", subject, "error", err)
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
	c.nc.Close()
	c.markDead()
	t := time.NewTimer(closeWait)
	defer t.Stop()
	select {
	case <-c.closedCB:
	case <-t.C:
		c.log.Warn("nats: closed handler did not run in time")
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
	// Replies are small and handled at once; never drop them.
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
	return fmt.Errorf("nats: %s: %w", what, err)
}

// Compile-time checks.
var (
	_ driver.Conn     = (*conn)(nil)
	_ driver.Notifier = (*conn)(nil)
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
