package notify_test

import (
	"context"
	"fmt"

	_ "github.com/oslo-go/messaging/drivers/fake"
	"github.com/oslo-go/messaging/notify"
	"github.com/oslo-go/messaging/transport"
)

// The test driver records notifications for the tests of code that sends
// them.
func ExampleRecorder() {
	ctx := context.Background()
	tr, err := transport.Open(ctx, "fake:///example-recorder")
	if err != nil {
		panic(err)
	}
	defer tr.Close()
	var rec notify.Recorder
	n, err := notify.New(tr, notify.Driver("test"), notify.Record(&rec), notify.PublisherID("api"))
	if err != nil {
		panic(err)
	}
	n.Warn(ctx, "quota.exceeded", map[string]int{"limit": 10})
	n.Prepare(notify.PublisherID("api.host2")).Error(ctx, "quota.broken", nil)
	for _, r := range rec.Notifications() {
		fmt.Println(r.Priority, r.PublisherID, r.EventType, r.Payload)
	}
	// Output:
	// WARN api quota.exceeded map[limit:10]
	// ERROR api.host2 quota.broken <nil>
}

// Rules for the routing driver, as in oslo's routing_notifier.yaml.
func ExampleRoutingRules() {
	ctx := context.Background()
	tr, err := transport.Open(ctx, "fake:///example-routing")
	if err != nil {
		panic(err)
	}
	defer tr.Close()
	var rec notify.Recorder
	n, err := notify.New(tr, notify.Driver("routing"), notify.Record(&rec), notify.RoutingRules(
		notify.RoutingRule{Driver: "test", Priorities: []string{"error", "critical"}},
		notify.RoutingRule{Driver: "test", Events: []string{"compute.instance.*"}},
	))
	if err != nil {
		panic(err)
	}
	n.Info(ctx, "compute.instance.create.end", nil) // routed: event
	n.Info(ctx, "network.port.create", nil)         // dropped
	n.Error(ctx, "network.port.fail", nil)          // routed: priority
	for _, r := range rec.Notifications() {
		fmt.Println(r.Priority, r.EventType)
	}
	// Output:
	// INFO compute.instance.create.end
	// ERROR network.port.fail
}
