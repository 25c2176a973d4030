package zmq

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oslo-go/messaging/internal/backoff"
	"github.com/oslo-go/messaging/internal/ids"
	"github.com/oslo-go/messaging/internal/ratelog"
	"github.com/oslo-go/messaging/transport"
	"github.com/oslo-go/messaging/transport/driver"
)

func init() { transport.Register("zmq", Driver{}) }

var osHostname = os.Hostname

// Driver is the ZeroMQ driver, registered as "zmq" (URL schemes zmq:// and
// zmq+redis://).
type Driver struct{}

// Open returns a connection: a client of the servers the matchmaker
// knows, and the factory of servers (Listen) that bind their own sockets.
// It does not wait for the Redis matchmaker: the connection reaches Redis
// in the background (see Conn.Ping).
func (Driver) Open(_ context.Context, u *driver.URL, cfg driver.Config) (driver.Conn, error) {
	c, err := parseConfig(u, cfg.Options)
	if err != nil {
		return nil, err
	}
	adv, err := c.advertiseHost()
	if err != nil {
		return nil, fmt.Errorf("zmq: advertise host: %w", err)
	}
	refreshNow := make(chan struct{}, 1)
	mm, owned, err := openMatchmaker(c, cfg.Logger, func() {
		select {
		case refreshNow <- struct{}{}:
		default:
		}
	})
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithCancel(context.Background())
	cn := &conn{
		cfg:        c,
		refreshNow: refreshNow,
		log:        cfg.Logger,
		onReply:    cfg.OnReply,
		mm:         mm,
		ownMM:      owned,
		id:         ids.Hex(),
		advertise:  adv,
		ctx:        cctx,
		cancel:     cancel,
		peers:      map[string]*peer{},
		allPeers:   map[*peer]struct{}{},
		listeners:  map[*listener]struct{}{},
		sconns:     map[*serverConn]struct{}{},
		routes:     map[Key]*route{},
		quarantine: map[string]time.Time{},
	}
	cn.replyAddr = "zmq:" + cn.id
	cn.spawn(cn.sweepLoop)
	if c.matchmaker != matchmakerStatic {
		cn.spawn(cn.refreshLoop)
	}
	cn.log.Debug("zmq: connection open", "matchmaker", c.mmName(), "id", cn.id)
	return cn, nil
}

// openMatchmaker returns the matchmaker c names and whether the conn owns
// it (closes it). onRecover is what the Redis matchmaker calls when Redis
// answers again after a failure.
func openMatchmaker(c *config, log *slog.Logger, onRecover func()) (Matchmaker, bool, error) {
	switch c.matchmaker {
	case "":
		return c.custom, false, nil
	case matchmakerInproc:
		return memMatchmakerFor(c.namespace), false, nil
	case matchmakerStatic:
		return &staticMatchmaker{table: c.static}, true, nil
	case matchmakerRedis:
		opts, insecure, err := redisOptions(c.redis, c.redisTLS)
		if err != nil {
			return nil, false, err
		}
		if insecure {
			log.Warn("zmq: redis matchmaker: TLS without certificate verification (redis_ssl_insecure or skip_verify): whoever sits between this host and Redis can read and change its traffic, password included", "addr", opts.Addr)
		}
		return newRedisMatchmaker(opts, c.redisPrefix, log, onRecover, c.heartbeatInterval), true, nil
	}
	return nil, false, fmt.Errorf("zmq: unknown matchmaker %q", c.matchmaker)
}

// conn is a driver.Conn: the client side (peers: one DEALER connection per
// server address) and the server side (listeners: one bound ROUTER socket
// each) of one transport.
type conn struct {
	cfg        *config
	lim        ratelog.Limiter // warnings that can repeat per message or connection
	refreshNow chan struct{}   // re-register the listeners now
	log        *slog.Logger
	onReply    func(driver.Reply)
	mm         Matchmaker
	ownMM      bool
	id         string
	replyAddr  string
	advertise  string

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine of the conn
	closed atomic.Bool

	mu        sync.RWMutex
	closing   bool                     // set under mu; no goroutine starts after
	peers     map[string]*peer         // addr -> connection new sends use
	allPeers  map[*peer]struct{}       // every peer, draining ones included
	listeners map[*listener]struct{}   // open listeners
	sconns    map[*serverConn]struct{} // accepted connections

	rmu    sync.RWMutex
	routes map[Key]*route

	qmu         sync.Mutex
	quarantine  map[string]time.Time // addr -> until; see quarantined
	nquarantine atomic.Int32
}

