package rabbit

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oslo-go/messaging/client"
	"github.com/oslo-go/messaging/dispatcher"
	"github.com/oslo-go/messaging/serializer"
	"github.com/oslo-go/messaging/server"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
	"github.com/oslo-go/messaging/transport/driver"
)

// The interoperability test runs Python oslo.messaging (Debian's
// python3-oslo.messaging, for /usr/bin/python3) against the driver on
// the shared broker.

const pythonPeer = `
import json, os, sys
import oslo_messaging as om
from oslo_config import cfg

mode, url, topic = sys.argv[1:4]
conf = cfg.CONF
conf([])

import time
start = time.time()
def out(**kw):
    kw['t'] = round(time.time() - start, 3)
    print(json.dumps(kw), flush=True)

if mode == 'server':
    class Endpoint(object):
        target = om.Target(namespace='interop', version='1.2')
        def echo(self, ctxt, text):
            return {'text': text, 'ctx_user': ctxt.get('user')}
        def fail(self, ctxt):
            raise ValueError('bad volume size: 0')
    tr = om.get_rpc_transport(conf, url=url)
    srv = om.get_rpc_server(tr, om.Target(topic=topic, server='py'), [Endpoint()], executor='threading')
    srv.start()
    out(ready=True)
    sys.stdin.read()
    srv.stop()
elif mode == 'client':
    tr = om.get_rpc_transport(conf, url=url)
    c = om.get_rpc_client(tr, om.Target(topic=topic, namespace='interop', version='1.2'), timeout=15)
    out(echo=c.call({'user': 'py'}, 'echo', text='from python'))
    try:
        c.call({}, 'fail')
        out(fail='no exception')
    except Exception as e:
        out(fail=type(e).__name__, message=str(e).split('\n')[0])
    c.cast({}, 'record', text='cast from python')
    c.prepare(fanout=True).cast({}, 'record', text='fanout from python')
    out(slow=c.prepare(call_monitor_timeout=2, timeout=20).call({}, 'slow', millis=2500))
elif mode == 'notify':
    tr = om.get_notification_transport(conf, url=url)
    om.Notifier(tr, publisher_id='py.host', driver='messagingv2', topics=[topic]).info({'user': 'py'}, 'interop.event', {'k': 'v'})
sys.stdout.flush()
os._exit(0)  # oslo's cleanup takes seconds; the broker connections just close
`

// needPython returns the path of the Python peer script, or skips t
// (fails it when CI is set) when Python oslo.messaging is not installed.
func needPython(t *testing.T) string {
	t.Helper()
	needBroker(t)
	if err := exec.Command("/usr/bin/python3", "-c", "import oslo_messaging").Run(); err != nil {
		msg := "Python oslo.messaging is not installed for /usr/bin/python3 (apt-get install python3-oslo.messaging)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg + " and CI is set")
		}
		t.Skipf("\n\n*** SKIPPING %s: %s ***\n", t.Name(), msg)
	}
	path := filepath.Join(t.TempDir(), "peer.py")
	if err := os.WriteFile(path, []byte(pythonPeer), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

type interopEndpoint struct{ casts chan string }

type interopArgs struct {
	Text   string `json:"text"`
	Millis int    `json:"millis"`
}

func (e *interopEndpoint) Echo(ctx context.Context, a interopArgs) (map[string]any, error) {
	return map[string]any{"text": a.Text, "ctx_user": serializer.RequestContextFrom(ctx)["user"]}, nil
}

func (e *interopEndpoint) Fail(context.Context) error { return errors.New("bad volume size: 0") }

func (e *interopEndpoint) Record(_ context.Context, a interopArgs) error {
	e.casts <- a.Text
	return nil
}

func (e *interopEndpoint) Slow(_ context.Context, a interopArgs) (string, error) {
	time.Sleep(time.Duration(a.Millis) * time.Millisecond)
	return "slept", nil
}

func TestInteropPythonServer(t *testing.T) {
	script := needPython(t)
	topic := uniqueName("interop")
	cmd := exec.Command("/usr/bin/python3", script, "server", brokerURL, topic)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("python stderr:\n%s", stderr.String())
		}
	}()
	ready := make(chan bool, 1)
	go func() {
		s := bufio.NewScanner(stdout)
		ready <- s.Scan() && strings.Contains(s.Text(), "ready")
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatal("python server did not start")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("python server did not start within 30 s")
	}
	tr := openTransport(t)
	c, _ := client.New(tr, target.Target{Topic: topic, Namespace: "interop", Version: "1.2"}, client.Timeout(15*time.Second))
	ctx := serializer.WithRequestContext(context.Background(), serializer.RequestContext{"user": "go"})
	got, err := client.Call[map[string]any](ctx, c, "echo", map[string]any{"text": "from go"})
	if err != nil || got["text"] != "from go" || got["ctx_user"] != "go" {
		t.Fatalf("call to the python server: %v, %v", got, err)
	}
	err = c.Call(ctx, "fail", nil, nil)
	var re *transport.RemoteError
	if !errors.As(err, &re) || re.Class != "ValueError" || re.Message != "bad volume size: 0" {
		t.Fatalf("python failure: %#v", err)
	}
	if err := c.Prepare(client.Server("py")).Call(ctx, "echo", map[string]any{"text": "direct"}, nil); err != nil {
		t.Fatalf("direct call to the python server: %v", err)
	}
}

