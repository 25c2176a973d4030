package rabbit

import (
	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/oslo-go/messaging/drivers/internal/option"
	"github.com/oslo-go/messaging/transport"
)

// options holds the driver settings, named after oslo.messaging's
// [oslo_messaging_rabbit] options (see optionTable for defaults).
type options struct {
	durableQueues         bool
	autoDelete            bool
	quorum                bool
	quorumDeliveryLimit   int64
	quorumMaxMemoryLength int64
	quorumMaxMemoryBytes  int64
	transientQuorum       bool
	haQueues              bool
	transientTTL          int64 // seconds; 0: no x-expires
	prefetch              int   // rabbit_qos_prefetch_count, when prefetchSet
	prefetchSet           bool  // false: the listener's capacity
	heartbeatTimeout      int   // seconds
	heartbeatRate         int
	failover              string
	reconnectDelay        time.Duration
	reconnectSplay        time.Duration
	retryInterval         time.Duration
	retryBackoff          time.Duration
	intervalMax           time.Duration
	missingConsumerRetry  time.Duration
	compression           string // "", "gzip" or "bz2"
	directMandatory       bool
	ssl                   bool
	sslCAFile             string
	sslCertFile           string
	sslKeyFile            string
	sslVersion            string
	sslVerifyHostname     bool
	sslInsecure           bool        // no certificate verification at all (Go only)
	tlsConfig             *tls.Config // Go only; overrides the ssl_* file options
	loginMethod           string
	cancelOnFailover      bool
	connectionName        string // prefix of the connection name; "" means basename(argv[0])
	connPoolSize          int    // accepted for compatibility; unused
	connPoolMinSize       int    // accepted for compatibility; unused
	connPoolTTL           int    // accepted for compatibility; unused
	publishChannels       int    // Go only: confirm-mode channels on the publish connection
	maxMessageSize        int    // Go only: largest message sent or decompressed
	decompressBudget      int64  // Go only: decompressed bytes a listener holds at once
}

func defaultOptions() *options {
	o := &options{}
	if err := optionTable.Defaults(o); err != nil {
		panic(err)
	}
	return o
}

const defaultPublishChannels = 2

// DefaultMaxMessageSize is the default max_message_size: RabbitMQ's own
// default max_message_size, 128 MiB.
const DefaultMaxMessageSize = 128 << 20

// DefaultDecompressBudget is the default decompress_budget: how many bytes
// of decompressed bodies one listener holds at once.
const DefaultDecompressBudget = 256 << 20

func onlyFalse(c *options, v string) error {
	b, err := option.Bool(v)
	if err == nil && b {
		err = errors.New("true is not supported by this driver")
	}
	return err
}

