package zmq

import (
	"crypto/tls"
	"fmt"
	"math"
	"net"
	"strconv"
	"time"

	"github.com/oslo-go/messaging/drivers/internal/option"
	"github.com/oslo-go/messaging/transport"
	"github.com/oslo-go/messaging/transport/driver"
)

// Defaults of the settings in the options table of the package doc.
const (
	DefaultBindAddress       = "127.0.0.1"
	DefaultTargetExpire      = 15 * time.Second
	DefaultTargetUpdate      = 5 * time.Second
	DefaultRedisLookupCache  = time.Second
	DefaultHeartbeatInterval = time.Second
	DefaultHeartbeatTimeout  = 5 * time.Second
	DefaultDialTimeout       = 2 * time.Second
	DefaultMaxMessageSize    = 64 << 20
)

// Matchmaker kinds, the values of the matchmaker query parameter.
const (
	matchmakerInproc = "inproc"
	matchmakerRedis  = "redis"
	matchmakerStatic = "static"
)

// config is the parsed configuration of one Conn.
type config struct {
	matchmaker  string     // inproc, redis, static, or "" with custom set
	custom      Matchmaker // WithMatchmaker
	namespace   string     // inproc: the URL's virtual host
	redis       redisURLParts
	redisTLS    redisTLS
	redisPrefix string
	static      map[string][]string
	staticFile  string

	bindAddress string
	advertise   string
	minPort     int
	maxPort     int

	targetExpire      time.Duration
	targetUpdate      time.Duration
	lookupCache       time.Duration // < 0: the matchmaker's default
	heartbeatInterval time.Duration
	heartbeatTimeout  time.Duration
	dialTimeout       time.Duration
	maxMessageSize    int
	inboxMessages     int // 0: from the listener's capacity
	inboxBytes        int // 0: inbox.DefaultBytes
}

func defaultConfig() *config {
	return &config{
		redisPrefix:       DefaultRedisPrefix,
		static:            map[string][]string{},
		bindAddress:       DefaultBindAddress,
		targetExpire:      DefaultTargetExpire,
		targetUpdate:      DefaultTargetUpdate,
		lookupCache:       -1,
		heartbeatInterval: DefaultHeartbeatInterval,
		heartbeatTimeout:  DefaultHeartbeatTimeout,
		dialTimeout:       DefaultDialTimeout,
		maxMessageSize:    DefaultMaxMessageSize,
	}
}

// queryOptions are the URL query parameters, with oslo's
// [oslo_messaging_zmq] names as aliases.
var queryOptions = option.Table[config]{Driver: "zmq", Specs: []option.Spec[config]{
	{Name: "matchmaker", Set: func(c *config, v string) error {
		switch v {
		case matchmakerInproc, "dummy":
			c.matchmaker = matchmakerInproc
		case matchmakerRedis, matchmakerStatic:
			c.matchmaker = v
		default:
			return fmt.Errorf("matchmaker %q: want inproc, redis or static", v)
		}
		return nil
	}},
	{Name: "redis_url", Secret: true, Set: func(c *config, v string) error { c.redis.url = v; return nil }},
	{Name: "redis_prefix", Set: func(c *config, v string) error { c.redisPrefix = v; return nil }},
	{Name: "redis_ssl", Set: option.BoolField(func(c *config) *bool { return &c.redisTLS.on })},
	{Name: "redis_ssl_ca_file", Set: func(c *config, v string) error { c.redisTLS.caFile = v; return nil }},
	{Name: "redis_ssl_cert_file", Set: func(c *config, v string) error { c.redisTLS.certFile = v; return nil }},
	{Name: "redis_ssl_key_file", Set: func(c *config, v string) error { c.redisTLS.keyFile = v; return nil }},
	{Name: "redis_ssl_insecure", Set: option.BoolField(func(c *config) *bool { return &c.redisTLS.insecure })},
	{Name: "static_targets", Set: func(c *config, v string) error { return parseStaticTargets(v, c.static) }},
	{Name: "static_file", Set: func(c *config, v string) error { c.staticFile = v; return nil }},
	{Name: "bind_address", Aliases: []string{"rpc_zmq_bind_address"}, Set: func(c *config, v string) error { c.bindAddress = v; return nil }},
	{Name: "advertise_host", Aliases: []string{"rpc_zmq_host"}, Set: func(c *config, v string) error { c.advertise = v; return nil }},
	{Name: "min_port", Aliases: []string{"rpc_zmq_min_port"}, Set: option.IntField(math.MinInt, math.MaxInt, func(c *config) *int { return &c.minPort })},
	{Name: "max_port", Aliases: []string{"rpc_zmq_max_port"}, Set: option.IntField(math.MinInt, math.MaxInt, func(c *config) *int { return &c.maxPort })},
	{Name: "target_expire", Aliases: []string{"zmq_target_expire"}, Set: option.DurationField(false, func(c *config) *time.Duration { return &c.targetExpire })},
	{Name: "target_update", Aliases: []string{"zmq_target_update"}, Set: option.DurationField(false, func(c *config) *time.Duration { return &c.targetUpdate })},
	{Name: "lookup_cache", Set: option.DurationField(true, func(c *config) *time.Duration { return &c.lookupCache })},
	{Name: "heartbeat_interval", Set: option.DurationField(false, func(c *config) *time.Duration { return &c.heartbeatInterval })},
	{Name: "heartbeat_timeout", Set: option.DurationField(false, func(c *config) *time.Duration { return &c.heartbeatTimeout })},
	{Name: "dial_timeout", Set: option.DurationField(false, func(c *config) *time.Duration { return &c.dialTimeout })},
	{Name: "max_message_size", Set: option.IntField(math.MinInt, math.MaxInt, func(c *config) *int { return &c.maxMessageSize })},
	{Name: "inbox_messages", Aliases: []string{"rpc_zmq_topic_backlog"}, Set: option.IntField(0, math.MaxInt, func(c *config) *int { return &c.inboxMessages })},
	{Name: "inbox_bytes", Set: option.IntField(0, math.MaxInt, func(c *config) *int { return &c.inboxBytes })},
}}

