package notify_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/oslo-go/messaging/internal/wire"
	"github.com/oslo-go/messaging/notify"
	"github.com/oslo-go/messaging/notify/internal/notifytest"
	"github.com/oslo-go/messaging/serializer"
	"github.com/oslo-go/messaging/transport"
)

func TestFormatTimestamp(t *testing.T) {
	paris := time.FixedZone("CET", 3600)
	for _, c := range []struct {
		in   time.Time
		want string
	}{
		{time.Date(2026, 5, 13, 12, 0, 0, 0, time.UTC), "2026-05-13 12:00:00"},
		{time.Date(2026, 5, 13, 12, 0, 0, 123456000, time.UTC), "2026-05-13 12:00:00.123456"},
		{time.Date(2026, 5, 13, 12, 0, 0, 1000, time.UTC), "2026-05-13 12:00:00.000001"},
		{time.Date(2026, 5, 13, 12, 0, 0, 999, time.UTC), "2026-05-13 12:00:00"},              // below a microsecond
		{time.Date(2026, 5, 13, 12, 0, 0, 500000000, time.UTC), "2026-05-13 12:00:00.500000"}, // Python keeps the zeros
		{time.Date(2026, 1, 1, 0, 30, 5, 0, paris), "2025-12-31 23:30:05"},                    // UTC
	} {
		if got := notify.FormatTimestamp(c.in); got != c.want {
			t.Errorf("FormatTimestamp(%v) = %q, want %q", c.in, got, c.want)
		}
		back, err := notify.ParseTimestamp(c.want)
		if err != nil || !back.Equal(c.in.Truncate(time.Microsecond)) {
			t.Errorf("ParseTimestamp(%q) = %v, %v", c.want, back, err)
		}
	}
	// The timestamp of the Python capture.
	if ts, err := notify.ParseTimestamp("2026-11-21 18:39:08.747924"); err != nil || ts.Nanosecond() != 747924000 {
		t.Errorf("ParseTimestamp(python) = %v, %v", ts, err)
	}
	if ts, err := notify.ParseTimestamp("2026-11-21T18:39:08"); err != nil || ts.Hour() != 18 {
		t.Errorf("ParseTimestamp(ISO) = %v, %v", ts, err)
	}
	for _, bad := range []string{"", "2026-11-21", "yesterday"} {
		if _, err := notify.ParseTimestamp(bad); err == nil || !strings.HasPrefix(err.Error(), "notify: ") {
			t.Errorf("ParseTimestamp(%q) err = %v", bad, err)
		}
	}
}

type payload struct {
	InstanceID string `json:"instance_id"`
	State      string `json:"state"`
}

