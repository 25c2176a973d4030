package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/oslo-go/messaging/notify/listener"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
	"github.com/oslo-go/messaging/transport/driver"
)

func TestMain(m *testing.M) {
	transport.Register("unreachable", unreachable{})
	transport.Register("blackhole", blackhole{})
	goleak.VerifyTestMain(m)
}

// unreachable fails to connect, as a driver does when no broker listens.
type unreachable struct{}

func (unreachable) Open(context.Context, *driver.URL, driver.Config) (driver.Conn, error) {
	return nil, errors.New("dial tcp 127.0.0.1:5672: connect: connection refused")
}

// blackhole connects but never confirms a notification.
type blackhole struct{}

func (blackhole) Open(context.Context, *driver.URL, driver.Config) (driver.Conn, error) {
	return blackholeConn{}, nil
}

type blackholeConn struct{}

func (blackholeConn) Send(context.Context, target.Target, *driver.Message) error { return nil }
func (blackholeConn) ReplyAddress(context.Context) (string, error)               { return "", nil }
func (blackholeConn) Listen(context.Context, target.Target, driver.ListenOptions) (driver.Listener, error) {
	return nil, errors.New("no")
}
func (blackholeConn) Close() error { return nil }
func (blackholeConn) Notify(ctx context.Context, _ target.Target, _ *driver.Message) error {
	<-ctx.Done()
	return ctx.Err()
}
func (blackholeConn) ListenNotifications(context.Context, []target.Target, string, driver.ListenOptions) (driver.Listener, error) {
	return nil, errors.New("no")
}

func noEnv(string) string { return "" }

func runCmd(t *testing.T, env func(string) string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	code = run(ctx, args, env, &out, &errb)
	return code, out.String(), errb.String()
}

type received struct {
	prio, pub, event string
	payload          map[string]any
	md               listener.Metadata
}

type endpoint struct{ ch chan received }

func (e endpoint) handle(prio, pub, ev string, p map[string]any, md listener.Metadata) error {
	e.ch <- received{prio, pub, ev, p, md}
	return nil
}

func (e endpoint) Info(_ context.Context, pub, ev string, p map[string]any, md listener.Metadata) error {
	return e.handle("info", pub, ev, p, md)
}

func (e endpoint) Error(_ context.Context, pub, ev string, p map[string]any, md listener.Metadata) error {
	return e.handle("error", pub, ev, p, md)
}

// receive starts a listener on url for topics and returns what it gets.
func receive(t *testing.T, url string, n int, topics ...string) []received {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tr, err := transport.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	var tgs []target.Target
	for _, tp := range topics {
		tgs = append(tgs, target.Target{Topic: tp})
	}
	ep := endpoint{ch: make(chan received, 10)}
	l, err := listener.New(tr, tgs, []any{ep})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var got []received
	for len(got) < n {
		select {
		case r := <-ep.ch:
			got = append(got, r)
		case <-ctx.Done():
			t.Fatalf("received %d notifications, want %d", len(got), n)
		}
	}
	select {
	case r := <-ep.ch:
		t.Fatalf("unexpected notification %+v", r)
	case <-time.After(50 * time.Millisecond):
	}
	if err := l.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	return got
}

func fakeURL() string { return fmt.Sprintf("fake:///send-notification-%016x", rand.Uint64()) }

func TestSend(t *testing.T) {
	url := fakeURL()
	code, stdout, stderr := runCmd(t, noEnv, "--transport-url", url, "--publisher-id", "compute.host1",
		"--event-type", "compute.instance.create.end", "--priority", "error", "--topic", "a", "--topic", "b",
		`{"instance_id": "i-1", "n": 12345678901234567890}`)
	if code != 0 || stdout != "" || stderr != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	got := receive(t, url, 2, "a", "b")
	if got[0].md.MessageID != got[1].md.MessageID {
		t.Fatalf("two topics, two notifications: %+v", got)
	}
	for _, r := range got {
		if r.prio != "error" || r.pub != "compute.host1" || r.event != "compute.instance.create.end" ||
			r.payload["instance_id"] != "i-1" || fmt.Sprint(r.payload["n"]) != "12345678901234567890" {
			t.Fatalf("received %+v", r)
		}
	}
}

