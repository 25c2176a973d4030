package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
)

// python is Debian's interpreter, for which python3-oslo.config and
// python3-oslo.messaging are installed (a python3 earlier on PATH may
// lack them).
const python = "/usr/bin/python3"

var (
	pythonOnce sync.Once
	pythonErr  error
)

// needPython skips t, loudly, when Python oslo.config and oslo.messaging
// are not importable, or fails it when the environment variable CI is set.
func needPython(t *testing.T) {
	t.Helper()
	pythonOnce.Do(func() {
		out, err := exec.Command(python, "-c", "import oslo_config, oslo_messaging").CombinedOutput()
		if err != nil {
			pythonErr = fmt.Errorf("%v: %s", err, bytes.TrimSpace(out))
		}
	})
	if pythonErr == nil {
		return
	}
	msg := fmt.Sprintf("Python oslo.config/oslo.messaging are not importable by %s (apt-get install python3-oslo.config python3-oslo.messaging): %v", python, pythonErr)
	if os.Getenv("CI") != "" {
		t.Fatal(msg + "; CI is set")
	}
	t.Skipf("\n\n*** SKIPPING %s: %s ***\n", t.Name(), msg)
}

// The groups Python dumps (the nats and zmq groups are this module's).
var pythonGroups = []string{"DEFAULT", "oslo_messaging_rabbit", "oslo_messaging_amqp", "oslo_messaging_notifications", "oslo_messaging_metrics"}

// pythonShow is what testdata/oslo_show.py prints.
type pythonShow struct {
	Values  map[string]map[string]any    `json:"values"`
	Errors  map[string]map[string]string `json:"errors"`
	Error   string                       `json:"error"`
	Message string                       `json:"message"`
}

// interopCase is a set of files and the command line that reads them.
type interopCase struct {
	name  string
	files map[string]string // path under the temporary directory -> content
	args  []string          // with {dir} for the temporary directory
	env   map[string]string // OS_* variables for both sides
	bad   bool              // both sides must refuse the configuration
}

