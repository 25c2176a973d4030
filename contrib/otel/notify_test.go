package oslootel_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	oslootel "github.com/oslo-go/messaging/contrib/otel"
	"github.com/oslo-go/messaging/drivers/rabbit/rabbittest"
	"github.com/oslo-go/messaging/notify"
	"github.com/oslo-go/messaging/notify/listener"
	"github.com/oslo-go/messaging/serializer"
	"github.com/oslo-go/messaging/target"
)

// Audit handles notifications in a span of its own, a child of the
// sender's.
type Audit struct {
	tracer trace.Tracer
	opts   []oslootel.Option
	got    chan trace.SpanContext // the handler span's parent
}

func (a *Audit) Info(ctx context.Context, publisherID, eventType string, payload map[string]any, md listener.Metadata) error {
	ctx = oslootel.Extract(ctx, a.opts...)
	_, span := a.tracer.Start(ctx, "process "+eventType, trace.WithSpanKind(trace.SpanKindConsumer))
	defer span.End()
	a.got <- trace.SpanContextFromContext(ctx)
	return nil
}

// TestNotificationTrace sends notifications on RabbitMQ under a span and
// checks that the listener's handler continues the trace when the notifier
// sends the trace context keys, and cannot when oslo's allowlist drops
// them.
func TestNotificationTrace(t *testing.T) {
	rabbittest.Need(t)
	topic := uniqueTopic("notify")
	t.Cleanup(func() { rabbittest.DeleteQueues(t, topic) })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tr := openTransport(t, rabbittest.URL())
	tg := newTracing(t)
	opts := tg.opts(tr)
	if keys := oslootel.ContextKeys(opts...); !slices.Equal(keys, []string{"traceparent", "tracestate"}) {
		t.Fatalf("ContextKeys = %v, want traceparent and tracestate", keys)
	}

	a := &Audit{tracer: tg.tp.Tracer("listener"), opts: opts, got: make(chan trace.SpanContext, 2)}
	l, err := listener.New(tr, []target.Target{{Topic: topic}}, []any{a})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	ctx = serializer.WithRequestContext(ctx, serializer.RequestContext{"request_id": "req-n"})
	ctx, sender := tg.root(ctx)
	defer sender.End()
	for _, tc := range []struct {
		name    string
		opts    []notify.Option
		carries bool
	}{
		{"oslo's allowlist", nil, false},
		{"with ContextKeys", []notify.Option{notify.ContextKeys(oslootel.ContextKeys(opts...)...)}, true},
	} {
		n, err := notify.New(tr, append(tc.opts, notify.Topics(topic))...)
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Info(oslootel.Inject(ctx, opts...), "trove.instance.create.end", map[string]any{"id": "i-1"}); err != nil {
			t.Fatal(err)
		}
		var parent trace.SpanContext
		select {
		case parent = <-a.got:
		case <-ctx.Done():
			t.Fatalf("%s: no notification", tc.name)
		}
		if got := parent.SpanID() == sender.SpanContext().SpanID() && parent.TraceID() == sender.SpanContext().TraceID(); got != tc.carries {
			t.Errorf("%s: the handler's span's parent is %v, the sender's span %v: continued %v, want %v",
				tc.name, parent.SpanID(), sender.SpanContext().SpanID(), got, tc.carries)
		}
	}
}