// optionTable lists every option with its oslo name and default. The URL
// query and Param use it; the Go functions below set the same fields.
var optionTable = option.Table[options]{Driver: "rabbit", Specs: []option.Spec[options]{
	{Name: "amqp_durable_queues", Default: "false", Set: option.BoolField(func(o *options) *bool { return &o.durableQueues })},
	{Name: "amqp_auto_delete", Default: "false", Set: option.BoolField(func(o *options) *bool { return &o.autoDelete })},
	{Name: "rabbit_quorum_queue", Default: "false", Set: option.BoolField(func(o *options) *bool { return &o.quorum })},
	{Name: "rabbit_quorum_delivery_limit", Default: "0", Set: option.Int64Field(0, math.MaxInt64, func(o *options) *int64 { return &o.quorumDeliveryLimit })},
	{Name: "rabbit_quorum_max_memory_length", Aliases: []string{"rabbit_quroum_max_memory_length"}, Default: "0",
		Set: option.Int64Field(0, math.MaxInt64, func(o *options) *int64 { return &o.quorumMaxMemoryLength })},
	{Name: "rabbit_quorum_max_memory_bytes", Aliases: []string{"rabbit_quroum_max_memory_bytes"}, Default: "0",
		Set: option.Int64Field(0, math.MaxInt64, func(o *options) *int64 { return &o.quorumMaxMemoryBytes })},
	{Name: "rabbit_transient_quorum_queue", Default: "false", Set: option.BoolField(func(o *options) *bool { return &o.transientQuorum })},
	{Name: "rabbit_ha_queues", Default: "false", Set: option.BoolField(func(o *options) *bool { return &o.haQueues })},
	{Name: "rabbit_transient_queues_ttl", Default: "1800", Set: option.Int64Field(0, math.MaxInt64, func(o *options) *int64 { return &o.transientTTL })},
	{Name: "rabbit_qos_prefetch_count", Set: func(o *options, v string) error {
		n, err := option.Int(v, 0, math.MaxInt64)
		if err == nil {
			o.prefetch, o.prefetchSet = int(min(n, math.MaxUint16)), true
		}
		return err
	}},
	{Name: "heartbeat_timeout_threshold", Aliases: []string{"heartbeat"}, Default: "60",
		Set: option.IntField(0, math.MaxUint16, func(o *options) *int { return &o.heartbeatTimeout })},
	{Name: "heartbeat_rate", Default: "3", Set: option.IntField(1, 1000, func(o *options) *int { return &o.heartbeatRate })},
	{Name: "kombu_failover_strategy", Default: "round-robin", Set: option.StringField(func(o *options) *string { return &o.failover }, "round-robin", "shuffle")},
	{Name: "kombu_reconnect_delay", Default: "1.0", Set: option.SecondsField(0, 4.5, func(o *options) *time.Duration { return &o.reconnectDelay })},
	{Name: "kombu_reconnect_splay", Default: "0.0", Set: option.SecondsField(0, 3600, func(o *options) *time.Duration { return &o.reconnectSplay })},
	{Name: "rabbit_retry_interval", Default: "1", Set: option.SecondsField(0, 3600, func(o *options) *time.Duration { return &o.retryInterval })},
	{Name: "rabbit_retry_backoff", Default: "2", Set: option.SecondsField(0, 3600, func(o *options) *time.Duration { return &o.retryBackoff })},
	{Name: "rabbit_interval_max", Default: "30", Set: option.SecondsField(0, 3600, func(o *options) *time.Duration { return &o.intervalMax })},
	{Name: "kombu_missing_consumer_retry_timeout", Aliases: []string{"kombu_reconnect_timeout"}, Default: "60",
		Set: option.SecondsField(0, 86400, func(o *options) *time.Duration { return &o.missingConsumerRetry })},
	{Name: "kombu_compression", Default: "", Set: func(o *options, v string) error {
		switch strings.ToLower(v) {
		case "", "none":
			o.compression = ""
		case "gzip", "zlib":
			o.compression = "gzip"
		case "bz2", "bzip2":
			return fmt.Errorf("bz2 is not supported for sending (Go's standard library only decompresses bzip2); bz2 messages are still received")
		default:
			return fmt.Errorf("%q is not one of gzip, bz2", v)
		}
		return nil
	}},
	{Name: "direct_mandatory_flag", Default: "true", Set: option.BoolField(func(o *options) *bool { return &o.directMandatory })},
	{Name: "ssl", Aliases: []string{"rabbit_use_ssl"}, Default: "false", Set: option.BoolField(func(o *options) *bool { return &o.ssl })},
	{Name: "ssl_ca_file", Aliases: []string{"kombu_ssl_ca_certs"}, Default: "", Set: option.StringField(func(o *options) *string { return &o.sslCAFile })},
	{Name: "ssl_cert_file", Aliases: []string{"kombu_ssl_certfile"}, Default: "", Set: option.StringField(func(o *options) *string { return &o.sslCertFile })},
	{Name: "ssl_key_file", Aliases: []string{"kombu_ssl_keyfile"}, Default: "", Set: option.StringField(func(o *options) *string { return &o.sslKeyFile })},
	{Name: "ssl_version", Aliases: []string{"kombu_ssl_version"}, Default: "", Set: func(o *options, v string) error {
		if _, _, err := tlsVersions(v); err != nil {
			return err
		}
		o.sslVersion = v
		return nil
	}},
	{Name: "ssl_enforce_hostname_verification", Default: "true", Set: option.BoolField(func(o *options) *bool { return &o.sslVerifyHostname })},
	{Name: "ssl_insecure_skip_verify", Default: "false", Set: option.BoolField(func(o *options) *bool { return &o.sslInsecure })},
	{Name: "ssl_enforce_fips_mode", Default: "false", Set: onlyFalse},
	{Name: "rabbit_login_method", Default: "AMQPLAIN", Set: func(o *options, v string) error {
		switch u := strings.ToUpper(v); u {
		case "PLAIN", "AMQPLAIN", "EXTERNAL":
			o.loginMethod = u
		default:
			return fmt.Errorf("%q is not one of PLAIN, AMQPLAIN, EXTERNAL", v)
		}
		return nil
	}},
	{Name: "enable_cancel_on_failover", Default: "false", Set: option.BoolField(func(o *options) *bool { return &o.cancelOnFailover })},
	{Name: "connection_name", Default: "", Set: option.StringField(func(o *options) *string { return &o.connectionName })},
	{Name: "rpc_conn_pool_size", Default: "30", Set: option.IntField(1, math.MaxInt32, func(o *options) *int { return &o.connPoolSize })},
	{Name: "conn_pool_min_size", Default: "2", Set: option.IntField(0, math.MaxInt32, func(o *options) *int { return &o.connPoolMinSize })},
	{Name: "conn_pool_ttl", Default: "1200", Set: option.IntField(0, math.MaxInt32, func(o *options) *int { return &o.connPoolTTL })},
	{Name: "heartbeat_in_pthread", Default: "false", Set: func(*options, string) error { return nil }},
	{Name: "publish_channels", Default: "2", Set: option.IntField(1, 64, func(o *options) *int { return &o.publishChannels })},
	{Name: "max_message_size", Default: strconv.Itoa(DefaultMaxMessageSize), Set: option.IntField(1024, math.MaxInt32, func(o *options) *int { return &o.maxMessageSize })},
	{Name: "decompress_budget", Default: strconv.Itoa(DefaultDecompressBudget), Set: option.Int64Field(1024, math.MaxInt64, func(o *options) *int64 { return &o.decompressBudget })},
	{Name: "use_queue_manager", Default: "false", Set: onlyFalse},
	{Name: "rabbit_stream_fanout", Default: "false", Set: onlyFalse},
}}

