package zmq

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/oslo-go/messaging/internal/backoff"
	"github.com/oslo-go/messaging/internal/ratelog"
	"github.com/oslo-go/messaging/transport/driver"
)

// DefaultRedisPrefix is the default prefix of the matchmaker's Redis keys.
const DefaultRedisPrefix = "oslo.messaging.zmq:"

// Redis matchmaker. Each key is a sorted set named
//
//	<prefix>topic/<topic>                 the servers of a topic
//	<prefix>server/<topic>/<server>       one server
//
// (topic and server path-escaped) whose members are server addresses
// scored with their expiry time in milliseconds, taken from the Redis
// server's clock (TIME) so that hosts need no synchronised clocks. Lookups
// return the members not yet expired; registrations drop expired members;
// the set itself expires when no server refreshes it.

// registerScript: KEYS[1] key, ARGV[1] addr, ARGV[2] ttl in ms.
var registerScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
if redis.call('PTTL', KEYS[1]) < ttl then
	redis.call('PEXPIRE', KEYS[1], ttl)
end
return 1
`)

// lookupScript: KEYS[1] key.
var lookupScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')
`)

type redisMatchmaker struct {
	rdb    *redis.Client
	prefix string
	addr   string
	dial   func(ctx context.Context, network, addr string) (net.Conn, error)
	log    *slog.Logger
	lim    ratelog.Limiter
	// onRecover runs when Redis answers again after a failure, and on
	// every new connection to it: the driver re-registers its servers at
	// once, in case Redis restarted and lost them. It must not block.
	onRecover func()

	ctx    context.Context // ends at Close
	cancel context.CancelFunc
	kick   chan struct{} // check Redis now
	wg     sync.WaitGroup

	mu      sync.Mutex
	state   redisState
	lastErr error         // of the last check, when down
	changed chan struct{} // closed at the next state change
}

type redisState int

const (
	redisConnecting redisState = iota // no check finished yet
	redisUp
	redisDown
)

// newRedisMatchmaker returns a matchmaker on the Redis server opts names,
// without waiting for it: a goroutine checks that Redis answers, every
// interval while it does, again and again with backoff while it does not,
// and whenever an operation fails. Operations fail at once while Redis is
// known to be unreachable, with the error of the last check; they wait for
// the first check.
func newRedisMatchmaker(opts *redis.Options, prefix string, log *slog.Logger, onRecover func(), interval time.Duration) *redisMatchmaker {
	opts.DisableIdentity = true
	opts.ContextTimeoutEnabled = true
	opts.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	if opts.DialTimeout == 0 {
		opts.DialTimeout = 2 * time.Second
	}
	if opts.DialerRetries == 0 {
		opts.DialerRetries = 2
	}
	if opts.MaxRetries == 0 {
		opts.MaxRetries = 1
	}
	if opts.Network == "" {
		opts.Network = "tcp"
	}
	m := &redisMatchmaker{prefix: prefix, addr: opts.Addr, log: log, onRecover: onRecover, kick: make(chan struct{}, 1), changed: make(chan struct{})}
	// The checks dial with the client's own dialer first, so that while
	// Redis is down, or its TLS certificate is refused, go-redis never
	// dials (it would log each failure to its global logger, stderr).
	nd := &net.Dialer{Timeout: opts.DialTimeout, KeepAlive: 5 * time.Minute}
	m.dial = nd.DialContext
	if opts.TLSConfig != nil {
		td := &tls.Dialer{NetDialer: nd, Config: opts.TLSConfig}
		m.dial = td.DialContext
	}
	opts.Dialer = m.dial
	if onRecover != nil {
		// A new connection may follow a Redis restart that lost the
		// registrations (go-redis retries a failed command on a new
		// connection, so the failure itself may never show).
		opts.OnConnect = func(context.Context, *redis.Conn) error { onRecover(); return nil }
	}
	m.rdb = redis.NewClient(opts)
	m.ctx, m.cancel = context.WithCancel(context.Background())
	m.wg.Add(1)
	go m.monitor(opts.DialTimeout, interval)
	return m
}

// monitor checks Redis at once, then every interval, after each failure
// (with backoff) and whenever an operation fails, until Close.
func (m *redisMatchmaker) monitor(timeout, interval time.Duration) {
	defer m.wg.Done()
	retry := backoff.Exponential(100*time.Millisecond, 5*time.Second)
	for {
		err := m.check(timeout)
		m.report(err)
		wait := interval
		if err != nil {
			wait = retry.Next()
		} else {
			retry.Reset()
		}
		t := time.NewTimer(wait)
		select {
		case <-m.ctx.Done():
			t.Stop()
			return
		case <-m.kick:
		case <-t.C:
		}
		t.Stop()
	}
}

