package notify_test

import (
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/oslo-go/messaging/notify"
	"github.com/oslo-go/messaging/notify/internal/notifytest"
)

// routingYAML follows oslo's etc/routing_notifier.yaml.sample.
const routingYAML = `
# Setting a priority AND an event means both have to be satisfied.
# Defining different sets for the same driver allows you to do OR operations.
group_1:
    test:
        accepted_priorities: ['info', 'WARN', 'error']
    log:
        accepted_priorities: ['critical']
        accepted_events: ['compute.*.error']

group_2:
    test:
        accepted_events: ['compute.scheduler.run_instance.*']
    messagingv2:
        accepted_events: ['volume.*']
        comment: unknown keys are ignored, as in oslo
`

func TestRoutingDriver(t *testing.T) {
	path := filepath.Join(t.TempDir(), "routing.yaml")
	if err := os.WriteFile(path, []byte(routingYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	tr := notifytest.Open(t, notifytest.FakeURL(t))
	var rec notify.Recorder
	h := &notifytest.Logs{}
	n, err := notify.New(tr, notify.Driver("routing"), notify.RoutingConfig(path), notify.Record(&rec), notify.WithLogger(slog.New(h)))
	if err != nil {
		t.Fatal(err)
	}
	raw := notifytest.ListenRaw(t, tr, "notifications.error")
	ctx := notifytest.Ctx(t)
	for _, c := range []struct {
		prio, event string
		test, log   bool
		messaging   bool
	}{
		{prio: "info", event: "x", test: true},
		{prio: "debug", event: "compute.scheduler.run_instance.start", test: true},
		{prio: "debug", event: "x"},
		{prio: "critical", event: "compute.instance.error", log: true},
		{prio: "critical", event: "compute.error"}, // fnmatch: "*" needs its dots around
		{prio: "error", event: "volume.create", test: true, messaging: true},
		{prio: "warn", event: "compute.scheduler.run_instance.start", test: true}, // accepted twice, sent once
		{prio: "sample", event: "Volume.create"},                                  // event types are case-sensitive
	} {
		rec.Reset()
		before := len(h.Records())
		if err := n.Notify(ctx, c.prio, c.event, map[string]any{"k": "v"}); err != nil {
			t.Fatal(err)
		}
		if got := len(rec.Notifications()); got != b2i(c.test) {
			t.Errorf("%s %s: test driver got %d", c.prio, c.event, got)
		}
		logged := 0
		for _, r := range h.Records()[before:] {
			if notifytest.Attr(r, "logger") != "" {
				logged++
			}
		}
		if logged != b2i(c.log) {
			t.Errorf("%s %s: log driver wrote %d records", c.prio, c.event, logged)
		}
		if c.messaging {
			if m := raw.Next(t); !strings.Contains(string(m.Body), "volume.create") {
				t.Errorf("messagingv2 sent %s", m.Body)
			}
		}
	}
	raw.None(t, 20*time.Millisecond)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestRoutingRules(t *testing.T) {
	tr := notifytest.Open(t, notifytest.FakeURL(t))
	var rec notify.Recorder
	for _, c := range []struct {
		name  string
		rule  notify.RoutingRule
		match []string // "prio event" that reach the driver
	}{
		{"no constraint", notify.RoutingRule{Driver: "test"}, []string{"info a", "info b.c", "error a", "warn a", "critical b", "sample b.c"}},
		{"empty list matches nothing", notify.RoutingRule{Driver: "test", Events: []string{}}, nil},
		{"priority patterns", notify.RoutingRule{Driver: "test", Priorities: []string{"[ew]*", "CRIT?CAL"}}, []string{"error a", "warn a", "critical b"}},
		{"both ANDed", notify.RoutingRule{Driver: "test", Priorities: []string{"info"}, Events: []string{"a*"}}, []string{"info a"}},
	} {
		n, err := notify.New(tr, notify.Driver("routing"), notify.RoutingRules(c.rule), notify.Record(&rec))
		if err != nil {
			t.Fatal(err)
		}
		rec.Reset()
		for _, pe := range []string{"info a", "info b.c", "error a", "warn a", "critical b", "sample b.c"} {
			p, e, _ := strings.Cut(pe, " ")
			n.Notify(notifytest.Ctx(t), p, e, nil)
		}
		var got []string
		for _, r := range rec.Notifications() {
			got = append(got, strings.ToLower(r.Priority)+" "+r.EventType)
		}
		if !reflect.DeepEqual(got, c.match) && !(len(got) == 0 && len(c.match) == 0) {
			t.Errorf("%s: routed %v, want %v", c.name, got, c.match)
		}
	}
}

func TestParseRoutingConfig(t *testing.T) {
	rules, err := notify.ParseRoutingConfig([]byte(routingYAML))
	if err != nil {
		t.Fatal(err)
	}
	want := []notify.RoutingRule{
		{Driver: "log", Priorities: []string{"critical"}, Events: []string{"compute.*.error"}},
		{Driver: "test", Priorities: []string{"info", "WARN", "error"}},
		{Driver: "messagingv2", Events: []string{"volume.*"}},
		{Driver: "test", Events: []string{"compute.scheduler.run_instance.*"}},
	}
	if !reflect.DeepEqual(rules, want) {
		t.Fatalf("rules %+v\nwant %+v", rules, want)
	}
	if rules, err := notify.ParseRoutingConfig([]byte("# nothing\n")); err != nil || rules != nil {
		t.Fatalf("empty config: %v %v", rules, err)
	}
	rules, err = notify.ParseRoutingConfig([]byte("g:\n  test:\n    accepted_events: []\n"))
	if err != nil || rules[0].Events == nil || len(rules[0].Events) != 0 {
		t.Fatalf("empty list must stay a (non-nil) empty list: %#v %v", rules, err)
	}
	for _, c := range []struct{ yaml, want string }{
		{"g: [a]", `group "g": want a mapping`},
		{"g:\n  log:\n", `group "g", driver "log": want a mapping`},
		{"g:\n  log:\n    accepted_events: 'compute.*'\n", "accepted_events: want a list"},
		{"g:\n  log:\n    accepted_priorities: [1]\n", "pattern 1 is not a string"},
		{"g: {", "notify: routing config: yaml"},
	} {
		if _, err := notify.ParseRoutingConfig([]byte(c.yaml)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err = %v, want %q", c.yaml, err, c.want)
		}
	}
}