// TestWireFormat checks what the messaging drivers put on the wire, for
// every priority method, both formats and several topics.
func TestWireFormat(t *testing.T) {
	methods := []struct {
		prio string
		send func(*notify.Notifier, context.Context, string, any) error
	}{
		{"audit", (*notify.Notifier).Audit},
		{"debug", (*notify.Notifier).Debug},
		{"info", (*notify.Notifier).Info},
		{"warn", (*notify.Notifier).Warn},
		{"error", (*notify.Notifier).Error},
		{"critical", (*notify.Notifier).Critical},
		{"sample", (*notify.Notifier).Sample},
	}
	pyInner := innerDict(t, []byte(notifytest.LoadCapture(t, "notification_info").Body))
	for _, drv := range []string{"messagingv2", "messaging"} {
		for _, m := range methods {
			t.Run(drv+"/"+m.prio, func(t *testing.T) {
				tr := notifytest.Open(t, notifytest.FakeURL(t))
				topics := []string{"notifications", "billing"}
				raws := make([]*notifytest.RawListener, len(topics))
				for i, topic := range topics {
					raws[i] = notifytest.ListenRaw(t, tr, topic+"."+m.prio)
				}
				n, err := notify.New(tr, notify.Driver(drv), notify.Topics(topics...), notify.PublisherID("compute.host1"))
				if err != nil {
					t.Fatal(err)
				}
				ctx := serializer.WithRequestContext(notifytest.Ctx(t), serializer.RequestContext{"user": "u1", "project_id": "p1", "request_id": "req-1", "is_admin": false})
				if err := m.send(n, ctx, "compute.instance.create.end", payload{"i-1", "ACTIVE"}); err != nil {
					t.Fatal(err)
				}
				var ids []string
				for i, r := range raws {
					msg := r.Next(t)
					enveloped := bytes.HasPrefix(msg.Body, []byte(`{"oslo.version"`))
					if enveloped != (drv == "messagingv2") {
						t.Fatalf("%s: enveloped=%v: %s", drv, enveloped, msg.Body)
					}
					got, err := wire.DecodeNotification(msg.Body, msg.ContentType)
					if err != nil {
						t.Fatal(err)
					}
					if !notifytest.UUIDRE.MatchString(got.MessageID) || !notifytest.TimestampRE.MatchString(got.Timestamp) ||
						got.Priority != strings.ToUpper(m.prio) || got.PublisherID != "compute.host1" ||
						got.EventType != "compute.instance.create.end" || len(got.UniqueID) != 32 ||
						got.Context["request_id"] != "req-1" || got.Context["is_admin"] != false {
						t.Fatalf("topic %s: %+v", topics[i], got)
					}
					ts, err := notify.ParseTimestamp(got.Timestamp)
					if err != nil || time.Since(ts) > time.Minute || time.Since(ts) < -time.Second {
						t.Fatalf("timestamp %q: %v %v", got.Timestamp, ts, err)
					}
					var p payload
					if err := got.Payload.Decode(&p); err != nil || p != (payload{"i-1", "ACTIVE"}) {
						t.Fatalf("payload %+v %v", p, err)
					}
					ids = append(ids, got.MessageID)
					if drv == "messagingv2" {
						// The same keys as Python's messagingv2 notification.
						inner := innerDict(t, msg.Body)
						if !sameKeys(inner, pyInner) {
							t.Fatalf("keys %v, Python sends %v", keysOf(inner), keysOf(pyInner))
						}
					}
				}
				if ids[0] != ids[1] {
					t.Fatalf("one notification, two message ids: %v", ids)
				}
			})
		}
	}
}

