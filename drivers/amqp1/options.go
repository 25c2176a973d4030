package amqp1

import (
	"crypto/tls"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/oslo-go/messaging/drivers/internal/option"
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

type spec = option.Spec[options]

// intOpt parses oslo's IntOpt, with its minimum.
func intOpt(lo int64, set func(*options, int)) func(*options, string) error {
	return func(o *options, v string) error {
		n, err := option.Int(v, lo, math.MaxInt32)
		if err == nil {
			set(o, int(n))
		}
		return err
	}
}

// secondsOpt parses oslo's IntOpt seconds, with their minimum.
func secondsOpt(lo int64, f func(*options) *time.Duration) func(*options, string) error {
	return intOpt(lo, func(o *options, n int) { *f(o) = time.Duration(n) * time.Second })
}

var (
	boolOpt   = option.BoolField[options]
	stringOpt = option.StringField[options]
)

// optionTable lists every [oslo_messaging_amqp] option of oslo.messaging
// 14 with its default. The URL query and Param use it.
var optionTable = &option.Table[options]{Driver: "amqp1", Specs: []spec{
	{Name: "container_name", Default: "", Set: stringOpt(func(o *options) *string { return &o.containerName })},
	{Name: "idle_timeout", Default: "0", Set: secondsOpt(0, func(o *options) *time.Duration { return &o.idleTimeout })},
	{Name: "trace", Default: "false", Set: boolOpt(func(o *options) *bool { return &o.trace })},
	{Name: "ssl", Default: "false", Set: boolOpt(func(o *options) *bool { return &o.ssl })},
	{Name: "ssl_ca_file", Default: "", Set: stringOpt(func(o *options) *string { return &o.sslCAFile })},
	{Name: "ssl_cert_file", Default: "", Set: stringOpt(func(o *options) *string { return &o.sslCertFile })},
	{Name: "ssl_key_file", Default: "", Set: stringOpt(func(o *options) *string { return &o.sslKeyFile })},
	{Name: "ssl_key_password", Default: "", Set: stringOpt(func(o *options) *string { return &o.sslKeyPassword })},
	{Name: "ssl_verify_vhost", Default: "false", Set: boolOpt(func(o *options) *bool { return &o.sslVerifyVhost })},
	{Name: "sasl_mechanisms", Default: "", Set: func(o *options, v string) error {
		o.saslMechanisms = strings.Fields(strings.ToUpper(strings.ReplaceAll(v, ",", " ")))
		for _, m := range o.saslMechanisms {
			if !slices.Contains(supportedSASL, m) {
				return fmt.Errorf("mechanism %s is not supported (supported: %s)", m, strings.Join(supportedSASL, ", "))
			}
		}
		return nil
	}},
	{Name: "sasl_config_dir", Default: "", Set: stringOpt(func(o *options) *string { return &o.saslConfigDir })},
	{Name: "sasl_config_name", Default: "", Set: stringOpt(func(o *options) *string { return &o.saslConfigName })},
	{Name: "sasl_default_realm", Default: "", Set: stringOpt(func(o *options) *string { return &o.saslDefaultRealm })},
	{Name: "connection_retry_interval", Default: "1", Set: secondsOpt(1, func(o *options) *time.Duration { return &o.retryInterval })},
	{Name: "connection_retry_backoff", Default: "2", Set: intOpt(0, func(o *options, n int) { o.retryBackoff = float64(n) })},
	{Name: "connection_retry_interval_max", Default: "30", Set: secondsOpt(1, func(o *options) *time.Duration { return &o.retryIntervalMax })},
	{Name: "link_retry_delay", Default: "10", Set: secondsOpt(1, func(o *options) *time.Duration { return &o.linkRetryDelay })},
	{Name: "default_reply_retry", Default: "0", Set: intOpt(-1, func(o *options, n int) { o.replyRetry = n })},
	{Name: "default_reply_timeout", Default: "30", Set: secondsOpt(5, func(o *options) *time.Duration { return &o.replyTimeout })},
	{Name: "default_send_timeout", Default: "30", Set: secondsOpt(5, func(o *options) *time.Duration { return &o.sendTimeout })},
	{Name: "default_notify_timeout", Default: "30", Set: secondsOpt(5, func(o *options) *time.Duration { return &o.notifyTimeout })},
	{Name: "default_sender_link_timeout", Default: "600", Set: secondsOpt(1, func(o *options) *time.Duration { return &o.senderLinkTimeout })},
	{Name: "addressing_mode", Default: "dynamic", Set: stringOpt(func(o *options) *string { return &o.addressingMode }, "dynamic", "legacy", "routable")},
	{Name: "pseudo_vhost", Default: "true", Set: boolOpt(func(o *options) *bool { return &o.pseudoVhost })},
	{Name: "server_request_prefix", Default: "exclusive", Set: stringOpt(func(o *options) *string { return &o.serverPrefix })},
	{Name: "broadcast_prefix", Default: "broadcast", Set: stringOpt(func(o *options) *string { return &o.broadcastPrefix })},
	{Name: "group_request_prefix", Default: "unicast", Set: stringOpt(func(o *options) *string { return &o.groupPrefix })},
	{Name: "rpc_address_prefix", Default: "openstack.org/om/rpc", Set: stringOpt(func(o *options) *string { return &o.rpcPrefix })},
	{Name: "notify_address_prefix", Default: "openstack.org/om/notify", Set: stringOpt(func(o *options) *string { return &o.notifyPrefix })},
	{Name: "multicast_address", Default: "multicast", Set: stringOpt(func(o *options) *string { return &o.multicastTag })},
	{Name: "unicast_address", Default: "unicast", Set: stringOpt(func(o *options) *string { return &o.unicastTag })},
	{Name: "anycast_address", Default: "anycast", Set: stringOpt(func(o *options) *string { return &o.anycastTag })},
	{Name: "default_notification_exchange", Default: "", Set: stringOpt(func(o *options) *string { return &o.notifyExchange })},
	{Name: "default_rpc_exchange", Default: "", Set: stringOpt(func(o *options) *string { return &o.rpcExchange })},
	{Name: "reply_link_credit", Default: "200", Set: intOpt(1, func(o *options, n int) { o.replyCredit = n })},
	{Name: "rpc_server_credit", Default: "100", Set: intOpt(1, func(o *options, n int) { o.rpcCredit = n })},
	{Name: "notify_server_credit", Default: "100", Set: intOpt(1, func(o *options, n int) { o.notifyCredit = n })},
	{Name: "pre_settled", Default: "rpc-cast,rpc-reply", Set: func(o *options, v string) error {
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
}}

// supportedSASL lists the mechanisms go-amqp implements that oslo's
// configurations name.
var supportedSASL = []string{"ANONYMOUS", "PLAIN", "EXTERNAL"}

func defaultOptions() *options {
	o := &options{}
	if err := optionTable.Defaults(o); err != nil {
		panic(err)
	}
	return o
}

// setOption sets option name from its string form.
func (o *options) setOption(name, value string) error { return optionTable.Set(o, name, value) }

// parseOptions builds the options from the driver options given to
// transport.Open, then the URL query, which overrides them.
func parseOptions(query map[string]string, driverOpts []any) (*options, error) {
	o := defaultOptions()
	if err := option.Funcs("amqp1", o, driverOpts); err != nil {
		return nil, err
	}
	if err := optionTable.Query(o, query); err != nil {
		return nil, err
	}
	if o.sslKeyPassword != "" {
		return nil, fmt.Errorf("amqp1: option ssl_key_password: encrypted private keys are not supported; give ssl_key_file an unencrypted key or use TLSConfig")
	}
	if o.sslKeyFile != "" && o.sslCertFile == "" {
		return nil, fmt.Errorf("amqp1: ssl_key_file needs ssl_cert_file")
	}
	return o, nil
}

// driverOption is the value the option functions pass through
// transport.WithDriverOption.
type driverOption = option.Func[options]

// param is the driver option that sets option name from its string form.
func param(name, value string) driverOption {
	return driverOption{Name: name, Apply: func(o *options) error { return o.setOption(name, value) }}
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
	return driverOption{Name: "ConnectionRetry", Apply: func(o *options) error {
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
	return driverOption{Name: "TLSConfig", Apply: func(o *options) error {
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
