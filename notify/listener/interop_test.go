package notify_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/oslo-go/messaging/internal/engine"
	"github.com/oslo-go/messaging/notify"
	"github.com/oslo-go/messaging/serializer"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport/driver"
)

// pythonDispatch decodes notification bodies (one JSON string per line on
// stdin) the way Python oslo.messaging's AMQP listener does and hands them
// to its NotificationDispatcher; it prints what the endpoint got.
const pythonDispatch = `
import json, sys
from oslo_messaging._drivers import common, amqp as rpc_amqp
from oslo_messaging.notify import dispatcher

class Endpoint(object):
    pass

def make(prio):
    def handler(self, ctxt, publisher_id, event_type, payload, metadata):
        print(json.dumps(dict(method=prio, ctxt=ctxt, publisher_id=publisher_id, event_type=event_type,
                              payload=payload, metadata=metadata)), flush=True)
    return handler

for p in dispatcher.PRIORITIES:
    setattr(Endpoint, p, make(p))

class Incoming(object):
    def __init__(self, ctxt, message):
        self.ctxt, self.message = ctxt, message

d = dispatcher.NotificationDispatcher([Endpoint()], None)
cache = rpc_amqp._MsgIdCache()
for line in sys.stdin:
    msg = common.deserialize_msg(json.loads(json.loads(line)))
    ctxt = rpc_amqp.unpack_context(msg)
    cache.check_duplicate_message(msg)  # pops _unique_id
    d.dispatch(Incoming(ctxt.to_dict(), msg))
`

// pythonSend runs Python oslo.messaging's Notifier with its messagingv2 and
// messaging drivers over a transport that encodes each notification as the
// AMQP driver does (amqpdriver._send) and prints it.
const pythonSend = `
import json, sys
import oslo_messaging as om
from oslo_config import cfg
from oslo_serialization import jsonutils
from oslo_messaging._drivers import amqp as rpc_amqp, common as rpc_common

class Transport(om.transport.NotificationTransport):
    def __init__(self):
        self.conf = cfg.ConfigOpts()
        self.conf([])
    def _send_notification(self, target, ctxt, message, version, retry=None):
        msg = dict(message)
        rpc_amqp._add_unique_id(msg)
        rpc_amqp.pack_context(msg, ctxt)
        if version == 2.0:
            msg = rpc_common.serialize_msg(msg)
        print(json.dumps(dict(topic=target.topic, body=jsonutils.dumps(msg))), flush=True)

tr = Transport()
for drv in ('messagingv2', 'messaging'):
    n = om.Notifier(tr, driver=drv, topics=[sys.argv[1]])  # no publisher_id: null
    for p in ('audit', 'debug', 'info', 'warn', 'error', 'critical', 'sample'):
        getattr(n, p)({'user': 'py', 'roles': ['admin']}, 'py.' + drv, {'prio': p})
`

// every handles all priorities.
type every struct{ *sink }

func (e every) Audit(ctx context.Context, pub, ev string, p map[string]any, md notify.Metadata) error {
	return e.record(ctx, "audit", pub, ev, p, md)
}
func (e every) Debug(ctx context.Context, pub, ev string, p map[string]any, md notify.Metadata) error {
	return e.record(ctx, "debug", pub, ev, p, md)
}
func (e every) Info(ctx context.Context, pub, ev string, p map[string]any, md notify.Metadata) error {
	return e.record(ctx, "info", pub, ev, p, md)
}
func (e every) Warn(ctx context.Context, pub, ev string, p map[string]any, md notify.Metadata) error {
	return e.record(ctx, "warn", pub, ev, p, md)
}
func (e every) Error(ctx context.Context, pub, ev string, p map[string]any, md notify.Metadata) error {
	return e.record(ctx, "error", pub, ev, p, md)
}
func (e every) Critical(ctx context.Context, pub, ev string, p map[string]any, md notify.Metadata) error {
	return e.record(ctx, "critical", pub, ev, p, md)
}
func (e every) Sample(ctx context.Context, pub, ev string, p map[string]any, md notify.Metadata) error {
	return e.record(ctx, "sample", pub, ev, p, md)
}