// innerDict returns the notification dict of a body, enveloped or not.
func innerDict(t testing.TB, body []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	if s, ok := m["oslo.message"].(string); ok {
		m = nil
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

func keysOf(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func sameKeys(a, b map[string]any) bool { return slices.Equal(keysOf(a), keysOf(b)) }

func TestNotifyPriorityByName(t *testing.T) {
	var rec notify.Recorder
	n, err := notify.New(notifytest.Open(t, notifytest.FakeURL(t)), notify.Driver("test"), notify.Record(&rec))
	if err != nil {
		t.Fatal(err)
	}
	ctx := notifytest.Ctx(t)
	for _, p := range []string{"info", "WARNING", "Critical", "sample"} {
		if err := n.Notify(ctx, p, "e", nil); err != nil {
			t.Fatalf("Notify(%s): %v", p, err)
		}
	}
	var got []string
	for _, r := range rec.Notifications() {
		got = append(got, r.Priority)
	}
	if want := []string{"INFO", "WARN", "CRITICAL", "SAMPLE"}; !slices.Equal(got, want) {
		t.Fatalf("priorities %v, want %v", got, want)
	}
	if err := n.Notify(ctx, "verbose", "e", nil); err == nil || !strings.HasPrefix(err.Error(), "notify: unknown priority") {
		t.Fatalf("Notify(verbose) = %v", err)
	}
}

func TestPrepare(t *testing.T) {
	var rec notify.Recorder
	n, err := notify.New(notifytest.Open(t, notifytest.FakeURL(t)), notify.Driver("test"), notify.Record(&rec), notify.PublisherID("a"), notify.Retry(3))
	if err != nil {
		t.Fatal(err)
	}
	ctx := notifytest.Ctx(t)
	b := n.Prepare(notify.PublisherID("b"))
	r0 := n.Prepare(notify.Retry(0))
	forever := b.Prepare(notify.Retry(-7))
	for _, x := range []*notify.Notifier{n, b, r0, forever} {
		if err := x.Info(ctx, "e", nil); err != nil {
			t.Fatal(err)
		}
	}
	type pr struct {
		pub   string
		retry int
	}
	var got []pr
	for _, r := range rec.Notifications() {
		got = append(got, pr{r.PublisherID, r.Retry})
	}
	want := []pr{{"a", 3}, {"b", 3}, {"a", 0}, {"b", -1}}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if n.PublisherID() != "a" || b.PublisherID() != "b" || !slices.Equal(b.Drivers(), []string{"test"}) {
		t.Fatal("Prepare changed the original or lost the drivers")
	}
}

func TestDefaults(t *testing.T) {
	var rec notify.Recorder
	tr := notifytest.Open(t, notifytest.FakeURL(t))
	n, err := notify.New(tr)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(n.Drivers(), []string{"messagingv2"}) || !n.IsEnabled() || n.PublisherID() != "" {
		t.Fatalf("defaults: %v %v", n.Drivers(), n.IsEnabled())
	}
	raw := notifytest.ListenRaw(t, tr, "notifications.info")
	if err := n.Info(notifytest.Ctx(t), "e", nil); err != nil {
		t.Fatal(err)
	}
	if got := raw.Next(t); !bytes.HasPrefix(got.Body, []byte(`{"oslo.version"`)) {
		t.Fatalf("not messagingv2 to notifications.info: %s", got.Body)
	}
	n, err = notify.New(tr, notify.Driver("test"), notify.Record(&rec))
	if err != nil {
		t.Fatal(err)
	}
	n.Info(notifytest.Ctx(t), "e", nil)
	if r := rec.Notifications(); len(r) != 1 || r[0].Retry != -1 {
		t.Fatalf("default retry: %+v", r)
	}
	rec.Reset()
	if len(rec.Notifications()) != 0 {
		t.Fatal("Reset kept notifications")
	}
}

func TestNoop(t *testing.T) {
	tr := notifytest.Open(t, notifytest.FakeURL(t))
	raw := notifytest.ListenRaw(t, tr, "notifications.info")
	n, err := notify.New(tr, notify.Driver("noop"))
	if err != nil {
		t.Fatal(err)
	}
	if n.IsEnabled() || n.Prepare(notify.PublisherID("x")).IsEnabled() {
		t.Fatal("noop notifier is enabled")
	}
	if err := n.Info(notifytest.Ctx(t), "e", map[string]any{"a": 1}); err != nil {
		t.Fatal(err)
	}
	raw.None(t, 50*time.Millisecond)
	var rec notify.Recorder
	n, _ = notify.New(tr, notify.Driver("noop", "test"), notify.Record(&rec))
	if !n.IsEnabled() {
		t.Fatal("noop+test is not enabled")
	}
}

// upper is a serializer that marks what went through it.
type upper struct{ serializer.NoOp }

func (upper) SerializeEntity(_ context.Context, e any) (any, error) {
	if s, ok := e.(string); ok {
		return strings.ToUpper(s), nil
	}
	return e, nil
}

func (upper) SerializeContext(ctx context.Context) (map[string]any, error) {
	rc := serializer.RequestContextFrom(ctx).Clone()
	if rc == nil {
		rc = serializer.RequestContext{}
	}
	rc["serialized"] = true
	return rc, nil
}

type failingSerializer struct{ serializer.NoOp }

func (failingSerializer) SerializeEntity(context.Context, any) (any, error) {
	return nil, errors.New("boom")
}

func TestSerializer(t *testing.T) {
	var rec notify.Recorder
	tr := notifytest.Open(t, notifytest.FakeURL(t))
	n, err := notify.New(tr, notify.Driver("test"), notify.Record(&rec), notify.WithSerializer(upper{}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := serializer.WithRequestContext(notifytest.Ctx(t), serializer.RequestContext{"user": "u1"})
	if err := n.Info(ctx, "e", "hello"); err != nil {
		t.Fatal(err)
	}
	r := rec.Notifications()
	if len(r) != 1 || r[0].Payload != "HELLO" || r[0].Context["serialized"] != true || r[0].Context["user"] != "u1" {
		t.Fatalf("recorded %+v", r)
	}
	n, _ = notify.New(tr, notify.Driver("test"), notify.Record(&rec), notify.WithSerializer(failingSerializer{}))
	if err := n.Info(ctx, "e", "x"); err == nil || !strings.Contains(err.Error(), "notify: serializing payload: boom") {
		t.Fatalf("failing serializer: %v", err)
	}
}

func TestContextKeys(t *testing.T) {
	tr := notifytest.Open(t, notifytest.FakeURL(t))
	rc := serializer.RequestContext{"request_id": "req-1", "auth_token": "secret",
		"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "tracestate": "k=v"}
	ctx := serializer.WithRequestContext(notifytest.Ctx(t), rc)
	for _, tc := range []struct {
		name string
		opts []notify.Option
		want []string
	}{
		{"oslo's allowlist", nil, []string{"request_id"}},
		{"trace context", []notify.Option{notify.ContextKeys("traceparent"), notify.ContextKeys("tracestate")}, []string{"request_id", "traceparent", "tracestate"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rec notify.Recorder
			n, err := notify.New(tr, append(tc.opts, notify.Driver("test"), notify.Record(&rec))...)
			if err != nil {
				t.Fatal(err)
			}
			if err := n.Info(ctx, "e", "x"); err != nil {
				t.Fatal(err)
			}
			r := rec.Notifications()
			if len(r) != 1 || !slices.Equal(keysOf(r[0].Context), tc.want) {
				t.Fatalf("recorded %+v, want context keys %v", r, tc.want)
			}
			for _, k := range tc.want {
				if r[0].Context[k] != rc[k] {
					t.Errorf("context[%s] = %v, want %v", k, r[0].Context[k], rc[k])
				}
			}
		})
	}
}

func TestLogDriver(t *testing.T) {
	h := &notifytest.Logs{}
	tr := notifytest.Open(t, notifytest.FakeURL(t))
	raw := notifytest.ListenRaw(t, tr, "notifications.info")
	n, err := notify.New(tr, notify.Driver("log"), notify.WithLogger(slog.New(h)), notify.PublisherID("api.host"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := notifytest.Ctx(t)
	levels := map[string]slog.Level{
		"audit": notify.LevelAudit, "debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn,
		"error": slog.LevelError, "critical": notify.LevelCritical, "sample": notify.LevelSample,
	}
	for _, p := range []string{"audit", "debug", "info", "warn", "error", "critical", "sample"} {
		pl := map[string]any{"user": "bob", "admin_password": "hunter2", "nested": map[string]any{"auth_token": "t", "n": 12345678901234567}}
		if err := n.Notify(ctx, p, "identity.user."+p, pl); err != nil {
			t.Fatal(err)
		}
	}
	recs := h.Records()
	if len(recs) != len(levels) {
		t.Fatalf("%d records", len(recs))
	}
	for _, r := range recs {
		var msg struct {
			MessageID   string         `json:"message_id"`
			PublisherID string         `json:"publisher_id"`
			EventType   string         `json:"event_type"`
			Priority    string         `json:"priority"`
			Payload     map[string]any `json:"payload"`
			Timestamp   string         `json:"timestamp"`
		}
		d := json.NewDecoder(strings.NewReader(r.Message))
		d.UseNumber()
		if err := d.Decode(&msg); err != nil {
			t.Fatalf("message %q: %v", r.Message, err)
		}
		p := strings.ToLower(msg.Priority)
		if r.Level != levels[p] || notifytest.Attr(r, "logger") != "oslo.messaging.notification.identity.user."+p ||
			msg.PublisherID != "api.host" || !notifytest.UUIDRE.MatchString(msg.MessageID) || !notifytest.TimestampRE.MatchString(msg.Timestamp) {
			t.Errorf("record %v %q %v", r.Level, r.Message, notifytest.Attr(r, "logger"))
		}
		nested, _ := msg.Payload["nested"].(map[string]any)
		if msg.Payload["user"] != "bob" || msg.Payload["admin_password"] != "***" || nested["auth_token"] != "***" ||
			nested["n"] != json.Number("12345678901234567") {
			t.Errorf("payload not masked as oslo does: %v", msg.Payload)
		}
		if !strings.HasPrefix(r.Message, `{"message_id":`) {
			t.Errorf("keys not in oslo's order: %s", r.Message)
		}
	}
	raw.None(t, 20*time.Millisecond) // the log driver sends nothing

	// A logger at its default level drops DEBUG and SAMPLE.
	var buf bytes.Buffer
	n, _ = notify.New(tr, notify.Driver("log"), notify.WithLogger(slog.New(slog.NewTextHandler(&buf, nil))))
	n.Debug(ctx, "notifytest.Quiet", nil)
	n.Sample(ctx, "notifytest.Quiet", nil)
	if buf.Len() != 0 {
		t.Fatalf("logged below Info: %s", buf.String())
	}
	n.Critical(ctx, "loud", nil)
	if !strings.Contains(buf.String(), "level=ERROR+4") || !strings.Contains(buf.String(), "logger=oslo.messaging.notification.loud") {
		t.Fatalf("critical: %s", buf.String())
	}
}

func TestNewErrors(t *testing.T) {
	tr := notifytest.Open(t, notifytest.FakeURL(t))
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("group: [not, a, mapping]\n"), 0o600)
	loop := filepath.Join(dir, "loop.yaml")
	os.WriteFile(loop, []byte("g:\n  routing: {}\n"), 0o600)
	for _, c := range []struct {
		name string
		tr   *transport.Transport
		opts []notify.Option
		want string
	}{
		{"nil transport", nil, nil, "notify: nil transport"},
		{"unknown driver", tr, []notify.Option{notify.Driver("kafka")}, `notify: unknown driver "kafka"`},
		{"no drivers", tr, []notify.Option{notify.Driver()}, "notify: Driver needs at least one"},
		{"no topics", tr, []notify.Option{notify.Topics()}, "notify: Topics needs at least one"},
		{"empty topic", tr, []notify.Option{notify.Topics("a", "")}, "notify: empty topic"},
		{"test without recorder", tr, []notify.Option{notify.Driver("test")}, "notify: the test driver needs a Recorder"},
		{"routing without rules", tr, []notify.Option{notify.Driver("routing")}, "notify: the routing driver needs RoutingConfig or RoutingRules"},
		{"routing missing file", tr, []notify.Option{notify.Driver("routing"), notify.RoutingConfig(filepath.Join(dir, "nope.yaml"))}, "notify: routing config: open"},
		{"routing bad file", tr, []notify.Option{notify.Driver("routing"), notify.RoutingConfig(bad)}, `group "group": want a mapping`},
		{"routing to routing", tr, []notify.Option{notify.Driver("routing"), notify.RoutingConfig(loop)}, "cannot name the routing driver"},
		{"routing unknown driver", tr, []notify.Option{notify.Driver("routing"), notify.RoutingRules(notify.RoutingRule{Driver: "smtp"})}, `notify: routing rule: unknown driver "smtp"`},
		{"routing test without recorder", tr, []notify.Option{notify.Driver("routing"), notify.RoutingRules(notify.RoutingRule{Driver: "test"})}, "notify: routing rule: the test driver needs a Recorder"},
		{"routing bad pattern", tr, []notify.Option{notify.Driver("routing"), notify.RoutingRules(notify.RoutingRule{Driver: "log", Events: []string{"[z-a]"}})}, `pattern "[z-a]"`},
	} {
		_, err := notify.New(c.tr, c.opts...)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "notify: ") {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
}

func TestSendErrorsJoined(t *testing.T) {
	tr := notifytest.Open(t, notifytest.FakeURL(t))
	var rec notify.Recorder
	n, err := notify.New(tr, notify.Driver("messagingv2", "test"), notify.Record(&rec), notify.Topics("a", "b"))
	if err != nil {
		t.Fatal(err)
	}
	tr.Close()
	err = n.Error(notifytest.Ctx(t), "compute.fail", nil)
	if !errors.Is(err, transport.ErrClosed) || !strings.Contains(err.Error(), "to a.error") || !strings.Contains(err.Error(), "to b.error") {
		t.Fatalf("err = %v", err)
	}
	// The other drivers still got the notification.
	if len(rec.Notifications()) != 1 {
		t.Fatal("a failing driver stopped the others")
	}
}

func TestMessagingDriverNeedsNotifications(t *testing.T) {
	tr, err := transport.Open(notifytest.Ctx(t), "zmq:///"+t.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	for _, d := range []string{"messagingv2", "messaging"} {
		if _, err := notify.New(tr, notify.Driver(d)); !errors.Is(err, transport.ErrNotificationsUnsupported) {
			t.Errorf("%s on zmq: err = %v, want ErrNotificationsUnsupported", d, err)
		}
	}
	if _, err := notify.New(tr, notify.Driver("log")); err != nil {
		t.Errorf("log driver on zmq: %v", err)
	}
}
