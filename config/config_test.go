package config

import (
	"errors"
	"flag"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// writeFiles writes files (name -> content) under a temporary directory
// and returns it.
func writeFiles(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// load loads one file with content and opts.
func load(t testing.TB, content string, opts ...LoadOption) (*Config, error) {
	t.Helper()
	dir := writeFiles(t, map[string]string{"f.conf": content})
	return Load(append([]LoadOption{Files(filepath.Join(dir, "f.conf"))}, opts...)...)
}

func mustLoad(t testing.TB, content string, opts ...LoadOption) *Config {
	t.Helper()
	c, err := load(t, content, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustValue(t testing.TB, c *Config, group, name string) any {
	t.Helper()
	v, err := c.Value(group, name)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestDefaults(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if c.TransportURL() != "rabbit://" || c.ControlExchange() != "openstack" || c.RPCResponseTimeout() != time.Minute ||
		c.ExecutorThreadPoolSize() != 64 || c.RPCPingEnabled() {
		t.Errorf("defaults: %q %q %v %d %v", c.TransportURL(), c.ControlExchange(), c.RPCResponseTimeout(), c.ExecutorThreadPoolSize(), c.RPCPingEnabled())
	}
	want := []string{"DEFAULT", AMQPGroup, MetricsGroup, NATSGroup, NotificationsGroup, RabbitGroup, ZMQGroup}
	if got := c.Groups(); !reflect.DeepEqual(got, want) {
		t.Errorf("Groups() = %v", got)
	}
	if v := mustValue(t, c, NotificationsGroup, "topics"); !reflect.DeepEqual(v, []string{"notifications"}) {
		t.Errorf("topics %#v", v)
	}
	if v := mustValue(t, c, NotificationsGroup, "transport_url"); v != nil {
		t.Errorf("notifications transport_url %#v", v)
	}
	if c.IsSet("DEFAULT", "transport_url") || len(c.Files()) != 0 {
		t.Error("nothing is set")
	}
}

func TestKinds(t *testing.T) {
	c := mustLoad(t, `[svc]
s = text
b = Off
i = -0_42
f = 1e-5
l = a , b,
m = one
m = two
d = 1m30s
ds = 2.5
n =
`, Define("svc",
		Opt{Name: "s", Kind: String}, Opt{Name: "b", Kind: Bool, Default: true}, Opt{Name: "i", Kind: Int},
		Opt{Name: "f", Kind: Float}, Opt{Name: "l", Kind: List}, Opt{Name: "m", Kind: MultiString},
		Opt{Name: "d", Kind: Duration}, Opt{Name: "ds", Kind: Duration}, Opt{Name: "n", Kind: Int, Default: 5},
		Opt{Name: "unset", Kind: Float, Default: 2}))
	for _, tt := range []struct {
		name string
		want any
	}{
		{"s", "text"}, {"b", false}, {"i", int64(-42)}, {"f", 1e-5}, {"l", []string{"a", "b"}},
		{"m", []string{"one", "two"}}, {"d", 90 * time.Second}, {"ds", 2500 * time.Millisecond}, {"n", nil}, {"unset", 2.0},
	} {
		if got := mustValue(t, c, "svc", tt.name); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s = %#v, want %#v", tt.name, got, tt.want)
		}
	}
	if n, err := c.Int("svc", "i"); n != -42 || err != nil {
		t.Errorf("Int = %d, %v", n, err)
	}
	if d, err := c.Duration(DefaultGroup, "rpc_response_timeout"); d != time.Minute || err != nil {
		t.Errorf("Duration of an Int = %v, %v", d, err)
	}
	if _, err := c.Int("svc", "s"); err == nil || !contains(err.Error(), "is a string value option") {
		t.Errorf("Int of a String: %v", err)
	}
	if _, err := c.String("svc", "nothing"); !errors.Is(err, ErrNoSuchOption) {
		t.Errorf("unknown option: %v", err)
	}
}

func TestUnregisteredOptionsAreKept(t *testing.T) {
	c := mustLoad(t, "[DEFAULT]\nhost = node-1\nworkers = 4\nstate_path = /var/lib/nova\n[database]\nconnection = mysql://u:pw@db/nova\n"+
		"[oslo_messaging_rabbit]\nssl_ca_file = $state_path/ca.pem\n")
	if s, err := c.String("", "host"); s != "node-1" || err != nil {
		t.Errorf("host = %q, %v", s, err)
	}
	if n, err := c.Int("DEFAULT", "workers"); n != 4 || err != nil {
		t.Errorf("workers = %d, %v", n, err)
	}
	if raw := c.Raw("database", "connection"); !reflect.DeepEqual(raw, []string{"mysql://u:pw@db/nova"}) {
		t.Errorf("Raw = %q", raw)
	}
	// A reference to an unregistered option takes its value in the files.
	if s, _ := c.String(RabbitGroup, "ssl_ca_file"); s != "/var/lib/nova/ca.pem" {
		t.Errorf("ssl_ca_file = %q", s)
	}
	if !c.Secret("database", "connection") || c.Secret("DEFAULT", "host") {
		t.Error("Secret guesses")
	}
	_, err := c.Int("DEFAULT", "host")
	var ve *ValueError
	if !errors.As(err, &ve) || ve.Option != "host" || ve.Line != 2 {
		t.Errorf("Int of host: %v", err)
	}
}

func TestFilesAndDirsInOrder(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"a.conf":         "[DEFAULT]\ncontrol_exchange = a\nrpc_response_timeout = 1\n[oslo_messaging_notifications]\ndriver = a\n",
		"d/2.conf":       "[DEFAULT]\ncontrol_exchange = d2\n[oslo_messaging_notifications]\ndriver = d2\n",
		"d/1.conf":       "[DEFAULT]\ncontrol_exchange = d1\nrpc_response_timeout = 2\n",
		"d/.hidden.conf": "[DEFAULT]\ncontrol_exchange = hidden\n",
		"d/x.conf.bak":   "[DEFAULT]\ncontrol_exchange = bak\n",
		"b.conf":         "[oslo_messaging_notifications]\ndriver = b\n",
	})
	c, err := Load(Files(filepath.Join(dir, "a.conf")), Dirs(filepath.Join(dir, "d")), Files(filepath.Join(dir, "b.conf")))
	if err != nil {
		t.Fatal(err)
	}
	if c.ControlExchange() != "d2" || c.RPCResponseTimeout() != 2*time.Second {
		t.Errorf("%q %v", c.ControlExchange(), c.RPCResponseTimeout())
	}
	if d, _ := c.List(NotificationsGroup, "driver"); !reflect.DeepEqual(d, []string{"a", "d2", "b"}) {
		t.Errorf("driver %q", d)
	}
	want := []string{filepath.Join(dir, "a.conf"), filepath.Join(dir, "d/1.conf"), filepath.Join(dir, "d/2.conf"), filepath.Join(dir, "b.conf")}
	if got := c.Files(); !reflect.DeepEqual(got, want) {
		t.Errorf("Files() = %q", got)
	}
}

func TestMissingFiles(t *testing.T) {
	dir := t.TempDir()
	_, err := Load(Files(filepath.Join(dir, "a.conf"), filepath.Join(dir, "b.conf")))
	if !errors.Is(err, fs.ErrNotExist) || !contains(err.Error(), "a.conf") || !contains(err.Error(), "b.conf") {
		t.Errorf("missing files: %v", err)
	}
	if _, err := Load(Dirs(filepath.Join(dir, "nope"))); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing dir: %v", err)
	}
}

func TestDeprecatedNames(t *testing.T) {
	c := mustLoad(t, "[DEFAULT]\nrpc_thread_pool_size = 7\nnotification_driver = log\nnotification_topics = x\n"+
		"[oslo_messaging_rabbit]\nrabbit_use_ssl = yes\nkombu_ssl_ca_certs = /old\nssl_ca_file = /new\n"+
		"[oslo_messaging_zmq]\nrpc_zmq_host = zmq-host\n[DEFAULT]\nrpc_zmq_min_port = 9000\n")
	for _, tt := range []struct {
		group, name string
		want        any
	}{
		{DefaultGroup, "executor_thread_pool_size", int64(7)},
		{NotificationsGroup, "driver", []string{"log"}},
		{NotificationsGroup, "topics", []string{"x"}},
		{RabbitGroup, "ssl", true},
		{RabbitGroup, "ssl_ca_file", "/new"}, // the current name wins in one file
		{ZMQGroup, "advertise_host", "zmq-host"},
		{ZMQGroup, "min_port", int64(9000)},
	} {
		if got := mustValue(t, c, tt.group, tt.name); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("[%s] %s = %#v, want %#v", tt.group, tt.name, got, tt.want)
		}
	}
	if !c.IsSet(RabbitGroup, "ssl") || c.IsSet(RabbitGroup, "ssl_key_file") {
		t.Error("IsSet")
	}
}

