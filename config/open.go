package config

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/oslo-go/messaging/client"
	"github.com/oslo-go/messaging/dispatcher"
	"github.com/oslo-go/messaging/notify"
	"github.com/oslo-go/messaging/notify/listener"
	"github.com/oslo-go/messaging/server"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
)

// driverParam maps an option to the URL query parameter a driver reads
// for it.
type driverParam struct {
	group, opt string
	// keys are the query parameters the driver reads for the option (its
	// name and the aliases the driver accepts); the option is passed as
	// keys[0] unless the URL has one of them.
	keys []string
}

// driverSpec lists what a driver takes from the configuration.
type driverSpec struct {
	params []driverParam
	// extra are keys of group this package does not register (options of
	// newer oslo.messaging releases, or of the Go driver only) that the
	// driver reads; they are passed as written, interpolated.
	group string
	extra []string
}

func params(group string, opts []Opt, aliases map[string][]string) []driverParam {
	out := make([]driverParam, 0, len(opts))
	for _, o := range opts {
		out = append(out, driverParam{group: group, opt: o.Name, keys: append([]string{o.Name}, aliases[o.Name]...)})
	}
	return out
}

// pick returns the options named.
func pick(opts []Opt, names ...string) []Opt {
	var out []Opt
	for _, o := range opts {
		if slices.Contains(names, o.Name) {
			out = append(out, o)
		}
	}
	return out
}

var rabbitSpec = &driverSpec{
	params: append(params(DefaultGroup, pick(defaultOpts, "rpc_conn_pool_size", "conn_pool_min_size", "conn_pool_ttl"), nil), params(RabbitGroup, rabbitOpts, map[string][]string{
		"ssl":                                  {"rabbit_use_ssl"},
		"ssl_version":                          {"kombu_ssl_version"},
		"ssl_key_file":                         {"kombu_ssl_keyfile"},
		"ssl_cert_file":                        {"kombu_ssl_certfile"},
		"ssl_ca_file":                          {"kombu_ssl_ca_certs"},
		"kombu_missing_consumer_retry_timeout": {"kombu_reconnect_timeout"},
		"rabbit_quroum_max_memory_length":      {"rabbit_quorum_max_memory_length"},
		"rabbit_quroum_max_memory_bytes":       {"rabbit_quorum_max_memory_bytes"},
		"heartbeat_timeout_threshold":          {"heartbeat"},
	})...),
	group: RabbitGroup,
	extra: []string{"rabbit_transient_quorum_queue", "connection_name", "publish_channels", "use_queue_manager", "rabbit_stream_fanout"},
}

// driverSpecs are the drivers whose options the configuration holds, by
// the driver part of the URL scheme.
var driverSpecs = map[string]*driverSpec{
	"rabbit": rabbitSpec,
	"kombu":  rabbitSpec,
	"amqp":   {params: params(AMQPGroup, amqpOpts, nil)}, // drivers/amqp1, oslo's amqp1 driver
	"nats":   {params: params(NATSGroup, natsOpts, nil)},
	"zmq": {params: params(ZMQGroup, zmqOpts, map[string][]string{
		"bind_address":   {"rpc_zmq_bind_address"},
		"advertise_host": {"rpc_zmq_host"},
		"min_port":       {"rpc_zmq_min_port"},
		"max_port":       {"rpc_zmq_max_port"},
		"target_expire":  {"zmq_target_expire"},
		"target_update":  {"zmq_target_update"},
	})},
}

// TransportURL returns [DEFAULT] transport_url. It holds passwords: do
// not log it (transport.RedactURL).
func (c *Config) TransportURL() string { s, _ := c.String(DefaultGroup, "transport_url"); return s }

// ControlExchange returns [DEFAULT] control_exchange.
func (c *Config) ControlExchange() string {
	s, _ := c.String(DefaultGroup, "control_exchange")
	return s
}

// RPCResponseTimeout returns [DEFAULT] rpc_response_timeout, how long a
// call waits for its reply (0 when blank).
func (c *Config) RPCResponseTimeout() time.Duration {
	d, _ := c.Duration(DefaultGroup, "rpc_response_timeout")
	return d
}

// ExecutorThreadPoolSize returns [DEFAULT] executor_thread_pool_size, how
// many requests a server handles at once (0 when blank).
func (c *Config) ExecutorThreadPoolSize() int {
	n, _ := c.Int(DefaultGroup, "executor_thread_pool_size")
	return n
}

// RPCPingEnabled returns [DEFAULT] rpc_ping_enabled.
func (c *Config) RPCPingEnabled() bool {
	b, _ := c.Bool(DefaultGroup, "rpc_ping_enabled")
	return b
}

// ClientOptions returns the client options the configuration gives:
// client.Timeout(rpc_response_timeout) when it is positive.
func (c *Config) ClientOptions() []client.Option {
	if d := c.RPCResponseTimeout(); d > 0 {
		return []client.Option{client.Timeout(d)}
	}
	return nil
}