// setOption sets option name (oslo name or alias) from its string form.
func (o *options) setOption(name, value string) error { return optionTable.Set(o, name, value) }

// parseOptions builds the options from the driver options given to
// transport.Open, then the URL query, which overrides them (as oslo's
// query parameters override the configuration file).
func parseOptions(query map[string]string, driverOpts []any) (*options, error) {
	o := defaultOptions()
	if err := option.Funcs("rabbit", o, driverOpts); err != nil {
		return nil, err
	}
	if err := optionTable.Query(o, query); err != nil {
		return nil, err
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	return o, nil
}

// validate checks combinations, as oslo does when it declares queues.
func (o *options) validate() error {
	if o.quorum && o.haQueues {
		return fmt.Errorf("rabbit: configuration error: rabbit_quorum_queue and rabbit_ha_queues both enabled, queue type is quorum or HA (mirrored) not both")
	}
	if o.transientQuorum && o.haQueues {
		return fmt.Errorf("rabbit: configuration error: rabbit_transient_quorum_queue and rabbit_ha_queues both enabled, queue type is quorum or HA (mirrored) not both")
	}
	if o.intervalMax > 0 && o.retryInterval > o.intervalMax {
		return fmt.Errorf("rabbit: rabbit_retry_interval (%v) is above rabbit_interval_max (%v)", o.retryInterval, o.intervalMax)
	}
	if o.sslKeyFile != "" && o.sslCertFile == "" || o.sslKeyFile == "" && o.sslCertFile != "" {
		return fmt.Errorf("rabbit: ssl_cert_file and ssl_key_file must be set together")
	}
	if o.publishChannels < 1 {
		o.publishChannels = 1
	}
	// A message of max_message_size must fit in the budget.
	o.decompressBudget = max(o.decompressBudget, int64(o.maxMessageSize))
	return nil
}

func newOption(name string, apply func(*options) error) transport.Option {
	return transport.WithDriverOption(option.Func[options]{Name: name, Apply: apply})
}

func seconds(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) }

