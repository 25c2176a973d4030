package zmq

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
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
}

// newRedisMatchmaker connects to Redis and checks that it answers.
func newRedisMatchmaker(ctx context.Context, opts *redis.Options, prefix string) (*redisMatchmaker, error) {
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
	// Dial once ourselves first: when Redis is down, go-redis would log its
	// dial failures to its own global logger (stderr) before failing.
	var d net.Dialer
	dctx, cancel := context.WithTimeout(ctx, opts.DialTimeout)
	network := opts.Network
	if network == "" {
		network = "tcp"
	}
	probe, err := d.DialContext(dctx, network, opts.Addr)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("zmq: redis matchmaker at %s: %w", opts.Addr, err)
	}
	probe.Close()
	rdb := redis.NewClient(opts)
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		return nil, fmt.Errorf("zmq: redis matchmaker at %s: %w", opts.Addr, err)
	}
	return &redisMatchmaker{rdb: rdb, prefix: prefix}, nil
}

func (m *redisMatchmaker) key(k Key) string {
	if k.Server == "" {
		return m.prefix + "topic/" + url.PathEscape(k.Topic)
	}
	return m.prefix + "server/" + url.PathEscape(k.Topic) + "/" + url.PathEscape(k.Server)
}

func (m *redisMatchmaker) Register(ctx context.Context, k Key, addr string, ttl time.Duration) error {
	ms := max(ttl.Milliseconds(), 1)
	if err := registerScript.Run(ctx, m.rdb, []string{m.key(k)}, addr, ms).Err(); err != nil {
		return fmt.Errorf("zmq: redis matchmaker: register %s: %w", k, err)
	}
	return nil
}

func (m *redisMatchmaker) Unregister(ctx context.Context, k Key, addr string) error {
	if err := m.rdb.ZRem(ctx, m.key(k), addr).Err(); err != nil {
		return fmt.Errorf("zmq: redis matchmaker: unregister %s: %w", k, err)
	}
	return nil
}

func (m *redisMatchmaker) Lookup(ctx context.Context, k Key) ([]string, error) {
	addrs, err := lookupScript.Run(ctx, m.rdb, []string{m.key(k)}).StringSlice()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("zmq: redis matchmaker: lookup %s: %w", k, err)
	}
	sort.Strings(addrs) // ZRANGEBYSCORE orders by expiry; round-robin wants a stable order
	return addrs, nil
}

func (m *redisMatchmaker) Close() error { return m.rdb.Close() }

// redisOptions builds the Redis client options of a zmq+redis URL: the
// first host, its credentials, and the database number from the virtual
// host.
func redisOptions(u redisURLParts) (*redis.Options, error) {
	if u.url != "" {
		o, err := redis.ParseURL(u.url)
		if err != nil {
			return nil, fmt.Errorf("zmq: redis_url: %w", err)
		}
		return o, nil
	}
	o := &redis.Options{Addr: u.addr, Username: u.user, Password: u.password}
	if u.db != "" {
		n, err := strconv.Atoi(u.db)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("zmq: redis database %q is not a number", u.db)
		}
		o.DB = n
	}
	return o, nil
}

type redisURLParts struct {
	url                  string // redis_url, when given
	addr, user, password string
	db                   string
}