func TestInteropPythonClient(t *testing.T) {
	script := needPython(t)
	topic := uniqueName("interop")
	tr := openTransport(t)
	ep := &interopEndpoint{casts: make(chan string, 8)}
	srv, err := server.New(tr, target.Target{Topic: topic, Server: "go"},
		[]any{dispatcher.Endpoint(ep, dispatcher.Namespace("interop"), dispatcher.Version("1.2"))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() {
		srv.Shutdown(ctx)
		srv.Close()
	}()
	out, err := exec.CommandContext(ctx, "/usr/bin/python3", script, "client", brokerURL, topic).CombinedOutput()
	if err != nil {
		t.Fatalf("python client: %v\n%s", err, out)
	}
	results := map[string]any{}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "{") {
			json.Unmarshal([]byte(line), &results)
		}
	}
	if e, _ := results["echo"].(map[string]any); e["text"] != "from python" || e["ctx_user"] != "py" {
		t.Errorf("python call to the go server: %v\n%s", results["echo"], out)
	}
	if results["fail"] != "Exception" || results["message"] != "bad volume size: 0" {
		t.Errorf("python saw the go failure as %v %v\n%s", results["fail"], results["message"], out)
	}
	t.Logf("python client output:\n%s", out)
	if results["slow"] != "slept" {
		t.Errorf("monitored python call to the go server: %v\n%s", results["slow"], out)
	}
	got := map[string]bool{}
	for len(got) < 2 {
		select {
		case s := <-ep.casts:
			got[s] = true
		case <-time.After(10 * time.Second):
			t.Fatalf("casts from python: got %v", got)
		}
	}
}

func TestInteropPythonNotifier(t *testing.T) {
	script := needPython(t)
	topic := uniqueName("interop")
	tr := openTransport(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tg := tr.ResolveTarget(target.Target{Topic: topic + ".info"})
	l, err := tr.Driver().(driver.Notifier).ListenNotifications(ctx, []target.Target{tg}, "")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if out, err := exec.CommandContext(ctx, "/usr/bin/python3", script, "notify", brokerURL, topic).CombinedOutput(); err != nil {
		t.Fatalf("python notifier: %v\n%s", err, out)
	}
	in, err := l.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	body := string(in.Message().Body)
	if !strings.Contains(body, `\"event_type\": \"interop.event\"`) || !strings.Contains(body, `\"priority\": \"INFO\"`) {
		t.Fatalf("notification from python: %s", body)
	}
	if err := in.Ack(); err != nil {
		t.Fatal(err)
	}
	_, ch := rawChannel(t)
	ch.QueueDelete(topic+".info", false, false, false)
}
