package notify_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/oslo-go/messaging/notify"
	"github.com/oslo-go/messaging/notify/internal/notifytest"
	"github.com/oslo-go/messaging/serializer"
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

// TestPythonDispatchesGoNotifications feeds what the Go notifier sends
// (both formats, every priority) to Python oslo.messaging's notification
// dispatcher.
func TestPythonDispatchesGoNotifications(t *testing.T) {
	t.Parallel()
	py := notifytest.NeedPython(t)
	tr := notifytest.Open(t, notifytest.FakeURL(t))
	var stdin bytes.Buffer
	type sent struct{ drv, prio string }
	var want []sent
	prios := []string{"audit", "debug", "info", "warn", "error", "critical", "sample"}
	raws := map[string]*notifytest.RawListener{}
	for _, prio := range prios {
		raws[prio] = notifytest.ListenRaw(t, tr, "notifications."+prio)
	}
	for _, drv := range []string{"messagingv2", "messaging"} {
		n, err := notify.New(tr, notify.Driver(drv), notify.PublisherID("go.host"))
		if err != nil {
			t.Fatal(err)
		}
		for _, prio := range prios {
			ctx := serializer.WithRequestContext(notifytest.Ctx(t), serializer.RequestContext{"user": "u1", "roles": []string{"admin"}})
			if err := n.Notify(ctx, prio, "go."+drv, map[string]any{"k": "v", "n": 1}); err != nil {
				t.Fatal(err)
			}
			line, _ := json.Marshal(string(raws[prio].Next(t).Body))
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
			!notifytest.UUIDRE.MatchString(got.Metadata["message_id"]) || !notifytest.TimestampRE.MatchString(got.Metadata["timestamp"]) {
			t.Errorf("Python got %s for %+v", sc.Text(), w)
		}
		i++
	}
	if i != len(want) {
		t.Fatalf("Python dispatched %d of %d notifications\n%s", i, len(want), strings.TrimSpace(stderr.String()))
	}
}
