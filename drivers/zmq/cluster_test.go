package zmq_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/oslo-go/messaging/client"
	"github.com/oslo-go/messaging/drivers/drivertest"
	"github.com/oslo-go/messaging/drivers/zmq"
	"github.com/oslo-go/messaging/server"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
	"go.uber.org/goleak"
)

// Node is the endpoint of the multi-server tests.
type Node struct {
	name   string
	mu     sync.Mutex
	casts  []string
	inCall chan struct{}
	gate   chan struct{}
}

func newNode(name string) *Node {
	return &Node{name: name, inCall: make(chan struct{}, 64), gate: make(chan struct{})}
}

// WhoArgs are the arguments of the test endpoints.
type WhoArgs struct {
	Text string `json:"text"`
}

func (n *Node) Who(context.Context) (string, error) { return n.name, nil }

func (n *Node) Record(_ context.Context, a WhoArgs) error {
	n.mu.Lock()
	n.casts = append(n.casts, a.Text)
	n.mu.Unlock()
	return nil
}

func (n *Node) Block(ctx context.Context) (string, error) {
	n.inCall <- struct{}{}
	select {
	case <-n.gate:
		return n.name, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func (n *Node) recorded() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.casts...)
}

func openT(t *testing.T, url string, opts ...transport.Option) *transport.Transport {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tr, err := transport.Open(ctx, url, append([]transport.Option{transport.WithLogger(drivertest.TestLogger(t))}, opts...)...)
	if err != nil {
		t.Fatalf("transport.Open: %v", err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

func startServer(t *testing.T, tr *transport.Transport, tg target.Target, ep any) *server.Server {
	t.Helper()
	srv, err := server.New(tr, tg, []any{ep})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		srv.Close()
	})
	return srv
}

// TestTwoServersRedis runs two servers of one topic, each on its own
// transport, with a client on a third, over the Redis matchmaker: calls
// and casts are shared, direct calls and fanout reach the right servers,
// and when one server dies mid-call the call fails at once with
// ErrConnectionLost and later calls go to the survivor.
func TestTwoServersRedis(t *testing.T) {
	noLeaks(t)
	addr, prefix := zmq.NeedRedis(t)
	url := fmt.Sprintf("zmq+redis://%s/0?redis_prefix=%s&target_expire=30s&target_update=10s", addr, prefix)
	trA, trB, trC := openT(t, url), openT(t, url), openT(t, url)
	topic := fmt.Sprintf("cluster_%d", time.Now().UnixNano())
	a, b := newNode("a"), newNode("b")
	defer close(b.gate)
	startServer(t, trA, target.Target{Topic: topic, Server: "a"}, a)
	startServer(t, trB, target.Target{Topic: topic, Server: "b"}, b)
	c, err := client.New(trC, target.Target{Topic: topic}, client.Timeout(20*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	// Competing consumers: calls and casts are spread over both servers.
	who := map[string]int{}
	for range 20 {
		got, err := client.Call[string](ctx, c, "who", nil)
		if err != nil {
			t.Fatal(err)
		}
		who[got]++
	}
	if who["a"] == 0 || who["b"] == 0 || who["a"]+who["b"] != 20 {
		t.Fatalf("calls per server = %v, want both used", who)
	}
	for i := range 20 {
		if err := c.Cast(ctx, "record", WhoArgs{Text: fmt.Sprint("rr", i)}); err != nil {
			t.Fatal(err)
		}
	}
	// Direct calls.
	for _, srv := range []string{"a", "b", "a"} {
		for range 5 {
			got, err := client.Call[string](ctx, c.Prepare(client.Server(srv)), "who", nil)
			if err != nil || got != srv {
				t.Fatalf("direct call to %s: %q, %v", srv, got, err)
			}
		}
	}
	// Fanout.
	if err := c.Prepare(client.Fanout(true)).Cast(ctx, "record", WhoArgs{Text: "all"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, func() bool {
		ra, rb := a.recorded(), b.recorded()
		return len(ra)+len(rb) == 22 && contains(ra, "all") && contains(rb, "all")
	}, func() string { return fmt.Sprintf("casts recorded: a=%v b=%v", a.recorded(), b.recorded()) })
	if len(a.recorded()) < 2 || len(b.recorded()) < 2 {
		t.Fatalf("casts not shared: a=%v b=%v", a.recorded(), b.recorded())
	}

	// Kill a mid-call.
	errc := make(chan error, 1)
	go func() {
		_, err := client.Call[string](ctx, c.Prepare(client.Server("a")), "block", nil)
		errc <- err
	}()
	select {
	case <-a.inCall:
	case <-time.After(10 * time.Second):
		t.Fatal("call did not reach a")
	}
	start := time.Now()
	zmq.Crash(trA)
	select {
	case err := <-errc:
		if !errors.Is(err, transport.ErrConnectionLost) {
			t.Fatalf("call pending on the killed server: err = %v, want ErrConnectionLost", err)
		}
		t.Logf("pending call failed %v after the kill: %v", time.Since(start).Round(time.Millisecond), err)
	case <-time.After(10 * time.Second):
		t.Fatal("call pending on the killed server hangs")
	}
	// a's registration is still in Redis (it was killed), yet every call
	// goes to b, at once.
	for i := range 10 {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		got, err := client.Call[string](cctx, c, "who", nil)
		cancel()
		if err != nil || got != "b" {
			t.Fatalf("call %d after the kill: %q, %v", i, got, err)
		}
	}
	// So do the calls of a client that never talked to a.
	c2, _ := client.New(openT(t, url), target.Target{Topic: topic}, client.Timeout(5*time.Second))
	for i := range 10 {
		got, err := client.Call[string](ctx, c2, "who", nil)
		if err != nil || got != "b" {
			t.Fatalf("new client, call %d after the kill: %q, %v", i, got, err)
		}
	}
	// A direct call to the dead server fails fast.
	start = time.Now()
	_, err = client.Call[string](ctx, c.Prepare(client.Server("a")), "who", nil)
	if !errors.Is(err, transport.ErrNoServers) || time.Since(start) > time.Second {
		t.Fatalf("direct call to the killed server: %v after %v, want ErrNoServers at once", err, time.Since(start))
	}
}

// noLeaks checks, after t's other cleanups (transports closed), that no
// goroutine started by t is left.
func noLeaks(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

func waitFor(t *testing.T, d time.Duration, cond func() bool, msg func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal(msg())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
