package rabbit

import (
	"crypto/tls"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

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
	prefetch              int
	heartbeatTimeout      int // seconds
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
	tlsConfig             *tls.Config // Go only; overrides the ssl_* file options
	loginMethod           string
	cancelOnFailover      bool
	connectionName        string // prefix of the connection name; "" means basename(argv[0])
	connPoolSize          int    // accepted for compatibility; unused
	connPoolMinSize       int    // accepted for compatibility; unused
	connPoolTTL           int    // accepted for compatibility; unused
	useQueueManager       bool   // only false is supported
	streamFanout          bool   // only false is supported
	publishChannels       int    // Go only: confirm-mode channels on the publish connection
}

func defaultOptions() *options {
	o := &options{}
	for _, spec := range optionTable {
		if err := spec.set(o, spec.def); err != nil {
			panic("rabbit: bad default for " + spec.name + ": " + err.Error())
		}
	}
	return o
}

const defaultPublishChannels = 2

// optionSpec describes one option that can be set from the URL query.
type optionSpec struct {
	name    string
	aliases []string // deprecated or misspelled oslo names
	def     string
	set     func(o *options, v string) error
}

func boolOpt(f func(*options) *bool) func(*options, string) error {
	return func(o *options, v string) error {
		b, err := parseBool(v)
		if err != nil {
			return err
		}
		*f(o) = b
		return nil
	}
}

func intOpt(min int64, f func(*options, int64)) func(*options, string) error {
	return func(o *options, v string) error {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not an integer", v)
		}
		if n < min {
			return fmt.Errorf("%d is below the minimum %d", n, min)
		}
		f(o, n)
		return nil
	}
}

// secondsOpt parses a number of seconds (oslo IntOpt or FloatOpt).
func secondsOpt(min, max float64, f func(*options) *time.Duration) func(*options, string) error {
	return func(o *options, v string) error {
		x, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("%q is not a number of seconds", v)
		}
		if x < min || x > max {
			return fmt.Errorf("%v is outside %v..%v", x, min, max)
		}
		*f(o) = time.Duration(x * float64(time.Second))
		return nil
	}
}

func stringOpt(choices []string, f func(*options) *string) func(*options, string) error {
	return func(o *options, v string) error {
		if choices != nil && !slices.Contains(choices, v) {
			return fmt.Errorf("%q is not one of %s", v, strings.Join(choices, ", "))
		}
		*f(o) = v
		return nil
	}
}

func onlyFalse(f func(*options) *bool) func(*options, string) error {
	return func(o *options, v string) error {
		b, err := parseBool(v)
		if err != nil {
			return err
		}
		if b {
			return fmt.Errorf("true is not supported by this driver")
		}
		*f(o) = b
		return nil
	}
}

