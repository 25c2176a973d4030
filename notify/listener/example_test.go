package listener_test

import (
	"context"
	"fmt"
	"time"

	_ "github.com/oslo-go/messaging/drivers/fake"
	"github.com/oslo-go/messaging/notify"
	"github.com/oslo-go/messaging/notify/listener"
	"github.com/oslo-go/messaging/serializer"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
)

// InstanceEvent is the payload of the example's notifications.
type InstanceEvent struct {
	InstanceID string `json:"instance_id"`
	State      string `json:"state"`
}

// Billing handles INFO notifications about instances.
type Billing struct{ done chan struct{} }

func (b *Billing) Info(ctx context.Context, publisherID, eventType string, p InstanceEvent, md listener.Metadata) error {
	rc := serializer.RequestContextFrom(ctx)
	fmt.Printf("%s from %s: %s is %s (request %s)\n", eventType, publisherID, p.InstanceID, p.State, rc.String("request_id"))
	close(b.done)
	return nil
}

// A notifier and a listener on the in-memory driver. The notification is
// sent before the listener starts: the broker keeps it until then.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tr, err := transport.Open(ctx, "fake:///listener-example")
	if err != nil {
		panic(err)
	}
	defer tr.Close()

	n, err := notify.New(tr, notify.PublisherID("compute.host1"))
	if err != nil {
		panic(err)
	}
	rctx := serializer.WithRequestContext(ctx, serializer.RequestContext{"request_id": "req-42"})
	if err := n.Info(rctx, "compute.instance.create.end", InstanceEvent{"i-1", "ACTIVE"}); err != nil {
		panic(err)
	}

	b := &Billing{done: make(chan struct{})}
	l, err := listener.New(tr, []target.Target{{Topic: "notifications"}}, []any{
		listener.Filtered(b, listener.Filter{EventType: `compute\.instance\.`}),
	})
	if err != nil {
		panic(err)
	}
	if err := l.Start(ctx); err != nil {
		panic(err)
	}
	<-b.done
	if err := l.Shutdown(ctx); err != nil {
		panic(err)
	}
	// Output:
	// compute.instance.create.end from compute.host1: i-1 is ACTIVE (request req-42)
}
