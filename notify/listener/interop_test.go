package listener_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/oslo-go/messaging/internal/engine"
	"github.com/oslo-go/messaging/notify/internal/notifytest"
	"github.com/oslo-go/messaging/notify/listener"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport/driver"
)

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

func (e every) Audit(ctx context.Context, pub, ev string, p map[string]any, md listener.Metadata) error {
	return e.record(ctx, "audit", pub, ev, p, md)
}
func (e every) Debug(ctx context.Context, pub, ev string, p map[string]any, md listener.Metadata) error {
	return e.record(ctx, "debug", pub, ev, p, md)
}
func (e every) Info(ctx context.Context, pub, ev string, p map[string]any, md listener.Metadata) error {
	return e.record(ctx, "info", pub, ev, p, md)
}
func (e every) Warn(ctx context.Context, pub, ev string, p map[string]any, md listener.Metadata) error {
	return e.record(ctx, "warn", pub, ev, p, md)
}
func (e every) Error(ctx context.Context, pub, ev string, p map[string]any, md listener.Metadata) error {
	return e.record(ctx, "error", pub, ev, p, md)
}
func (e every) Critical(ctx context.Context, pub, ev string, p map[string]any, md listener.Metadata) error {
	return e.record(ctx, "critical", pub, ev, p, md)
}
func (e every) Sample(ctx context.Context, pub, ev string, p map[string]any, md listener.Metadata) error {
	return e.record(ctx, "sample", pub, ev, p, md)
}

// TestGoListensToPythonNotifications hands what Python's Notifier sends
// (both formats, every priority, no publisher id) to a Go listener.
func TestGoListensToPythonNotifications(t *testing.T) {
	t.Parallel()
	py := notifytest.NeedPython(t)
	topic := notifytest.UniqueTopic("py")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, py, "-c", pythonSend, topic)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, stderr.String())
	}
	url := notifytest.FakeURL(t)
	tr := notifytest.Open(t, url)
	s := newSink()
	start(t, url, topic, []any{every{s}}, listener.MaxConcurrency(1))
	nt := engine.Of(tr).Driver().(driver.Notifier)
	count := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var m struct{ Topic, Body string }
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if err := nt.Notify(notifytest.Ctx(t), engine.Of(tr).ResolveTarget(target.Target{Topic: m.Topic}), &driver.Message{Body: []byte(m.Body)}); err != nil {
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
			e.rc.String("user") != "py" || !notifytest.UUIDRE.MatchString(e.md.MessageID) || !notifytest.TimestampRE.MatchString(e.md.Timestamp) {
			t.Errorf("from Python: %+v", e)
		}
		seen[e.eventType]++
	}
	if seen["py.messagingv2"] != 7 || seen["py.messaging"] != 7 {
		t.Fatalf("received %v", seen)
	}
	s.none(t)
}
