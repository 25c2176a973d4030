package cli

import (
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const troveConf = `[DEFAULT]
transport_url = fake:///trove-conf
control_exchange = trove-test
taskmanager_queue = tm-from-conf
conductor_queue = conductor-from-conf
debug = True
report_interval = 7
agent_call_low_timeout = 3
bind_host = 127.0.0.1
bind_port = 9999
guest_id = 0b4f6c4e-0000-4000-8000-000000000001

[database]
connection = sqlite:////var/lib/trove/trove.db

[oslo_messaging_notifications]
topics = trove_notifications, audit

[upgrade_levels]
taskmanager = icehouse
conductor = 1.0
`

// parse parses args with every flag the commands have, then loads the
// configuration.
func parse(t *testing.T, args ...string) (*Options, *GuestOptions, map[string]string, error) {
	t.Helper()
	var (
		o      Options
		g      GuestOptions
		listen string
		agent  time.Duration
		id     string
	)
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o.AddFlags(fs)
	o.AddDBFlag(fs)
	g.AddFlags(fs)
	fs.StringVar(&listen, "listen", "127.0.0.1:8779", "")
	fs.DurationVar(&agent, "agent-call-timeout", 5*time.Second, "")
	fs.StringVar(&id, "instance-id", "", "")
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	err := o.LoadConfig(fs)
	return &o, &g, map[string]string{"listen": listen, "agent": agent.String(), "id": id}, err
}

func writeConf(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "trove.conf")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadConfig(t *testing.T) {
	t.Setenv("TRANSPORT_URL", "")
	conf := writeConf(t, troveConf)
	o, g, other, err := parse(t, "--config-file", conf)
	if err != nil {
		t.Fatal(err)
	}
	if o.TransportURL != "fake:///trove-conf" || o.TaskmanagerQueue != "tm-from-conf" || o.ConductorQueue != "conductor-from-conf" ||
		o.NotificationTopic != "trove_notifications" || o.DB != "/var/lib/trove/trove.db" || o.LogLevel != slog.LevelDebug ||
		g.HeartbeatInterval != 7*time.Second || other["listen"] != "127.0.0.1:9999" || other["agent"] != "3s" ||
		other["id"] != "0b4f6c4e-0000-4000-8000-000000000001" {
		t.Errorf("%+v %+v %v", o, g, other)
	}
	if c := o.TaskmanagerAPI(); c.Topic != "tm-from-conf" || c.VersionCap != "1.0" {
		t.Errorf("taskmanager API %+v", c)
	}
	if c := o.ConductorAPI(); c.Topic != "conductor-from-conf" || c.VersionCap != "1.0" {
		t.Errorf("conductor API %+v", c)
	}
	if c := o.GuestAPI(time.Second); c.VersionCap != "" || c.CallTimeout != time.Second {
		t.Errorf("guest API %+v", c)
	}
	if c := g.Config(o); c.Conductor.Topic != "conductor-from-conf" {
		t.Errorf("guest config %+v", c)
	}
	tr, err := o.OpenTransport(t.Context(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if tr.ControlExchange() != "trove-test" {
		t.Errorf("control exchange %q", tr.ControlExchange())
	}
}

func TestFlagsWinOverTheConfig(t *testing.T) {
	t.Setenv("TRANSPORT_URL", "fake:///from-env")
	conf := writeConf(t, troveConf)
	o, g, other, err := parse(t, "--taskmanager-queue=tm-flag", "--config-file="+conf, "--log-level=warn", "--db=flag.db",
		"--heartbeat-interval=1s", "--listen=:1")
	if err != nil {
		t.Fatal(err)
	}
	if o.TransportURL != "fake:///from-env" || o.TaskmanagerQueue != "tm-flag" || o.LogLevel != slog.LevelWarn || o.DB != "flag.db" ||
		g.HeartbeatInterval != time.Second || other["listen"] != ":1" || o.ConductorQueue != "conductor-from-conf" {
		t.Errorf("%+v %+v %v", o, g, other)
	}
	if !strings.HasPrefix(strings.Join(o.Files.Args(), " "), "--config-file=") {
		t.Errorf("Args %q", o.Files.Args())
	}
}

func TestNoConfig(t *testing.T) {
	t.Setenv("TRANSPORT_URL", "")
	o, _, _, err := parse(t)
	if err != nil {
		t.Fatal(err)
	}
	if o.TransportURL != "" || o.TaskmanagerQueue != "taskmanager" || o.TaskmanagerAPI().VersionCap != "" || o.Require() == nil {
		t.Errorf("%+v", o)
	}
}

func TestBadConfig(t *testing.T) {
	t.Setenv("TRANSPORT_URL", "")
	for content, want := range map[string]string{
		"[upgrade_levels]\ntaskmanager = havana\n":          "[upgrade_levels] taskmanager = \"havana\": not a version",
		"[database]\nconnection = mysql://u:pw@db/trove\n":  "the example stores its data in SQLite",
		"[DEFAULT]\nreport_interval = soon\n":               "report_interval = \"soon\": not an integer",
		"[DEFAULT]\nbind_port = 70000\n":                    "bind_port = \"70000\": should be less than or equal to 65535",
		"[oslo_messaging_rabbit]\nheartbeat_rate = never\n": "heartbeat_rate",
	} {
		_, _, _, err := parse(t, "--config-file", writeConf(t, content))
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "pw@") {
			t.Errorf("%q: %v, want %q", content, err, want)
		}
	}
}