var interopCases = []interopCase{
	{name: "no options set", files: map[string]string{"empty.conf": "# nothing\n"}, args: []string{"--config-file", "{dir}/empty.conf"}},
	{
		name: "two files, the later wins",
		files: map[string]string{
			"a.conf": "[DEFAULT]\ntransport_url = rabbit://nova:s3cret@h1:5672,nova:s3cret@h2:5672/nova\nrpc_response_timeout = 30\ncontrol_exchange = nova\n" +
				"[oslo_messaging_rabbit]\nheartbeat_rate = 5\nrabbit_ha_queues = true\n",
			"b.conf": "[DEFAULT]\nrpc_response_timeout = 45\n[oslo_messaging_rabbit]\namqp_durable_queues = yes\nrabbit_ha_queues = false\n",
		},
		args: []string{"--config-file", "{dir}/a.conf", "--config-file={dir}/b.conf"},
	},
	{
		name: "a config dir between files",
		files: map[string]string{
			"first.conf":       "[DEFAULT]\nexecutor_thread_pool_size = 8\nconn_pool_ttl = 10\n",
			"d/20-b.conf":      "[DEFAULT]\nexecutor_thread_pool_size = 20\n[oslo_messaging_metrics]\nmetrics_enabled = true\n[oslo_messaging_amqp]\naddressing_mode = routable\npre_settled = rpc-call\npre_settled = notify\n[amqp1]\nidle_timeout = 30\n",
			"d/10-a.conf":      "[DEFAULT]\nexecutor_thread_pool_size = 10\nconn_pool_min_size = 3\nconn_pool_ttl = 11\n",
			"d/.hidden.conf":   "[DEFAULT]\nexecutor_thread_pool_size = 99\n",
			"d/notes.txt":      "[DEFAULT]\nexecutor_thread_pool_size = 98\n",
			"d/30-c.conf.orig": "[DEFAULT]\nexecutor_thread_pool_size = 97\n",
			"last.conf":        "[DEFAULT]\nconn_pool_ttl = 12\n",
		},
		args: []string{"--config-file", "{dir}/first.conf", "--config-dir", "{dir}/d", "--config-file", "{dir}/last.conf"},
	},
	{
		name: "interpolation and escapes",
		files: map[string]string{"i.conf": `[DEFAULT]
control_exchange = nova
transport_url = rabbit://u:p@$control_exchange-rabbit:5672/${control_exchange}
[oslo_messaging_rabbit]
ssl_cert_file = /etc/$control_exchange/cert.pem
ssl_key_file = ${ssl_cert_file}.key
ssl_ca_file = cost $$5 and \$HOME, a lone $ and ${ unclosed and $5
ssl_version = $ssl
kombu_compression = ${oslo_messaging_notifications.topics}
rabbit_login_method = PLAIN
[oslo_messaging_notifications]
topics = ${control_exchange}_notifications, audit
driver = ${oslo_messaging_rabbit.rabbit_login_method}
driver = ${oslo_messaging_rabbit.rabbit_retry_interval}
[oslo_messaging_metrics]
metrics_socket_file = /run/$rpc_response_timeout/${rpc_ping_enabled}.sock
metrics_process_name = ${oslo_messaging_notifications.driver}
`},
		args: []string{"--config-file", "{dir}/i.conf"},
	},
	{
		name: "deprecated names and groups",
		files: map[string]string{
			"old.conf": "[DEFAULT]\nrpc_thread_pool_size = 12\nnotification_driver = log\nnotification_topics = a, b\n" +
				"notification_transport_url = rabbit://n:pw@h/\namqp_auto_delete = true\n" +
				"[oslo_messaging_rabbit]\nrabbit_use_ssl = true\nkombu_ssl_version = TLSv1_2\nkombu_reconnect_timeout = 30\n" +
				"kombu_ssl_ca_certs = /old/ca.pem\nssl_ca_file = /new/ca.pem\n" +
				"[rpc_notifier2]\ntopics = from_rpc_notifier2\n",
			"new.conf": "[oslo_messaging_rabbit]\nkombu_ssl_keyfile = /later/key.pem\nssl_key_file = /later/ignored.pem\n",
		},
		args: []string{"--config-file", "{dir}/old.conf", "--config-file", "{dir}/new.conf"},
	},
	{
		name: "the newest file wins over the current name",
		files: map[string]string{
			"1.conf": "[oslo_messaging_rabbit]\nssl = true\n[oslo_messaging_notifications]\ntopics = new\n",
			"2.conf": "[oslo_messaging_rabbit]\nrabbit_use_ssl = false\n[DEFAULT]\nnotification_topics = old\n",
		},
		args: []string{"--config-file", "{dir}/1.conf", "--config-file", "{dir}/2.conf"},
	},
	{
		name: "multi-valued options",
		files: map[string]string{
			"m1.conf": "[DEFAULT]\nnotification_driver = routing\n[oslo_messaging_notifications]\ndriver = messagingv2\ndriver = log\n",
			"m2.conf": "[oslo_messaging_notifications]\ndriver = noop\n[DEFAULT]\nnotification_driver = test\n",
		},
		args: []string{"--config-file", "{dir}/m1.conf", "--config-file", "{dir}/m2.conf"},
	},
	{
		name: "blank values",
		files: map[string]string{"blank.conf": "[DEFAULT]\nrpc_response_timeout =\ncontrol_exchange =\n" +
			"[oslo_messaging_notifications]\ntopics =\ndriver =\nretry =\n" +
			"[oslo_messaging_rabbit]\nkombu_reconnect_delay =\nkombu_compression =\nssl_version = ''\n"},
		args: []string{"--config-file", "{dir}/blank.conf"},
	},
	{
		name: "syntax: quotes, colons, comments, continuation lines, section case, booleans",
		files: map[string]string{"syntax.conf": "# a comment\n; another\n[Oslo_Messaging_Rabbit]\n" +
			"ssl_version: \"TLSv1_2\"\nssl_ca_file = '/a b/ca.pem'\nssl_cert_file = \"unbalanced'\n" +
			"rabbit_ha_queues = On\namqp_durable_queues=YES\nssl = 0\n" +
			"kombu_compression = gzip # not a comment\nssl_key_file = a=b:c\n" +
			"[oslo_messaging_notifications]\ntopics = a,\n  b ,\n\tc,,\n\ndriver = one\n  two\n" +
			"[DEFAULT]\n  \t\ncontrol_exchange  =   spaced out   \r\nrpc_response_timeout = 1_000\n" +
			"rpc_conn_pool_size = \u0663\u0660\nconn_pool_ttl = +7\n" +
			"[oslo_messaging_rabbit]\nkombu_reconnect_delay = .5\nrabbit_quroum_max_memory_bytes = 1024\n" +
			"rabbit_quorum_max_memory_length = 99\n"},
		args: []string{"--config-file", "{dir}/syntax.conf"},
	},
	{
		name:  "environment variables",
		files: map[string]string{"e.conf": "[DEFAULT]\ncontrol_exchange = file\n[oslo_messaging_rabbit]\nheartbeat_rate = 4\n"},
		args:  []string{"--config-file", "{dir}/e.conf"},
		env: map[string]string{"OS_DEFAULT__CONTROL_EXCHANGE": "env", "OS_OSLO_MESSAGING_RABBIT__HEARTBEAT_RATE": "7",
			"OS_OSLO_MESSAGING_RABBIT__SSL_VERSION": "$control_exchange"},
	},
	{name: "not an integer", files: map[string]string{"bad.conf": "[oslo_messaging_rabbit]\nheartbeat_rate = abc\n"}, args: []string{"--config-file", "{dir}/bad.conf"}, bad: true},
	{name: "not a choice", files: map[string]string{"bad.conf": "[oslo_messaging_rabbit]\nkombu_failover_strategy = random\n"}, args: []string{"--config-file", "{dir}/bad.conf"}, bad: true},
	{name: "below the minimum", files: map[string]string{"bad.conf": "[oslo_messaging_rabbit]\nrabbit_transient_queues_ttl = 0\n"}, args: []string{"--config-file", "{dir}/bad.conf"}, bad: true},
	{name: "above the maximum", files: map[string]string{"bad.conf": "[oslo_messaging_rabbit]\nkombu_reconnect_delay = 4.6\n"}, args: []string{"--config-file", "{dir}/bad.conf"}, bad: true},
	{name: "not a boolean", files: map[string]string{"bad.conf": "[oslo_messaging_rabbit]\nssl = y\n"}, args: []string{"--config-file", "{dir}/bad.conf"}, bad: true},
	{name: "a reference to no option", files: map[string]string{"bad.conf": "[DEFAULT]\ncontrol_exchange = $nope\n"}, args: []string{"--config-file", "{dir}/bad.conf"}, bad: true},
	{name: "a reference to a bad value", files: map[string]string{"bad.conf": "[DEFAULT]\nconn_pool_ttl = x\ncontrol_exchange = $conn_pool_ttl\n"}, args: []string{"--config-file", "{dir}/bad.conf"}, bad: true},
	{name: "a reference to itself", files: map[string]string{"bad.conf": "[oslo_messaging_notifications]\ntransport_url = $transport_url\n"}, args: []string{"--config-file", "{dir}/bad.conf"}, bad: true},
	{name: "a dotted reference to no group", files: map[string]string{"bad.conf": "[DEFAULT]\ncontrol_exchange = $rpc_ping_enabled.x\n"}, args: []string{"--config-file", "{dir}/bad.conf"}, bad: true},
	{name: "DEFAULT by name", files: map[string]string{"bad.conf": "[DEFAULT]\ncontrol_exchange = ${DEFAULT.transport_url}\n"}, args: []string{"--config-file", "{dir}/bad.conf"}, bad: true},
	{name: "assignment before a section", files: map[string]string{"bad.conf": "transport_url = rabbit://\n"}, args: []string{"--config-file", "{dir}/bad.conf"}, bad: true},
	{name: "continuation first", files: map[string]string{"bad.conf": "  x\n[DEFAULT]\n"}, args: []string{"--config-file", "{dir}/bad.conf"}, bad: true},
	{name: "no separator", files: map[string]string{"bad.conf": "[DEFAULT]\njust words\n"}, args: []string{"--config-file", "{dir}/bad.conf"}, bad: true},
	{name: "empty key", files: map[string]string{"bad.conf": "[DEFAULT]\n= v\n"}, args: []string{"--config-file", "{dir}/bad.conf"}, bad: true},
	{name: "unclosed section", files: map[string]string{"bad.conf": "[DEFAULT\n"}, args: []string{"--config-file", "{dir}/bad.conf"}, bad: true},
	{name: "empty section", files: map[string]string{"bad.conf": "[]\n"}, args: []string{"--config-file", "{dir}/bad.conf"}, bad: true},
	{name: "missing file", args: []string{"--config-file", "{dir}/missing.conf"}, bad: true},
	{name: "missing dir", args: []string{"--config-dir", "{dir}/missing"}, bad: true},
}