// spawn runs f in a goroutine that Close waits for, unless the conn is
// closing (then it reports false).
func (c *conn) spawn(f func()) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return false
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		f()
	}()
	return true
}

// drain writes, before Close closes the connections, what their
// background flushers have not written yet: casts sent on ps (Send returns
// a cast once it is queued) and replies on scs (and the BYE and REJECTs of
// the listeners just closed). The connections drain in parallel, for at
// most heartbeat_timeout: a peer that reads nothing that long is taken for
// dead, as at any write.
func (c *conn) drain(ps []*peer, scs []*serverConn) {
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.heartbeatTimeout)
	defer cancel()
	var wg sync.WaitGroup
	start := func(w *connWriter) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.drain(ctx)
		}()
	}
	for _, p := range ps {
		if p.connected() {
			start(&p.w)
		}
	}
	for _, sc := range scs {
		start(&sc.w)
	}
	wg.Wait()
}

var (
	_ driver.Pinger            = (*conn)(nil)
	_ driver.UnwrappedMessages = (*conn)(nil)
)

// UnwrappedMessages returns true: no Python peer reads this wire (oslo's
// own zmq driver had another), so RPC messages go without oslo's 2.0
// envelope (see the package doc).
func (c *conn) UnwrappedMessages() bool { return true }

// withMatchmaker runs op, a matchmaker operation, until it succeeds: after
// a failure it tries again with backoff, while retries allow (negative:
// until ctx ends; 0: once). When ctx ends first the error wraps both
// op's last error and ctx's.
func (c *conn) withMatchmaker(ctx context.Context, retries int, op func() error) error {
	retry := backoff.Exponential(50*time.Millisecond, time.Second)
	for n := 0; ; n++ {
		err := op()
		switch {
		case err == nil:
			return nil
		case c.closed.Load():
			return driver.ErrClosed
		case ctx.Err() != nil:
			if errors.Is(err, ctx.Err()) {
				return err
			}
			return fmt.Errorf("%w: %w", ctx.Err(), err)
		case retries >= 0 && n >= retries:
			return err
		}
		if !backoff.Sleep(ctx, retry.Next(), c.ctx.Done()) {
			if c.closed.Load() {
				return driver.ErrClosed
			}
			return fmt.Errorf("%w: %w", ctx.Err(), err)
		}
	}
}

// Ping reports whether the matchmaker answers (the Redis matchmaker:
// Redis answers a PING), waiting within ctx; the in-process and static
// matchmakers always do. A matchmaker of WithMatchmaker is asked when it
// has a method Ping(context.Context) error.
func (c *conn) Ping(ctx context.Context) error {
	if c.closed.Load() {
		return driver.ErrClosed
	}
	if p, ok := c.mm.(interface{ Ping(context.Context) error }); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (c *conn) ReplyAddress(context.Context) (string, error) {
	if c.closed.Load() {
		return "", driver.ErrClosed
	}
	return c.replyAddr, nil
}

// Close unregisters and closes the listeners, writes what is still queued
// on each connection (see drain), closes every connection, and waits for
// the conn's goroutines. Calls in flight are failed by the core
// (transport.ErrClosed). Close is idempotent.
func (c *conn) Close() error {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return nil
	}
	c.closing = true
	c.closed.Store(true)
	ls := make([]*listener, 0, len(c.listeners))
	for l := range c.listeners {
		ls = append(ls, l)
	}
	ps := make([]*peer, 0, len(c.allPeers))
	for p := range c.allPeers {
		ps = append(ps, p)
	}
	scs := make([]*serverConn, 0, len(c.sconns))
	for sc := range c.sconns {
		scs = append(scs, sc)
	}
	c.mu.Unlock()

	c.cancel()
	for _, l := range ls {
		l.Close()
	}
	c.drain(ps, scs)
	for _, p := range ps {
		p.die(driver.ErrClosed)
	}
	for _, sc := range scs {
		sc.close()
	}
	c.wg.Wait()
	var err error
	if c.ownMM {
		err = c.mm.Close()
	}
	c.log.Debug("zmq: connection closed", "id", c.id)
	return err
}

