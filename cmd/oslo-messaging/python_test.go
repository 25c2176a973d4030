package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oslo-go/messaging/drivers/rabbit/rabbittest"
)

// TestPythonServer drives call, cast and ping against Python oslo.messaging
// 14.0.3 servers (interop/python/rpc_server.py) of a service that sets its
// control exchange, as nova does with set_transport_defaults('nova').
func TestPythonServer(t *testing.T) {
	needPython(t)
	rabbittest.Need(t)
	url, topic := rabbittest.URL(), uniqueTopic(t)
	t.Cleanup(func() { rabbittest.DeleteQueues(t, topic) })
	for _, s := range []string{"py-a", "py-b"} {
		startPy(t, "rpc_server.py", "--url", url, "--topic", topic, "--server", s, "--control-exchange", "nova").await(t, "ready")
	}
	startPy(t, "rpc_server.py", "--url", url, "--topic", topic+"_noping", "--server", "quiet", "--no-ping").await(t, "ready")
	awaitConsumers(t, topic, 2)
	awaitConsumers(t, topic+"_noping", 1)
	conf := filepath.Join(t.TempDir(), "nova.conf")
	os.WriteFile(conf, []byte("[DEFAULT]\ntransport_url = "+url+"\ncontrol_exchange = nova\n"), 0o600)

	nova := []string{"--transport-url", url, "--exchange", "nova", "--topic", topic}
	call := func(args ...string) (int, string, string) {
		return cli(append(append([]string{"call"}, nova...), append([]string{"--namespace", "interop", "--version", "1.2"}, args...)...)...)
	}
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"echo", []string{"--json", "echo", "name=web-1", "n=3", `spec={"a": [1, null]}`}, 0, `{"n":3,"name":"web-1","spec":{"a":[1,null]}}` + "\n", ""},
		{"context", []string{"--json", "--context", `{"request_id": "req-7", "user": "admin"}`, "echo_context"}, 0,
			`{"client_timeout":null,"request_id":"req-7","user":"admin"}` + "\n", ""},
		{"what only Python sends", []string{"--json", "classify_floats", "values=[1.5]"}, 0, `["finite"]` + "\n", ""},
		{"ValueError", []string{"fail_value", "message=boom"}, exitRemoteError, "", "oslo-messaging call: remote error: builtins.ValueError: boom\n"},
		{"an application exception", []string{"fail_custom", "volume_id=v-1"}, exitRemoteError, "",
			"oslo-messaging call: remote error: interop_errors.VolumeNotFound: Volume v-1 could not be found.\n"},
		{"a missing keyword argument", []string{"describe_volume"}, exitRemoteError, "", "oslo-messaging call: remote error: builtins.TypeError: "},
		{"an unknown keyword argument", []string{"whoami", "extra=1"}, exitRemoteError, "", "oslo-messaging call: remote error: builtins.TypeError: "},
		{"no such method", []string{"nosuch"}, exitRemoteError, "", "oslo-messaging call: remote error: oslo_messaging.rpc.dispatcher.NoSuchMethod: Endpoint does not support RPC method nosuch\n"},
		{"timeout", []string{"--timeout", "1s", "sleep", "seconds=3"}, exitTimeout, "", "oslo-messaging call: transport: call sleep to <Target exchange=nova, topic=" + topic},
	} {
		code, stdout, stderr := call(tc.args...)
		if code != tc.code || stdout != tc.stdout || !strings.HasPrefix(stderr, tc.stderr) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want %d, %q, %q", tc.name, code, stdout, stderr, tc.code, tc.stdout, tc.stderr)
		}
	}
	// The traceback comes with --verbose.
	if _, _, stderr := call("--verbose", "fail_value", "message=boom"); !strings.Contains(stderr, "\n  Traceback (most recent call last):\n") {
		t.Errorf("no traceback with --verbose: %s", stderr)
	}
	// On the default exchange (openstack) nobody listens: a timeout. The
	// configuration file's control_exchange finds the servers.
	if code, _, _ := cli("call", "--transport-url", url, "--topic", topic, "--namespace", "interop", "--version", "1.2", "--timeout", "1s", "whoami"); code != exitTimeout {
		t.Errorf("call on the openstack exchange: exit %d, want 4", code)
	}
	if code, stdout, stderr := cli("call", "--config-file", conf, "--topic", topic, "--server", "py-b", "--namespace", "interop", "--version", "1.2", "whoami"); code != 0 || stdout != "\"py-b\"\n" {
		t.Errorf("call --config-file: exit %d %q %q", code, stdout, stderr)
	}
	if code, stdout, stderr := cli("cast", "--config-file", conf, "--topic", topic, "--fanout", "--namespace", "interop", "--version", "1.2", "record", "text=hi"); code != 0 || stdout+stderr != "" {
		t.Errorf("cast --fanout: exit %d %q %q", code, stdout, stderr)
	}

	ping := func(args ...string) (int, string, string) {
		return cli(append(append([]string{"ping"}, nova...), args...)...)
	}
	if code, stdout, stderr := ping(); code != 0 || !strings.HasPrefix(stdout, "pong from "+topic+" in ") {
		t.Errorf("ping: exit %d %q %q", code, stdout, stderr)
	}
	if code, stdout, stderr := ping("--server", "py-a", "--server", "py-b"); code != 0 ||
		!strings.Contains(stdout, "pong from "+topic+".py-a in ") || !strings.Contains(stdout, "pong from "+topic+".py-b in ") {
		t.Errorf("ping --server: exit %d %q %q", code, stdout, stderr)
	}
	code, stdout, stderr := ping("--all", "--wait", "2s", "--expect", "2", "--json")
	var answers []pingAnswer
	for _, l := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var a pingAnswer
		if err := json.Unmarshal([]byte(l), &a); err == nil && a.Error == "" && a.RTTNs > 0 {
			answers = append(answers, a)
		}
	}
	if code != 0 || len(answers) != 2 {
		t.Errorf("ping --all: exit %d %q %q", code, stdout, stderr)
	}
	if code, _, stderr := cli("ping", "--transport-url", url, "--topic", topic+"_noping"); code != exitRemoteError ||
		!strings.Contains(stderr, "UnsupportedVersion") || !strings.Contains(stderr, "ping is disabled") {
		t.Errorf("ping a server without ping: exit %d %q", code, stderr)
	}
}