// setter returns an option that sets the oslo option name from its string
// form, with the same validation as the URL query.
func setter(name, value string) transport.Option {
	return newOption(name, func(o *options) error { return o.setOption(name, value) })
}

// Param sets a driver option by its oslo name (or URL query key), as the
// URL query parameter name=value would: Param("amqp_durable_queues",
// "true"). A query parameter of the same name in the URL overrides it.
func Param(name, value string) transport.Option { return setter(name, value) }

// DurableQueues sets amqp_durable_queues: RPC and notification queues and
// their topic exchange are declared durable.
func DurableQueues(on bool) transport.Option {
	return setter("amqp_durable_queues", strconv.FormatBool(on))
}

// AutoDelete sets amqp_auto_delete: RPC and notification queues and their
// topic exchange are declared auto-delete.
func AutoDelete(on bool) transport.Option {
	return setter("amqp_auto_delete", strconv.FormatBool(on))
}

// QuorumQueues sets rabbit_quorum_queue: RPC and notification queues are
// quorum queues (x-queue-type: quorum), which makes them durable.
func QuorumQueues(on bool) transport.Option {
	return setter("rabbit_quorum_queue", strconv.FormatBool(on))
}

// QuorumDeliveryLimit sets rabbit_quorum_delivery_limit (x-delivery-limit;
// 0 sets none).
func QuorumDeliveryLimit(n int) transport.Option {
	return setter("rabbit_quorum_delivery_limit", strconv.Itoa(n))
}

// QuorumMaxMemoryLength sets rabbit_quorum_max_memory_length
// (x-max-in-memory-length; 0 sets none).
func QuorumMaxMemoryLength(n int) transport.Option {
	return setter("rabbit_quorum_max_memory_length", strconv.Itoa(n))
}

// QuorumMaxMemoryBytes sets rabbit_quorum_max_memory_bytes
// (x-max-in-memory-bytes; 0 sets none).
func QuorumMaxMemoryBytes(n int) transport.Option {
	return setter("rabbit_quorum_max_memory_bytes", strconv.Itoa(n))
}

// TransientQuorumQueues sets rabbit_transient_quorum_queue: reply and
// fanout queues are quorum queues (a newer oslo option).
func TransientQuorumQueues(on bool) transport.Option {
	return setter("rabbit_transient_quorum_queue", strconv.FormatBool(on))
}

// HAQueues sets rabbit_ha_queues (x-ha-policy: all on every queue).
func HAQueues(on bool) transport.Option {
	return setter("rabbit_ha_queues", strconv.FormatBool(on))
}

// TransientQueuesTTL sets rabbit_transient_queues_ttl, the x-expires of
// reply and fanout queues, in whole seconds; 0 sets none.
func TransientQueuesTTL(d time.Duration) transport.Option {
	return setter("rabbit_transient_queues_ttl", strconv.FormatInt(int64(d/time.Second), 10))
}

// PrefetchCount sets rabbit_qos_prefetch_count, the consumer prefetch of
// listeners. Without it a listener prefetches as many messages as its
// server or notification listener handles at once (its MaxConcurrency);
// 0 sets no limit, as in oslo, and lets a backlog fill the memory.
func PrefetchCount(n int) transport.Option {
	return setter("rabbit_qos_prefetch_count", strconv.Itoa(n))
}

