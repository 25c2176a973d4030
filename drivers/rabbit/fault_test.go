package rabbit

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/oslo-go/messaging/client"
	"github.com/oslo-go/messaging/server"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
)

// faultEndpoint is the server of the fault test.
type faultEndpoint struct {
	entered chan struct{}
	release chan struct{} // Slow returns when it is closed
	casts   chan string

	mu      sync.Mutex
	counted map[string]int
}

// Count counts the casts it gets, by text.
func (e *faultEndpoint) Count(_ context.Context, a faultArgs) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.counted == nil {
		e.counted = map[string]int{}
	}
	e.counted[a.Text]++
	return nil
}

func (e *faultEndpoint) count(text string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.counted[text]
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

// TestBrokerFault runs servers and clients on a private RabbitMQ node
// (max_message_size 1 MiB), with the default reconnection backoff:
//
//   - a message over the broker's max_message_size fails at once with
//     ErrMessageTooLarge (the broker's PRECONDITION_FAILED is final);
//   - the node restarts (stop_app, start_app: the non-durable queues, the
//     reply queue among them, are gone) while a call is in flight, a
//     second server has a reply pending, and at-least-once casts flow.
//     While it is down: a transport opens at once, Ping and calls fail
//     naming the connection error, the pending reply ends with
//     Shutdown's ctx. Once it is back: calls succeed within a second or
//     so, the call in flight gets its reply (the reply queue is declared
//     again under its name, the reply retried until it is), the lazily
//     opened transport connects, and every at-least-once cast to a
//     durable queue (amqp_durable_queues) was either delivered or failed:
//     none was lost silently. (A confirmed message in a non-durable queue
//     goes with the queue when the node stops, in oslo as here.)
func TestBrokerFault(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	node := needPrivateNode(t)
	url := fmt.Sprintf("rabbit://guest:guest@127.0.0.1:%d/", node.port)
	log, logs := recordLogs(t)
	opts := []transport.Option{transport.WithLogger(log)}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	srvTr := openTransportURL(t, url, opts...)
	cliTr := openTransportURL(t, url, opts...)
	topic := uniqueName("fault")
	ep := newFaultEndpoint()
	srv := startServer(ctx, t, srvTr, topic, ep)
	c, err := client.New(cliTr, target.Target{Topic: topic}, client.Timeout(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := echo(c, 10*time.Second, "before"); err != nil {
		t.Fatalf("call before the fault: %v", err)
	}

	// 1. The broker refuses messages over its max_message_size: the
	// refusal is final, reported at once.
	big := faultArgs{Text: strings.Repeat("x", privateMaxMessageSize)}
	start := time.Now()
	if err := c.Cast(ctx, "record", big); !errors.Is(err, transport.ErrMessageTooLarge) {
		t.Errorf("cast over the broker's max_message_size: %v, want ErrMessageTooLarge", err)
	}
	if err := c.Call(ctx, "echo", big, nil); !errors.Is(err, transport.ErrMessageTooLarge) {
		t.Errorf("call over the broker's max_message_size: %v, want ErrMessageTooLarge", err)
	}
	t.Logf("cast and call over the broker's max_message_size failed in %v", time.Since(start).Round(time.Millisecond))
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("oversize messages took %v to fail", el)
	}
	if err := echo(c, 10*time.Second, "after oversize"); err != nil {
		t.Fatalf("call after the oversize messages: %v", err)
	}

	// 2. The broker restarts. Before: a call in flight, a second server
	// with a handler in flight, at-least-once casts.
	type outcome struct {
		err error
		at  time.Time
	}
	inFlight := func(c *client.Client, ep *faultEndpoint) <-chan outcome {
		res := make(chan outcome, 1)
		go func() {
			got, err := client.Call[string](ctx, c, "slow", faultArgs{})
			if err == nil && got != "slow done" {
				err = fmt.Errorf("slow returned %q", got)
			}
			res <- outcome{err, time.Now()}
		}()
		select {
		case <-ep.entered:
		case <-time.After(10 * time.Second):
			t.Fatal("the slow call did not reach the server")
		}
		return res
	}
	res := inFlight(c, ep)
	topic2 := uniqueName("fault2")
	ep2 := newFaultEndpoint()
	srv2 := startServer(ctx, t, srvTr, topic2, ep2)
	defer srv2.Close()
	c2, _ := client.New(cliTr, target.Target{Topic: topic2}, client.Timeout(20*time.Second))
	res2 := inFlight(c2, ep2)
	// The casts go through transports with durable queues, to an
	// exchange of their own (the control exchange is already declared
	// non-durable).
	durableURL := url + "?amqp_durable_queues=true"
	durSrvTr := openTransportURL(t, durableURL, opts...)
	durCliTr := openTransportURL(t, durableURL, opts...)
	durTopic := target.Target{Exchange: uniqueName("fault_durable"), Topic: uniqueName("fault_casts")}
	castEP := newFaultEndpoint()
	castSrv, err := server.New(durSrvTr, target.Target{Exchange: durTopic.Exchange, Topic: durTopic.Topic, Server: "s1"}, []any{castEP})
	if err != nil {
		t.Fatal(err)
	}
	if err := castSrv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	castClient, _ := client.New(durCliTr, durTopic, client.AtLeastOnce(true))
	casts := startCasts(ctx, castClient)

	stopped := time.Now()
	node.ctl(t, "stop_app")
	// While the broker is down.
	start = time.Now()
	lazyTr := openTransportURL(t, url, opts...)
	t.Logf("Open with the broker down returned in %v", time.Since(start).Round(time.Microsecond))
	pctx, pcancel := context.WithTimeout(ctx, 500*time.Millisecond)
	err = lazyTr.Ping(pctx)
	pcancel()
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("Ping with the broker down: %v", err)
	}
	if err := echo(c, 2*time.Second, "down"); !errors.Is(err, transport.ErrTimeout) || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("call with the broker down: %v, want a timeout naming the connection error", err)
	} else {
		t.Logf("call with the broker down: %v", err)
	}
	close(ep.release) // the reply waits for the broker (the caller waits 30 s)
	close(ep2.release)
	sctx, scancel := context.WithTimeout(ctx, 2*time.Second)
	start = time.Now()
	err = srv2.Shutdown(sctx)
	scancel()
	t.Logf("Shutdown with a reply pending and the broker down returned in %v: %v", time.Since(start).Round(time.Millisecond), err)
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("Shutdown with the broker down took %v, its ctx 2 s", el)
	}
	node.ctl(t, "start_app")
	up := time.Now()
	back := untilServed(t, c, 2*time.Second, up, 30*time.Second, "the broker came back")
	t.Logf("outage %v; calls succeed again %v after start_app returned", up.Sub(stopped).Round(time.Millisecond), back.Round(time.Millisecond))
	if back > 5*time.Second {
		t.Errorf("calls took %v to succeed after the broker came back", back)
	}
	select {
	case o := <-res:
		if o.err != nil {
			t.Errorf("call in flight across the restart: %v", o.err)
		} else {
			t.Logf("call in flight across the restart answered %v after start_app returned", o.at.Sub(up).Round(time.Millisecond))
		}
	case <-time.After(20 * time.Second):
		t.Error("call in flight across the restart got no reply")
	}
	pctx, pcancel = context.WithTimeout(ctx, 10*time.Second)
	if err := lazyTr.Ping(pctx); err != nil {
		t.Errorf("Ping of the transport opened while the broker was down: %v", err)
	}
	pcancel()
	lc, _ := client.New(lazyTr, target.Target{Topic: topic}, client.Timeout(10*time.Second))
	if err := echo(lc, 10*time.Second, "lazy"); err != nil {
		t.Errorf("call on the transport opened while the broker was down: %v", err)
	}
	for i := range 20 {
		if err := echo(c, 5*time.Second, fmt.Sprint("after", i)); err != nil {
			t.Fatalf("call %d after recovery: %v", i, err)
		}
	}
	casts.check(t, castEP)
	t.Logf("warnings logged during the test: %d (%d that the broker is unreachable)",
		len(logs.matching("level=WARN")), len(logs.matching("level=WARN", "unreachable")))
	select {
	case o := <-res2:
		t.Logf("the call whose reply Shutdown gave up: %v", o.err)
	default:
	}

	sctx, scancel = context.WithTimeout(context.Background(), 20*time.Second)
	defer scancel()
	if err := srv.Shutdown(sctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if err := castSrv.Shutdown(sctx); err != nil {
		t.Errorf("Shutdown of the cast server: %v", err)
	}
	srv.Close()
	srv2.Close()
	castSrv.Close()
	durCliTr.Close()
	durSrvTr.Close()
	cliTr.Close()
	srvTr.Close()
	lazyTr.Close()
	<-res2
}

