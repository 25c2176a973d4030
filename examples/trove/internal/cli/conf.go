package cli

import (
	"flag"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/oslo-go/messaging/config"
	"github.com/oslo-go/messaging/examples/trove/conductor"
	"github.com/oslo-go/messaging/examples/trove/guestagent"
	"github.com/oslo-go/messaging/examples/trove/taskmanager"
	"github.com/oslo-go/messaging/server"
)

// Trove's options that the commands read from trove.conf, with Trove's
// names and defaults.
var (
	troveOpts = []config.Opt{
		{Name: "taskmanager_queue", Default: taskmanager.DefaultTopic, Help: "Message queue name the Taskmanager will listen to."},
		{Name: "conductor_queue", Default: conductor.DefaultTopic, Help: "Message queue name the Conductor will listen on."},
		{Name: "debug", Kind: config.Bool, Default: false, Help: "If set to true, the logging level will be set to DEBUG instead of the default INFO level."},
		{Name: "bind_host", Default: "0.0.0.0", Help: "IP address the API server will listen on."},
		{Name: "bind_port", Kind: config.Int, Default: 8779, Min: config.Bound(0), Max: config.Bound(65535), Help: "Port the API server will listen on."},
		{Name: "agent_call_low_timeout", Kind: config.Int, Default: 15, Help: "Maximum time (in seconds) to wait for Guest Agent 'quick' requests (such as retrieving a list of users or databases)."},
		{Name: "report_interval", Kind: config.Int, Default: 30, Help: "The interval (in seconds) which periodic tasks are run."},
		{Name: "guest_id", Help: "ID of the Guest Instance."},
		{Name: "agent_heartbeat_expiry", Kind: config.Int, Default: 60, Help: "Time (in seconds) after which a guest is considered unreachable"},
		{Name: "graceful_shutdown_timeout", Kind: config.Int, Default: 60, Help: "Specify a timeout after which a gracefully shutdown server will exit. Zero value means endless wait."},
	}
	databaseOpts = []config.Opt{
		{Name: "connection", Default: "sqlite:///trove_test.sqlite", Secret: true, Help: "SQL Connection."},
	}
	upgradeLevelsOpts = []config.Opt{
		{Name: "taskmanager", Default: "latest", Help: "Set a version cap for messages sent to taskmanager services."},
		{Name: "conductor", Default: "latest", Help: "Set a version cap for messages sent to conductor services."},
		{Name: "guestagent", Default: "latest", Help: "Set a version cap for messages sent to guestagent services."},
	}
	// versionAliases are the release names [upgrade_levels] accepts, as
	// Trove's VERSION_ALIASES; "latest" is no cap (the API's newest).
	versionAliases = map[string]string{"latest": "", "icehouse": "1.0", "juno": "1.0", "kilo": "1.0", "zed": "1.0"}
)

// binding fills a flag from trove.conf when the command line does not
// give it.
type binding struct {
	flag, group, option string
	// value returns the flag's text from the configuration, and false to
	// leave the flag as it is.
	value func(*config.Config) (string, bool, error)
}

func stringOf(group, option string) func(*config.Config) (string, bool, error) {
	return func(c *config.Config) (string, bool, error) {
		s, err := c.String(group, option)
		return s, err == nil && s != "", err
	}
}

func secondsOf(option string) func(*config.Config) (string, bool, error) {
	return func(c *config.Config) (string, bool, error) {
		n, err := c.Int(config.DefaultGroup, option)
		return strconv.Itoa(n) + "s", err == nil, err
	}
}