func TestInterpolation(t *testing.T) {
	c := mustLoad(t, `[DEFAULT]
control_exchange = nova
transport_url = rabbit://u:pw@h/$control_exchange
[svc]
a = ${control_exchange}-$b
b = [$$ \$ $ ${ $5 ${oslo_messaging_rabbit.heartbeat_rate}]
c = ${oslo_messaging_notifications.topics} $rpc_ping_enabled
leak = $transport_url
`, Define("svc", Opt{Name: "a"}, Opt{Name: "b"}, Opt{Name: "c"}, Opt{Name: "leak"}, Opt{Name: "def", Default: "$a/x"}))
	for name, want := range map[string]string{
		"a": "nova-[$ $ $ ${ $5 2]", "b": "[$ $ $ ${ $5 2]", "c": "['notifications'] False", "def": "nova-[$ $ $ ${ $5 2]/x",
	} {
		if got, _ := c.String("svc", name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if !c.Secret("svc", "leak") || c.Secret("svc", "a") || !c.Secret(DefaultGroup, "transport_url") {
		t.Error("a value holding a secret is secret")
	}
}

func TestValueErrors(t *testing.T) {
	tests := []struct {
		name, content, group, option, value, reason string
		line                                        int
	}{
		{"integer", "[oslo_messaging_rabbit]\n\nheartbeat_rate = abc\n", RabbitGroup, "heartbeat_rate", "abc", "not an integer", 3},
		{"choice", "[oslo_messaging_rabbit]\nkombu_failover_strategy = random\n", RabbitGroup, "kombu_failover_strategy", "random", "valid values are [round-robin, shuffle]", 2},
		{"minimum", "[DEFAULT]\nrpc_conn_pool_size = 0\n", DefaultGroup, "rpc_conn_pool_size", "0", "should be greater than or equal to 1", 2},
		{"maximum", "[oslo_messaging_rabbit]\nkombu_reconnect_delay = 5\n", RabbitGroup, "kombu_reconnect_delay", "5", "should be less than or equal to 4.5", 2},
		{"boolean", "[oslo_messaging_rabbit]\nssl = y\n", RabbitGroup, "ssl", "y", "not a boolean", 2},
		{"too large", "[DEFAULT]\nrpc_response_timeout = 99999999999999999999\n", DefaultGroup, "rpc_response_timeout", "99999999999999999999", "out of the range", 2},
		{"no such option", "[DEFAULT]\ncontrol_exchange = $nope\n", DefaultGroup, "control_exchange", "$nope", "no such option", 2},
		{"loop", "[DEFAULT]\ncontrol_exchange = $rpc_ping_enabled\nrpc_ping_enabled = $control_exchange\n", DefaultGroup, "", "", "interpolation loop", 0},
		{"secret", "[DEFAULT]\ntransport_url = rabbit://u:hunter2@h/$nope\n", DefaultGroup, "transport_url", "****", "no such option", 2},
		{"too long", "[DEFAULT]\nx0 = 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n" + chain(16), DefaultGroup, "", "", "longer than", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(t, tt.content)
			var ve *ValueError
			if !errors.As(err, &ve) {
				t.Fatalf("%v, want a ValueError", err)
			}
			if !contains(err.Error(), tt.reason) || contains(err.Error(), "hunter2") {
				t.Errorf("%v, want %q", err, tt.reason)
			}
			if tt.option != "" && (ve.Group != tt.group || ve.Option != tt.option || ve.Value != tt.value || ve.Line != tt.line || !strings.HasSuffix(ve.File, "f.conf")) {
				t.Errorf("%+v", ve)
			}
		})
	}
}

// chain returns options each twice the one before: x1 = $x0$x0, ...
func chain(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		b.WriteString("x" + strconv.Itoa(i) + " = $x" + strconv.Itoa(i-1) + "$x" + strconv.Itoa(i-1) + "\n")
	}
	return b.String() + "control_exchange = $x" + strconv.Itoa(n) + "\n"
}

