package rabbit

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/oslo-go/messaging/client"
	"github.com/oslo-go/messaging/drivers/drivertest"
	"github.com/oslo-go/messaging/server"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
)

// faultEndpoint is the server of the fault test.
type faultEndpoint struct {
	entered chan struct{}
	release chan struct{} // Slow returns when it is closed
	casts   chan string
}

type faultArgs struct {
	Millis int    `json:"millis"`
	Text   string `json:"text"`
}

func (e *faultEndpoint) Echo(_ context.Context, a faultArgs) (string, error) { return a.Text, nil }

func (e *faultEndpoint) Slow(ctx context.Context, _ faultArgs) (string, error) {
	e.entered <- struct{}{}
	select {
	case <-e.release:
		return "slow done", nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func (e *faultEndpoint) Record(_ context.Context, a faultArgs) error {
	e.casts <- a.Text
	return nil
}

// TestBrokerFault runs a server and a client on a private RabbitMQ node,
// then has the broker drop every connection (close_all_connections), and
// later restart (stop_app, start_app: the non-durable queues are gone).
// Each time the server must resume by itself, a call in flight must end
// quickly (with ErrConnectionLost, or a result), and calls after the
// fault must succeed.
func TestBrokerFault(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	node := needPrivateNode(t)
	url := fmt.Sprintf("rabbit://guest:guest@127.0.0.1:%d/", node.port)
	opts := []transport.Option{
		transport.WithLogger(drivertest.TestLogger(t)),
		ReconnectDelay(100 * time.Millisecond), RetryInterval(250 * time.Millisecond),
		RetryBackoff(250 * time.Millisecond), IntervalMax(time.Second),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Second)
	defer cancel()
	srvTr, err := transport.Open(ctx, url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	cliTr, err := transport.Open(ctx, url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	topic := uniqueName("fault")
	ep := &faultEndpoint{entered: make(chan struct{}, 8), release: make(chan struct{}), casts: make(chan string, 8)}
	srv, err := server.New(srvTr, target.Target{Topic: topic, Server: "s1"}, []any{ep})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cliTr, target.Target{Topic: topic}, client.Timeout(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	call := func(timeout time.Duration, text string) error {
		cctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		got, err := client.Call[string](cctx, c, "echo", faultArgs{Text: text})
		if err == nil && got != text {
			err = fmt.Errorf("echo %q returned %q", text, got)
		}
		return err
	}
	if err := call(10*time.Second, "before"); err != nil {
		t.Fatalf("call before the fault: %v", err)
	}

	// inFlight starts a call that the server holds until the end of the
	// test, and waits until the server runs it: the call can only end
	// with ErrConnectionLost, or hang until its 30 s timeout.
	type outcome struct {
		err error
		at  time.Time
	}
	inFlight := func() <-chan outcome {
		res := make(chan outcome, 1)
		go func() {
			_, err := client.Call[string](ctx, c, "slow", faultArgs{})
			res <- outcome{err, time.Now()}
		}()
		select {
		case <-ep.entered:
		case <-time.After(10 * time.Second):
			t.Fatal("the slow call did not reach the server")
		}
		return res
	}
	// checkInFlight checks the call in flight once rabbitmqctl has
	// returned (the connections are closed some time before).
	checkInFlight := func(what string, res <-chan outcome, since time.Time) {
		t.Helper()
		select {
		case o := <-res:
			if !errors.Is(o.err, transport.ErrConnectionLost) {
				t.Errorf("%s: call in flight ended with %v, want ErrConnectionLost", what, o.err)
			}
			t.Logf("%s: call in flight ended %v after rabbitmqctl started (%v before it returned): %v",
				what, o.at.Sub(since).Round(time.Millisecond), time.Since(o.at).Round(time.Millisecond), o.err)
		case <-time.After(15 * time.Second):
			t.Fatalf("%s: call in flight still hangs 15 s after the fault (its timeout is 30 s)", what)
		}
	}
	// recover waits until calls succeed again and checks a few more.
	recover := func(what string, since time.Time) {
		t.Helper()
		deadline := time.Now().Add(40 * time.Second)
		for i := 0; ; i++ {
			err := call(2*time.Second, fmt.Sprint(what, i))
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: calls still fail 40 s after the fault: %v", what, err)
			}
			t.Logf("%s: call after the fault: %v", what, err)
		}
		t.Logf("%s: calls succeed again %v after the fault", what, time.Since(since).Round(time.Millisecond))
		for i := range 20 {
			if err := call(5*time.Second, fmt.Sprint(what, "-after-", i)); err != nil {
				t.Fatalf("%s: call %d after recovery: %v", what, i, err)
			}
		}
	}

	// 1. The broker drops every connection.
	res := inFlight()
	dropped := time.Now()
	node.ctl(t, "close_all_connections", "oslo-go fault test")
	checkInFlight("close_all_connections", res, dropped)
	recover("close_all_connections", dropped)

	// 2. The broker restarts: connections dropped, non-durable queues
	// (the server's and the reply queue) gone. A cast sent while the
	// broker is down waits for it (retry -1) and goes out afterwards.
	res = inFlight()
	stopped := time.Now()
	node.ctl(t, "stop_app")
	castErr := make(chan error, 1)
	go func() { castErr <- c.Cast(ctx, "record", faultArgs{Text: "while down"}) }()
	checkInFlight("stop_app", res, stopped)
	node.ctl(t, "start_app")
	restarted := time.Now()
	recover("restart", restarted)
	if err := <-castErr; err != nil {
		t.Errorf("cast sent while the broker was down: %v", err)
	}
	// The server consumes again: casts reach it.
	if err := c.Cast(ctx, "record", faultArgs{Text: "after"}); err != nil {
		t.Fatal(err)
	}
	for got := ""; got != "after"; {
		select {
		case got = <-ep.casts:
		case <-time.After(10 * time.Second):
			t.Fatal("cast after the restart did not arrive")
		}
	}

	close(ep.release)
	sctx, scancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer scancel()
	if err := srv.Shutdown(sctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	srv.Close()
	cliTr.Close()
	srvTr.Close()
}
