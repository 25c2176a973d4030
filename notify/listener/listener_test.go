package listener_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oslo-go/messaging/internal/engine"
	"github.com/oslo-go/messaging/internal/wire"
	"github.com/oslo-go/messaging/notify"
	"github.com/oslo-go/messaging/notify/internal/notifytest"
	"github.com/oslo-go/messaging/notify/listener"
	"github.com/oslo-go/messaging/serializer"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport/driver"
)

// TestListenerFake runs the listener suite on the in-memory driver.
func TestListenerFake(t *testing.T) { runListenerSuite(t, notifytest.FakeURL) }

// runListenerSuite is the listener's behaviour over any driver that
// implements driver.Notifier. url returns the transport URL for a test;
// the URLs returned for one test must reach the same broker. Topics are
// unique per test, so the suite can share a real broker:
//
//	func TestListenerRabbit(t *testing.T) {
//		runListenerSuite(t, func(testing.TB) string { return os.Getenv("RABBIT_URL") })
//	}
func runListenerSuite(t *testing.T, url func(testing.TB) string) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, func(testing.TB) string)
	}{
		{"DeliveredWhenStarted", testDeliveredWhenStarted},
		{"Pools", testPools},
		{"Requeue", testRequeue},
		{"NoRequeueAcks", testNoRequeueAcks},
		{"StopsAtFirstFailure", testStopsAtFirstFailure},
		{"Filters", testFilters},
		{"OnlyHandledPriorities", testOnlyHandledPriorities},
		{"PythonNotificationAndDuplicates", testPythonNotification},
		{"UnknownPriority", testUnknownPriority},
		{"Serializer", testListenerSerializer},
		{"BatchBySize", testBatchBySize},
		{"BatchByTimeout", testBatchByTimeout},
		{"BatchRequeue", testBatchRequeue},
		{"BatchShutdownFlushesPartial", testBatchShutdown},
		{"PanicIsAFailure", testPanic},
		{"ShutdownInFlight", testShutdownInFlight},
		{"ShutdownTimeoutThenClose", testShutdownTimeoutThenClose},
		{"Lifecycle", testLifecycle},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, url)
		})
	}
}

// settleTime is how long tests wait to see that nothing more arrives.
const settleTime = 150 * time.Millisecond

// event is one call of an endpoint method.
type event struct {
	prio, publisherID, eventType string
	payload                      any
	md                           listener.Metadata
	rc                           serializer.RequestContext
}

// sink records the calls of endpoint methods.
type sink struct {
	ch    chan event
	calls atomic.Int32
	fail  func(event) error
}

func newSink() *sink { return &sink{ch: make(chan event, 1000)} }

func (s *sink) record(ctx context.Context, prio, pub, ev string, p any, md listener.Metadata) error {
	e := event{prio: prio, publisherID: pub, eventType: ev, payload: p, md: md, rc: serializer.RequestContextFrom(ctx)}
	s.calls.Add(1)
	s.ch <- e
	if s.fail != nil {
		return s.fail(e)
	}
	return nil
}

func (s *sink) wait(t testing.TB, n int) []event {
	t.Helper()
	var got []event
	timeout := time.NewTimer(10 * time.Second)
	defer timeout.Stop()
	for len(got) < n {
		select {
		case e := <-s.ch:
			got = append(got, e)
		case <-timeout.C:
			t.Fatalf("got %d notifications, want %d: %+v", len(got), n, got)
		}
	}
	return got
}

func (s *sink) none(t testing.TB) {
	t.Helper()
	select {
	case e := <-s.ch:
		t.Fatalf("unexpected notification %+v", e)
	case <-time.After(settleTime):
	}
}

type payload struct {
	InstanceID string `json:"instance_id"`
	State      string `json:"state"`
}

// typed handles info and warn with a struct payload.
type typed struct{ *sink }

func (e typed) Info(ctx context.Context, pub, ev string, p payload, md listener.Metadata) error {
	return e.record(ctx, "info", pub, ev, p, md)
}