// TestShowMatchesPython loads the same files with Python oslo.config and
// oslo.messaging 14.0.3 and with `config show`, and compares every option
// of the groups Python has.
func TestShowMatchesPython(t *testing.T) {
	needPython(t)
	type pyCase struct {
		Args []string          `json:"args"`
		Env  map[string]string `json:"env"`
	}
	pyCases := make([]pyCase, len(interopCases))
	for i, tc := range interopCases {
		dir := t.TempDir()
		for name, content := range tc.files {
			p := filepath.Join(dir, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		args := make([]string, len(tc.args))
		for j, a := range tc.args {
			args[j] = strings.ReplaceAll(a, "{dir}", dir)
		}
		pyCases[i] = pyCase{args, tc.env}
	}
	in, err := json.Marshal(pyCases)
	if err != nil {
		t.Fatal(err)
	}
	results := runPython(t, in, len(interopCases))

	for i, tc := range interopCases {
		t.Run(tc.name, func(t *testing.T) {
			setEnv(t, tc.env)
			py := results[i]
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"config", "show", "--show-secrets"}, pyCases[i].Args...), &stdout, &stderr)

			pyBad := py.Error != "" || len(py.Errors) > 0
			if tc.bad != pyBad {
				t.Fatalf("the case expects bad=%v; Python says %+v", tc.bad, py)
			}
			if pyBad {
				if code != 1 || stdout.Len() > 0 {
					t.Fatalf("Python refuses the configuration (%s %s %v) but config show exits %d:\n%s", py.Error, py.Message, py.Errors, code, &stdout)
				}
				checkSameFailure(t, py, stderr.String())
				return
			}
			if code != 0 {
				t.Fatalf("config show exits %d: %s", code, &stderr)
			}
			var got map[string]map[string]any
			if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
				t.Fatalf("config show printed no JSON (%v):\n%s", err, &stdout)
			}
			for _, g := range pythonGroups {
				for k, want := range py.Values[g] {
					if !reflect.DeepEqual(got[g][k], want) {
						t.Errorf("[%s] %s: Go %#v, Python %#v", g, k, got[g][k], want)
					}
				}
				for k := range got[g] {
					if _, ok := py.Values[g][k]; !ok {
						t.Errorf("[%s] %s: Go has it, Python not", g, k)
					}
				}
			}
		})
	}
}