// ServerOptions returns the server options the configuration gives:
// server.MaxConcurrency(executor_thread_pool_size) when it is positive and
// dispatcher.Ping(true) when rpc_ping_enabled (through
// server.DispatchOptions, which add up with the caller's).
func (c *Config) ServerOptions() []server.Option {
	var opts []server.Option
	if c.RPCPingEnabled() { // off is the default: nothing to override
		opts = append(opts, server.DispatchOptions(dispatcher.Ping(true)))
	}
	if n := c.ExecutorThreadPoolSize(); n > 0 {
		opts = append(opts, server.MaxConcurrency(n))
	}
	return opts
}

// ListenerOptions returns the notification listener options the
// configuration gives: listener.MaxConcurrency(executor_thread_pool_size)
// when it is positive.
func (c *Config) ListenerOptions() []listener.Option {
	if n := c.ExecutorThreadPoolSize(); n > 0 {
		return []listener.Option{listener.MaxConcurrency(n)}
	}
	return nil
}

// OpenTransport opens the transport of [DEFAULT] transport_url (oslo's
// get_rpc_transport): see OpenTransportURL.
func (c *Config) OpenTransport(ctx context.Context, opts ...transport.Option) (*transport.Transport, error) {
	return c.OpenTransportURL(ctx, "", opts...)
}

// OpenTransportURL opens rawURL ("" for [DEFAULT] transport_url) as oslo
// opens a transport with a configuration: the options of the URL's driver
// that the configuration sets (the [oslo_messaging_rabbit], [..._nats] or
// [..._zmq] group, and for RabbitMQ the DEFAULT connection pool options)
// are added to the URL query unless the URL has them, and
// transport.ControlExchange(control_exchange) comes before opts. Options
// of other drivers' groups are ignored, as oslo ignores them.
func (c *Config) OpenTransportURL(ctx context.Context, rawURL string, opts ...transport.Option) (*transport.Transport, error) {
	u, err := c.transportURL(rawURL, "")
	if err != nil {
		return nil, err
	}
	return c.open(ctx, u, opts)
}

// OpenNotificationTransport opens the transport of
// [oslo_messaging_notifications] transport_url, or of [DEFAULT]
// transport_url when that is unset or blank (oslo's
// get_notification_transport), as OpenTransportURL does.
func (c *Config) OpenNotificationTransport(ctx context.Context, opts ...transport.Option) (*transport.Transport, error) {
	u, err := c.transportURL("", NotificationsGroup)
	if err != nil {
		return nil, err
	}
	return c.open(ctx, u, opts)
}

func (c *Config) open(ctx context.Context, u *transport.URL, opts []transport.Option) (*transport.Transport, error) {
	all := append([]transport.Option{transport.ControlExchange(c.ControlExchange())}, opts...)
	tr, err := transport.OpenURL(ctx, u, all...)
	if err != nil {
		return nil, c.redact(u, err)
	}
	return tr, nil
}

// redact hides, in err's text, the query parameters of u that hold
// secrets (such as [oslo_messaging_zmq] redis_url), which
// transport.RedactURL does not mask.
func (c *Config) redact(u *transport.URL, err error) error {
	var secrets []string
	if spec := driverSpecs[u.Driver()]; spec != nil {
		for _, p := range spec.params {
			for _, k := range p.keys {
				if v := u.Query[k]; v != "" && c.Secret(p.group, p.opt) {
					secrets = append(secrets, v)
				}
			}
		}
		for _, k := range spec.extra {
			if v := u.Query[k]; v != "" && looksSecret(k) {
				secrets = append(secrets, v)
			}
		}
	}
	if len(secrets) == 0 {
		return err
	}
	return &redactedError{err: err, secrets: secrets}
}

// redactedError is an error whose text hides secrets; Unwrap gives the
// original error.
type redactedError struct {
	err     error
	secrets []string
}

func (e *redactedError) Error() string {
	s := e.err.Error()
	for _, v := range e.secrets {
		s = strings.ReplaceAll(strings.ReplaceAll(s, url.QueryEscape(v), masked), v, masked)
	}
	return s
}

func (e *redactedError) Unwrap() error { return e.err }

// transportURL parses rawURL, or the group's transport_url, or DEFAULT's,
// and adds the driver options.
func (c *Config) transportURL(rawURL, group string) (*transport.URL, error) {
	from := ""
	if rawURL == "" && group != "" {
		rawURL, _ = c.String(group, "transport_url")
		from = "[" + group + "] transport_url"
	}
	if rawURL == "" {
		rawURL = c.TransportURL()
		from = "[DEFAULT] transport_url"
	}
	u, err := transport.ParseURL(rawURL)
	if err != nil && from != "" {
		return nil, fmt.Errorf("config: %s: %w", from, err)
	} else if err != nil {
		return nil, err
	}
	spec := driverSpecs[u.Driver()]
	if spec == nil {
		return u, nil
	}
	if u.Query == nil {
		u.Query = map[string]string{}
	}
	has := func(keys ...string) bool {
		return slices.ContainsFunc(keys, func(k string) bool { _, ok := u.Query[k]; return ok })
	}
	for _, p := range spec.params {
		if has(p.keys...) || !c.IsSet(p.group, p.opt) {
			continue
		}
		v, err := c.Value(p.group, p.opt)
		if err != nil {
			return nil, err
		}
		if s, ok := queryValue(v); ok {
			u.Query[p.keys[0]] = s
		}
	}
	for _, k := range spec.extra {
		if has(k) || !c.IsSet(spec.group, k) {
			continue
		}
		s, err := c.String(spec.group, k)
		if err != nil {
			return nil, err
		}
		u.Query[k] = s
	}
	return u, nil
}

