package amqp1

import (
	"crypto/tls"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/oslo-go/messaging/transport"
)

// options holds the driver settings, named after oslo.messaging's
// [oslo_messaging_amqp] options (see optionTable for the defaults).
type options struct {
	containerName     string
	idleTimeout       time.Duration // 0: none
	trace             bool          // accepted; no effect
	ssl               bool
	sslCAFile         string
	sslCertFile       string
	sslKeyFile        string
	sslKeyPassword    string
	sslVerifyVhost    bool
	tlsConfig         *tls.Config // Go only; overrides the ssl_* file options
	saslMechanisms    []string
	saslConfigDir     string // accepted; no effect (Cyrus SASL)
	saslConfigName    string // accepted; no effect (Cyrus SASL)
	saslDefaultRealm  string
	retryInterval     time.Duration
	retryBackoff      float64
	retryIntervalMax  time.Duration
	linkRetryDelay    time.Duration
	replyRetry        int
	replyTimeout      time.Duration
	sendTimeout       time.Duration
	notifyTimeout     time.Duration
	senderLinkTimeout time.Duration
	addressingMode    string
	pseudoVhost       bool
	serverPrefix      string
	broadcastPrefix   string
	groupPrefix       string
	rpcPrefix         string
	notifyPrefix      string
	multicastTag      string
	unicastTag        string
	anycastTag        string
	notifyExchange    string
	rpcExchange       string
	replyCredit       int
	rpcCredit         int
	notifyCredit      int
	preSettled        map[string]bool // rpc-call, rpc-cast, rpc-reply, notify
	ignoredPreSettled []string        // unknown pre_settled values, logged at Open
}