// parseConfig reads the Go options, then the URL (whose query overrides
// them, as oslo's query parameters override its configuration file).
func parseConfig(u *driver.URL, opts []any) (*config, error) {
	c := defaultConfig()
	if err := option.Funcs("zmq", c, opts); err != nil {
		return nil, err
	}
	switch u.Scheme {
	case "zmq":
	case "zmq+redis":
		c.matchmaker = matchmakerRedis
	default:
		return nil, fmt.Errorf("zmq: unsupported scheme %q: want zmq or zmq+redis", u.Scheme)
	}
	if err := queryOptions.Query(c, u.Query); err != nil {
		return nil, err
	}
	if u.Scheme == "zmq+redis" && c.matchmaker != matchmakerRedis {
		return nil, fmt.Errorf("zmq: scheme zmq+redis with matchmaker=%s", c.matchmaker)
	}
	if c.staticFile != "" {
		if err := readStaticFile(c.staticFile, c.static); err != nil {
			return nil, err
		}
	}
	if c.matchmaker == "" && c.custom == nil {
		c.matchmaker = matchmakerInproc
		if len(c.static) > 0 {
			c.matchmaker = matchmakerStatic
		}
	}
	if err := c.resolveMatchmaker(u); err != nil {
		return nil, err
	}
	return c, c.validate()
}

func (c *config) resolveMatchmaker(u *driver.URL) error {
	if len(c.static) > 0 && c.matchmaker != matchmakerStatic {
		return fmt.Errorf("zmq: static_targets or static_file given with the %s matchmaker", c.mmName())
	}
	if c.matchmaker == matchmakerRedis {
		if len(u.Hosts) > 1 {
			return fmt.Errorf("zmq: redis matchmaker: the URL lists %d hosts; one Redis server is supported", len(u.Hosts))
		}
		if len(u.Hosts) == 1 {
			if c.redis.url != "" {
				return fmt.Errorf("zmq: redis matchmaker: give the Redis server as the URL host or as redis_url, not both")
			}
			h := u.Hosts[0]
			host, port := h.Hostname, h.Port
			if host == "" {
				host = "127.0.0.1"
			}
			if port == 0 {
				port = 6379
			}
			c.redis.addr = net.JoinHostPort(host, strconv.Itoa(port))
			c.redis.user, c.redis.password, c.redis.db = h.Username, h.Password, u.VirtualHost
		} else if c.redis.url == "" {
			c.redis.addr, c.redis.db = "127.0.0.1:6379", u.VirtualHost
		}
		return nil
	}
	if len(u.Hosts) > 0 {
		return fmt.Errorf("zmq: URL hosts name the Redis server of the redis matchmaker; the %s matchmaker takes none", c.mmName())
	}
	if c.redisTLS.set() {
		return fmt.Errorf("zmq: redis_ssl options given with the %s matchmaker", c.mmName())
	}
	if c.redis.url != "" {
		return fmt.Errorf("zmq: redis_url given with the %s matchmaker", c.mmName())
	}

	if c.matchmaker == matchmakerStatic && len(c.static) == 0 {
		return fmt.Errorf("zmq: static matchmaker without static_targets or static_file")
	}
	c.namespace = u.VirtualHost
	return nil
}