// queryValue writes a value as a URL query parameter the drivers read.
func queryValue(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", false
	case []string:
		return strings.Join(x, ","), len(x) > 0
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case time.Duration:
		return x.String(), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return pyStr(v), true
}

// routingConfigOpt is the routing notification driver's option, which
// oslo registers only when that driver loads.
var routingConfigOpt = Opt{Name: "routing_config", Kind: String, Default: "",
	Deprecated: []DeprecatedName{{Group: DefaultGroup, Name: "routing_notifier_config"}}}

// NewNotifier returns a notifier on tr configured by
// [oslo_messaging_notifications] as oslo's Notifier(transport) is: driver
// (none, the default, sends nothing: notify.Driver("noop")), topics, retry
// (blank is -1), and routing_config for the routing driver. opts come
// after, so they override these (notify.PublisherID is usually needed).
func (c *Config) NewNotifier(tr *transport.Transport, opts ...notify.Option) (*notify.Notifier, error) {
	drivers, _ := c.List(NotificationsGroup, "driver")
	topics, _ := c.List(NotificationsGroup, "topics")
	retry := -1
	if v, _ := c.Value(NotificationsGroup, "retry"); v != nil {
		retry, _ = c.Int(NotificationsGroup, "retry")
	}
	if len(topics) == 0 {
		// The messaging drivers send once per topic: to none, nothing.
		drivers = slices.DeleteFunc(drivers, func(d string) bool { return d == "messaging" || d == "messagingv2" })
	}
	if len(drivers) == 0 {
		drivers = []string{"noop"}
	}
	nopts := []notify.Option{notify.Driver(drivers...), notify.Retry(retry)}
	if len(topics) > 0 {
		nopts = append(nopts, notify.Topics(topics...))
	}
	if slices.Contains(drivers, "routing") {
		path, err := c.extra(NotificationsGroup, routingConfigOpt)
		if err != nil {
			return nil, err
		}
		if path != "" {
			nopts = append(nopts, notify.RoutingConfig(path))
		}
	}
	return notify.New(tr, append(nopts, opts...)...)
}

// extra resolves a String option that is not registered (one oslo
// registers only in some cases), with its deprecated names.
func (c *Config) extra(group string, o Opt) (string, error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	raws := c.find(group, &o)
	if len(raws) == 0 {
		return o.Default.(string), nil
	}
	r, err := c.resolveRaw(group, &o, raws, newStack())
	if err != nil {
		return "", err
	}
	return r.v.(string), nil
}

// VersionCap returns the version cap [upgrade_levels] gives the RPC API
// of service, as Nova and Trove read it: the option named after the
// service holds a version ("1.10") or a release alias that aliases maps
// to a version (Trove's and Nova's VERSION_ALIASES, for example
// {"latest": "1.10", "zed": "1.8"}). An unset or blank option, or an
// alias that maps to "", gives "" (no cap), which client.VersionCap
// accepts as well as a version. Anything else (including Nova's "auto",
// unless aliases has it) is a *ValueError. The option may be registered
// (a String option in UpgradeLevelsGroup) or only set in the files.
func (c *Config) VersionCap(service string, aliases map[string]string) (string, error) {
	v, err := c.String(UpgradeLevelsGroup, service)
	if errors.Is(err, ErrNoSuchOption) {
		return "", nil
	}
	if err != nil || v == "" {
		return "", err
	}
	if a, ok := aliases[v]; ok {
		v = a
		if v == "" {
			return "", nil
		}
	}
	if _, err := target.ParseVersion(v); err == nil {
		return v, nil
	}
	known := make([]string, 0, len(aliases))
	for k := range aliases {
		known = append(known, k)
	}
	slices.Sort(known)
	ve := &ValueError{Group: UpgradeLevelsGroup, Option: service, Value: v,
		Err: fmt.Errorf("not a version (X.Y) nor a release alias (%s)", strings.Join(known, ", "))}
	c.mu.RLock()
	raws := c.find(UpgradeLevelsGroup, &Opt{Name: service, Kind: String})
	c.mu.RUnlock()
	if len(raws) > 0 {
		ve.File, ve.Line, ve.Env, ve.Value = raws[0].file, raws[0].line, raws[0].env, raws[0].text
	}
	return "", ve
}
