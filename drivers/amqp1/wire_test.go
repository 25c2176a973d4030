package amqp1_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/oslo-go/messaging/drivers/amqp1/internal/intermediary"
	"github.com/oslo-go/messaging/internal/pyjson"
)

// keys returns the member names of the JSON object s, in order.
func keys(t testing.TB, s string) []string {
	t.Helper()
	var ks []string
	if err := pyjson.Fields([]byte(s), func(k string, _ []byte) error { ks = append(ks, k); return nil }); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return ks
}

func member(t testing.TB, s, key string) string {
	t.Helper()
	var v string
	pyjson.Fields([]byte(s), func(k string, raw []byte) error {
		if k == key {
			v = string(raw)
		}
		return nil
	})
	return v
}

var hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)

// checkWire checks, on the messages the intermediary received during the
// interop subtests, what the Go driver sent against oslo's amqp1 wire
// format: addresses for the flavour's addressing mode, settlement,
// properties and bodies.
func checkWire(t *testing.T, im *intermediary.Intermediary, f intermediary.Flavour, pyTopic, pyNotify string) {
	msgs := im.Events(func(e intermediary.Event) bool { return e.Str("event") == "message" })
	find := func(what string, match func(e intermediary.Event) bool) intermediary.Event {
		t.Helper()
		for _, e := range msgs {
			if match(e) {
				return e
			}
		}
		t.Fatalf("no message: %s", what)
		return nil
	}
	anycast, multicast, notifyAddr := "unicast.openstack."+pyTopic, "broadcast.openstack."+pyTopic+".all", "unicast.openstack."+pyNotify+".info"
	if f == intermediary.Router {
		anycast = "openstack.org/om/rpc/anycast/openstack/" + pyTopic
		multicast = "openstack.org/om/rpc/multicast/openstack/" + pyTopic
		notifyAddr = "openstack.org/om/notify/anycast/openstack/" + pyNotify + ".info"
	}

	// A call: unsettled, message-id, reply-to, the timeout as TTL.
	call := find("Go's echo call", func(e intermediary.Event) bool {
		return e.Str("address") == anycast && strings.Contains(e.Str("body"), `"method": "echo"`) && strings.Contains(e.Str("body"), "héllo")
	})
	if call["settled"] != false || !hex32.MatchString(call.Str("id")) || call.Str("reply_to") == "" || call.Str("to") != anycast {
		t.Errorf("call properties: %v", call)
	}
	if ttl, _ := call["ttl"].(float64); ttl <= 0 || ttl > 20 {
		t.Errorf("call TTL %v, want the 20 s timeout", call["ttl"])
	}
	body := call.Str("body")
	if ks := keys(t, body); strings.Join(ks, ",") != "request,context" {
		t.Errorf("call body members %v: %s", ks, body)
	}
	if ks := keys(t, member(t, body, "request")); strings.Join(ks, ",") != "method,args,namespace,version" {
		t.Errorf("request members %v: %s", ks, body)
	}
	var ctx map[string]any
	if err := json.Unmarshal([]byte(member(t, body, "context")), &ctx); err != nil || ctx["user"] != "u1" || ctx["request_id"] != "req-go" || len(ctx) != 2 {
		t.Errorf("call context %v (%v): %s", ctx, err, body)
	}
	if f == intermediary.Broker && !strings.HasPrefix(call.Str("reply_to"), "TempQueue") ||
		f == intermediary.Router && !strings.HasPrefix(call.Str("reply_to"), "amqp:/_topo/") {
		t.Errorf("reply-to %q is not the intermediary's dynamic address", call.Str("reply_to"))
	}

	// A monitored call carries call_monitor_timeout.
	mon := find("Go's monitored call", func(e intermediary.Event) bool {
		return e.Str("address") == anycast && strings.Contains(e.Str("body"), `"method": "sleep"`)
	})
	if got := member(t, mon.Str("body"), "call_monitor_timeout"); got != "2" {
		t.Errorf("call_monitor_timeout = %q: %s", got, mon.Str("body"))
	}

	// Casts: pre-settled, no message-id or reply-to; fanout to multicast.
	fan := find("Go's fanout cast", func(e intermediary.Event) bool {
		return strings.Contains(e.Str("body"), "fan-go")
	})
	if fan.Str("address") != multicast || fan["settled"] != true || fan["id"] != nil || fan["reply_to"] != nil {
		t.Errorf("fanout cast: %v", fan)
	}
	if cast := find("Go's cast", func(e intermediary.Event) bool { return strings.Contains(e.Str("body"), "one-go") }); cast.Str("address") != anycast || cast["settled"] != true {
		t.Errorf("cast: %v", cast)
	}

	// A notification: unsettled, to the anycast notification address, the
	// 2.0 envelope without _context_ or _unique_id members, the context
	// beside it.
	n := find("Go's notification", func(e intermediary.Event) bool { return strings.Contains(e.Str("body"), "go.event") })
	if n.Str("address") != notifyAddr || n["settled"] != false {
		t.Errorf("notification: %v", n)
	}
	req := member(t, n.Str("body"), "request")
	if ks := keys(t, req); strings.Join(ks, ",") != "oslo.version,oslo.message" {
		t.Errorf("notification request %s", req)
	}
	var inner string
	json.Unmarshal([]byte(member(t, req, "oslo.message")), &inner)
	if ks := strings.Join(keys(t, inner), ","); ks != "message_id,publisher_id,event_type,priority,payload,timestamp" {
		t.Errorf("notification dict members %s: %s", ks, inner)
	}
	if !strings.Contains(member(t, n.Str("body"), "context"), `"user": "u1"`) {
		t.Errorf("notification context: %s", n.Str("body"))
	}

	// The Go server's replies to Python: pre-settled, correlated; the
	// heartbeats have no body and the monitor timeout as TTL.
	var beats, replies int
	for _, e := range msgs {
		if e.Str("correlation_id") == "" || e["settled"] != true {
			continue
		}
		switch {
		case e.Str("body_type") == "NoneType" && e["ttl"] == 2.0:
			beats++
		case e.Str("body") == `{"response": "slept"}`:
			replies++
		}
	}
	if beats < 2 || replies < 1 {
		t.Errorf("saw %d heartbeats with TTL 2 and %d replies {\"response\": \"slept\"}", beats, replies)
	}
	if fail := find("the Go server's failure reply", func(e intermediary.Event) bool {
		return strings.HasPrefix(e.Str("body"), `{"failure": "{`) && strings.Contains(e.Str("body"), "bad thing")
	}); fail["settled"] != true {
		t.Errorf("failure reply: %v", fail)
	}
}