// HeartbeatTimeout sets heartbeat_timeout_threshold, the AMQP heartbeat
// timeout proposed to the broker, in whole seconds.
func HeartbeatTimeout(d time.Duration) transport.Option {
	return setter("heartbeat_timeout_threshold", strconv.FormatInt(int64(d/time.Second), 10))
}

// HeartbeatRate sets heartbeat_rate (accepted for compatibility; amqp091
// sends heartbeats at half the negotiated timeout).
func HeartbeatRate(n int) transport.Option {
	return setter("heartbeat_rate", strconv.Itoa(n))
}

// FailoverStrategy sets kombu_failover_strategy: "round-robin" or
// "shuffle".
func FailoverStrategy(s string) transport.Option { return setter("kombu_failover_strategy", s) }

// ReconnectDelay sets kombu_reconnect_delay, the pause before reconnecting
// after a connection or consumer was lost (at most 4.5 s).
func ReconnectDelay(d time.Duration) transport.Option {
	return setter("kombu_reconnect_delay", seconds(d))
}

// ReconnectSplay sets kombu_reconnect_splay, a random extra pause of up to
// d added to each reconnect delay.
func ReconnectSplay(d time.Duration) transport.Option {
	return setter("kombu_reconnect_splay", seconds(d))
}

// RetryInterval sets rabbit_retry_interval, the first pause between
// connection attempts.
func RetryInterval(d time.Duration) transport.Option {
	return setter("rabbit_retry_interval", seconds(d))
}

// RetryBackoff sets rabbit_retry_backoff, added to the pause after each
// failed connection attempt.
func RetryBackoff(d time.Duration) transport.Option {
	return setter("rabbit_retry_backoff", seconds(d))
}

// IntervalMax sets rabbit_interval_max, the longest pause between
// connection attempts.
func IntervalMax(d time.Duration) transport.Option {
	return setter("rabbit_interval_max", seconds(d))
}

// MissingConsumerRetryTimeout sets kombu_missing_consumer_retry_timeout:
// how long a reply to a missing reply queue is retried before it is
// dropped.
func MissingConsumerRetryTimeout(d time.Duration) transport.Option {
	return setter("kombu_missing_consumer_retry_timeout", seconds(d))
}

// Compression sets kombu_compression for sent messages: "gzip" or "" for
// none. Received messages are decompressed whatever this is.
func Compression(kind string) transport.Option { return setter("kombu_compression", kind) }

// DirectMandatory sets direct_mandatory_flag: replies are published with
// the mandatory flag, so that a missing reply queue is detected.
func DirectMandatory(on bool) transport.Option {
	return setter("direct_mandatory_flag", strconv.FormatBool(on))
}

// SSL sets ssl: connect with TLS (amqps).
func SSL(on bool) transport.Option { return setter("ssl", strconv.FormatBool(on)) }

// SSLCAFile sets ssl_ca_file: the broker certificate is verified against
// these CAs. Without it, it is verified against the system's CAs, as
// py-amqp does.
func SSLCAFile(path string) transport.Option { return setter("ssl_ca_file", path) }

// SSLCertFile sets ssl_cert_file, the client certificate (PEM).
func SSLCertFile(path string) transport.Option { return setter("ssl_cert_file", path) }

// SSLKeyFile sets ssl_key_file, the client key (PEM).
func SSLKeyFile(path string) transport.Option { return setter("ssl_key_file", path) }

// SSLVersion sets ssl_version: "tlsv1", "tlsv1_1", "tlsv1_2", "tlsv1_3"
// (exactly that version) or "sslv23"/"" (the best both sides support).
func SSLVersion(v string) transport.Option { return setter("ssl_version", v) }

// SSLVerifyHostname sets ssl_enforce_hostname_verification: also check the
// broker's host name against its certificate (on by default; off, only
// the certificate chain is verified, as in oslo 14).
func SSLVerifyHostname(on bool) transport.Option {
	return setter("ssl_enforce_hostname_verification", strconv.FormatBool(on))
}