func TestEnvironment(t *testing.T) {
	c := mustLoad(t, "[DEFAULT]\ncontrol_exchange = file\n[oslo_messaging_notifications]\ndriver = a\n", Environ([]string{
		"OS_DEFAULT__CONTROL_EXCHANGE=env", "OS_OSLO_MESSAGING_NOTIFICATIONS__DRIVER=log", "PATH=/bin", "OS_X",
	}))
	if c.ControlExchange() != "env" {
		t.Errorf("control_exchange %q", c.ControlExchange())
	}
	if d, _ := c.List(NotificationsGroup, "driver"); !reflect.DeepEqual(d, []string{"log"}) {
		t.Errorf("driver %q", d)
	}
	_, err := load(t, "", Environ([]string{"OS_DEFAULT__RPC_RESPONSE_TIMEOUT=x"}))
	var ve *ValueError
	if !errors.As(err, &ve) || ve.Env != "OS_DEFAULT__RPC_RESPONSE_TIMEOUT" || !contains(err.Error(), "environment variable") {
		t.Errorf("%v", err)
	}
}

func TestRegisterAndDefaults(t *testing.T) {
	c := mustLoad(t, "[DEFAULT]\nhost = h1\nworkers = many\n[trove]\nport = 8779\n",
		Default("", "control_exchange", "trove"), Define("trove", Opt{Name: "port", Kind: Int, Min: Bound(1), Max: Bound(65535)}))
	if c.ControlExchange() != "trove" {
		t.Errorf("Default: %q", c.ControlExchange())
	}
	if err := c.Register("", Opt{Name: "host", Default: "localhost"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Register("", Opt{Name: "host", Default: "localhost"}); err != nil {
		t.Errorf("registering the same option again: %v", err)
	}
	if err := c.Register("", Opt{Name: "host", Kind: Int}); err == nil {
		t.Error("another option with the same name")
	}
	var ve *ValueError
	if err := c.Register("", Opt{Name: "workers", Kind: Int}); !errors.As(err, &ve) || ve.Option != "workers" {
		t.Errorf("a bad value at Register: %v", err)
	}
	if _, err := c.Int("", "workers"); err == nil {
		t.Error("a failed Register leaves the option registered")
	}
	if err := c.SetDefault("trove", "port", "x"); err == nil {
		t.Error("a bad default")
	}
	if err := c.SetDefault("DEFAULT", "executor_thread_pool_size", 8); err != nil || c.ExecutorThreadPoolSize() != 8 {
		t.Errorf("SetDefault: %v %d", err, c.ExecutorThreadPoolSize())
	}
	for _, o := range []Opt{{Name: ""}, {Name: "_x"}, {Name: "k", Kind: 99}, {Name: "b", Kind: Bool, Default: 1}, {Name: "c", Choices: []string{"a"}, Default: "b"}} {
		if err := c.Register("g", o); err == nil {
			t.Errorf("Register(%+v) succeeded", o)
		}
	}
}

func TestParseArgs(t *testing.T) {
	dir := writeFiles(t, map[string]string{"a.conf": "[DEFAULT]\ncontrol_exchange = a\n", "d/b.conf": "[DEFAULT]\ncontrol_exchange = b\n"})
	c, rest, err := ParseArgs([]string{"serve", "--config-file", filepath.Join(dir, "a.conf"), "-v",
		"-config-dir=" + filepath.Join(dir, "d"), "--", "--config-file", "x"}, Environ(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.ControlExchange() != "b" || !reflect.DeepEqual(rest, []string{"serve", "-v", "--", "--config-file", "x"}) {
		t.Errorf("%q %q", c.ControlExchange(), rest)
	}
	if _, _, err := ParseArgs([]string{"--config-file"}); err == nil {
		t.Error("--config-file without a value")
	}
}

func TestFlags(t *testing.T) {
	dir := writeFiles(t, map[string]string{"a.conf": "[DEFAULT]\ncontrol_exchange = a\n", "d/b.conf": "[DEFAULT]\ncontrol_exchange = b\n"})
	var cf Flags
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cf.AddFlags(fs)
	a, d := filepath.Join(dir, "a.conf"), filepath.Join(dir, "d")
	if err := fs.Parse([]string{"--config-dir", d, "--config-file", a}); err != nil {
		t.Fatal(err)
	}
	c, err := cf.Load()
	if err != nil {
		t.Fatal(err)
	}
	if !cf.Given() || c.ControlExchange() != "a" || !reflect.DeepEqual(cf.Args(), []string{"--config-dir=" + d, "--config-file=" + a}) {
		t.Errorf("%v %q %q", cf.Given(), c.ControlExchange(), cf.Args())
	}
	if err := fs.Parse([]string{"--config-file="}); err == nil {
		t.Error("an empty path")
	}
}

func TestProjectDefaults(t *testing.T) {
	home := writeFiles(t, map[string]string{
		".trove/trove.conf":          "[DEFAULT]\ncontrol_exchange = home\n",
		"trove-api.conf":             "[DEFAULT]\nrpc_response_timeout = 9\n",
		".trove/trove.conf.d/x.conf": "[DEFAULT]\ncontrol_exchange = dir\n",
	})
	t.Setenv("HOME", home)
	c, err := Load(Project("trove", "trove-api"))
	if err != nil {
		t.Fatal(err)
	}
	if c.ControlExchange() != "dir" || c.RPCResponseTimeout() != 9*time.Second {
		t.Errorf("%q %v %q", c.ControlExchange(), c.RPCResponseTimeout(), c.Files())
	}
	other := writeFiles(t, map[string]string{"o.conf": "[DEFAULT]\nrpc_response_timeout = 1\n"})
	c, err = Load(Project("trove", "trove-api"), Files(filepath.Join(other, "o.conf")))
	if err != nil {
		t.Fatal(err)
	}
	// Files replace the default files, not the default directories.
	if c.ControlExchange() != "dir" || c.RPCResponseTimeout() != time.Second {
		t.Errorf("%q %v %q", c.ControlExchange(), c.RPCResponseTimeout(), c.Files())
	}
}

func TestPythonNumbers(t *testing.T) {
	for in, want := range map[string]int64{"42": 42, " -7 ": -7, "+3": 3, "1_000": 1000, "007": 7, "\u0663\u0661": 31, "\U0001D7D8": 0} {
		if n, err := pyInt(in); n != want || err != nil {
			t.Errorf("pyInt(%q) = %d, %v", in, n, err)
		}
	}
	for _, in := range []string{"", "1_", "_1", "1__0", "0x10", "1.0", "--1", "+-1", "1 2"} {
		if _, err := pyInt(in); err == nil {
			t.Errorf("pyInt(%q) succeeded", in)
		}
	}
	for in, want := range map[string]float64{"1": 1, ".5": .5, "5.": 5, "1e3": 1000, "-1E-3": -1e-3, "1_0.2_5": 10.25, "1e999": posInf()} {
		if f, err := pyFloat(in); f != want || err != nil {
			t.Errorf("pyFloat(%q) = %v, %v", in, f, err)
		}
	}
	for _, in := range []string{"0x1p3", "e3", "1e", ".", "1._5", "infx"} {
		if _, err := pyFloat(in); err == nil {
			t.Errorf("pyFloat(%q) succeeded", in)
		}
	}
	for f, want := range map[float64]string{1: "1.0", 4.5: "4.5", 1e16: "1e+16", 1e15: "1000000000000000.0", 1.5e-5: "1.5e-05", 0.0001: "0.0001"} {
		if got := pyFloatRepr(f); got != want {
			t.Errorf("pyFloatRepr(%v) = %q, want %q", f, got, want)
		}
	}
	for s, want := range map[string]string{"a": "'a'", "it's": `"it's"`, `'"`: `'\'"'`, "\n\x00é\u200b": `'\n\x00é\u200b'`} {
		if got := pyRepr(s); got != want {
			t.Errorf("pyRepr(%q) = %s, want %s", s, got, want)
		}
	}
}

func posInf() float64 { f, _ := pyFloat("inf"); return f }

func TestReload(t *testing.T) {
	dir := writeFiles(t, map[string]string{"a.conf": "[DEFAULT]\nrpc_response_timeout = 30\n", "d/b.conf": "[DEFAULT]\ncontrol_exchange = nova\n"})
	c, err := Load(Files(filepath.Join(dir, "a.conf")), Dirs(filepath.Join(dir, "d")))
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("a.conf", "[DEFAULT]\nrpc_response_timeout = 90\n")
	write("d/c.conf", "[DEFAULT]\nexecutor_thread_pool_size = 8\n") // a new file in the directory
	if err := c.Reload(); err != nil {
		t.Fatal(err)
	}
	if c.RPCResponseTimeout() != 90*time.Second || c.ControlExchange() != "nova" || c.ExecutorThreadPoolSize() != 8 {
		t.Fatalf("after Reload: timeout %v, exchange %q, pool %d", c.RPCResponseTimeout(), c.ControlExchange(), c.ExecutorThreadPoolSize())
	}
	// A bad value: Reload fails and the values stay.
	write("a.conf", "[DEFAULT]\nrpc_response_timeout = soon\n")
	if err := c.Reload(); err == nil {
		t.Fatal("Reload accepted a bad value")
	}
	if c.RPCResponseTimeout() != 90*time.Second || c.ExecutorThreadPoolSize() != 8 {
		t.Fatalf("a failed Reload changed the values: %v %d", c.RPCResponseTimeout(), c.ExecutorThreadPoolSize())
	}
}
