package amqp1_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/oslo-go/messaging/client"
	"github.com/oslo-go/messaging/drivers/amqp1/internal/intermediary"
	"github.com/oslo-go/messaging/internal/engine"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport/driver"
)

// TestCredit: a listener that takes nothing holds no more than its link
// credit (rpc_server_credit) of a topic's messages; the rest go to a
// listener that does take them, and what the first held goes back to the
// queue when it closes.
func TestCredit(t *testing.T) {
	intermediary.Need(t)
	t.Parallel()
	im := intermediary.Start(t, intermediary.Broker, false)
	ctx := timeout(t, 30*time.Second)
	slow := openTransport(t, im.URL("rpc_server_credit=2"))
	fast := openTransport(t, im.URL(""))
	tg := engine.Of(slow).ResolveTarget(target.Target{Topic: uniqueTopic("credit"), Server: "a"})
	held, err := engine.Of(slow).Driver().Listen(ctx, tg, driver.ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tgB := tg
	tgB.Server = "b"
	taker, err := engine.Of(fast).Driver().Listen(ctx, tgB, driver.ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer taker.Close()
	topic := tg
	topic.Server = ""
	const n = 10
	for i := range n {
		body := fmt.Sprintf(`{"oslo.version": "2.0", "oslo.message": "{\"method\": \"m%d\", \"args\": {}}"}`, i)
		if err := engine.Of(fast).Driver().Send(ctx, topic, &driver.Message{Body: []byte(body)}); err != nil {
			t.Fatal(err)
		}
	}
	next := func() {
		t.Helper()
		if _, err := taker.Next(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for range n - 2 {
		next()
	}
	held.Close() // hands back the 2 it held
	next()
	next()
}

// TestReleasedResent: the router releases a call sent to an address
// without a consumer; the driver sends it again after link_retry_delay
// until a server is there.
func TestReleasedResent(t *testing.T) {
	intermediary.Need(t)
	t.Parallel()
	im := intermediary.Start(t, intermediary.Router, true)
	url := im.URL("link_retry_delay=1")
	tp := uniqueTopic("rel")
	tr := openTransport(t, url)
	c, err := client.New(tr, target.Target{Topic: tp, Namespace: "interop", Version: "1.2"}, client.Timeout(20*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	ctx := timeout(t, 30*time.Second)
	got := make(chan error, 1)
	go func() {
		who, err := client.Call[string](ctx, c, "whoami", nil)
		if err == nil && who != "late" {
			err = fmt.Errorf("answered by %q", who)
		}
		got <- err
	}()
	// The first attempt reached the router and came back released.
	im.Await(ctx, t, "the first attempt", func(e intermediary.Event) bool {
		return e.Str("event") == "message" && e.Str("address") == "openstack.org/om/rpc/anycast/openstack/"+tp
	})
	time.Sleep(1500 * time.Millisecond)
	startServer(t, openTransport(t, url), target.Target{Topic: tp, Server: "late"}, newService("late"))
	if err := <-got; err != nil {
		t.Fatalf("call sent before its server existed: %v", err)
	}
	attempts := len(im.Events(func(e intermediary.Event) bool {
		return e.Str("event") == "message" && e.Str("address") == "openstack.org/om/rpc/anycast/openstack/"+tp
	}))
	if attempts < 2 {
		t.Fatalf("%d attempts, want the released call sent again", attempts)
	}
}