// sweepLoop probes peers and closes dead or finished connections, every
// heartbeat interval.
func (c *conn) sweepLoop() {
	t := time.NewTicker(c.cfg.heartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case now := <-t.C:
			c.sweep(now)
		}
	}
}

func (c *conn) sweep(now time.Time) {
	c.mu.RLock()
	ps := make([]*peer, 0, len(c.allPeers))
	for p := range c.allPeers {
		ps = append(ps, p)
	}
	scs := make([]*serverConn, 0, len(c.sconns))
	for sc := range c.sconns {
		scs = append(scs, sc)
	}
	c.mu.RUnlock()
	nowNano := now.UnixNano()
	timeout := c.cfg.heartbeatTimeout.Nanoseconds()
	for _, p := range ps {
		if !p.connected() {
			continue
		}
		silent := nowNano - p.lastRecv.Load()
		expired := nowNano-c.cfg.heartbeatInterval.Nanoseconds() > p.lastDeadline() // every call sent has expired
		switch {
		case silent > timeout:
			p.die(fmt.Errorf("zmq: server %s silent for %v (heartbeat_timeout %v)", p.addr, time.Duration(silent).Round(time.Millisecond), c.cfg.heartbeatTimeout))
		case p.draining.Load() && expired:
			p.retire("the server left")
		case expired && nowNano-p.lastSend.Load() > idlePeer.Nanoseconds():
			p.retire("idle")
		default:
			p.ping()
		}
	}
	for _, sc := range scs {
		if !sc.ready.Load() {
			continue
		}
		// Tell the client the server is alive, even while its PINGs wait
		// unread behind requests (a busy server reads slowly, and not at
		// all while its inbox is full).
		sc.keepalive()
		if sc.stalled.Load() {
			continue
		}
		if nowNano-sc.lastRecv.Load() > timeout {
			c.log.Debug("zmq: closing silent client connection", "remote", sc.remote)
			sc.close()
			continue
		}
		if done, at := sc.l.closedSince(); done && nowNano > max(sc.maxDeadline.Load(), at+c.cfg.heartbeatInterval.Nanoseconds()) {
			c.log.Debug("zmq: closing client connection of a closed listener", "remote", sc.remote)
			sc.close()
		}
	}
	c.expireQuarantine(now)
	c.pruneRoutes(nowNano)
}

// idlePeer is how long a client keeps a connection to a server it sends
// nothing to; idleRoute is how long it keeps the state of a key it sends
// nothing to.
const (
	idlePeer  = 5 * time.Minute
	idleRoute = 10 * time.Minute
)

func (c *conn) pruneRoutes(now int64) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for k, r := range c.routes {
		if now-r.lastUsed.Load() > idleRoute.Nanoseconds() {
			delete(c.routes, k)
		}
	}
}

// refreshLoop re-registers the open listeners every target_update.
func (c *conn) refreshLoop() {
	t := time.NewTicker(c.cfg.targetUpdate)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
		case <-c.refreshNow:
		}
		c.mu.RLock()
		ls := make([]*listener, 0, len(c.listeners))
		for l := range c.listeners {
			ls = append(ls, l)
		}
		c.mu.RUnlock()
		var firstErr error
		for _, l := range ls {
			if err := l.register(c.ctx); err != nil && firstErr == nil && c.ctx.Err() == nil {
				firstErr = err
			}
		}
		switch {
		case firstErr != nil && !failing:
			failing = true
			c.log.Warn("zmq: refreshing matchmaker registrations", "error", firstErr)
		case firstErr == nil && failing:
			failing = false
			c.log.Info("zmq: matchmaker registrations refreshed again")
		}
	}
}