// TLSInsecureSkipVerify sets ssl_insecure_skip_verify (Go only): the
// broker's certificate is not verified at all, so that anyone on the path
// can pose as the broker and read the password. Open logs a warning. Use it
// only for tests.
func TLSInsecureSkipVerify(on bool) transport.Option {
	return setter("ssl_insecure_skip_verify", strconv.FormatBool(on))
}

// MaxMessageSize sets max_message_size (Go only; default
// [DefaultMaxMessageSize], RabbitMQ's default): a bigger message fails to
// send with transport.ErrMessageTooLarge, and a received compressed body
// that decompresses to more is dropped. Keep it at most the broker's
// max_message_size.
func MaxMessageSize(n int) transport.Option {
	return setter("max_message_size", strconv.Itoa(n))
}

// DecompressBudget sets decompress_budget (Go only; default
// [DefaultDecompressBudget], at least max_message_size): how many bytes
// of decompressed bodies one listener (and the reply queue) holds at
// once. A compressed message that does not fit waits for room, and is
// dropped when none comes.
func DecompressBudget(n int64) transport.Option {
	return setter("decompress_budget", strconv.FormatInt(n, 10))
}

// TLSConfig sets the TLS configuration used with ssl, instead of the one
// built from the ssl_* options (Go only). It implies ssl.
func TLSConfig(c *tls.Config) transport.Option {
	return newOption("tls_config", func(o *options) error {
		o.tlsConfig = c
		o.ssl = c != nil || o.ssl
		return nil
	})
}

// LoginMethod sets rabbit_login_method: "AMQPLAIN" (the default), "PLAIN"
// or "EXTERNAL".
func LoginMethod(m string) transport.Option { return setter("rabbit_login_method", m) }

// CancelOnFailover sets enable_cancel_on_failover: consumers ask the broker
// to cancel them when a mirrored queue fails over (x-cancel-on-ha-failover).
func CancelOnFailover(on bool) transport.Option {
	return setter("enable_cancel_on_failover", strconv.FormatBool(on))
}

// ConnectionName sets the prefix of the connection names shown by the
// broker, "<prefix>:<pid>:<uuid>"; the default prefix is the program
// name, as in oslo.
func ConnectionName(prefix string) transport.Option { return setter("connection_name", prefix) }

// PublishChannels sets how many confirm-mode channels the publish
// connection spreads publishes over (Go only; default 4).
func PublishChannels(n int) transport.Option {
	return newOption("publish_channels", func(o *options) error {
		if n < 1 {
			return fmt.Errorf("rabbit: PublishChannels(%d): need at least 1", n)
		}
		o.publishChannels = n
		return nil
	})
}

// tlsVersions maps ssl_version to Go's TLS version bounds.
func tlsVersions(v string) (lo, hi uint16, err error) {
	switch strings.ToLower(v) {
	case "", "sslv23", "tls":
		return tls.VersionTLS12, 0, nil
	case "tlsv1":
		return tls.VersionTLS10, tls.VersionTLS10, nil
	case "tlsv1_1":
		return tls.VersionTLS11, tls.VersionTLS11, nil
	case "tlsv1_2":
		return tls.VersionTLS12, tls.VersionTLS12, nil
	case "tlsv1_3":
		return tls.VersionTLS13, tls.VersionTLS13, nil
	}
	return 0, 0, fmt.Errorf("invalid SSL version %q (tlsv1, tlsv1_1, tlsv1_2, tlsv1_3, sslv23)", v)
}

// defaultCapacity is the prefetch of a listener whose capacity is not
// known (ListenOptions.Capacity 0).
const defaultCapacity = 64

// prefetchFor returns the consumer prefetch of a listener that handles
// capacity messages at once: rabbit_qos_prefetch_count when set,
// otherwise capacity, so that what the broker pushes ahead is bounded by
// what the listener can take.
func (o *options) prefetchFor(capacity int) int {
	if o.prefetchSet {
		return o.prefetch
	}
	if capacity <= 0 {
		capacity = defaultCapacity
	}
	return min(capacity, math.MaxUint16)
}