// TestGoListensToPythonNotifications hands what Python's Notifier sends
// (both formats, every priority, no publisher id) to a Go listener.
func TestGoListensToPythonNotifications(t *testing.T) {
	t.Parallel()
	py := needPython(t)
	topic := uniqueTopic("py")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, py, "-c", pythonSend, topic)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, stderr.String())
	}
	url := fakeURL(t)
	tr := open(t, url)
	s := newSink()
	listener(t, url, topic, []any{every{s}}, notify.MaxConcurrency(1))
	nt := engine.Of(tr).Driver().(driver.Notifier)
	count := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var m struct{ Topic, Body string }
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if err := nt.Notify(testCtx(t), engine.Of(tr).ResolveTarget(target.Target{Topic: m.Topic}), &driver.Message{Body: []byte(m.Body)}); err != nil {
			t.Fatal(err)
		}
		count++
	}
	if count != 14 {
		t.Fatalf("Python sent %d notifications", count)
	}
	seen := map[string]int{}
	for _, e := range s.wait(t, count) {
		p := e.payload.(map[string]any)
		if p["prio"] != e.prio || e.publisherID != "" || !strings.HasPrefix(e.eventType, "py.messaging") ||
			e.rc.String("user") != "py" || !uuidRE.MatchString(e.md.MessageID) || !timestampRE.MatchString(e.md.Timestamp) {
			t.Errorf("from Python: %+v", e)
		}
		seen[e.eventType]++
	}
	if seen["py.messagingv2"] != 7 || seen["py.messaging"] != 7 {
		t.Fatalf("received %v", seen)
	}
	s.none(t)
}

// needPython returns /usr/bin/python3 when Python oslo.messaging is
// installed; otherwise it skips t, or fails it when CI is set.
func needPython(t *testing.T) string {
	t.Helper()
	const py = "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import oslo_messaging").Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("Python oslo.messaging is missing (%v): run .ci/services.sh", err)
		}
		t.Skipf("Python oslo.messaging is not installed: %v", err)
	}
	return py
}

// TestPythonDispatchesGoNotifications feeds what the Go notifier sends
// (both formats, every priority) to Python oslo.messaging's notification
// dispatcher.
func TestPythonDispatchesGoNotifications(t *testing.T) {
	t.Parallel()
	py := needPython(t)
	tr := open(t, fakeURL(t))
	var stdin bytes.Buffer
	type sent struct{ drv, prio string }
	var want []sent
	prios := []string{"audit", "debug", "info", "warn", "error", "critical", "sample"}
	raws := map[string]*rawListener{}
	for _, prio := range prios {
		raws[prio] = listenRaw(t, tr, "notifications."+prio)
	}
	for _, drv := range []string{"messagingv2", "messaging"} {
		n, err := notify.New(tr, notify.Driver(drv), notify.PublisherID("go.host"))
		if err != nil {
			t.Fatal(err)
		}
		for _, prio := range prios {
			ctx := serializer.WithRequestContext(testCtx(t), serializer.RequestContext{"user": "u1", "roles": []string{"admin"}})
			if err := n.Notify(ctx, prio, "go."+drv, map[string]any{"k": "v", "n": 1}); err != nil {
				t.Fatal(err)
			}
			line, _ := json.Marshal(string(raws[prio].next(t).Body))
			stdin.Write(append(line, '\n'))
			want = append(want, sent{drv, prio})
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "-c", pythonDispatch)
	cmd.Stdin = &stdin
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, stderr.String())
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	i := 0
	for sc.Scan() {
		var got struct {
			Method      string            `json:"method"`
			Ctxt        map[string]any    `json:"ctxt"`
			PublisherID string            `json:"publisher_id"`
			EventType   string            `json:"event_type"`
			Payload     map[string]any    `json:"payload"`
			Metadata    map[string]string `json:"metadata"`
		}
		if err := json.Unmarshal(sc.Bytes(), &got); err != nil {
			t.Fatalf("%s: %v", sc.Text(), err)
		}
		if i >= len(want) {
			t.Fatalf("extra dispatch %s", sc.Text())
		}
		w := want[i]
		if got.Method != w.prio || got.PublisherID != "go.host" || got.EventType != "go."+w.drv ||
			got.Payload["k"] != "v" || got.Payload["n"] != 1.0 || got.Ctxt["user"] != "u1" ||
			!uuidRE.MatchString(got.Metadata["message_id"]) || !timestampRE.MatchString(got.Metadata["timestamp"]) {
			t.Errorf("Python got %s for %+v", sc.Text(), w)
		}
		i++
	}
	if i != len(want) {
		t.Fatalf("Python dispatched %d of %d notifications\n%s", i, len(want), strings.TrimSpace(stderr.String()))
	}
}
