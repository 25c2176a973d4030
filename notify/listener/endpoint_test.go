package listener_test

import (
	"context"
	"strings"
	"testing"

	"github.com/oslo-go/messaging/notify/internal/notifytest"
	"github.com/oslo-go/messaging/notify/listener"
	"github.com/oslo-go/messaging/target"
)

type wrongArgs struct{}

func (wrongArgs) Info(ctx context.Context, eventType string, payload any) error { return nil }

type noError struct{}

func (noError) Warn(context.Context, string, string, any, listener.Metadata) {}

type batchOnly struct{}

func (batchOnly) Info(context.Context, []listener.Message) error { return nil }

type ptrOnly struct{}

func (*ptrOnly) Info(context.Context, string, string, any, listener.Metadata) error { return nil }

type nothing struct{}

func (nothing) Process(context.Context) error { return nil }

type twice struct{}

func (twice) Info(context.Context, string, string, any, listener.Metadata) error { return nil }
func (twice) INFO(context.Context, string, string, any, listener.Metadata) error { return nil }

type anyCase struct{ called chan string }

func (a anyCase) SAMPLE(_ context.Context, _, ev string, _ any, _ listener.Metadata) error {
	a.called <- ev
	return nil
}

func TestNewErrors(t *testing.T) {
	tr := notifytest.Open(t, notifytest.FakeURL(t))
	good := []any{generic{newSink()}}
	tgs := []target.Target{{Topic: "n"}}
	var nilPtr *ptrOnly
	for _, c := range []struct {
		name      string
		targets   []target.Target
		endpoints []any
		opts      []listener.Option
		want      string
	}{
		{"no targets", nil, good, nil, "listener: no targets"},
		{"target without topic", []target.Target{{Exchange: "x"}}, good, nil, "listener: target: A topic is required"},
		{"no endpoints", tgs, nil, nil, "listener: no endpoints"},
		{"nil endpoint", tgs, []any{nil}, nil, "listener: endpoint 0 is nil"},
		{"nil pointer endpoint", tgs, []any{nilPtr}, nil, "listener: endpoint 0 is nil"},
		{"wrong arguments", tgs, []any{wrongArgs{}}, nil, "method Info has type func(context.Context, string, interface {}) error; a notification method named after a priority must be func(context.Context, publisherID, eventType string, payload P, md listener.Metadata) error"},
		{"no error result", tgs, []any{noError{}}, nil, "method Warn has type"},
		{"batch method without Batch", tgs, []any{batchOnly{}}, nil, "a batch method: pass listener.Batch"},
		{"single method with Batch", tgs, []any{generic{newSink()}}, []listener.Option{listener.Batch(10, 0)}, "a batch listener (listener.Batch) wants func(context.Context, []listener.Message) error"},
		{"value receiver", tgs, []any{ptrOnly{}}, nil, "has no notification methods (pass a pointer?)"},
		{"no methods", tgs, []any{nothing{}}, nil, "listener: endpoint 0 (listener_test.nothing) has no notification methods: want methods named Audit"},
		{"two methods for one priority", tgs, []any{twice{}}, nil, "both handle priority info"},
		{"bad filter", tgs, []any{listener.Filtered(generic{newSink()}, listener.Filter{EventType: "(("})}, nil, `filter EventType "(("`},
		{"bad dict filter", tgs, []any{listener.Filtered(generic{newSink()}, listener.Filter{Payload: map[string]string{"k": "[a"}})}, nil, `filter Payload["k"] "[a"`},
		{"second endpoint", tgs, []any{generic{newSink()}, nothing{}}, nil, "listener: endpoint 1 "},
	} {
		_, err := listener.New(tr, c.targets, c.endpoints, c.opts...)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "listener: ") {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
	if _, err := listener.New(nil, tgs, good); err == nil {
		t.Error("nil transport accepted")
	}
}

func TestTargets(t *testing.T) {
	tr := notifytest.Open(t, notifytest.FakeURL(t))
	l, err := listener.New(tr, []target.Target{{Topic: "a"}, {Topic: "b", Exchange: "nova"}, {Topic: "a"}},
		[]any{errorsOnly{newSink()}, listener.Filtered(generic{newSink()}, listener.Filter{}), &ptrOnly{}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tg := range l.Targets() {
		got = append(got, tg.Exchange+"/"+tg.Topic)
	}
	want := "/a.info /a.warn /a.error nova/b.info nova/b.warn nova/b.error"
	if strings.Join(got, " ") != want {
		t.Fatalf("Targets = %v, want %s", got, want)
	}
}

// TestMethodNameCase: method names match priorities case-insensitively.
func TestMethodNameCase(t *testing.T) {
	url := notifytest.FakeURL(t)
	topic := notifytest.UniqueTopic("case")
	a := anyCase{called: make(chan string, 1)}
	start(t, url, topic, []any{a})
	notifier(t, url, topic).Sample(notifytest.Ctx(t), "cpu.util", 0.7)
	if ev := <-a.called; ev != "cpu.util" {
		t.Fatalf("got %q", ev)
	}
}

// TestFilteredAgain: Filtered on a Filtered endpoint replaces its filter,
// as assigning oslo's filter_rule again does.
func TestFilteredAgain(t *testing.T) {
	url := notifytest.FakeURL(t)
	topic := notifytest.UniqueTopic("refilter")
	s := newSink()
	inner := listener.Filtered(generic{s}, listener.Filter{EventType: "(("}) // does not compile: must not be used
	start(t, url, topic, []any{listener.Filtered(inner, listener.Filter{EventType: `network\.`})})
	n := notifier(t, url, topic)
	for _, ev := range []string{"compute.instance.create", "network.port.create"} {
		if err := n.Info(notifytest.Ctx(t), ev, nil); err != nil {
			t.Fatal(err)
		}
	}
	if e := s.wait(t, 1)[0]; e.eventType != "network.port.create" {
		t.Fatalf("got %+v", e)
	}
	s.none(t)
}