func TestSendDefaults(t *testing.T) {
	url := fakeURL()
	env := func(k string) string {
		if k == "TRANSPORT_URL" {
			return url
		}
		return ""
	}
	// Flags may follow the payload, as with argparse.
	code, _, stderr := runCmd(t, env, `{"k": "v"}`, "-publisher-id", "p")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	r := receive(t, url, 1, "notifications")[0]
	if r.prio != "info" || r.event != "test" || r.pub != "p" || r.payload["k"] != "v" {
		t.Fatalf("received %+v", r)
	}
}

// TestSendFromConfig takes the notification transport, the topics and
// the routing rules from configuration files, as oslo's script does.
func TestSendFromConfig(t *testing.T) {
	url, other := fakeURL(), fakeURL()
	dir := t.TempDir()
	rules := filepath.Join(dir, "routing.yaml")
	os.WriteFile(rules, []byte("g:\n  messagingv2:\n    accepted_events: ['compute.*']\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "nova.conf"), []byte("[DEFAULT]\ntransport_url = "+other+"\n"+
		"[oslo_messaging_notifications]\ntransport_url = "+url+"\ntopics = a, b\n"), 0o600)
	os.MkdirAll(filepath.Join(dir, "nova.conf.d"), 0o755)
	os.WriteFile(filepath.Join(dir, "nova.conf.d", "routing.conf"), []byte("[oslo_messaging_notifications]\nrouting_config = "+rules+"\n"), 0o600)
	conf, confDir := "--config-file="+filepath.Join(dir, "nova.conf"), "--config-dir="+filepath.Join(dir, "nova.conf.d")

	if code, _, stderr := runCmd(t, noEnv, conf, "--event-type", "compute.x", "{}"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if got := receive(t, url, 2, "a", "b"); got[0].event != "compute.x" {
		t.Fatalf("received %+v", got)
	}
	// --topic and --transport-url win over the file.
	if code, _, stderr := runCmd(t, noEnv, conf, "--transport-url", other, "--topic", "c", "{}"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	receive(t, other, 1, "c")
	// The routing driver reads routing_config from the directory.
	for _, ev := range []string{"network.x", "compute.y"} {
		if code, _, stderr := runCmd(t, noEnv, conf, confDir, "--driver", "routing", "--event-type", ev, "{}"); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
	}
	if got := receive(t, url, 2, "a", "b"); got[0].event != "compute.y" {
		t.Fatalf("routed %+v", got)
	}
}

func TestLogDriver(t *testing.T) {
	code, stdout, stderr := runCmd(t, noEnv, "--transport-url", fakeURL(), "--driver", "log", "--priority", "sample",
		"--event-type", "cpu.util", `{"password": "secret", "value": 0.7}`)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"level=DEBUG-4", "logger=oslo.messaging.notification.cpu.util", `\"password\":\"***\"`, `\"priority\":\"SAMPLE\"`} {
		if !strings.Contains(stdout, want) {
			t.Errorf("log output %q lacks %q", stdout, want)
		}
	}
}

func TestRoutingDriver(t *testing.T) {
	url := fakeURL()
	path := filepath.Join(t.TempDir(), "routing.yaml")
	os.WriteFile(path, []byte("g:\n  messagingv2:\n    accepted_events: ['compute.*']\n"), 0o600)
	for _, ev := range []string{"network.x", "compute.x"} {
		if code, _, stderr := runCmd(t, noEnv, "--transport-url", url, "--driver", "routing", "--routing-config", path, "--event-type", ev, "{}"); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
	}
	if r := receive(t, url, 1, "notifications")[0]; r.event != "compute.x" {
		t.Fatalf("routed %+v", r)
	}
}

func TestHelp(t *testing.T) {
	code, stdout, _ := runCmd(t, noEnv, "--help")
	if code != 0 || !strings.Contains(stdout, "usage: oslo-messaging-send-notification") || !strings.Contains(stdout, "-transport-url") {
		t.Fatalf("exit %d: %s", code, stdout)
	}
}

var oneLineRE = regexp.MustCompile(`^oslo-messaging-send-notification: [^\n]+\n$`)

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	badYAML := filepath.Join(dir, "bad.yaml")
	os.WriteFile(badYAML, []byte("g: [1]\n"), 0o600)
	badConf := filepath.Join(dir, "bad.conf")
	os.WriteFile(badConf, []byte("[oslo_messaging_notifications]\nretry = often\n"), 0o600)
	emptyConf := filepath.Join(dir, "empty.conf")
	os.WriteFile(emptyConf, nil, 0o600)
	url := fakeURL()
	for _, c := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no url", []string{"{}"}, 2, "--transport-url is required (or set TRANSPORT_URL, or give --config-file)"},
		{"no payload", []string{"--transport-url", url}, 2, "the payload (a JSON value) is required"},
		{"two payloads", []string{"--transport-url", url, "{}", "[]"}, 2, "one payload expected, got 2"},
		{"bad JSON", []string{"--transport-url", url, "{oops"}, 2, "the payload is not valid JSON"},
		{"unknown flag", []string{"--transport-url", url, "--colour", "red", "{}"}, 2, "flag provided but not defined: -colour"},
		{"bad priority", []string{"--transport-url", url, "--priority", "verbose", "{}"}, 2, `--priority "verbose": want one of audit, debug`},
		{"bad driver", []string{"--transport-url", url, "--driver", "kafka", "{}"}, 2, `--driver "kafka": want one of`},
		{"routing without config", []string{"--transport-url", url, "--driver", "routing", "{}"}, 2, "--driver routing needs --routing-config"},
		{"bad routing config", []string{"--transport-url", url, "--driver", "routing", "--routing-config", badYAML, "{}"}, 2, `notify: routing config: group "g"`},
		{"missing config file", []string{"--config-file", "/nonexistent/nova.conf", "{}"}, 1, "config: config files not found: /nonexistent/nova.conf"},
		{"bad config file", []string{"--config-file", badConf, "{}"}, 1, "bad.conf:2: [oslo_messaging_notifications] retry = \"often\": not an integer"},
		{"routing without config in the file", []string{"--config-file", emptyConf, "--driver", "routing", "{}"}, 2, "--driver routing needs --routing-config or [oslo_messaging_notifications] routing_config"},
		{"empty topic", []string{"--transport-url", url, "--topic", "", "{}"}, 2, "empty topic"},
		{"bad url", []string{"--transport-url", "rabbit://h:notaport/", "{}"}, 2, "--transport-url: "},
		{"unknown scheme", []string{"--transport-url", "carrier-pigeon://coop/", "{}"}, 1, `transport: unknown driver "carrier-pigeon"`},
		{"unreachable broker", []string{"--transport-url", "unreachable://127.0.0.1:5672/", "{}"}, 1, "connection refused"},
		{"unreachable rabbit", []string{"--transport-url", "rabbit://guest:secret@127.0.0.1:1/", "--timeout", "5s", "{}"}, 1, "connection refused"},
		{"broker never confirms", []string{"--transport-url", "blackhole://h/", "--timeout", "100ms", "--topic", "a", "--topic", "b", "{}"}, 1, "sending the notification: notify: sending INFO notification test to a.info: "},
	} {
		code, stdout, stderr := runCmd(t, noEnv, c.args...)
		if code != c.code || stdout != "" || !strings.Contains(stderr, c.want) || !oneLineRE.MatchString(stderr) || strings.Contains(stderr, "secret") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit %d and one line with %q", c.name, code, stdout, stderr, c.code, c.want)
		}
	}
}
