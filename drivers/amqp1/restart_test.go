package amqp1_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/oslo-go/messaging/client"
	"github.com/oslo-go/messaging/drivers/amqp1/internal/intermediary"
	"github.com/oslo-go/messaging/internal/engine"
	"github.com/oslo-go/messaging/notify"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
	"github.com/oslo-go/messaging/transport/driver"
)

// TestRestart kills the intermediary under Go peers and starts it again on
// the same port: a call in flight fails with ErrConnectionLost rather than
// at its timeout, a cast sent while it is down goes out once it is back,
// servers and notification listeners re-attach, and calls and
// notifications flow again.
func TestRestart(t *testing.T) {
	intermediary.Need(t)
	t.Parallel()
	im := intermediary.Start(t, intermediary.Broker, false)
	url := im.URL("connection_retry_interval=1&link_retry_delay=1")
	tp, nt := uniqueTopic("rs"), uniqueTopic("rsn")
	svc := newService("s1")
	startServer(t, openTransport(t, url), target.Target{Topic: tp, Server: "s1"}, svc)
	tr := openTransport(t, url)
	ctx := timeout(t, 60*time.Second)
	gl, err := engine.Of(openTransport(t, url)).ListenNotifications(ctx, []target.Target{{Topic: nt + ".info"}}, "", driver.ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer gl.Close()
	c, err := client.New(tr, target.Target{Topic: tp, Namespace: "interop", Version: "1.2"}, client.Timeout(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if who, err := client.Call[string](ctx, c, "whoami", nil); err != nil || who != "s1" {
		t.Fatalf("before: %q, %v", who, err)
	}

	inFlight := make(chan error, 1)
	go func() { _, err := client.Call[string](ctx, c, "sleep", map[string]any{"seconds": 5}); inFlight <- err }()
	time.Sleep(500 * time.Millisecond) // the request reached the server
	im.Kill()
	start := time.Now()
	select {
	case err := <-inFlight:
		if !errors.Is(err, transport.ErrConnectionLost) || time.Since(start) > 5*time.Second {
			t.Fatalf("call in flight when the connection went: %v after %v", err, time.Since(start))
		}
	case <-ctx.Done():
		t.Fatal("the call in flight did not end")
	}
	castErr := make(chan error, 1)
	go func() { castErr <- c.Cast(ctx, "record", map[string]any{"text": "while-down"}) }()
	time.Sleep(300 * time.Millisecond)
	im.Restart()
	if err := <-castErr; err != nil {
		t.Fatalf("cast sent while the intermediary was down: %v", err)
	}
	awaitCast(t, ctx, svc, "while-down")
	waitFor(t, ctx, "calls after the restart", func() bool {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		who, err := client.Call[string](cctx, c, "whoami", nil)
		return err == nil && who == "s1"
	})
	n, err := notify.New(tr, notify.PublisherID("p"), notify.Topics(nt))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Info(ctx, "after.restart", map[string]any{}); err != nil {
		t.Fatal(err)
	}
	d, err := gl.Next(ctx)
	if err != nil || d.EventType != "after.restart" {
		t.Fatalf("notification after the restart: %v, %v", d, err)
	}
	d.Ack()
}