// optionTable lists every option with its oslo name and default. The URL
// query and Param use it; the Go functions below set the same fields.
var optionTable = []optionSpec{
	{name: "amqp_durable_queues", def: "false", set: boolOpt(func(o *options) *bool { return &o.durableQueues })},
	{name: "amqp_auto_delete", def: "false", set: boolOpt(func(o *options) *bool { return &o.autoDelete })},
	{name: "rabbit_quorum_queue", def: "false", set: boolOpt(func(o *options) *bool { return &o.quorum })},
	{name: "rabbit_quorum_delivery_limit", def: "0", set: intOpt(0, func(o *options, n int64) { o.quorumDeliveryLimit = n })},
	{name: "rabbit_quorum_max_memory_length", aliases: []string{"rabbit_quroum_max_memory_length"}, def: "0",
		set: intOpt(0, func(o *options, n int64) { o.quorumMaxMemoryLength = n })},
	{name: "rabbit_quorum_max_memory_bytes", aliases: []string{"rabbit_quroum_max_memory_bytes"}, def: "0",
		set: intOpt(0, func(o *options, n int64) { o.quorumMaxMemoryBytes = n })},
	{name: "rabbit_transient_quorum_queue", def: "false", set: boolOpt(func(o *options) *bool { return &o.transientQuorum })},
	{name: "rabbit_ha_queues", def: "false", set: boolOpt(func(o *options) *bool { return &o.haQueues })},
	{name: "rabbit_transient_queues_ttl", def: "1800", set: intOpt(0, func(o *options, n int64) { o.transientTTL = n })},
	{name: "rabbit_qos_prefetch_count", def: "0", set: intOpt(0, func(o *options, n int64) { o.prefetch = int(min(n, math.MaxUint16)) })},
	{name: "heartbeat_timeout_threshold", aliases: []string{"heartbeat"}, def: "60",
		set: intOpt(0, func(o *options, n int64) { o.heartbeatTimeout = int(min(n, math.MaxUint16)) })},
	{name: "heartbeat_rate", def: "3", set: intOpt(1, func(o *options, n int64) { o.heartbeatRate = int(min(n, 1000)) })},
	{name: "kombu_failover_strategy", def: "round-robin", set: stringOpt([]string{"round-robin", "shuffle"}, func(o *options) *string { return &o.failover })},
	{name: "kombu_reconnect_delay", def: "1.0", set: secondsOpt(0, 4.5, func(o *options) *time.Duration { return &o.reconnectDelay })},
	{name: "kombu_reconnect_splay", def: "0.0", set: secondsOpt(0, 3600, func(o *options) *time.Duration { return &o.reconnectSplay })},
	{name: "rabbit_retry_interval", def: "1", set: secondsOpt(0, 3600, func(o *options) *time.Duration { return &o.retryInterval })},
	{name: "rabbit_retry_backoff", def: "2", set: secondsOpt(0, 3600, func(o *options) *time.Duration { return &o.retryBackoff })},
	{name: "rabbit_interval_max", def: "30", set: secondsOpt(0, 3600, func(o *options) *time.Duration { return &o.intervalMax })},
	{name: "kombu_missing_consumer_retry_timeout", aliases: []string{"kombu_reconnect_timeout"}, def: "60",
		set: secondsOpt(0, 86400, func(o *options) *time.Duration { return &o.missingConsumerRetry })},
	{name: "kombu_compression", def: "", set: func(o *options, v string) error {
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
	{name: "direct_mandatory_flag", def: "true", set: boolOpt(func(o *options) *bool { return &o.directMandatory })},
	{name: "ssl", aliases: []string{"rabbit_use_ssl"}, def: "false", set: boolOpt(func(o *options) *bool { return &o.ssl })},
	{name: "ssl_ca_file", aliases: []string{"kombu_ssl_ca_certs"}, def: "", set: stringOpt(nil, func(o *options) *string { return &o.sslCAFile })},
	{name: "ssl_cert_file", aliases: []string{"kombu_ssl_certfile"}, def: "", set: stringOpt(nil, func(o *options) *string { return &o.sslCertFile })},
	{name: "ssl_key_file", aliases: []string{"kombu_ssl_keyfile"}, def: "", set: stringOpt(nil, func(o *options) *string { return &o.sslKeyFile })},
	{name: "ssl_version", aliases: []string{"kombu_ssl_version"}, def: "", set: func(o *options, v string) error {
		if _, _, err := tlsVersions(v); err != nil {
			return err
		}
		o.sslVersion = v
		return nil
	}},
	{name: "ssl_enforce_hostname_verification", def: "true", set: boolOpt(func(o *options) *bool { return &o.sslVerifyHostname })},
	{name: "ssl_enforce_fips_mode", def: "false", set: onlyFalse(func(o *options) *bool { return new(bool) })},
	{name: "rabbit_login_method", def: "AMQPLAIN", set: func(o *options, v string) error {
		switch u := strings.ToUpper(v); u {
		case "PLAIN", "AMQPLAIN", "EXTERNAL":
			o.loginMethod = u
		default:
			return fmt.Errorf("%q is not one of PLAIN, AMQPLAIN, EXTERNAL", v)
		}
		return nil
	}},
	{name: "enable_cancel_on_failover", def: "false", set: boolOpt(func(o *options) *bool { return &o.cancelOnFailover })},
	{name: "connection_name", def: "", set: stringOpt(nil, func(o *options) *string { return &o.connectionName })},
	{name: "rpc_conn_pool_size", def: "30", set: intOpt(1, func(o *options, n int64) { o.connPoolSize = int(min(n, math.MaxInt32)) })},
	{name: "conn_pool_min_size", def: "2", set: intOpt(0, func(o *options, n int64) { o.connPoolMinSize = int(min(n, math.MaxInt32)) })},
	{name: "conn_pool_ttl", def: "1200", set: intOpt(0, func(o *options, n int64) { o.connPoolTTL = int(min(n, math.MaxInt32)) })},
	{name: "heartbeat_in_pthread", def: "false", set: func(*options, string) error { return nil }},
	{name: "publish_channels", def: "2", set: intOpt(1, func(o *options, n int64) { o.publishChannels = int(min(n, 64)) })},
	{name: "use_queue_manager", def: "false", set: onlyFalse(func(o *options) *bool { return &o.useQueueManager })},
	{name: "rabbit_stream_fanout", def: "false", set: onlyFalse(func(o *options) *bool { return &o.streamFanout })},
}

// lookupOption finds the spec for an oslo option name or alias.
func lookupOption(name string) *optionSpec {
	for i := range optionTable {
		s := &optionTable[i]
		if s.name == name || slices.Contains(s.aliases, name) {
			return s
		}
	}
	return nil
}

func knownOptionNames() string {
	names := make([]string, 0, len(optionTable))
	for _, s := range optionTable {
		names = append(names, s.name)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// setOption sets option name (oslo name or alias) from its string form.
func (o *options) setOption(name, value string) error {
	spec := lookupOption(name)
	if spec == nil {
		return fmt.Errorf("rabbit: unknown option %q; known options: %s", name, knownOptionNames())
	}
	if err := spec.set(o, value); err != nil {
		return fmt.Errorf("rabbit: option %s: %v", name, err)
	}
	return nil
}

// parseOptions builds the options from the driver options given to
// transport.Open, then the URL query, which overrides them (as oslo's
// query parameters override the configuration file).
func parseOptions(query map[string]string, driverOpts []any) (*options, error) {
	o := defaultOptions()
	for _, v := range driverOpts {
		opt, ok := v.(driverOption)
		if !ok {
			return nil, fmt.Errorf("rabbit: unknown driver option of type %T", v)
		}
		if err := opt.apply(o); err != nil {
			return nil, err
		}
	}
	keys := make([]string, 0, len(query))
	for k := range query {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if err := o.setOption(k, query[k]); err != nil {
			return nil, err
		}
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
	return nil
}

// parseBool accepts oslo.config's boolean spellings.
func parseBool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1", "yes", "on", "y", "t":
		return true, nil
	case "false", "0", "no", "off", "n", "f":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean", v)
}

// driverOption is the value the option functions pass through
// transport.WithDriverOption.
type driverOption struct {
	name  string
	apply func(*options) error
}

func newOption(name string, apply func(*options) error) transport.Option {
	return transport.WithDriverOption(driverOption{name: name, apply: apply})
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
// listeners (0: unlimited).
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
// these CAs. Without it, as in oslo, the certificate is not verified.
func SSLCAFile(path string) transport.Option { return setter("ssl_ca_file", path) }

// SSLCertFile sets ssl_cert_file, the client certificate (PEM).
func SSLCertFile(path string) transport.Option { return setter("ssl_cert_file", path) }

// SSLKeyFile sets ssl_key_file, the client key (PEM).
func SSLKeyFile(path string) transport.Option { return setter("ssl_key_file", path) }

// SSLVersion sets ssl_version: "tlsv1", "tlsv1_1", "tlsv1_2", "tlsv1_3"
// (exactly that version) or "sslv23"/"" (the best both sides support).
func SSLVersion(v string) transport.Option { return setter("ssl_version", v) }

// SSLVerifyHostname sets ssl_enforce_hostname_verification: with
// ssl_ca_file, also check the broker's host name against its certificate.
func SSLVerifyHostname(on bool) transport.Option {
	return setter("ssl_enforce_hostname_verification", strconv.FormatBool(on))
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