func (e typed) Warn(ctx context.Context, pub, ev string, p payload, md listener.Metadata) error {
	return e.record(ctx, "warn", pub, ev, p, md)
}

// generic handles info, warn and error with any payload.
type generic struct{ *sink }

func (e generic) Info(ctx context.Context, pub, ev string, p any, md listener.Metadata) error {
	return e.record(ctx, "info", pub, ev, p, md)
}

func (e generic) Warn(ctx context.Context, pub, ev string, p any, md listener.Metadata) error {
	return e.record(ctx, "warn", pub, ev, p, md)
}

func (e generic) Error(ctx context.Context, pub, ev string, p any, md listener.Metadata) error {
	return e.record(ctx, "error", pub, ev, p, md)
}

// errorsOnly handles error with a raw payload.
type errorsOnly struct{ *sink }

func (e errorsOnly) Error(ctx context.Context, pub, ev string, p serializer.Raw, md listener.Metadata) error {
	return e.record(ctx, "error", pub, ev, string(p.Data), md)
}

func notifier(t testing.TB, url string, topic string, opts ...notify.Option) *notify.Notifier {
	t.Helper()
	n, err := notify.New(notifytest.Open(t, url), append([]notify.Option{notify.Topics(topic), notify.PublisherID("compute.host1")}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func start(t testing.TB, url, topic string, endpoints []any, opts ...listener.Option) *listener.Listener {
	t.Helper()
	opts = append([]listener.Option{listener.WithLogger(notifytest.Quiet)}, opts...)
	l, err := listener.New(notifytest.Open(t, url), []target.Target{{Topic: topic}}, endpoints, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Start(notifytest.Ctx(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Shutdown(notifytest.Ctx(t)); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		l.Close()
	})
	return l
}

func rcCtx(t testing.TB, rc serializer.RequestContext) context.Context {
	return serializer.WithRequestContext(notifytest.Ctx(t), rc)
}

func testDeliveredWhenStarted(t *testing.T, url func(testing.TB) string) {
	topic := notifytest.UniqueTopic("delivered")
	n := notifier(t, url(t), topic)
	ctx := rcCtx(t, serializer.RequestContext{"request_id": "req-1", "roles": []any{"admin"}})
	for i := range 3 {
		if err := n.Info(ctx, "compute.instance.create.end", payload{fmt.Sprintf("i-%d", i), "ACTIVE"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := n.Prepare(notify.PublisherID("compute.host2")).Warn(ctx, "compute.instance.slow", payload{"i-9", "SLOW"}); err != nil {
		t.Fatal(err)
	}
	s := newSink()
	start(t, url(t), topic, []any{typed{s}})
	got := s.wait(t, 4)
	var infos []string
	for _, e := range got {
		if !notifytest.UUIDRE.MatchString(e.md.MessageID) || !notifytest.TimestampRE.MatchString(e.md.Timestamp) ||
			e.rc.String("request_id") != "req-1" || fmt.Sprint(e.rc["roles"]) != "[admin]" {
			t.Fatalf("event %+v", e)
		}
		p := e.payload.(payload)
		switch e.prio {
		case "info":
			if e.publisherID != "compute.host1" || e.eventType != "compute.instance.create.end" || p.State != "ACTIVE" {
				t.Fatalf("info %+v", e)
			}
			infos = append(infos, p.InstanceID)
		case "warn":
			if e.publisherID != "compute.host2" || p != (payload{"i-9", "SLOW"}) {
				t.Fatalf("warn %+v", e)
			}
		}
	}
	slices.Sort(infos)
	if !slices.Equal(infos, []string{"i-0", "i-1", "i-2"}) {
		t.Fatalf("infos %v", infos)
	}
	s.none(t)
}

func testPools(t *testing.T, url func(testing.TB) string) {
	topic := notifytest.UniqueTopic("pools")
	p, q := notifytest.UniqueTopic("pool-p"), notifytest.UniqueTopic("pool-q")
	a, b1, b2, c := newSink(), newSink(), newSink(), newSink()
	start(t, url(t), topic, []any{generic{a}})
	start(t, url(t), topic, []any{generic{b1}}, listener.Pool(p))
	start(t, url(t), topic, []any{generic{b2}}, listener.Pool(p))
	start(t, url(t), topic, []any{generic{c}}, listener.Pool(q))
	n := notifier(t, url(t), topic)
	const count = 10
	for i := range count {
		if err := n.Info(notifytest.Ctx(t), "e", i); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(es []event) []string {
		var out []string
		for _, e := range es {
			out = append(out, e.md.MessageID)
		}
		slices.Sort(out)
		return out
	}
	all := ids(a.wait(t, count))
	if got := ids(c.wait(t, count)); !slices.Equal(got, all) {
		t.Fatalf("pool q got %v, want %v", got, all)
	}
	// The two listeners of pool p share the notifications.
	var shared []event
	deadline := time.Now().Add(10 * time.Second)
	for len(shared) < count && time.Now().Before(deadline) {
		select {
		case e := <-b1.ch:
			shared = append(shared, e)
		case e := <-b2.ch:
			shared = append(shared, e)
		case <-time.After(10 * time.Millisecond):
		}
	}
	if got := ids(shared); !slices.Equal(got, all) {
		t.Fatalf("pool p got %v, want each of %v once", got, all)
	}
	for _, s := range []*sink{a, b1, b2, c} {
		s.none(t)
	}
	t.Logf("pool p split: %d + %d", b1.calls.Load(), b2.calls.Load())
}

func testRequeue(t *testing.T, url func(testing.TB) string) {
	for _, c := range []struct {
		name   string
		err    error
		logged bool
	}{
		{"error", errors.New("database is down"), true},
		{"ErrRequeue", fmt.Errorf("later: %w", listener.ErrRequeue), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			topic := notifytest.UniqueTopic("requeue")
			s := newSink()
			var seen sync.Map
			s.fail = func(e event) error {
				if _, again := seen.LoadOrStore(e.md.MessageID, true); again {
					return nil
				}
				return c.err
			}
			h := &notifytest.Logs{}
			start(t, url(t), topic, []any{generic{s}}, listener.AllowRequeue(true), listener.WithLogger(slog.New(h)))
			if err := notifier(t, url(t), topic).Info(notifytest.Ctx(t), "e", "x"); err != nil {
				t.Fatal(err)
			}
			got := s.wait(t, 2)
			if got[0].md.MessageID != got[1].md.MessageID {
				t.Fatalf("not a redelivery: %+v", got)
			}
			s.none(t) // handled the second time: acknowledged
			errLogged := false
			for _, r := range h.Records() {
				if r.Level == slog.LevelError && strings.Contains(r.Message, "handler failed") {
					errLogged = true
				}
			}
			if errLogged != c.logged {
				t.Fatalf("error logged = %v, want %v", errLogged, c.logged)
			}
		})
	}
}

func testNoRequeueAcks(t *testing.T, url func(testing.TB) string) {
	topic := notifytest.UniqueTopic("norequeue")
	s := newSink()
	s.fail = func(event) error { return listener.ErrRequeue }
	h := &notifytest.Logs{}
	l := start(t, url(t), topic, []any{generic{s}}, listener.WithLogger(slog.New(h)))
	n := notifier(t, url(t), topic)
	if err := n.Info(notifytest.Ctx(t), "e", "x"); err != nil {
		t.Fatal(err)
	}
	s.wait(t, 1)
	s.none(t) // acknowledged anyway
	if err := l.Shutdown(notifytest.Ctx(t)); err != nil {
		t.Fatal(err)
	}
	// Nothing left in the queue for the next listener.
	s2 := newSink()
	start(t, url(t), topic, []any{generic{s2}})
	n.Info(notifytest.Ctx(t), "marker", nil)
	if e := s2.wait(t, 1)[0]; e.eventType != "marker" {
		t.Fatalf("failed notification came back: %+v", e)
	}
	s2.none(t)
}

func testStopsAtFirstFailure(t *testing.T, url func(testing.TB) string) {
	topic := notifytest.UniqueTopic("order")
	first, failing, last := newSink(), newSink(), newSink()
	var fail atomic.Bool
	fail.Store(true)
	failing.fail = func(event) error {
		if fail.Load() {
			return errors.New("no")
		}
		return nil
	}
	start(t, url(t), topic, []any{generic{first}, generic{failing}, generic{last}})
	n := notifier(t, url(t), topic)
	n.Info(notifytest.Ctx(t), "e", nil)
	first.wait(t, 1)
	failing.wait(t, 1)
	last.none(t)
	// A priority the failing endpoint also handles, but that succeeds:
	// every endpoint runs, in list order.
	fail.Store(false)
	n.Warn(notifytest.Ctx(t), "e", nil)
	first.wait(t, 1)
	failing.wait(t, 1)
	last.wait(t, 1)
	failing.none(t) // no redelivery: the failed one was acknowledged
}

func testFilters(t *testing.T, url func(testing.TB) string) {
	topic := notifytest.UniqueTopic("filters")
	type fcase struct {
		name string
		f    listener.Filter
		want []string // event types received
	}
	cases := []fcase{
		{"publisher prefix", listener.Filter{PublisherID: "compute"}, []string{"compute.instance.create.end", "compute.y"}},
		{"publisher anchored at start", listener.Filter{PublisherID: "host1"}, nil},
		{"publisher search", listener.Filter{PublisherID: ".*host1"}, []string{"compute.instance.create.end"}},
		{"event", listener.Filter{EventType: `.*\.create`}, []string{"compute.instance.create.end", "network.port.create"}},
		{"event full", listener.Filter{EventType: `network\.port\.create$`}, []string{"network.port.create"}},
		{"event alternation stays anchored", listener.Filter{EventType: `port|instance`}, nil},
		{"context", listener.Filter{Context: map[string]string{"project_id": "p1"}}, []string{"compute.instance.create.end"}},
		{"context non-string", listener.Filter{Context: map[string]string{"is_admin": "True"}}, nil},
		{"context missing key", listener.Filter{Context: map[string]string{"user": ".*"}}, nil},
		{"payload", listener.Filter{Payload: map[string]string{"state": "ACT"}}, []string{"compute.instance.create.end"}},
		{"payload non-string", listener.Filter{Payload: map[string]string{"size": "3"}}, nil},
		{"metadata", listener.Filter{Metadata: map[string]string{"message_id": "[0-9a-f]{8}-", "timestamp": `\d{4}-`}}, []string{"compute.instance.create.end", "network.port.create", "compute.y"}},
		{"metadata mismatch", listener.Filter{Metadata: map[string]string{"timestamp": "1999"}}, nil},
		{"fields ANDed", listener.Filter{PublisherID: "compute", Payload: map[string]string{"state": "DOWN"}}, nil},
	}
	sinks := make([]*sink, len(cases))
	var eps []any
	for i, c := range cases {
		sinks[i] = newSink()
		eps = append(eps, listener.Filtered(generic{sinks[i]}, c.f))
	}
	all := newSink() // last: when it has seen a notification, every filter has run
	eps = append(eps, generic{all})
	start(t, url(t), topic, eps, listener.MaxConcurrency(1))
	n := notifier(t, url(t), topic)
	ctx := rcCtx(t, serializer.RequestContext{"project_id": "p1", "is_admin": true})
	n.Info(ctx, "compute.instance.create.end", map[string]any{"state": "ACTIVE", "size": 3})
	n.Prepare(notify.PublisherID("network.host2")).Info(rcCtx(t, serializer.RequestContext{"project_id": "p2"}), "network.port.create", map[string]any{"state": "DOWN"})
	n.Prepare(notify.PublisherID("compute.x")).Info(notifytest.Ctx(t), "compute.y", "a string payload")
	all.wait(t, 3)
	for i, c := range cases {
		var got []string
		for len(sinks[i].ch) > 0 {
			got = append(got, (<-sinks[i].ch).eventType)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}

func testOnlyHandledPriorities(t *testing.T, url func(testing.TB) string) {
	topic := notifytest.UniqueTopic("prios")
	s := newSink()
	tr := notifytest.Open(t, url(t))
	raw := notifytest.ListenRaw(t, tr, topic+".info")
	l := start(t, url(t), topic, []any{errorsOnly{s}})
	if got := l.Targets(); len(got) != 1 || got[0].Topic != topic+".error" {
		t.Fatalf("Targets = %v", got)
	}
	n := notifier(t, url(t), topic)
	n.Info(notifytest.Ctx(t), "not.for.us", nil)
	n.Error(notifytest.Ctx(t), "for.us", map[string]int{"code": 500})
	e := s.wait(t, 1)[0]
	if e.eventType != "for.us" || e.payload != `{"code":500}` {
		t.Fatalf("event %+v", e)
	}
	if m := raw.Next(t); !strings.Contains(string(m.Body), "not.for.us") {
		t.Fatalf("info queue has %s", m.Body)
	}
	s.none(t)
}

func testPythonNotification(t *testing.T, url func(testing.TB) string) {
	topic := notifytest.UniqueTopic("python")
	tr := notifytest.Open(t, url(t))
	body := []byte(notifytest.LoadCapture(t, "notification_info").Body)
	tg := engine.Of(tr).ResolveTarget(target.Target{Topic: topic + ".info"})
	s := newSink()
	start(t, url(t), topic, []any{generic{s}}, listener.MaxConcurrency(1))
	nt := engine.Of(tr).Driver().(driver.Notifier)
	for range 2 { // the same message twice: same _unique_id
		if err := nt.Notify(notifytest.Ctx(t), tg, &driver.Message{Body: body, ContentType: "application/json"}); err != nil {
			t.Fatal(err)
		}
	}
	notifier(t, url(t), topic).Info(notifytest.Ctx(t), "marker", nil)
	got := s.wait(t, 2)
	e := got[0]
	p, _ := e.payload.(map[string]any)
	if e.publisherID != "trove-taskmanager.host1" || e.eventType != "trove.instance.create.end" ||
		e.md != (listener.Metadata{MessageID: "cddce253-aee7-45ba-8458-774a7fc52cf7", Timestamp: "2026-11-21 18:39:08.747924"}) ||
		p["instance_id"] != "i-1" || p["state"] != "ACTIVE" ||
		e.rc.String("user") != "u1" || e.rc.String("project_id") != "p1" || e.rc.String("request_id") != "req-4f5c" || e.rc["is_admin"] != false {
		t.Fatalf("Python notification: %+v", e)
	}
	if got[1].eventType != "marker" {
		t.Fatalf("the duplicate was delivered: %+v", got[1])
	}
	s.none(t)
}

func testUnknownPriority(t *testing.T, url func(testing.TB) string) {
	topic := notifytest.UniqueTopic("unknown")
	tr := notifytest.Open(t, url(t))
	s := newSink()
	h := &notifytest.Logs{}
	start(t, url(t), topic, []any{generic{s}}, listener.WithLogger(slog.New(h)), listener.MaxConcurrency(1))
	err := engine.Of(tr).Notify(notifytest.Ctx(t), target.Target{Topic: topic + ".info"}, &wire.Notification{
		MessageID: "m", EventType: "odd", Priority: "VERBOSE", Timestamp: notify.FormatTimestamp(time.Now()),
	}, true, engine.SendOptions{})
	if err != nil {
		t.Fatal(err)
	}
	notifier(t, url(t), topic).Info(notifytest.Ctx(t), "marker", nil)
	if e := s.wait(t, 1)[0]; e.eventType != "marker" {
		t.Fatalf("got %+v", e)
	}
	s.none(t)
	warned := false
	for _, r := range h.Records() {
		if r.Level == slog.LevelWarn && strings.Contains(r.Message, "unknown priority") && notifytest.Attr(r, "priority") == "VERBOSE" {
			warned = true
		}
	}
	if !warned {
		t.Fatal("unknown priority not logged")
	}
}

// tagging is a serializer whose hooks mark what they saw.
type tagging struct{}

func (tagging) SerializeEntity(_ context.Context, e any) (any, error) { return e, nil }
func (tagging) DeserializeEntity(_ context.Context, e any) (any, error) {
	if m, ok := e.(map[string]any); ok {
		m["state"] = strings.ToLower(m["state"].(string))
	}
	return e, nil
}
func (tagging) SerializeContext(ctx context.Context) (map[string]any, error) {
	return serializer.RequestContextFrom(ctx), nil
}
func (tagging) DeserializeContext(ctx context.Context, rc map[string]any) (context.Context, error) {
	rc = serializer.RequestContext(rc).Clone()
	rc["deserialized"] = true
	return serializer.WithRequestContext(ctx, rc), nil
}

func testListenerSerializer(t *testing.T, url func(testing.TB) string) {
	topic := notifytest.UniqueTopic("serializer")
	st, gen := newSink(), newSink()
	start(t, url(t), topic, []any{typed{st}, generic{gen}}, listener.WithSerializer(tagging{}))
	notifier(t, url(t), topic).Info(rcCtx(t, serializer.RequestContext{"user": "u"}), "e", payload{"i-1", "ACTIVE"})
	for _, e := range []event{st.wait(t, 1)[0], gen.wait(t, 1)[0]} {
		if e.rc["deserialized"] != true || e.rc.String("user") != "u" {
			t.Fatalf("context %+v", e.rc)
		}
		switch p := e.payload.(type) {
		case payload:
			if p.State != "active" {
				t.Fatalf("typed payload %+v", p)
			}
		case map[string]any:
			if p["state"] != "active" {
				t.Fatalf("generic payload %+v", p)
			}
		}
	}
}

// batcher handles info and warn in batches.
type batcher struct {
	ch   chan []listener.Message
	fail atomic.Int32 // calls left to fail
}

func newBatcher() *batcher { return &batcher{ch: make(chan []listener.Message, 100)} }

func (b *batcher) Info(_ context.Context, msgs []listener.Message) error {
	b.ch <- msgs
	if b.fail.Add(-1) >= 0 {
		return errors.New("batch failed")
	}
	return nil
}

func (b *batcher) Warn(ctx context.Context, msgs []listener.Message) error { return b.Info(ctx, msgs) }

func (b *batcher) next(t testing.TB) []listener.Message {
	t.Helper()
	select {
	case m := <-b.ch:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no batch")
	}
	return nil
}

func (b *batcher) none(t testing.TB) {
	t.Helper()
	select {
	case m := <-b.ch:
		t.Fatalf("unexpected batch of %d", len(m))
	case <-time.After(settleTime):
	}
}

func testBatchBySize(t *testing.T, url func(testing.TB) string) {
	topic := notifytest.UniqueTopic("batchsize")
	b := newBatcher()
	start(t, url(t), topic, []any{b}, listener.Batch(3, time.Hour))
	n := notifier(t, url(t), topic)
	ctx := rcCtx(t, serializer.RequestContext{"request_id": "req-b"})
	for i := range 6 {
		if err := n.Info(ctx, "e", payload{InstanceID: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	var ids []string
	for range 2 {
		msgs := b.next(t)
		if len(msgs) != 3 {
			t.Fatalf("batch of %d", len(msgs))
		}
		for _, m := range msgs {
			var p payload
			if err := m.Payload.Decode(&p); err != nil {
				t.Fatal(err)
			}
			if m.Priority != "info" || m.EventType != "e" || m.PublisherID != "compute.host1" ||
				serializer.RequestContextFrom(m.Context).String("request_id") != "req-b" || !notifytest.UUIDRE.MatchString(m.Metadata.MessageID) {
				t.Fatalf("message %+v", m)
			}
			ids = append(ids, p.InstanceID)
		}
	}
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"0", "1", "2", "3", "4", "5"}) {
		t.Fatalf("payloads %v", ids)
	}
	b.none(t)
}

func testBatchByTimeout(t *testing.T, url func(testing.TB) string) {
	topic := notifytest.UniqueTopic("batchtime")
	b := newBatcher()
	const timeout = 200 * time.Millisecond
	start(t, url(t), topic, []any{b}, listener.Batch(100, timeout))
	n := notifier(t, url(t), topic)
	start := time.Now()
	n.Info(notifytest.Ctx(t), "a", nil)
	n.Info(notifytest.Ctx(t), "b", nil)
	msgs := b.next(t)
	if len(msgs) != 2 || time.Since(start) < timeout/2 {
		t.Fatalf("batch of %d after %v", len(msgs), time.Since(start))
	}
	b.none(t)
	// Two priorities in one batch: one call per priority.
	n.Warn(notifytest.Ctx(t), "w", nil)
	n.Info(notifytest.Ctx(t), "i", nil)
	got := map[string]int{}
	for range 2 {
		msgs := b.next(t)
		got[msgs[0].Priority] += len(msgs)
	}
	if got["info"] != 1 || got["warn"] != 1 {
		t.Fatalf("per priority: %v", got)
	}
}

func testBatchRequeue(t *testing.T, url func(testing.TB) string) {
	topic := notifytest.UniqueTopic("batchrequeue")
	b := newBatcher()
	b.fail.Store(1)
	start(t, url(t), topic, []any{b}, listener.Batch(2, time.Hour), listener.AllowRequeue(true))
	n := notifier(t, url(t), topic)
	n.Info(notifytest.Ctx(t), "a", nil)
	n.Info(notifytest.Ctx(t), "b", nil)
	first, second := b.next(t), b.next(t)
	idsOf := func(ms []listener.Message) []string {
		var s []string
		for _, m := range ms {
			s = append(s, m.Metadata.MessageID)
		}
		slices.Sort(s)
		return s
	}
	if len(first) != 2 || !slices.Equal(idsOf(first), idsOf(second)) {
		t.Fatalf("requeued batch %v, then %v", idsOf(first), idsOf(second))
	}
	b.none(t)
}

func testBatchShutdown(t *testing.T, url func(testing.TB) string) {
	topic := notifytest.UniqueTopic("batchshutdown")
	b := newBatcher()
	l := start(t, url(t), topic, []any{b}, listener.Batch(10, time.Hour))
	n := notifier(t, url(t), topic)
	n.Info(notifytest.Ctx(t), "a", nil)
	n.Info(notifytest.Ctx(t), "b", nil)
	time.Sleep(settleTime) // let the listener take them into its batch
	b.none(t)
	if err := l.Shutdown(notifytest.Ctx(t)); err != nil {
		t.Fatal(err)
	}
	// Shutdown handed the partial batch over, and it was acknowledged.
	if msgs := b.next(t); len(msgs) != 2 {
		t.Fatalf("partial batch of %d", len(msgs))
	}
	s := newSink()
	start(t, url(t), topic, []any{generic{s}})
	s.none(t)
}

// panicky panics the first time it sees a notification.
type panicky struct {
	seen sync.Map
	ch   chan string
}

func (p *panicky) Info(_ context.Context, _, _ string, _ any, md listener.Metadata) error {
	p.ch <- md.MessageID
	if _, again := p.seen.LoadOrStore(md.MessageID, true); !again {
		panic("boom")
	}
	return nil
}

func testPanic(t *testing.T, url func(testing.TB) string) {
	topic := notifytest.UniqueTopic("panic")
	p := &panicky{ch: make(chan string, 10)}
	h := &notifytest.Logs{}
	start(t, url(t), topic, []any{p}, listener.AllowRequeue(true), listener.WithLogger(slog.New(h)))
	notifier(t, url(t), topic).Info(notifytest.Ctx(t), "e", nil)
	if a, b := <-p.ch, <-p.ch; a != b {
		t.Fatalf("not redelivered: %s, %s", a, b)
	}
	logged := false
	for _, r := range h.Records() {
		if r.Level == slog.LevelError && strings.Contains(notifytest.Attr(r, "error"), "panicked: boom") && strings.Contains(notifytest.Attr(r, "stack"), "panicky") {
			logged = true
		}
	}
	if !logged {
		t.Fatal("panic not logged with its stack")
	}
}

// blocker blocks in Info until released.
type blocker struct {
	started chan string
	release chan struct{}
	done    atomic.Int32
}

func (b *blocker) Info(ctx context.Context, _, ev string, _ any, _ listener.Metadata) error {
	b.started <- ev
	defer b.done.Add(1)
	select {
	case <-b.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func testShutdownInFlight(t *testing.T, url func(testing.TB) string) {
	topic := notifytest.UniqueTopic("shutdown")
	b := &blocker{started: make(chan string, 10), release: make(chan struct{})}
	l := start(t, url(t), topic, []any{b}, listener.MaxConcurrency(1))
	n := notifier(t, url(t), topic)
	n.Info(notifytest.Ctx(t), "first", nil)
	n.Info(notifytest.Ctx(t), "second", nil)
	if ev := <-b.started; ev != "first" {
		t.Fatalf("started %s", ev)
	}
	done := make(chan error, 1)
	go func() { done <- l.Shutdown(notifytest.Ctx(t)) }()
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned with a handler in flight: %v", err)
	case <-time.After(settleTime):
	}
	close(b.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if b.done.Load() != 1 || len(b.started) != 0 {
		t.Fatalf("handled %d, started %d more", b.done.Load(), len(b.started))
	}
	// The first was acknowledged; the second, never handed to the
	// endpoint, went back to the broker.
	s := newSink()
	start(t, url(t), topic, []any{generic{s}})
	if e := s.wait(t, 1)[0]; e.eventType != "second" {
		t.Fatalf("after shutdown: %+v", e)
	}
	s.none(t)
}

func testShutdownTimeoutThenClose(t *testing.T, url func(testing.TB) string) {
	topic := notifytest.UniqueTopic("close")
	b := &blocker{started: make(chan string, 10), release: make(chan struct{})}
	tr := notifytest.Open(t, url(t))
	l, err := listener.New(tr, []target.Target{{Topic: topic}}, []any{b}, listener.WithLogger(notifytest.Quiet))
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Start(notifytest.Ctx(t)); err != nil {
		t.Fatal(err)
	}
	notifier(t, url(t), topic).Info(notifytest.Ctx(t), "stuck", nil)
	<-b.started
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := l.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v", err)
	}
	l.Close() // cancels the handler's ctx
	deadline := time.Now().Add(5 * time.Second)
	for b.done.Load() != 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if b.done.Load() != 1 {
		t.Fatal("Close did not cancel the handler")
	}
	if err := l.Shutdown(notifytest.Ctx(t)); err != nil {
		t.Fatalf("Shutdown after the handler ended: %v", err)
	}
}

func testLifecycle(t *testing.T, url func(testing.TB) string) {
	topic := notifytest.UniqueTopic("lifecycle")
	tr := notifytest.Open(t, url(t))
	newL := func() *listener.Listener {
		l, err := listener.New(tr, []target.Target{{Topic: topic}}, []any{generic{newSink()}}, listener.WithLogger(notifytest.Quiet))
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	ctx := notifytest.Ctx(t)
	l := newL()
	if err := l.Shutdown(ctx); err != nil { // before Start
		t.Fatal(err)
	}
	if err := l.Start(ctx); !errors.Is(err, listener.ErrClosed) {
		t.Fatalf("Start after Shutdown = %v", err)
	}
	l = newL()
	if err := l.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.Start(ctx); !errors.Is(err, listener.ErrStarted) {
		t.Fatalf("second Start = %v", err)
	}
	for range 2 {
		if err := l.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	l = newL()
	l.Close()
	l.Close()
	if err := l.Start(ctx); !errors.Is(err, listener.ErrClosed) {
		t.Fatalf("Start after Close = %v", err)
	}
	// Start fails on a closed transport.
	tr2 := notifytest.Open(t, url(t))
	l, _ = listener.New(tr2, []target.Target{{Topic: topic}}, []any{generic{newSink()}})
	tr2.Close()
	if err := l.Start(ctx); err == nil || !strings.HasPrefix(err.Error(), "listener: listening on "+topic+".info") {
		t.Fatalf("Start on a closed transport = %v", err)
	}
	l.Close()
}
