package nats

import (
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	natsgo "github.com/nats-io/nats.go"

	"github.com/oslo-go/messaging/drivers/internal/option"
	"github.com/oslo-go/messaging/transport"
	"github.com/oslo-go/messaging/transport/driver"
)

// Defaults of the settings in the options table of the package doc.
const (
	DefaultPort           = 4222
	DefaultConnectTimeout = 5 * time.Second
	DefaultReconnectWait  = 2 * time.Second
	DefaultMaxReconnects  = -1 // forever
	DefaultListenerBuffer = 64 * 1024
	// DefaultListenerBufferBytes bounds the bytes an RPC listener holds.
	DefaultListenerBufferBytes = 64 << 20
	DefaultLargeMessageTTL     = 2 * time.Minute
	// DefaultMaxMessageSize is the largest body sent or received (as
	// RabbitMQ's default max_message_size).
	DefaultMaxMessageSize = 128 << 20
	// DefaultReconnectGrace is how long after a reconnect a call that
	// finds no server is sent again instead of failing.
	DefaultReconnectGrace = 5 * time.Second

	DefaultNotifyMaxAge   = 7 * 24 * time.Hour
	DefaultNotifyMaxBytes = 1 << 30 // 1 GiB
	DefaultNotifyMaxMsgs  = -1      // unlimited
	DefaultNotifyReplicas = 1
	DefaultNotifyAckWait  = 30 * time.Second
	DefaultNotifyPrefetch = 16
)

// config is the parsed configuration of one Conn.
type config struct {
	servers []string // nats:// URLs with per-host credentials
	// user and password set for every server when all hosts share them,
	// so that servers discovered from the cluster work too.
	user, password string

	prefix         string
	name           string
	connectTimeout time.Duration
	reconnectWait  time.Duration
	maxReconnects  int
	pingInterval   time.Duration
	listenerBuffer int
	listenerBytes  int64
	largeTTL       time.Duration
	maxMessageSize int
	reconnectGrace time.Duration

	tls           bool
	tlsCAFile     string
	tlsCertFile   string
	tlsKeyFile    string
	tlsServerName string
	tlsInsecure   bool
	tlsConfig     *tls.Config
	credsFile     string

	notify notifyConfig

	natsOptions []natsgo.Option
}

// notifyConfig holds the JetStream limits of notification streams and
// consumers.
type notifyConfig struct {
	maxAge     time.Duration
	maxBytes   int64
	maxMsgs    int64
	replicas   int
	memory     bool
	ackWait    time.Duration
	maxDeliver int
	inactive   time.Duration // for consumers; 0 keeps them forever
	prefetch   int
}

func defaultConfig() config {
	return config{
		prefix:         DefaultSubjectPrefix,
		name:           filepath.Base(os.Args[0]),
		connectTimeout: DefaultConnectTimeout,
		reconnectWait:  DefaultReconnectWait,
		maxReconnects:  DefaultMaxReconnects,
		listenerBuffer: DefaultListenerBuffer,
		listenerBytes:  DefaultListenerBufferBytes,
		largeTTL:       DefaultLargeMessageTTL,
		maxMessageSize: DefaultMaxMessageSize,
		reconnectGrace: DefaultReconnectGrace,
		notify: notifyConfig{
			maxAge:     DefaultNotifyMaxAge,
			maxBytes:   DefaultNotifyMaxBytes,
			maxMsgs:    DefaultNotifyMaxMsgs,
			replicas:   DefaultNotifyReplicas,
			ackWait:    DefaultNotifyAckWait,
			maxDeliver: -1,
			prefetch:   DefaultNotifyPrefetch,
		},
	}
}