// check sends PING; unless Redis answered the last check, it first dials
// Redis itself (see newRedisMatchmaker).
func (m *redisMatchmaker) check(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(m.ctx, 2*timeout)
	defer cancel()
	m.mu.Lock()
	up := m.state == redisUp
	m.mu.Unlock()
	if !up {
		nc, err := m.dial(ctx, "tcp", m.addr)
		if err != nil {
			return err
		}
		nc.Close()
	}
	return m.rdb.Ping(ctx).Err()
}

// report records the result of a check, logging changes.
func (m *redisMatchmaker) report(err error) {
	if m.ctx.Err() != nil {
		return
	}
	m.mu.Lock()
	prev := m.state
	if err == nil {
		m.state, m.lastErr = redisUp, nil
	} else {
		m.state, m.lastErr = redisDown, err
	}
	if m.state != prev {
		close(m.changed)
		m.changed = make(chan struct{})
	}
	m.mu.Unlock()
	switch {
	case err != nil && prev != redisDown:
		m.lim.Warn(m.log, "redis-down", "zmq: redis matchmaker unreachable; retrying in the background", "addr", m.addr, "error", err)
	case err != nil:
		m.log.Debug("zmq: redis matchmaker still unreachable", "addr", m.addr, "error", err)
	case prev == redisDown:
		m.log.Info("zmq: redis matchmaker reachable again", "addr", m.addr)
		if m.onRecover != nil {
			m.onRecover()
		}
	case prev == redisConnecting:
		m.log.Debug("zmq: redis matchmaker reachable", "addr", m.addr)
	}
}

// ready returns nil when Redis is reachable as far as the checks know,
// waiting within ctx for the first check, and otherwise the error of the
// last check.
func (m *redisMatchmaker) ready(ctx context.Context) error {
	m.mu.Lock()
	state, last, changed := m.state, m.lastErr, m.changed
	m.mu.Unlock()
	switch state {
	case redisUp:
		return nil
	case redisDown:
		return m.unreachable(last)
	}
	select {
	case <-changed:
		return m.ready(ctx)
	case <-ctx.Done():
		return fmt.Errorf("zmq: redis matchmaker at %s: no answer yet: %w", m.addr, ctx.Err())
	}
}

func (m *redisMatchmaker) unreachable(err error) error {
	return fmt.Errorf("zmq: redis matchmaker at %s unreachable: %w", m.addr, err)
}

// failed makes the monitor check Redis after an operation failed with
// err, and returns err.
func (m *redisMatchmaker) failed(ctx context.Context, err error) error {
	var re redis.Error
	if ctx.Err() == nil && !errors.As(err, &re) {
		select {
		case m.kick <- struct{}{}:
		default:
		}
	}
	return err
}

// Ping returns nil once Redis answers a PING, waiting within ctx while it
// is unreachable; when ctx ends first it returns the last error, wrapped
// with ctx's.
func (m *redisMatchmaker) Ping(ctx context.Context) error {
	var last error
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	for {
		m.mu.Lock()
		state, changed := m.state, m.changed
		if state == redisDown {
			last = m.lastErr
		}
		m.mu.Unlock()
		var again <-chan time.Time
		if state == redisUp {
			err := m.rdb.Ping(ctx).Err()
			if err == nil {
				return nil
			}
			last = m.failed(ctx, err)
			// Try again soon, or once the check this failure triggered
			// finds Redis down.
			retry.Reset(100 * time.Millisecond)
			again = retry.C
		}
		select {
		case <-changed:
			continue
		case <-again:
			continue
		case <-ctx.Done():
		case <-m.ctx.Done():
			return driver.ErrClosed
		}
		if last == nil {
			return fmt.Errorf("zmq: redis matchmaker at %s: no answer yet: %w", m.addr, ctx.Err())
		}
		return fmt.Errorf("zmq: redis matchmaker at %s unreachable: %w: %w", m.addr, ctx.Err(), last)
	}
}

func (m *redisMatchmaker) key(k Key) string {
	if k.Server == "" {
		return m.prefix + "topic/" + url.PathEscape(k.Topic)
	}
	return m.prefix + "server/" + url.PathEscape(k.Topic) + "/" + url.PathEscape(k.Server)
}

func (m *redisMatchmaker) Register(ctx context.Context, k Key, addr string, ttl time.Duration) error {
	if err := m.ready(ctx); err != nil {
		return fmt.Errorf("zmq: register %s: %w", k, err)
	}
	ms := max(ttl.Milliseconds(), 1)
	if err := registerScript.Run(ctx, m.rdb, []string{m.key(k)}, addr, ms).Err(); err != nil {
		return m.failed(ctx, fmt.Errorf("zmq: redis matchmaker at %s: register %s: %w", m.addr, k, err))
	}
	return nil
}