// optionSpec describes one option that can be set from the URL query.
type optionSpec struct {
	name string
	def  string
	set  func(o *options, v string) error
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

func intOpt(lo int64, f func(*options, int)) func(*options, string) error {
	return func(o *options, v string) error {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
		if err != nil {
			return fmt.Errorf("%q is not an integer", v)
		}
		if n < lo {
			return fmt.Errorf("%d is below the minimum %d", n, lo)
		}
		f(o, int(n))
		return nil
	}
}

// secondsOpt parses oslo's IntOpt seconds, with their minimum; 0 is kept
// as 0.
func secondsOpt(lo int64, f func(*options) *time.Duration) func(*options, string) error {
	return intOpt(lo, func(o *options, n int) { *f(o) = time.Duration(n) * time.Second })
}

func stringOpt(f func(*options) *string, choices ...string) func(*options, string) error {
	return func(o *options, v string) error {
		if len(choices) > 0 && !slices.Contains(choices, v) {
			return fmt.Errorf("%q is not one of %s", v, strings.Join(choices, ", "))
		}
		*f(o) = v
		return nil
	}
}

// optionTable lists every [oslo_messaging_amqp] option of oslo.messaging
// 14 with its default. The URL query and Param use it.
var optionTable = []optionSpec{
	{"container_name", "", stringOpt(func(o *options) *string { return &o.containerName })},
	{"idle_timeout", "0", secondsOpt(0, func(o *options) *time.Duration { return &o.idleTimeout })},
	{"trace", "false", boolOpt(func(o *options) *bool { return &o.trace })},
	{"ssl", "false", boolOpt(func(o *options) *bool { return &o.ssl })},
	{"ssl_ca_file", "", stringOpt(func(o *options) *string { return &o.sslCAFile })},
	{"ssl_cert_file", "", stringOpt(func(o *options) *string { return &o.sslCertFile })},
	{"ssl_key_file", "", stringOpt(func(o *options) *string { return &o.sslKeyFile })},
	{"ssl_key_password", "", stringOpt(func(o *options) *string { return &o.sslKeyPassword })},
	{"ssl_verify_vhost", "false", boolOpt(func(o *options) *bool { return &o.sslVerifyVhost })},
	{"sasl_mechanisms", "", func(o *options, v string) error {
		o.saslMechanisms = strings.Fields(strings.ToUpper(strings.ReplaceAll(v, ",", " ")))
		for _, m := range o.saslMechanisms {
			if !slices.Contains(supportedSASL, m) {
				return fmt.Errorf("mechanism %s is not supported (supported: %s)", m, strings.Join(supportedSASL, ", "))
			}
		}
		return nil
	}},
	{"sasl_config_dir", "", stringOpt(func(o *options) *string { return &o.saslConfigDir })},
	{"sasl_config_name", "", stringOpt(func(o *options) *string { return &o.saslConfigName })},
	{"sasl_default_realm", "", stringOpt(func(o *options) *string { return &o.saslDefaultRealm })},
	{"connection_retry_interval", "1", secondsOpt(1, func(o *options) *time.Duration { return &o.retryInterval })},
	{"connection_retry_backoff", "2", intOpt(0, func(o *options, n int) { o.retryBackoff = float64(n) })},
	{"connection_retry_interval_max", "30", secondsOpt(1, func(o *options) *time.Duration { return &o.retryIntervalMax })},
	{"link_retry_delay", "10", secondsOpt(1, func(o *options) *time.Duration { return &o.linkRetryDelay })},
	{"default_reply_retry", "0", intOpt(-1, func(o *options, n int) { o.replyRetry = n })},
	{"default_reply_timeout", "30", secondsOpt(5, func(o *options) *time.Duration { return &o.replyTimeout })},
	{"default_send_timeout", "30", secondsOpt(5, func(o *options) *time.Duration { return &o.sendTimeout })},
	{"default_notify_timeout", "30", secondsOpt(5, func(o *options) *time.Duration { return &o.notifyTimeout })},
	{"default_sender_link_timeout", "600", secondsOpt(1, func(o *options) *time.Duration { return &o.senderLinkTimeout })},
	{"addressing_mode", "dynamic", stringOpt(func(o *options) *string { return &o.addressingMode }, "dynamic", "legacy", "routable")},
	{"pseudo_vhost", "true", boolOpt(func(o *options) *bool { return &o.pseudoVhost })},
	{"server_request_prefix", "exclusive", stringOpt(func(o *options) *string { return &o.serverPrefix })},
	{"broadcast_prefix", "broadcast", stringOpt(func(o *options) *string { return &o.broadcastPrefix })},
	{"group_request_prefix", "unicast", stringOpt(func(o *options) *string { return &o.groupPrefix })},
	{"rpc_address_prefix", "openstack.org/om/rpc", stringOpt(func(o *options) *string { return &o.rpcPrefix })},
	{"notify_address_prefix", "openstack.org/om/notify", stringOpt(func(o *options) *string { return &o.notifyPrefix })},
	{"multicast_address", "multicast", stringOpt(func(o *options) *string { return &o.multicastTag })},
	{"unicast_address", "unicast", stringOpt(func(o *options) *string { return &o.unicastTag })},
	{"anycast_address", "anycast", stringOpt(func(o *options) *string { return &o.anycastTag })},
	{"default_notification_exchange", "", stringOpt(func(o *options) *string { return &o.notifyExchange })},
	{"default_rpc_exchange", "", stringOpt(func(o *options) *string { return &o.rpcExchange })},
	{"reply_link_credit", "200", intOpt(1, func(o *options, n int) { o.replyCredit = n })},
	{"rpc_server_credit", "100", intOpt(1, func(o *options, n int) { o.rpcCredit = n })},
	{"notify_server_credit", "100", intOpt(1, func(o *options, n int) { o.notifyCredit = n })},
	{"pre_settled", "rpc-cast,rpc-reply", func(o *options, v string) error {
		// A MultiStrOpt: repeated query keys arrive joined with ",".
		o.preSettled = map[string]bool{}
		o.ignoredPreSettled = nil
		for _, s := range strings.Split(v, ",") {
			switch s = strings.ToLower(strings.TrimSpace(s)); s {
			case "":
			case "rpc-call", "rpc-cast", "rpc-reply", "notify":
				o.preSettled[s] = true
			default:
				o.ignoredPreSettled = append(o.ignoredPreSettled, s) // oslo warns and ignores
			}
		}
		return nil
	}},
}

// supportedSASL lists the mechanisms go-amqp implements that oslo's
// configurations name.
var supportedSASL = []string{"ANONYMOUS", "PLAIN", "EXTERNAL"}

func defaultOptions() *options {
	o := &options{}
	for _, spec := range optionTable {
		if err := spec.set(o, spec.def); err != nil {
			panic("amqp1: bad default for " + spec.name + ": " + err.Error())
		}
	}
	return o
}

func knownOptionNames() string {
	names := make([]string, 0, len(optionTable))
	for _, s := range optionTable {
		names = append(names, s.name)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// setOption sets option name from its string form.
func (o *options) setOption(name, value string) error {
	for _, spec := range optionTable {
		if spec.name == name {
			if err := spec.set(o, value); err != nil {
				return fmt.Errorf("amqp1: option %s: %v", name, err)
			}
			return nil
		}
	}
	return fmt.Errorf("amqp1: unknown option %q; known options: %s", name, knownOptionNames())
}

// parseOptions builds the options from the driver options given to
// transport.Open, then the URL query, which overrides them.
func parseOptions(query map[string]string, driverOpts []any) (*options, error) {
	o := defaultOptions()
	for _, v := range driverOpts {
		opt, ok := v.(driverOption)
		if !ok {
			return nil, fmt.Errorf("amqp1: unknown driver option of type %T", v)
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
	if o.sslKeyPassword != "" {
		return nil, fmt.Errorf("amqp1: option ssl_key_password: encrypted private keys are not supported; give ssl_key_file an unencrypted key or use TLSConfig")
	}
	if o.sslKeyFile != "" && o.sslCertFile == "" {
		return nil, fmt.Errorf("amqp1: ssl_key_file needs ssl_cert_file")
	}
	return o, nil
}

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
	apply func(*options) error
}

// param is the driver option that sets option name from its string form.
func param(name, value string) driverOption {
	return driverOption{apply: func(o *options) error { return o.setOption(name, value) }}
}

// Param sets a driver option by its oslo name, as the URL query parameter
// name=value would: Param("addressing_mode", "routable"). A query
// parameter of the same name overrides it.
func Param(name, value string) transport.Option {
	return transport.WithDriverOption(param(name, value))
}

// AddressingMode sets addressing_mode: "dynamic" (the default: legacy
// addresses on a broker announcing itself as qpidd, or announcing no
// product, routable addresses otherwise), "legacy" or "routable".
func AddressingMode(mode string) transport.Option { return Param("addressing_mode", mode) }

func connectionRetry(interval time.Duration, backoff int, max time.Duration) driverOption {
	return driverOption{apply: func(o *options) error {
		for _, kv := range [][2]string{
			{"connection_retry_interval", seconds(interval)},
			{"connection_retry_backoff", strconv.Itoa(backoff)},
			{"connection_retry_interval_max", seconds(max)},
		} {
			if err := o.setOption(kv[0], kv[1]); err != nil {
				return err
			}
		}
		return nil
	}}
}

// ConnectionRetry sets connection_retry_interval,
// connection_retry_backoff and connection_retry_interval_max: the first
// pause before reconnecting, the factor it is multiplied by after each
// failed attempt (as oslo's code does), and its maximum. oslo's options
// are whole seconds; durations are rounded up to them.
func ConnectionRetry(interval time.Duration, backoff int, max time.Duration) transport.Option {
	return transport.WithDriverOption(connectionRetry(interval, backoff, max))
}

// LinkRetryDelay sets link_retry_delay: the pause before re-attaching a
// link the peer detached and before re-sending a message the peer
// released (whole seconds, at least 1; rounded up).
func LinkRetryDelay(d time.Duration) transport.Option { return Param("link_retry_delay", seconds(d)) }

// PreSettled sets pre_settled: the kinds of message sent pre-settled,
// without waiting for the peer's outcome, among "rpc-call", "rpc-cast",
// "rpc-reply" and "notify" (default: rpc-cast and rpc-reply).
func PreSettled(kinds ...string) transport.Option {
	return Param("pre_settled", strings.Join(kinds, ","))
}

func tlsConfig(c *tls.Config) driverOption {
	return driverOption{apply: func(o *options) error {
		o.tlsConfig = c
		o.ssl = o.ssl || c != nil
		return nil
	}}
}

// TLSConfig sets the TLS configuration, instead of the one built from the
// ssl_* options (Go only). It implies ssl.
func TLSConfig(c *tls.Config) transport.Option { return transport.WithDriverOption(tlsConfig(c)) }

// seconds renders d as oslo's whole seconds, rounding up.
func seconds(d time.Duration) string {
	return strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10)
}