// queryParams are the URL query parameters.
var queryParams = option.Table[config]{Driver: "nats", Specs: []option.Spec[config]{
	{Name: "subject_prefix", Set: option.StringField(func(c *config) *string { return &c.prefix })},
	{Name: "name", Set: option.StringField(func(c *config) *string { return &c.name })},
	{Name: "connect_timeout", Set: option.DurationField(false, func(c *config) *time.Duration { return &c.connectTimeout })},
	{Name: "reconnect_wait", Set: option.DurationField(true, func(c *config) *time.Duration { return &c.reconnectWait })},
	{Name: "max_reconnects", Set: option.IntField(-1, math.MaxInt, func(c *config) *int { return &c.maxReconnects })},
	{Name: "ping_interval", Set: option.DurationField(false, func(c *config) *time.Duration { return &c.pingInterval })},
	{Name: "listener_buffer", Set: option.IntField(1, math.MaxInt, func(c *config) *int { return &c.listenerBuffer })},
	{Name: "listener_buffer_bytes", Set: option.Int64Field(1, math.MaxInt64, func(c *config) *int64 { return &c.listenerBytes })},
	{Name: "large_message_ttl", Set: option.DurationField(false, func(c *config) *time.Duration { return &c.largeTTL })},
	{Name: "max_message_size", Set: option.IntField(1, math.MaxInt, func(c *config) *int { return &c.maxMessageSize })},
	{Name: "reconnect_grace", Set: option.DurationField(true, func(c *config) *time.Duration { return &c.reconnectGrace })},

	{Name: "tls", Set: option.BoolField(func(c *config) *bool { return &c.tls })},
	{Name: "tls_ca_file", Set: option.StringField(func(c *config) *string { return &c.tlsCAFile })},
	{Name: "tls_cert_file", Set: option.StringField(func(c *config) *string { return &c.tlsCertFile })},
	{Name: "tls_key_file", Set: option.StringField(func(c *config) *string { return &c.tlsKeyFile })},
	{Name: "tls_server_name", Set: option.StringField(func(c *config) *string { return &c.tlsServerName })},
	{Name: "tls_insecure", Set: option.BoolField(func(c *config) *bool { return &c.tlsInsecure })},
	{Name: "creds_file", Set: option.StringField(func(c *config) *string { return &c.credsFile })},

	{Name: "notify_max_age", Set: option.DurationField(true, func(c *config) *time.Duration { return &c.notify.maxAge })},
	{Name: "notify_max_bytes", Set: option.Int64Field(-1, math.MaxInt64, func(c *config) *int64 { return &c.notify.maxBytes })},
	{Name: "notify_max_msgs", Set: option.Int64Field(-1, math.MaxInt64, func(c *config) *int64 { return &c.notify.maxMsgs })},
	{Name: "notify_replicas", Set: option.IntField(1, math.MaxInt, func(c *config) *int { return &c.notify.replicas })},
	{Name: "notify_storage", Set: func(c *config, v string) error {
		switch strings.ToLower(v) {
		case "file":
			c.notify.memory = false
		case "memory":
			c.notify.memory = true
		default:
			return errors.New(`want "file" or "memory"`)
		}
		return nil
	}},
	{Name: "notify_ack_wait", Set: option.DurationField(false, func(c *config) *time.Duration { return &c.notify.ackWait })},
	{Name: "notify_max_deliver", Set: option.IntField(-1, math.MaxInt, func(c *config) *int { return &c.notify.maxDeliver })},
	{Name: "notify_inactive_threshold", Set: option.DurationField(true, func(c *config) *time.Duration { return &c.notify.inactive })},
	{Name: "notify_prefetch", Set: option.IntField(1, math.MaxInt, func(c *config) *int { return &c.notify.prefetch })},
}}

// parseConfig builds the configuration of a Conn: defaults, then the Go
// options, then the URL query (which wins, as control_exchange does in
// package transport).
func parseConfig(u *driver.URL, opts []any) (config, error) {
	c := defaultConfig()
	if err := option.Funcs("nats", &c, opts); err != nil {
		return c, err
	}
	if err := queryParams.Query(&c, u.Query); err != nil {
		return c, err
	}

	if u.VirtualHost != "" {
		return c, fmt.Errorf("nats: virtual host %q in the URL: NATS has none (use ?subject_prefix= to separate deployments)", u.VirtualHost)
	}
	if err := validatePrefix(c.prefix); err != nil {
		return c, err
	}
	if (c.tlsCertFile == "") != (c.tlsKeyFile == "") {
		return c, errors.New("nats: tls_cert_file and tls_key_file go together")
	}
	c.servers, c.user, c.password = serverURLs(u.Hosts)
	return c, nil
}

