package interop

import (
	"context"
	"encoding/json"
	"io"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oslo-go/messaging/internal/wire"
	"github.com/oslo-go/messaging/notify"
	"github.com/oslo-go/messaging/notify/listener"
	"github.com/oslo-go/messaging/serializer"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
)

// priorities are oslo's, in oslo's order.
var priorities = wire.Priorities[:]

// notificationQueues names the queues a notifier and listeners of topic
// use: <topic>.<priority>, and the pools' queues.
func notificationQueues(topic string, pools ...string) []string {
	var q []string
	for _, p := range priorities {
		q = append(q, topic+"."+p)
	}
	return append(q, pools...)
}

// received is one notification a Go listener got.
type received struct {
	Listener    string
	Priority    string // the endpoint method that got it
	PublisherID string
	EventType   string
	Payload     any
	Metadata    listener.Metadata
	Context     serializer.RequestContext
}

// recorder is a Go notification endpoint for every priority.
type recorder struct {
	name string
	mu   sync.Mutex
	got  []received
}

func (r *recorder) record(ctx context.Context, priority, publisherID, eventType string, payload any, md listener.Metadata) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, received{r.name, priority, publisherID, eventType, payload, md, serializer.RequestContextFrom(ctx)})
	return nil
}

func (r *recorder) Audit(ctx context.Context, pub, ev string, p any, md listener.Metadata) error {
	return r.record(ctx, "audit", pub, ev, p, md)
}

func (r *recorder) Debug(ctx context.Context, pub, ev string, p any, md listener.Metadata) error {
	return r.record(ctx, "debug", pub, ev, p, md)
}

func (r *recorder) Info(ctx context.Context, pub, ev string, p any, md listener.Metadata) error {
	return r.record(ctx, "info", pub, ev, p, md)
}

func (r *recorder) Warn(ctx context.Context, pub, ev string, p any, md listener.Metadata) error {
	return r.record(ctx, "warn", pub, ev, p, md)
}

func (r *recorder) Error(ctx context.Context, pub, ev string, p any, md listener.Metadata) error {
	return r.record(ctx, "error", pub, ev, p, md)
}

func (r *recorder) Critical(ctx context.Context, pub, ev string, p any, md listener.Metadata) error {
	return r.record(ctx, "critical", pub, ev, p, md)
}

func (r *recorder) Sample(ctx context.Context, pub, ev string, p any, md listener.Metadata) error {
	return r.record(ctx, "sample", pub, ev, p, md)
}