// startServer starts a server of ep on topic, server s1.
func startServer(ctx context.Context, t *testing.T, tr *transport.Transport, topic string, ep any, opts ...server.Option) *server.Server {
	t.Helper()
	srv, err := server.New(tr, target.Target{Topic: topic, Server: "s1"}, []any{ep}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return srv
}

func newFaultEndpoint() *faultEndpoint {
	return &faultEndpoint{entered: make(chan struct{}, 8), release: make(chan struct{}), casts: make(chan string, 8)}
}

// castRun sends numbered at-least-once casts until check.
type castRun struct {
	stop chan struct{}
	done chan struct{}

	ok, undeliverable, other []string
}

func startCasts(ctx context.Context, c *client.Client) *castRun {
	r := &castRun{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for i := 0; ; i++ {
			select {
			case <-r.stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			id := strconv.Itoa(i)
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			err := c.Cast(cctx, "count", faultArgs{Text: id})
			cancel()
			switch {
			case err == nil:
				r.ok = append(r.ok, id)
			case errors.Is(err, transport.ErrUndeliverable):
				r.undeliverable = append(r.undeliverable, id)
			default:
				r.other = append(r.other, id)
			}
		}
	}()
	return r
}

// check stops the casts and checks that each one the broker confirmed
// was delivered.
func (r *castRun) check(t *testing.T, ep *faultEndpoint) {
	t.Helper()
	close(r.stop)
	<-r.done
	var lost []string
	for wait := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		lost = lost[:0]
		for _, id := range r.ok {
			if ep.count(id) == 0 {
				lost = append(lost, id)
			}
		}
		if len(lost) == 0 || time.Now().After(wait) {
			break
		}
	}
	failedButDelivered := 0
	for _, id := range append(r.undeliverable, r.other...) {
		if ep.count(id) > 0 {
			failedButDelivered++
		}
	}
	t.Logf("at-least-once casts across the restart: %d sent, %d confirmed (%d of them lost), %d undeliverable, %d other errors (%d of the failed ones delivered all the same)",
		len(r.ok)+len(r.undeliverable)+len(r.other), len(r.ok), len(lost), len(r.undeliverable), len(r.other), failedButDelivered)
	if len(lost) > 0 {
		t.Errorf("%d casts confirmed to the caller were never delivered: %v", len(lost), lost)
	}
	if len(r.undeliverable) == 0 && len(r.other) == 0 {
		t.Errorf("no cast failed across the restart")
	}
}