// checkSameFailure checks that config show names an option Python fails
// on, or fails on the files as Python does.
func checkSameFailure(t *testing.T, py pythonShow, stderr string) {
	t.Helper()
	if strings.Count(stderr, "\n") != 1 {
		t.Errorf("stderr is not one line: %q", stderr)
	}
	if py.Error != "" {
		if !strings.HasPrefix(stderr, "oslo-messaging config show: config: ") {
			t.Errorf("Python fails with %s (%s); Go with %q", py.Error, py.Message, stderr)
		}
		return
	}
	named := regexp.MustCompile(`\[([^\]]+)\] (\w+) = `).FindAllStringSubmatch(stderr, -1)
	if len(named) == 0 {
		t.Fatalf("Go's error names no option: %q; Python: %v", stderr, py.Errors)
	}
	for _, m := range named {
		if _, ok := py.Errors[m[1]][m[2]]; !ok {
			t.Errorf("Go fails on [%s] %s, Python does not: Python's errors %v, Go's %q", m[1], m[2], py.Errors, stderr)
		}
	}
}

// setEnv gives the test exactly the OS_* variables env, for this process
// (which config show reads) and for Python.
func setEnv(t *testing.T, env map[string]string) {
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "OS_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
}

// runPython runs testdata/oslo_show.py on the cases (JSON) and returns its
// results.
func runPython(t *testing.T, cases []byte, n int) []pythonShow {
	t.Helper()
	cmd := exec.Command(python, "testdata/oslo_show.py")
	cmd.Stdin = bytes.NewReader(cases)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, &stderr)
	}
	var py []pythonShow
	if err := json.Unmarshal(out, &py); err != nil || len(py) != n {
		t.Fatalf("python printed %q: %v", out, err)
	}
	return py
}

// TestSampleMatchesGenerator compares `config sample` with
// oslo-config-generator's output for oslo.messaging's groups.
func TestSampleMatchesGenerator(t *testing.T) {
	needPython(t)
	out, err := exec.Command(python, "testdata/oslo_sample.py").Output()
	if err != nil {
		t.Fatalf("oslo-config-generator: %v", err)
	}
	want := sections(string(out))
	groups := []string{"DEFAULT", "oslo_messaging_notifications", "oslo_messaging_rabbit"}
	var stdout, stderr bytes.Buffer
	args := []string{"config", "sample"}
	for _, g := range groups {
		args = append(args, "--group", g)
	}
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("config sample exits %d: %s", code, &stderr)
	}
	got := sections(stdout.String())
	for _, g := range groups {
		if got[g] == "" || got[g] != want[g] {
			t.Errorf("[%s] differs from oslo-config-generator's:\n--- Go\n%s\n--- Python\n%s", g, got[g], want[g])
		}
	}
	if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, []string{"DEFAULT", "oslo_messaging_notifications", "oslo_messaging_rabbit"}) {
		t.Errorf("sections %v", keys)
	}
}

// sections splits a sample into its sections, by name, without the blank
// lines that separate them.
func sections(s string) map[string]string {
	out := map[string]string{}
	for _, sec := range regexp.MustCompile(`(?m)^\[`).Split(s, -1)[1:] {
		name, _, _ := strings.Cut(sec, "]")
		out[name] = strings.TrimRight("["+sec, "\n")
	}
	return out
}