func (r *recorder) snapshot() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// await waits until the recorder has n notifications and returns them.
func (r *recorder) await(t testing.TB, n int) []received {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := r.snapshot()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("Go listener %s got %d notifications, want %d: %+v", r.name, len(got), n, got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startGoListener starts a Go notification listener on topic (in pool, if
// not empty), shut down when t ends.
func startGoListener(t testing.TB, tr *transport.Transport, topic, pool string, r *recorder) {
	t.Helper()
	var opts []listener.Option
	if pool != "" {
		opts = append(opts, listener.Pool(pool))
	}
	l, err := listener.New(tr, []target.Target{{Topic: topic}}, []any{r}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := l.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := l.Shutdown(ctx); err != nil {
			t.Errorf("shutting down Go listener %s: %v", r.name, err)
		}
		l.Close()
	})
}

// pythonSend sends notifications with python/notifications.py, one per
// spec: {"priority", "event_type", "payload", "context", "publisher_id",
// "driver"}.
func pythonSend(t testing.TB, topic string, specs ...map[string]any) {
	t.Helper()
	var in strings.Builder
	for _, s := range specs {
		in.WriteString(js(s) + "\n")
	}
	p := startPeer(t, "python notifier", "notifications.py", "send", "--url", brokerURL, "--topic", topic)
	if _, err := io.WriteString(p.stdin, in.String()); err != nil {
		t.Fatal(err)
	}
	p.stdin.Close()
	p.await(t, "its last sent line", 30*time.Second, func(l line) bool {
		return l["event"] == "sent" && num(l["n"]) == float64(len(specs)-1)
	})
}

var (
	dashedUUID  = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	osloTimeRE  = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})?$`)
	pyContext   = map[string]any{"user": "py-user", "project_id": "p-1", "request_id": "req-1", "roles": []any{"admin"}, "is_admin": false, "auth_token": "tok-secret", "custom": "x"}
	pyPayload   = map[string]any{"id": "vol-1", "size": json.Number("18446744073709551617"), "ratio": 0.5, "name": "données ✓", "tags": []any{map[string]any{"k": nil}}}
	pySafeCtxKs = []string{"user", "project_id", "request_id", "roles", "is_admin"}
)

// TestPythonNotifierGoListener sends notifications with Python's
// oslo.messaging Notifier to a Go listener.Listener: first while no Go
// listener runs (the Python notifier declares the queues; the Go listener
// gets them when it starts), then to the running listener.
func TestPythonNotifierGoListener(t *testing.T) {
	needPython(t)
	topic := uniqueTopic("pynotify")
	deleteQueues(t, notificationQueues(topic)...)
	tr := openTransport(t)
	r := &recorder{name: "go"}
	top := t

	check := func(t *testing.T, got received, priority, eventType, publisher string) {
		t.Helper()
		if got.Priority != priority || got.EventType != eventType || got.PublisherID != publisher {
			t.Errorf("got %s %q from %q, want %s %q from %q", got.Priority, got.EventType, got.PublisherID, priority, eventType, publisher)
		}
		if !sameJSON(t, got.Payload, pyPayload) {
			t.Errorf("%s payload %s, sent %s", eventType, js(got.Payload), js(pyPayload))
		}
		if !dashedUUID.MatchString(got.Metadata.MessageID) || !osloTimeRE.MatchString(got.Metadata.Timestamp) {
			t.Errorf("%s metadata %+v", eventType, got.Metadata)
		}
		if ts, err := notify.ParseTimestamp(got.Metadata.Timestamp); err != nil || time.Since(ts).Abs() > time.Minute {
			t.Errorf("%s timestamp %q: %v, %v", eventType, got.Metadata.Timestamp, ts, err)
		}
		// oslo.messaging 14.0.3 keeps only an allowlist of context keys
		// in notifications (_sanitize_context): auth_token and custom
		// keys never leave Python.
		want := map[string]any{}
		for _, k := range pySafeCtxKs {
			want[k] = pyContext[k]
		}
		if !sameJSON(t, got.Context, want) {
			t.Errorf("%s context %s, want %s", eventType, js(got.Context), js(want))
		}
	}
	spec := func(priority, eventType string) map[string]any {
		return map[string]any{"priority": priority, "event_type": eventType, "payload": pyPayload, "context": pyContext}
	}

	t.Run("SentWhileListenerDown", func(t *testing.T) {
		var specs []map[string]any
		for _, p := range priorities {
			specs = append(specs, spec(p, "interop.down."+p))
		}
		pythonSend(t, topic, specs...)
		startGoListener(top, tr, topic, "", r) // runs until the test ends
		got := r.await(t, len(priorities))
		slices.SortFunc(got, func(a, b received) int {
			return slices.Index(priorities, a.Priority) - slices.Index(priorities, b.Priority)
		})
		for i, p := range priorities {
			check(t, got[i], p, "interop.down."+p, "py.host")
		}
	})

	t.Run("ListenerRunning", func(t *testing.T) {
		if len(r.snapshot()) != len(priorities) {
			t.Skip("needs SentWhileListenerDown")
		}
		v1 := spec("error", "interop.v1")
		v1["driver"] = "messaging" // format 1.0: no envelope
		other := spec("info", "interop.prepared")
		other["publisher_id"] = "py.other" // Notifier.prepare(publisher_id=...)
		warning := spec("warning", "interop.warning")
		pythonSend(t, topic, spec("info", "interop.v2"), v1, other, warning)
		got := r.await(t, len(priorities)+4)[len(priorities):]
		byEvent := map[string]received{}
		for _, g := range got {
			byEvent[g.EventType] = g
		}
		check(t, byEvent["interop.v2"], "info", "interop.v2", "py.host")
		check(t, byEvent["interop.v1"], "error", "interop.v1", "py.host")
		check(t, byEvent["interop.prepared"], "info", "interop.prepared", "py.other")
		check(t, byEvent["interop.warning"], "warn", "interop.warning", "py.host") // warning is WARN
	})
}

// TestGoNotifierPythonListeners sends notifications with a Go
// notify.Notifier to Python oslo.messaging listeners: one without a pool
// and one alone in the pool "audit", which each get every notification,
// and a pool "billing" shared by a Python and a Go listener, which
// together get every notification once.
func TestGoNotifierPythonListeners(t *testing.T) {
	needPython(t)
	topic := uniqueTopic("gonotify")
	pool, auditPool := topic+"_billing", topic+"_audit"
	deleteQueues(t, notificationQueues(topic, pool, auditPool)...)

	pyListener := func(name string, args ...string) *peer {
		return startPeer(t, name, "notifications.py", append([]string{"listen", "--url", brokerURL, "--topic", topic, "--name", name}, args...)...)
	}
	plain := pyListener("py-plain")
	pooled := pyListener("py-pool", "--pool", pool)
	audit := pyListener("py-audit", "--pool", auditPool)
	awaitReady(t, plain, pooled, audit)
	awaitConsumers(t, pool, 1)
	awaitConsumers(t, auditPool, 1)
	for _, p := range priorities {
		awaitConsumers(t, topic+"."+p, 1)
	}
	tr := openTransport(t)
	goPooled := &recorder{name: "go-pool"}
	startGoListener(t, tr, topic, pool, goPooled)

	n, err := notify.New(tr, notify.PublisherID("go.host"), notify.Topics(topic))
	if err != nil {
		t.Fatal(err)
	}
	v1, err := notify.New(tr, notify.PublisherID("go.host"), notify.Topics(topic), notify.Driver("messaging"))
	if err != nil {
		t.Fatal(err)
	}
	rc := serializer.RequestContext{"user": "go-user", "request_id": "req-go", "roles": []string{"admin"}, "auth_token": "tok-secret", "custom": "x"}
	ctx := serializer.WithRequestContext(context.Background(), rc)
	payload := map[string]any{"id": "vol-1", "size": json.Number("18446744073709551617"), "name": "données ✓", "nested": map[string]any{"l": []any{1, nil, true}}}
	var all []sent
	for _, p := range priorities {
		ev := "interop.go." + p
		if err := n.Notify(ctx, p, ev, payload); err != nil {
			t.Fatal(err)
		}
		all = append(all, sent{p, ev})
	}
	if err := v1.Info(ctx, "interop.go.v1", payload); err != nil {
		t.Fatal(err)
	}
	all = append(all, sent{"info", "interop.go.v1"})

	t.Run("Unpooled", func(t *testing.T) { everyNotification(t, plain, all, rc, payload) })
	t.Run("PoolOfOne", func(t *testing.T) { everyNotification(t, audit, all, rc, payload) })

	t.Run("Pool", func(t *testing.T) {
		deadline := time.Now().Add(20 * time.Second)
		for {
			py, gl := notifications(pooled), goPooled.snapshot()
			if len(py)+len(gl) >= len(all) || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(200 * time.Millisecond)
		seen := map[string][]string{}
		for _, l := range notifications(pooled) {
			seen[l.str("event_type")] = append(seen[l.str("event_type")], "py-pool")
		}
		for _, g := range goPooled.snapshot() {
			seen[g.EventType] = append(seen[g.EventType], "go-pool")
			if g.PublisherID != "go.host" || !sameJSON(t, g.Payload, payload) || g.Context.String("request_id") != "req-go" {
				t.Errorf("Go pool member got %+v", g)
			}
		}
		for _, s := range all {
			if len(seen[s.eventType]) != 1 {
				t.Errorf("the pool got %s %d times (%v), want once", s.eventType, len(seen[s.eventType]), seen[s.eventType])
			}
		}
		t.Logf("the pool's split: %d to Python, %d to Go", len(notifications(pooled)), len(goPooled.snapshot()))
		if len(notifications(pooled)) == 0 || len(goPooled.snapshot()) == 0 {
			t.Errorf("the pool's members shared %v: each should get some", seen)
		}
	})
}

// sent is a notification the Go notifier sent.
type sent struct{ priority, eventType string }

func notifications(p *peer) []line {
	return p.find(func(l line) bool { return l["event"] == "notification" })
}

// everyNotification checks that the Python listener p got each of all,
// once, intact.
func everyNotification(t *testing.T, p *peer, all []sent, rc serializer.RequestContext, payload any) {
	for _, s := range all {
		l := p.await(t, s.eventType, 20*time.Second, func(l line) bool { return l["event_type"] == s.eventType })
		if l["priority"] != s.priority || l["publisher_id"] != "go.host" || !sameJSON(t, l["payload"], payload) {
			t.Errorf("%s got %s", p.name, js(l))
		}
		md := l.obj("metadata")
		if !dashedUUID.MatchString(md.str("message_id")) || !osloTimeRE.MatchString(md.str("timestamp")) {
			t.Errorf("%s metadata %s", s.eventType, js(md))
		}
		// Keys every oslo version sends with notifications arrive
		// intact (the tokens are TestGoNotifierSendsNoAuthToken's
		// business); oslo adds client_timeout.
		ctxt := l.obj("ctxt")
		for k, v := range rc {
			if k == "auth_token" || k == "custom" {
				continue
			}
			if !sameJSON(t, ctxt[k], v) {
				t.Errorf("%s context key %q arrived as %s, sent %s", s.eventType, k, js(ctxt[k]), js(v))
			}
		}
	}
	time.Sleep(200 * time.Millisecond)
	if got := notifications(p); len(got) != len(all) {
		t.Errorf("%s got %d notifications, want %d", p.name, len(got), len(all))
	}
}

// TestGoNotifierSendsNoAuthToken checks that the Go notifier keeps the
// request context's secrets off the notification bus, as oslo.messaging
// does since the fix for leaked tokens: 14.0.3 (Debian's) sends only an
// allowlist of context keys (notifier._sanitize_context), later versions
// send oslo.context's redacted_copy() and drop plain dicts. Notification
// consumers (billing, auditing) are not meant to see tokens.
//
// It fails today: notify.Notifier sends the whole request context, the
// auth token included (see the package's "Differences from oslo").
func TestGoNotifierSendsNoAuthToken(t *testing.T) {
	needBroker(t)
	topic := uniqueTopic("notifytoken")
	deleteQueues(t, notificationQueues(topic)...)
	tr := openTransport(t)
	n, err := notify.New(tr, notify.PublisherID("go.host"), notify.Topics(topic))
	if err != nil {
		t.Fatal(err)
	}
	c, err := amqpDial()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ch, err := c.Channel()
	if err != nil {
		t.Fatal(err)
	}
	// The queue the notifier declares (and a Python listener consumes).
	if _, err := ch.QueueDeclare(topic+".info", false, false, false, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind(topic+".info", topic+".info", transport.DefaultControlExchange, false, nil); err != nil {
		t.Fatal(err)
	}
	deliveries, err := ch.Consume(topic+".info", "", true, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := serializer.WithRequestContext(context.Background(), serializer.RequestContext{
		"user": "go-user", "request_id": "req-1", "auth_token": "tok-secret"})
	if err := n.Info(ctx, "interop.token", map[string]any{}); err != nil {
		t.Fatal(err)
	}
	var d []byte
	select {
	case del := <-deliveries:
		d = del.Body
	case <-time.After(10 * time.Second):
		t.Fatal("no notification")
	}
	var env struct {
		Message string `json:"oslo.message"`
	}
	var msg map[string]any
	if err := json.Unmarshal(d, &env); err != nil || json.Unmarshal([]byte(env.Message), &msg) != nil {
		t.Fatalf("notification body %s: %v", d, err)
	}
	if msg["_context_user"] != "go-user" || msg["_context_request_id"] != "req-1" {
		t.Errorf("context keys oslo keeps are missing: %s", env.Message)
	}
	if tok, ok := msg["_context_auth_token"]; ok {
		t.Errorf("the notification carries the request's auth token (_context_auth_token=%v); oslo.messaging never sends it", tok)
	}
}