func (c *config) mmName() string {
	if c.matchmaker == "" {
		return "custom"
	}
	return c.matchmaker
}

func (c *config) validate() error {
	if c.minPort != 0 || c.maxPort != 0 {
		if c.minPort < 1 || c.maxPort > 65535 || c.minPort > c.maxPort {
			return fmt.Errorf("zmq: port range %d-%d: want 1 <= min_port <= max_port <= 65535 (or neither, for any free port)", c.minPort, c.maxPort)
		}
	}
	if c.bindAddress == "*" {
		c.bindAddress = "0.0.0.0"
	}
	if c.bindAddress == "" {
		c.bindAddress = DefaultBindAddress
	}
	if net.ParseIP(c.bindAddress) == nil {
		if _, err := net.LookupHost(c.bindAddress); err != nil {
			return fmt.Errorf("zmq: bind_address %q: %w", c.bindAddress, err)
		}
	}
	if c.targetUpdate >= c.targetExpire {
		return fmt.Errorf("zmq: target_update (%v) must be shorter than target_expire (%v)", c.targetUpdate, c.targetExpire)
	}
	if c.heartbeatTimeout <= c.heartbeatInterval {
		return fmt.Errorf("zmq: heartbeat_timeout (%v) must be longer than heartbeat_interval (%v)", c.heartbeatTimeout, c.heartbeatInterval)
	}
	if c.maxMessageSize < 1024 {
		return fmt.Errorf("zmq: max_message_size %d: want at least 1024", c.maxMessageSize)
	}
	if c.lookupCache < 0 {
		c.lookupCache = 0
		if c.matchmaker == matchmakerRedis {
			c.lookupCache = DefaultRedisLookupCache
		}
	}
	return nil
}

// advertiseHost is the host servers register: advertise_host, else the
// bind address, else (for a wildcard bind address) the host name.
func (c *config) advertiseHost() (string, error) {
	if c.advertise != "" {
		return c.advertise, nil
	}
	ip := net.ParseIP(c.bindAddress)
	if ip == nil || !ip.IsUnspecified() {
		return c.bindAddress, nil
	}
	return osHostname()
}

// driverOption is the type of the options this package exports.
type driverOption = option.Func[config]

func wrap(name string, f func(*config) error) transport.Option {
	return transport.WithDriverOption(driverOption{Name: name, Apply: f})
}

// WithMatchmaker makes servers register in m and clients look servers up
// in it, instead of the matchmaker the URL names. The driver does not
// close m. A matchmaker query parameter in the URL overrides it.
func WithMatchmaker(m Matchmaker) transport.Option {
	return wrap("WithMatchmaker", func(c *config) error {
		if m == nil {
			return fmt.Errorf("zmq: WithMatchmaker(nil)")
		}
		c.custom, c.matchmaker = m, ""
		return nil
	})
}

// RedisMatchmaker selects the Redis matchmaker at rawURL
// ("redis://[:password@]host:port/db"), like the query parameters
// matchmaker=redis&redis_url=rawURL.
func RedisMatchmaker(rawURL string) transport.Option {
	return wrap("RedisMatchmaker", func(c *config) error {
		c.matchmaker, c.redis.url = matchmakerRedis, rawURL
		return nil
	})
}