// TestPythonNotifier prints what Python's Notifier sends (messagingv2 and
// the envelope-less messaging driver).
func TestPythonNotifier(t *testing.T) {
	needPython(t)
	rabbittest.Need(t)
	url, topic := rabbittest.URL(), uniqueTopic(t)
	t.Cleanup(func() { rabbittest.DeleteQueues(t, topic) })
	l := startListen(t, "--transport-url", url, "--topic", topic, "--count", "3", "--timeout", "60s", "--priority", "info", "--priority", "error")
	var in strings.Builder
	for _, n := range []string{
		`{"priority": "info", "event_type": "compute.instance.create.end", "payload": {"id": "i-1", "big": 18446744073709551616, "nan": NaN}, "context": {"request_id": "req-1", "user": "u"}}`,
		`{"priority": "warn", "event_type": "skipped", "payload": {}}`,
		`{"priority": "error", "event_type": "compute.instance.error", "payload": "text", "publisher_id": "compute.host2"}`,
		`{"priority": "info", "event_type": "v1", "payload": [1], "driver": "messaging"}`,
	} {
		fmt.Fprintln(&in, n)
	}
	cmd := exec.Command(python, "-B", filepath.Join("..", "..", "interop", "python", "notifications.py"), "send", "--url", url, "--topic", topic, "--publisher-id", "compute.host1")
	cmd.Stdin = strings.NewReader(in.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("notifications.py send: %v\n%s", err, out)
	}
	code, stdout, stderr := l.wait(t)
	want := []string{
		`{"priority":"info","event_type":"compute.instance.create.end","publisher_id":"compute.host1","payload":{"big":18446744073709551616,"id":"i-1","nan":NaN},"context":{"request_id":"req-1","user":"u"},"message_id":`,
		`{"priority":"error","event_type":"compute.instance.error","publisher_id":"compute.host2","payload":"text","context":{},"message_id":`,
		`{"priority":"info","event_type":"v1","publisher_id":"compute.host1","payload":[1],"context":{},"message_id":`,
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if code != 0 || len(lines) != len(want) {
		t.Fatalf("listen: exit %d, stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	// Each priority has a queue of its own: the error notification may come
	// before or after the info ones, which keep their order.
	at := make([]int, len(want))
	for i, w := range want {
		at[i] = -1
		for j, line := range lines {
			if strings.HasPrefix(line, w) && strings.Contains(line, `"timestamp":"20`) {
				at[i] = j
			}
		}
		if at[i] < 0 {
			t.Errorf("no line starts with\n%s\nin\n%s", w, stdout)
		}
	}
	if at[0] > at[2] {
		t.Errorf("the info notifications came out of order:\n%s", stdout)
	}
}