var bindings = []binding{
	{"taskmanager-queue", config.DefaultGroup, "taskmanager_queue", stringOf(config.DefaultGroup, "taskmanager_queue")},
	{"conductor-queue", config.DefaultGroup, "conductor_queue", stringOf(config.DefaultGroup, "conductor_queue")},
	{"instance-id", config.DefaultGroup, "guest_id", stringOf(config.DefaultGroup, "guest_id")},
	{"agent-call-timeout", config.DefaultGroup, "agent_call_low_timeout", secondsOf("agent_call_low_timeout")},
	{"heartbeat-interval", config.DefaultGroup, "report_interval", secondsOf("report_interval")},
	{"log-level", config.DefaultGroup, "debug", func(c *config.Config) (string, bool, error) {
		debug, err := c.Bool(config.DefaultGroup, "debug")
		return "debug", debug, err
	}},
	{"notification-topic", config.NotificationsGroup, "topics", func(c *config.Config) (string, bool, error) {
		topics, err := c.List(config.NotificationsGroup, "topics")
		if err != nil || len(topics) == 0 {
			return "", false, err
		}
		return topics[0], true, nil
	}},
	{"db", "database", "connection", func(c *config.Config) (string, bool, error) {
		conn, err := c.String("database", "connection")
		if err != nil {
			return "", false, err
		}
		path, ok := strings.CutPrefix(conn, "sqlite:///")
		if !ok || path == "" {
			return "", false, fmt.Errorf("[database] connection: the example stores its data in SQLite: want sqlite:///relative/path or sqlite:////absolute/path")
		}
		return path, true, nil
	}},
	{"listen", config.DefaultGroup, "bind_port", func(c *config.Config) (string, bool, error) {
		host, _ := c.String(config.DefaultGroup, "bind_host")
		port, err := c.Int(config.DefaultGroup, "bind_port")
		return net.JoinHostPort(host, strconv.Itoa(port)), err == nil, err
	}},
}

// LoadConfig reads the files of --config-file and --config-dir (trove.conf)
// as Trove's services do, with Trove's control_exchange "trove" as the
// default, then sets each flag of fs that the command line does not give
// from the option of the file that sets it: --transport-url from [DEFAULT]
// transport_url (when TRANSPORT_URL is not set either), the queues, the
// notification topic ([oslo_messaging_notifications] topics), --db from
// [database] connection (sqlite:///path), --log-level debug from debug,
// --heartbeat-interval from report_interval, --agent-call-timeout from
// agent_call_low_timeout, --listen from bind_host and bind_port,
// --instance-id from guest_id; and the version caps from [upgrade_levels]
// taskmanager, conductor and guestagent. Without files it changes
// nothing.
func (o *Options) LoadConfig(fs *flag.FlagSet) error {
	conf, err := o.Files.Load(
		config.Define(config.DefaultGroup, troveOpts...),
		config.Define("database", databaseOpts...),
		config.Define(config.UpgradeLevelsGroup, upgradeLevelsOpts...),
		config.Default(config.DefaultGroup, "control_exchange", ControlExchange),
	)
	if err != nil {
		return err
	}
	o.conf = conf
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if o.TransportURL == "" && conf.IsSet(config.DefaultGroup, "transport_url") {
		o.TransportURL = conf.TransportURL()
	}
	for _, b := range bindings {
		if given[b.flag] || fs.Lookup(b.flag) == nil || !conf.IsSet(b.group, b.option) {
			continue
		}
		v, ok, err := b.value(conf)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if err := fs.Set(b.flag, v); err != nil {
			return fmt.Errorf("[%s] %s: --%s %s", b.group, b.option, b.flag, err)
		}
	}
	o.caps = map[string]string{}
	for _, service := range []string{"taskmanager", "conductor", "guestagent"} {
		if o.caps[service], err = conf.VersionCap(service, versionAliases); err != nil {
			return err
		}
	}
	return nil
}

// TaskmanagerAPI says how to reach the taskmanager: --taskmanager-queue
// and [upgrade_levels] taskmanager.
func (o *Options) TaskmanagerAPI() taskmanager.APIConfig {
	return taskmanager.APIConfig{Topic: o.TaskmanagerQueue, VersionCap: o.caps["taskmanager"], ClientOptions: o.Observe.ClientOptions()}
}

// ConductorAPI says how to reach the conductor: --conductor-queue and
// [upgrade_levels] conductor.
func (o *Options) ConductorAPI() conductor.APIConfig {
	return conductor.APIConfig{Topic: o.ConductorQueue, VersionCap: o.caps["conductor"], ClientOptions: o.Observe.ClientOptions()}
}

// GuestAPI says how to reach guest agents: [upgrade_levels] guestagent
// and the timeout of quick calls (0: the default).
func (o *Options) GuestAPI(callTimeout time.Duration) guestagent.APIConfig {
	return guestagent.APIConfig{VersionCap: o.caps["guestagent"], CallTimeout: callTimeout, ClientOptions: o.Observe.ClientOptions()}
}

// ServerOptions are the server options of trove.conf (executor_thread_pool_size
// and rpc_ping_enabled) and the middleware of --metrics-listen and --trace.
func (o *Options) ServerOptions() []server.Option {
	opts := o.Observe.ServerOptions()
	if o.conf == nil {
		return opts
	}
	return append(o.conf.ServerOptions(), opts...)
}