func (m *redisMatchmaker) Unregister(ctx context.Context, k Key, addr string) error {
	if err := m.ready(ctx); err != nil {
		return fmt.Errorf("zmq: unregister %s: %w", k, err)
	}
	if err := m.rdb.ZRem(ctx, m.key(k), addr).Err(); err != nil {
		return m.failed(ctx, fmt.Errorf("zmq: redis matchmaker at %s: unregister %s: %w", m.addr, k, err))
	}
	return nil
}

func (m *redisMatchmaker) Lookup(ctx context.Context, k Key) ([]string, error) {
	if err := m.ready(ctx); err != nil {
		return nil, fmt.Errorf("zmq: lookup %s: %w", k, err)
	}
	addrs, err := lookupScript.Run(ctx, m.rdb, []string{m.key(k)}).StringSlice()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, m.failed(ctx, fmt.Errorf("zmq: redis matchmaker at %s: lookup %s: %w", m.addr, k, err))
	}
	sort.Strings(addrs) // ZRANGEBYSCORE orders by expiry; round-robin wants a stable order
	return addrs, nil
}

// Close stops the checks and closes the client. It is idempotent.
func (m *redisMatchmaker) Close() error {
	if m.ctx.Err() != nil {
		return nil
	}
	m.cancel()
	m.wg.Wait()
	return m.rdb.Close()
}

// redisOptions builds the Redis client options of a zmq+redis URL: the
// first host, its credentials, and the database number from the virtual
// host; or redis_url. insecure reports TLS without certificate
// verification.
func redisOptions(u redisURLParts, t redisTLS) (o *redis.Options, insecure bool, err error) {
	if u.url != "" {
		o, err = redis.ParseURL(u.url)
		if err != nil {
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err // url.Error repeats the URL, password included
			}
			return nil, false, fmt.Errorf("zmq: redis_url: %v", err)
		}
	} else {
		o = &redis.Options{Addr: u.addr, Username: u.user, Password: u.password}
		if u.db != "" {
			n, err := strconv.Atoi(u.db)
			if err != nil || n < 0 {
				return nil, false, fmt.Errorf("zmq: redis database %q is not a number", u.db)
			}
			o.DB = n
		}
	}
	if err := t.apply(o); err != nil {
		return nil, false, err
	}
	return o, o.TLSConfig != nil && o.TLSConfig.InsecureSkipVerify, nil
}

type redisURLParts struct {
	url                  string // redis_url, when given
	addr, user, password string
	db                   string
}

// redisTLS is the TLS configuration of the Redis matchmaker: on with
// redis_ssl, a rediss:// redis_url or RedisTLSConfig.
type redisTLS struct {
	on                        bool
	caFile, certFile, keyFile string
	insecure                  bool
	custom                    *tls.Config
}

// set reports whether any TLS option was given.
func (t redisTLS) set() bool {
	return t.on || t.caFile != "" || t.certFile != "" || t.keyFile != "" || t.insecure || t.custom != nil
}

// apply sets o.TLSConfig: verified against the system's CAs (or
// redis_ssl_ca_file) and the host name, unless redis_ssl_insecure.
func (t redisTLS) apply(o *redis.Options) error {
	host, _, err := net.SplitHostPort(o.Addr)
	if err != nil {
		host = o.Addr
	}
	switch {
	case t.custom != nil:
		o.TLSConfig = t.custom.Clone()
		if o.TLSConfig.ServerName == "" {
			o.TLSConfig.ServerName = host
		}
		return nil
	case o.TLSConfig == nil && !t.on:
		if t.set() {
			return errors.New("zmq: redis_ssl_* options given without redis_ssl=true or a rediss:// redis_url")
		}
		return nil
	case o.TLSConfig == nil:
		o.TLSConfig = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	}
	cfg := o.TLSConfig
	if t.caFile != "" {
		pem, err := os.ReadFile(t.caFile)
		if err != nil {
			return fmt.Errorf("zmq: redis_ssl_ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("zmq: redis_ssl_ca_file %s: no PEM certificate in it", t.caFile)
		}
		cfg.RootCAs = pool
	}
	if t.certFile != "" || t.keyFile != "" {
		if t.certFile == "" || t.keyFile == "" {
			return errors.New("zmq: redis_ssl_cert_file and redis_ssl_key_file go together")
		}
		cert, err := tls.LoadX509KeyPair(t.certFile, t.keyFile)
		if err != nil {
			return fmt.Errorf("zmq: redis_ssl_cert_file, redis_ssl_key_file: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if t.insecure {
		cfg.InsecureSkipVerify = true
	}
	return nil
}
