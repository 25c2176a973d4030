package notify_test

import (
	"context"
	"strings"
	"testing"

	"github.com/oslo-go/messaging/notify"
	"github.com/oslo-go/messaging/target"
)

type wrongArgs struct{}

func (wrongArgs) Info(ctx context.Context, eventType string, payload any) error { return nil }

type noError struct{}

func (noError) Warn(context.Context, string, string, any, notify.Metadata) {}

type batchOnly struct{}

func (batchOnly) Info(context.Context, []notify.Message) error { return nil }

type ptrOnly struct{}

func (*ptrOnly) Info(context.Context, string, string, any, notify.Metadata) error { return nil }

type nothing struct{}

func (nothing) Process(context.Context) error { return nil }

type twice struct{}

func (twice) Info(context.Context, string, string, any, notify.Metadata) error { return nil }
func (twice) INFO(context.Context, string, string, any, notify.Metadata) error { return nil }

type anyCase struct{ called chan string }

func (a anyCase) SAMPLE(_ context.Context, _, ev string, _ any, _ notify.Metadata) error {
	a.called <- ev
	return nil
}

func TestNewListenerErrors(t *testing.T) {
	tr := open(t, fakeURL(t))
	good := []any{generic{newSink()}}
	tgs := []target.Target{{Topic: "n"}}
	var nilPtr *ptrOnly
	for _, c := range []struct {
		name      string
		targets   []target.Target
		endpoints []any
		opts      []notify.ListenerOption
		want      string
	}{
		{"no targets", nil, good, nil, "notify: no targets"},
		{"target without topic", []target.Target{{Exchange: "x"}}, good, nil, "notify: target: A topic is required"},
		{"no endpoints", tgs, nil, nil, "notify: no endpoints"},
		{"nil endpoint", tgs, []any{nil}, nil, "notify: endpoint 0 is nil"},
		{"nil pointer endpoint", tgs, []any{nilPtr}, nil, "notify: endpoint 0 is nil"},
		{"wrong arguments", tgs, []any{wrongArgs{}}, nil, "method Info has type func(context.Context, string, interface {}) error; a notification method named after a priority must be func(context.Context, publisherID, eventType string, payload P, md notify.Metadata) error"},
		{"no error result", tgs, []any{noError{}}, nil, "method Warn has type"},
		{"batch method without Batch", tgs, []any{batchOnly{}}, nil, "a batch method: pass notify.Batch"},
		{"single method with Batch", tgs, []any{generic{newSink()}}, []notify.ListenerOption{notify.Batch(10, 0)}, "a batch listener (notify.Batch) wants func(context.Context, []notify.Message) error"},
		{"value receiver", tgs, []any{ptrOnly{}}, nil, "has no notification methods (pass a pointer?)"},
		{"no methods", tgs, []any{nothing{}}, nil, "notify: endpoint 0 (notify_test.nothing) has no notification methods: want methods named Audit"},
		{"two methods for one priority", tgs, []any{twice{}}, nil, "both handle priority info"},
		{"bad filter", tgs, []any{notify.Endpoint(generic{newSink()}, notify.WithFilter(notify.Filter{EventType: "(("}))}, nil, `filter EventType "(("`},
		{"bad dict filter", tgs, []any{notify.Endpoint(generic{newSink()}, notify.WithFilter(notify.Filter{Payload: map[string]string{"k": "[a"}}))}, nil, `filter Payload["k"] "[a"`},
		{"second endpoint", tgs, []any{generic{newSink()}, nothing{}}, nil, "notify: endpoint 1 "},
	} {
		_, err := notify.NewListener(tr, c.targets, c.endpoints, c.opts...)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "notify: ") {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
	if _, err := notify.NewListener(nil, tgs, good); err == nil {
		t.Error("nil transport accepted")
	}
}

func TestListenerTargets(t *testing.T) {
	tr := open(t, fakeURL(t))
	l, err := notify.NewListener(tr, []target.Target{{Topic: "a"}, {Topic: "b", Exchange: "nova"}, {Topic: "a"}},
		[]any{errorsOnly{newSink()}, notify.Endpoint(generic{newSink()}), &ptrOnly{}})
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
	url := fakeURL(t)
	topic := uniqueTopic("case")
	a := anyCase{called: make(chan string, 1)}
	listener(t, url, topic, []any{a})
	notifier(t, url, topic).Sample(testCtx(t), "cpu.util", 0.7)
	if ev := <-a.called; ev != "cpu.util" {
		t.Fatalf("got %q", ev)
	}
}