// serverURLs turns the URL's hosts into nats.go server URLs, each with its
// own credentials. When every host has the same credentials they are also
// returned, to be set for servers the cluster advertises.
func serverURLs(hosts []driver.Host) (urls []string, user, password string) {
	if len(hosts) == 0 {
		return []string{fmt.Sprintf("nats://127.0.0.1:%d", DefaultPort)}, "", ""
	}
	same := true
	for i, h := range hosts {
		name := h.Hostname
		if name == "" {
			name = "127.0.0.1"
		}
		port := h.Port
		if port == 0 {
			port = DefaultPort
		}
		su := url.URL{Scheme: "nats", Host: net.JoinHostPort(name, strconv.Itoa(port))}
		switch {
		case h.Username != "" && h.Password != "":
			su.User = url.UserPassword(h.Username, h.Password)
		case h.Username != "":
			su.User = url.User(h.Username) // a token
		case h.Password != "":
			su.User = url.UserPassword("", h.Password)
		}
		urls = append(urls, su.String())
		if i > 0 && (h.Username != hosts[0].Username || h.Password != hosts[0].Password) {
			same = false
		}
	}
	if same && hosts[0].Password != "" {
		user, password = hosts[0].Username, hosts[0].Password
	}
	return urls, user, password
}

// natsOpts returns the nats.go options for c; Open adds its handlers.
// The connection is made in the background and retried until it succeeds
// (RetryOnFailedConnect), as the driver SPI asks of Open.
func (c *config) natsOpts() []natsgo.Option {
	opts := []natsgo.Option{
		natsgo.Name(c.name),
		natsgo.Timeout(c.connectTimeout),
		natsgo.ReconnectWait(c.reconnectWait),
		natsgo.MaxReconnects(c.maxReconnects),
		natsgo.RetryOnFailedConnect(true),
	}
	if c.pingInterval > 0 {
		opts = append(opts, natsgo.PingInterval(c.pingInterval))
	}
	if c.user != "" {
		opts = append(opts, natsgo.UserInfo(c.user, c.password))
	}
	if c.credsFile != "" {
		opts = append(opts, natsgo.UserCredentials(c.credsFile))
	}
	if c.tlsOn() {
		var tc *tls.Config
		if c.tlsConfig != nil {
			tc = c.tlsConfig.Clone()
		} else {
			tc = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		if c.tlsServerName != "" {
			tc.ServerName = c.tlsServerName
		}
		if c.tlsInsecure {
			tc.InsecureSkipVerify = true //nolint:gosec // asked for with tls_insecure
		}
		opts = append(opts, natsgo.Secure(tc))
		if c.tlsCAFile != "" {
			opts = append(opts, natsgo.RootCAs(c.tlsCAFile))
		}
		if c.tlsCertFile != "" {
			opts = append(opts, natsgo.ClientCert(c.tlsCertFile, c.tlsKeyFile))
		}
	}
	return append(opts, c.natsOptions...)
}

// tlsOn reports whether the connection uses TLS because the configuration
// asks for it (a server that requires TLS gets it anyway, verified).
func (c *config) tlsOn() bool {
	return c.tls || c.tlsConfig != nil || c.tlsCAFile != "" || c.tlsCertFile != "" || c.tlsInsecure || c.tlsServerName != ""
}

// tlsUnverified reports whether the server's certificate goes unchecked:
// only when asked for explicitly (tls_insecure, or a TLSConfig with
// InsecureSkipVerify). Otherwise nats.go verifies it against tls_ca_file,
// or the system's roots, and the host name.
func (c *config) tlsUnverified() bool {
	return c.tlsInsecure || c.tlsConfig != nil && c.tlsConfig.InsecureSkipVerify
}

// checked is newOption for a setting with a valid range: ok says whether
// the value given is in it, want what is.
func checked(name string, ok bool, want string, set func(*config)) transport.Option {
	return newOption(name, func(c *config) error {
		if !ok {
			return errors.New(want)
		}
		set(c)
		return nil
	})
}

// newOption wraps an exported option function's setting for
// transport.WithDriverOption.
func newOption(name string, apply func(*config) error) transport.Option {
	return transport.WithDriverOption(option.Func[config]{Name: name, Apply: apply})
}

// SubjectPrefix sets the first token(s) of the driver's subjects (default
// "oslo"); deployments sharing a NATS account but not their topics use
// distinct prefixes. URL: subject_prefix.
func SubjectPrefix(p string) transport.Option {
	return newOption("SubjectPrefix", func(c *config) error { c.prefix = p; return validatePrefix(p) })
}

// ConnectionName sets the client name the server shows (default: the
// program's name). URL: name.
func ConnectionName(name string) transport.Option {
	return newOption("ConnectionName", func(c *config) error { c.name = name; return nil })
}

// ConnectTimeout bounds the dial of one server (default 5s). URL:
// connect_timeout.
func ConnectTimeout(d time.Duration) transport.Option {
	return checked("ConnectTimeout", d > 0, "want a positive duration", func(c *config) { c.connectTimeout = d })
}

// ReconnectWait sets the pause between reconnection attempts to the same
// server (default 2s). URL: reconnect_wait.
func ReconnectWait(d time.Duration) transport.Option {
	return checked("ReconnectWait", d >= 0, "want a duration >= 0", func(c *config) { c.reconnectWait = d })
}

// MaxReconnects bounds the reconnection attempts after a connection is
// lost; -1 (the default) tries forever. When they are exhausted the Conn
// is dead: calls fail with transport.ErrConnectionLost and listeners
// return it. URL: max_reconnects.
func MaxReconnects(n int) transport.Option {
	return newOption("MaxReconnects", func(c *config) error { c.maxReconnects = n; return nil })
}

// PingInterval sets how often the client pings the server to detect a dead
// connection (nats.go's default, 2 minutes, when unset). URL:
// ping_interval.
func PingInterval(d time.Duration) transport.Option {
	return newOption("PingInterval", func(c *config) error { c.pingInterval = d; return nil })
}

// ListenerBuffer sets how many received RPC messages an RPC listener holds
// before the server's workers take them (default 65536): core NATS keeps
// nothing for a busy server, so this is its backlog. Messages beyond it, or
// beyond [ListenerBufferBytes], are dropped as a slow consumer and logged.
// URL: listener_buffer.
func ListenerBuffer(n int) transport.Option {
	return checked("ListenerBuffer", n >= 1, "want n >= 1", func(c *config) { c.listenerBuffer = n })
}

// ListenerBufferBytes bounds the bytes of the RPC messages an RPC listener
// holds before the server's workers take them (default 64 MiB), large
// bodies being fetched included. A single message larger than the bound is
// still taken when nothing else waits. URL: listener_buffer_bytes.
func ListenerBufferBytes(n int64) transport.Option {
	return checked("ListenerBufferBytes", n >= 1, "want n >= 1", func(c *config) { c.listenerBytes = n })
}

// MaxMessageSize sets the largest message body the driver sends or
// receives (default 128 MiB, RabbitMQ's default). Send fails at once with
// an error matching transport.ErrMessageTooLarge for a larger body, and a
// receiver drops a larger one without fetching it. URL: max_message_size.
func MaxMessageSize(n int) transport.Option {
	return checked("MaxMessageSize", n >= 1, "want n >= 1", func(c *config) { c.maxMessageSize = n })
}

// ReconnectGrace sets how long after a reconnect a call that finds no
// server listening ("no responders") is sent again, instead of failing at
// once with transport.ErrNoServers: the servers of its target may not have
// reconnected and subscribed again yet (default 5s; 0 fails at once, as
// at any other time). URL: reconnect_grace.
func ReconnectGrace(d time.Duration) transport.Option {
	return checked("ReconnectGrace", d >= 0, "want a duration >= 0", func(c *config) { c.reconnectGrace = d })
}

// LargeMessageTTL sets how long the sender of a message larger than the
// server's max_payload keeps its body for the receiver to fetch, when the
// message has no expiration (default 2m). URL: large_message_ttl.
func LargeMessageTTL(d time.Duration) transport.Option {
	return checked("LargeMessageTTL", d > 0, "want a positive duration", func(c *config) { c.largeTTL = d })
}

// TLSConfig sets the TLS configuration and turns TLS on. The URL's tls_*
// parameters apply on top of it. URL: tls=true (with tls_ca_file,
// tls_cert_file, tls_key_file, tls_server_name, tls_insecure).
func TLSConfig(tc *tls.Config) transport.Option {
	return newOption("TLSConfig", func(c *config) error { c.tlsConfig = tc; c.tls = tc != nil; return nil })
}

// CredentialsFile authenticates with a NATS credentials file (user JWT and
// nkey seed). URL: creds_file.
func CredentialsFile(path string) transport.Option {
	return newOption("CredentialsFile", func(c *config) error { c.credsFile = path; return nil })
}

// NATSOptions passes options straight to nats.Connect, after the driver's
// own (so they override them), for what the driver does not cover: nkeys,
// custom inbox prefixes, proxies. The driver's disconnect, reconnect,
// closed and error handlers replace any given here.
func NATSOptions(opts ...natsgo.Option) transport.Option {
	return newOption("NATSOptions", func(c *config) error { c.natsOptions = append(c.natsOptions, opts...); return nil })
}

// NotifyMaxAge sets the max age of messages in a notification stream
// created by the driver (default 7 days; 0 means unlimited). URL:
// notify_max_age.
func NotifyMaxAge(d time.Duration) transport.Option {
	return checked("NotifyMaxAge", d >= 0, "want a duration >= 0", func(c *config) { c.notify.maxAge = d })
}

// NotifyMaxBytes sets the size limit of a notification stream created by
// the driver (default 1 GiB; -1 means unlimited). The oldest messages are
// dropped beyond it. URL: notify_max_bytes.
func NotifyMaxBytes(n int64) transport.Option {
	return newOption("NotifyMaxBytes", func(c *config) error { c.notify.maxBytes = n; return nil })
}

// NotifyMaxMsgs sets the message limit of a notification stream created by
// the driver (default -1, unlimited). URL: notify_max_msgs.
func NotifyMaxMsgs(n int64) transport.Option {
	return newOption("NotifyMaxMsgs", func(c *config) error { c.notify.maxMsgs = n; return nil })
}

// NotifyReplicas sets the replicas of a notification stream created by the
// driver, for JetStream clusters (default 1). URL: notify_replicas.
func NotifyReplicas(n int) transport.Option {
	return checked("NotifyReplicas", n >= 1, "want n >= 1", func(c *config) { c.notify.replicas = n })
}

// NotifyMemoryStorage keeps notification streams created by the driver in
// memory instead of files: faster, but lost when the server restarts.
// URL: notify_storage=memory.
func NotifyMemoryStorage(memory bool) transport.Option {
	return newOption("NotifyMemoryStorage", func(c *config) error { c.notify.memory = memory; return nil })
}

// NotifyAckWait sets how long a delivered notification may stay
// unacknowledged before JetStream redelivers it (default 30s). URL:
// notify_ack_wait.
func NotifyAckWait(d time.Duration) transport.Option {
	return checked("NotifyAckWait", d > 0, "want a positive duration", func(c *config) { c.notify.ackWait = d })
}

// NotifyMaxDeliver bounds the deliveries of one notification to a pool
// (default -1, unlimited, as RabbitMQ requeues). URL: notify_max_deliver.
func NotifyMaxDeliver(n int) transport.Option {
	return newOption("NotifyMaxDeliver", func(c *config) error { c.notify.maxDeliver = n; return nil })
}

// NotifyInactiveThreshold makes JetStream delete a pool's consumer after
// it has had no listener for d (default 0: consumers are kept, like
// RabbitMQ's notification queues). URL: notify_inactive_threshold.
func NotifyInactiveThreshold(d time.Duration) transport.Option {
	return checked("NotifyInactiveThreshold", d >= 0, "want a duration >= 0", func(c *config) { c.notify.inactive = d })
}

// NotifyPrefetch sets how many notifications a listener pulls ahead per
// consumer (default 16). URL: notify_prefetch.
func NotifyPrefetch(n int) transport.Option {
	return checked("NotifyPrefetch", n >= 1, "want n >= 1", func(c *config) { c.notify.prefetch = n })
}