// StaticMatchmaker selects the static matchmaker with the given table:
// keys "topic" (every server of the topic) and "topic.server", each to a
// list of "host:port" addresses. Servers must bind the ports listed (see
// [PortRange]).
func StaticMatchmaker(targets map[string][]string) transport.Option {
	return wrap("StaticMatchmaker", func(c *config) error {
		c.matchmaker = matchmakerStatic
		for k, addrs := range targets {
			for _, a := range addrs {
				if err := addStatic(c.static, k, a); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// RedisTLSConfig makes the Redis matchmaker connect with TLS, with cfg
// (the redis_ssl_* options are then ignored). An empty ServerName is set
// to the Redis host, which the certificate must name unless cfg skips
// verification (InsecureSkipVerify, which the driver logs as a warning).
func RedisTLSConfig(cfg *tls.Config) transport.Option {
	return wrap("RedisTLSConfig", func(c *config) error {
		if cfg == nil {
			return fmt.Errorf("zmq: RedisTLSConfig(nil)")
		}
		c.redisTLS.custom = cfg
		return nil
	})
}

// RedisPrefix sets the prefix of the Redis matchmaker's keys (default
// [DefaultRedisPrefix]). Deployments sharing a Redis server keep apart with
// distinct prefixes.
func RedisPrefix(prefix string) transport.Option {
	return wrap("RedisPrefix", func(c *config) error { c.redisPrefix = prefix; return nil })
}

// BindAddress sets the address servers bind (default 127.0.0.1; "*" or
// "0.0.0.0" for every interface, then [AdvertiseHost] or the host name is
// registered).
func BindAddress(addr string) transport.Option {
	return wrap("BindAddress", func(c *config) error { c.bindAddress = addr; return nil })
}

// AdvertiseHost sets the host name or address servers register in the
// matchmaker (oslo's rpc_zmq_host); the default is the bind address.
func AdvertiseHost(host string) transport.Option {
	return wrap("AdvertiseHost", func(c *config) error { c.advertise = host; return nil })
}

// PortRange makes servers bind a port in [min, max] (oslo's
// rpc_zmq_min_port and rpc_zmq_max_port); the default is any free port.
func PortRange(min, max int) transport.Option {
	return wrap("PortRange", func(c *config) error { c.minPort, c.maxPort = min, max; return nil })
}

// TargetExpire sets how long a server's registration lives unless
// refreshed (oslo's zmq_target_expire; default [DefaultTargetExpire]).
func TargetExpire(d time.Duration) transport.Option {
	return wrap("TargetExpire", func(c *config) error { c.targetExpire = d; return positive("TargetExpire", d) })
}

// TargetUpdate sets how often servers refresh their registrations (oslo's
// zmq_target_update; default [DefaultTargetUpdate]). It must be shorter
// than the expiry.
func TargetUpdate(d time.Duration) transport.Option {
	return wrap("TargetUpdate", func(c *config) error { c.targetUpdate = d; return positive("TargetUpdate", d) })
}

// LookupCache sets how long a client reuses a matchmaker lookup before
// looking again (in the background). The default is
// [DefaultRedisLookupCache] with Redis and 0 (no cache) with the in-process
// and static matchmakers, whose lookups cost nothing.
func LookupCache(d time.Duration) transport.Option {
	return wrap("LookupCache", func(c *config) error {
		if d < 0 {
			return fmt.Errorf("zmq: LookupCache(%v): negative", d)
		}
		c.lookupCache = d
		return nil
	})
}

// Heartbeat sets the liveness probes: every interval a client sends PING on
// each of its server connections, which the server answers with PONG; a
// connection on which nothing arrives for timeout is declared dead (its
// calls fail with transport.ErrConnectionLost). Servers close client
// connections silent for timeout. Defaults [DefaultHeartbeatInterval] and
// [DefaultHeartbeatTimeout].
func Heartbeat(interval, timeout time.Duration) transport.Option {
	return wrap("Heartbeat", func(c *config) error {
		c.heartbeatInterval, c.heartbeatTimeout = interval, timeout
		if err := positive("Heartbeat interval", interval); err != nil {
			return err
		}
		return positive("Heartbeat timeout", timeout)
	})
}

// DialTimeout bounds connecting to a server, ZMTP handshake included
// (default [DefaultDialTimeout]).
func DialTimeout(d time.Duration) transport.Option {
	return wrap("DialTimeout", func(c *config) error { c.dialTimeout = d; return positive("DialTimeout", d) })
}

// MaxMessageSize bounds the size of one received message; a peer that
// sends a larger one is disconnected (default [DefaultMaxMessageSize]).
func MaxMessageSize(n int) transport.Option {
	return wrap("MaxMessageSize", func(c *config) error { c.maxMessageSize = n; return nil })
}

// Inbox bounds what a server holds of the requests it received and its
// workers have not taken yet: at most messages requests (oslo's
// rpc_zmq_topic_backlog) and bytes bytes. When the inbox is full the
// server stops reading from its client connections, and clients' Send
// waits (within its ctx) once their connection's send buffer is full too:
// backpressure, not loss. 0 keeps a default: as many messages as the
// server's MaxConcurrency and 16 MiB; values below
// 16 messages or 64 KiB are raised to them.
func Inbox(messages, bytes int) transport.Option {
	return wrap("Inbox", func(c *config) error {
		if messages < 0 || bytes < 0 {
			return fmt.Errorf("zmq: Inbox(%d, %d): negative", messages, bytes)
		}
		c.inboxMessages, c.inboxBytes = messages, bytes
		return nil
	})
}

func positive(name string, d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("zmq: %s(%v): must be positive", name, d)
	}
	return nil
}
