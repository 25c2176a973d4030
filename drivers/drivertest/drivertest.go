// Package drivertest is the conformance suite every driver runs. It drives
// a driver through the whole stack (transport, client, server, dispatcher)
// over a real broker:
//
//	func TestConformance(t *testing.T) {
//		drivertest.Run(t, drivertest.Config{
//			URL: func(t testing.TB) string { return "fake:///" + t.Name() },
//		})
//	}
//
// It covers call, cast, fanout, direct-to-server, competing consumers,
// concurrent calls, remote errors, timeouts, call-monitor heartbeats,
// graceful shutdown with calls in flight, large messages, request context,
// idempotent Close, and goroutine leaks after Close; and hostile input:
// garbage bodies, bad envelopes, wrong types, deep nesting, bogus reply
// addresses, oversize messages and the driver's own attacks (bombs,
// forged headers), after which the server must serve good calls promptly
// with its memory bounded. Each subtest uses its
// own topics, so several drivers' suites may share one broker.
package drivertest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/oslo-go/messaging/client"
	"github.com/oslo-go/messaging/dispatcher"
	"github.com/oslo-go/messaging/internal/engine"
	"github.com/oslo-go/messaging/serializer"
	"github.com/oslo-go/messaging/server"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
	"github.com/oslo-go/messaging/transport/driver"
)

// Config describes the driver under test.
type Config struct {
	// URL returns the transport URL to use in test t. Transports opened
	// from the URLs returned for one test must reach each other.
	URL func(t testing.TB) string
	// Options are passed to every transport.Open.
	Options []transport.Option
	// NoServersFailFast says that a call to a target no server listens on
	// fails at once with transport.ErrNoServers instead of timing out.
	NoServersFailFast bool
	// Notifications says that the driver implements driver.Notifier.
	Notifications bool
	// NoPools says that the driver has no notification listener pools (as
	// oslo's AMQP 1.0 driver): ListenNotifications with a pool must fail
	// with an error matching errors.ErrUnsupported, and the notification
	// tests use the default pool only.
	NoPools bool
	// Scale multiplies the timeouts, for slow brokers; 0 means 1.
	Scale float64
	// MaxMessageSize is the driver's maximum message size: the hostile
	// subtests check that a bigger call or cast fails at once with
	// transport.ErrMessageTooLarge. 0 skips that check.
	MaxMessageSize int
	// Attacks are the driver's own hostile inputs (compression bombs,
	// forged headers), run as subtests of Hostile.
	Attacks []Attack
	// MemoryLimit bounds the heap growth an attack may cause; 0 means
	// 512 MiB.
	MemoryLimit int64
}

// Run runs the conformance suite.
func Run(t *testing.T, cfg Config) {
	if cfg.Scale == 0 {
		cfg.Scale = 1
	}
	s := &suite{cfg: cfg}
	tests := []struct {
		name string
		fn   func(t *testing.T)
	}{
		{"Call", s.testCall},
		{"Cast", s.testCast},
		{"Fanout", s.testFanout},
		{"DirectToServer", s.testDirect},
		{"CompetingConsumers", s.testCompeting},
		{"Burst", s.testBurst},
		{"ConcurrentCalls", s.testConcurrentCalls},
		{"RemoteErrors", s.testRemoteErrors},
		{"RequestContext", s.testRequestContext},
		{"Timeout", s.testTimeout},
		{"NoServer", s.testNoServer},
		{"CallMonitor", s.testCallMonitor},
		{"CallMonitorDeadServer", s.testCallMonitorDeadServer},
		{"ShutdownWithCallsInFlight", s.testShutdownInFlight},
		{"LargeMessage", s.testLargeMessage},
		{"Close", s.testClose},
		{"HostileRequests", s.testHostileRequests},
		{"BogusReplyAddresses", s.testBogusReplyAddresses},
		{"Oversize", s.testOversize},
		{"Attacks", s.testAttacks},
	}
	if cfg.Notifications {
		tests = append(tests,
			struct {
				name string
				fn   func(t *testing.T)
			}{"Notifications", s.testNotifications})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Cleanups run last-in first-out: this one runs after the
			// subtest's transports and servers are closed.
			ignore := goleak.IgnoreCurrent()
			t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
			tt.fn(t)
		})
	}
}

type suite struct{ cfg Config }

func (s *suite) d(x time.Duration) time.Duration { return time.Duration(float64(x) * s.cfg.Scale) }

func (s *suite) open(t *testing.T) *transport.Transport {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), s.d(30*time.Second))
	defer cancel()
	opts := append([]transport.Option{transport.WithLogger(TestLogger(t))}, s.cfg.Options...)
	tr, err := transport.Open(ctx, s.cfg.URL(t), opts...)
	if err != nil {
		t.Fatalf("transport.Open: %v", err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

var unsafeChars = regexp.MustCompile(`[^a-zA-Z0-9]+`)

// topic returns a topic name unique to this test run.
func topic(t *testing.T) string {
	name := strings.Trim(unsafeChars.ReplaceAllString(t.Name(), "_"), "_")
	if len(name) > 60 {
		name = name[len(name)-60:]
	}
	return fmt.Sprintf("dt_%s_%08x", strings.ToLower(name), rand.Uint32())
}

func (s *suite) ctx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), s.d(d))
	t.Cleanup(cancel)
	return ctx
}

// startServer starts a server and shuts it down at the end of the test.
func (s *suite) startServer(t *testing.T, tr *transport.Transport, tg target.Target, endpoints []any, opts ...server.Option) *server.Server {
	t.Helper()
	srv, err := server.New(tr, tg, endpoints, opts...)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	if err := srv.Start(s.ctx(t, 30*time.Second)); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), s.d(10*time.Second))
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		srv.Close()
	})
	return srv
}

func newClient(t *testing.T, tr *transport.Transport, tg target.Target, opts ...client.Option) *client.Client {
	t.Helper()
	c, err := client.New(tr, tg, opts...)
	if err != nil {
		t.Fatalf("client.New: %v", err)
	}
	return c
}

// Echo is the endpoint most subtests use.
type Echo struct {
	server string
	casts  chan string
	gate   chan struct{} // Block waits on it
	inCall chan struct{} // Block signals on it
	hits   atomic.Int64
}

func newEcho(server string) *Echo {
	return &Echo{server: server, casts: make(chan string, 1024), gate: make(chan struct{}), inCall: make(chan struct{}, 1024)}
}

// EchoArgs are the arguments of Echo.Echo.
type EchoArgs struct {
	Text  string         `json:"text"`
	N     int64          `json:"n"`
	Extra map[string]any `json:"extra,omitempty"`
}

// EchoResult is what Echo.Echo returns.
type EchoResult struct {
	Text   string         `json:"text"`
	N      int64          `json:"n"`
	Server string         `json:"server"`
	Extra  map[string]any `json:"extra,omitempty"`
}

// Echo returns its arguments and the server's name.
func (e *Echo) Echo(_ context.Context, a EchoArgs) (EchoResult, error) {
	e.hits.Add(1)
	return EchoResult{Text: a.Text, N: a.N, Server: e.server, Extra: a.Extra}, nil
}

// Record is a cast target: it records the text it got.
func (e *Echo) Record(_ context.Context, a EchoArgs) error {
	e.hits.Add(1)
	e.casts <- a.Text
	return nil
}

// Block waits until the test releases it or ctx ends.
func (e *Echo) Block(ctx context.Context) (string, error) {
	e.inCall <- struct{}{}
	select {
	case <-e.gate:
		return "released", nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// SleepArgs are the arguments of Echo.Sleep.
type SleepArgs struct {
	Millis int `json:"millis"`
}

// Sleep waits for the given time or until ctx ends.
func (e *Echo) Sleep(ctx context.Context, a SleepArgs) (string, error) {
	e.inCall <- struct{}{}
	select {
	case <-time.After(time.Duration(a.Millis) * time.Millisecond):
		return "slept", nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// Context returns the request context the server received.
func (e *Echo) Context(ctx context.Context) (map[string]any, error) {
	return serializer.RequestContextFrom(ctx), nil
}

var errNotFound = transport.NewKind("drivertest.errors", "NotFound", "drivertest: not found")

// Fail returns the kind of error the arguments ask for, or panics.
func (e *Echo) Fail(_ context.Context, a EchoArgs) error {
	switch a.Text {
	case "kind":
		return fmt.Errorf("instance %d: %w", a.N, errNotFound)
	case "panic":
		panic("boom")
	}
	return errors.New(a.Text)
}

func (s *suite) testCall(t *testing.T) {
	tr, str := s.open(t), s.open(t)
	tg := target.Target{Topic: topic(t), Server: "s1"}
	s.startServer(t, str, tg, []any{dispatcher.Endpoint(newEcho("s1"), dispatcher.Namespace("ns"), dispatcher.Version("1.3"))})
	c := newClient(t, tr, target.Target{Topic: tg.Topic, Namespace: "ns", Version: "1.2"})
	ctx := s.ctx(t, 20*time.Second)
	for i := range 5 {
		got, err := client.Call[EchoResult](ctx, c, "echo", EchoArgs{Text: "héllo \"wörld\"\n", N: int64(i), Extra: map[string]any{"list": []any{"a", true, nil}}})
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if got.Text != "héllo \"wörld\"\n" || got.N != int64(i) || got.Server != "s1" {
			t.Fatalf("call %d = %+v", i, got)
		}
		if l, _ := got.Extra["list"].([]any); len(l) != 3 || l[0] != "a" || l[1] != true || l[2] != nil {
			t.Fatalf("extra = %#v", got.Extra)
		}
	}
	// A map as arguments and a nil reply.
	if err := c.Call(ctx, "echo", map[string]any{"text": "m"}, nil); err != nil {
		t.Fatalf("call with map args: %v", err)
	}
}

func (s *suite) testCast(t *testing.T) {
	tr, str := s.open(t), s.open(t)
	tg := target.Target{Topic: topic(t), Server: "s1"}
	e := newEcho("s1")
	s.startServer(t, str, tg, []any{e})
	c := newClient(t, tr, target.Target{Topic: tg.Topic})
	ctx := s.ctx(t, 20*time.Second)
	const n = 20
	for i := range n {
		if err := c.Cast(ctx, "record", EchoArgs{Text: fmt.Sprint(i)}); err != nil {
			t.Fatalf("cast: %v", err)
		}
	}
	seen := map[string]bool{}
	for len(seen) < n {
		select {
		case txt := <-e.casts:
			if seen[txt] {
				t.Fatalf("cast %s delivered twice", txt)
			}
			seen[txt] = true
		case <-ctx.Done():
			t.Fatalf("got %d of %d casts", len(seen), n)
		}
	}
}

func (s *suite) testFanout(t *testing.T) {
	tr := s.open(t)
	tp := topic(t)
	e1, e2 := newEcho("s1"), newEcho("s2")
	s.startServer(t, s.open(t), target.Target{Topic: tp, Server: "s1"}, []any{e1})
	s.startServer(t, s.open(t), target.Target{Topic: tp, Server: "s2"}, []any{e2})
	c := newClient(t, tr, target.Target{Topic: tp, Fanout: true})
	ctx := s.ctx(t, 20*time.Second)
	if err := c.Cast(ctx, "record", EchoArgs{Text: "all"}); err != nil {
		t.Fatalf("fanout cast: %v", err)
	}
	for _, e := range []*Echo{e1, e2} {
		select {
		case got := <-e.casts:
			if got != "all" {
				t.Fatalf("%s got %q", e.server, got)
			}
		case <-ctx.Done():
			t.Fatalf("%s did not get the fanout cast", e.server)
		}
	}
	err := c.Call(ctx, "echo", nil, nil)
	if !errors.Is(err, target.ErrInvalidTarget) {
		t.Fatalf("call to fanout target: err = %v, want ErrInvalidTarget", err)
	}
	// Each server got it exactly once.
	time.Sleep(s.d(100 * time.Millisecond))
	if n1, n2 := e1.hits.Load(), e2.hits.Load(); n1 != 1 || n2 != 1 {
		t.Fatalf("hits = %d, %d; want 1, 1", n1, n2)
	}
}

func (s *suite) testDirect(t *testing.T) {
	tr := s.open(t)
	tp := topic(t)
	s.startServer(t, s.open(t), target.Target{Topic: tp, Server: "s1"}, []any{newEcho("s1")})
	s.startServer(t, s.open(t), target.Target{Topic: tp, Server: "s2"}, []any{newEcho("s2")})
	c := newClient(t, tr, target.Target{Topic: tp})
	ctx := s.ctx(t, 20*time.Second)
	for _, srv := range []string{"s1", "s2", "s2", "s1"} {
		for range 5 {
			got, err := client.Call[EchoResult](ctx, c.Prepare(client.Server(srv)), "echo", nil)
			if err != nil {
				t.Fatalf("call to %s: %v", srv, err)
			}
			if got.Server != srv {
				t.Fatalf("call to %s answered by %s", srv, got.Server)
			}
		}
	}
}

func (s *suite) testCompeting(t *testing.T) {
	tr := s.open(t)
	tp := topic(t)
	e1, e2 := newEcho("s1"), newEcho("s2")
	s.startServer(t, s.open(t), target.Target{Topic: tp, Server: "s1"}, []any{e1})
	s.startServer(t, s.open(t), target.Target{Topic: tp, Server: "s2"}, []any{e2})
	c := newClient(t, tr, target.Target{Topic: tp})
	ctx := s.ctx(t, 20*time.Second)
	const n = 40
	for i := range n {
		if err := c.Cast(ctx, "record", EchoArgs{Text: fmt.Sprint(i)}); err != nil {
			t.Fatalf("cast: %v", err)
		}
	}
	seen := map[string]bool{}
	for len(seen) < n {
		select {
		case txt := <-e1.casts:
			seen[txt] = true
		case txt := <-e2.casts:
			seen[txt] = true
		case <-ctx.Done():
			t.Fatalf("got %d of %d casts", len(seen), n)
		}
	}
	time.Sleep(s.d(100 * time.Millisecond))
	n1, n2 := e1.hits.Load(), e2.hits.Load()
	if n1+n2 != n {
		t.Fatalf("handled %d+%d casts, want %d in all (each once)", n1, n2, n)
	}
	if n1 == 0 || n2 == 0 {
		t.Fatalf("casts not shared between the servers: %d, %d", n1, n2)
	}
}

// testBurst sends a burst of casts and then nothing: every cast must be
// handled without a later message to wake the server (a listener whose
// concurrent Next callers miss a wake-up leaves requests queued).
func (s *suite) testBurst(t *testing.T) {
	tr, str := s.open(t), s.open(t)
	tg := target.Target{Topic: topic(t), Server: "s1"}
	e := newEcho("s1")
	s.startServer(t, str, tg, []any{e})
	c := newClient(t, tr, target.Target{Topic: tg.Topic})
	ctx := s.ctx(t, 30*time.Second)
	for round := range 5 {
		const n = 200
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range n / 8 {
					if err := c.Cast(ctx, "record", EchoArgs{Text: fmt.Sprint(round, g, i)}); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		for got := 0; got < n; got++ {
			select {
			case <-e.casts:
			case <-time.After(s.d(5 * time.Second)):
				t.Fatalf("round %d: %d of %d casts handled, the rest left queued", round, got, n)
			}
		}
	}
}

func (s *suite) testConcurrentCalls(t *testing.T) {
	tr := s.open(t)
	tp := topic(t)
	s.startServer(t, s.open(t), target.Target{Topic: tp, Server: "s1"}, []any{newEcho("s1")})
	s.startServer(t, s.open(t), target.Target{Topic: tp, Server: "s2"}, []any{newEcho("s2")})
	c := newClient(t, tr, target.Target{Topic: tp})
	ctx := s.ctx(t, 60*time.Second)
	const callers, calls = 64, 20
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for g := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range calls {
				n := int64(g*1000 + i)
				got, err := client.Call[EchoResult](ctx, c, "echo", EchoArgs{Text: "x", N: n})
				if err != nil {
					errs <- err
					return
				}
				if got.N != n {
					errs <- fmt.Errorf("reply for %d carried %d", n, got.N)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func (s *suite) testRemoteErrors(t *testing.T) {
	tr := s.open(t)
	tp := topic(t)
	s.startServer(t, s.open(t), target.Target{Topic: tp, Server: "s1"},
		[]any{dispatcher.Endpoint(newEcho("s1"), dispatcher.Version("1.1"))})
	c := newClient(t, tr, target.Target{Topic: tp})
	ctx := s.ctx(t, 20*time.Second)

	err := c.Call(ctx, "fail", EchoArgs{Text: "bad volume size: 0"}, nil)
	var re *transport.RemoteError
	if !errors.As(err, &re) || re.Message != "bad volume size: 0" || re.Class != "Exception" || re.Module != "builtins" {
		t.Fatalf("plain error: err = %#v", err)
	}
	err = c.Call(ctx, "fail", EchoArgs{Text: "kind", N: 7}, nil)
	if !errors.Is(err, errNotFound) || !errors.As(err, &re) || re.Message != "instance 7: drivertest: not found" {
		t.Fatalf("kind error: err = %v", err)
	}
	err = c.Call(ctx, "fail", EchoArgs{Text: "panic"}, nil)
	if !errors.Is(err, dispatcher.ErrPanic) {
		t.Fatalf("panic: err = %v, want dispatcher.ErrPanic", err)
	}
	err = c.Call(ctx, "nope", nil, nil)
	if !errors.Is(err, dispatcher.ErrNoSuchMethod) || !errors.As(err, &re) || re.Message != "Endpoint does not support RPC method nope" {
		t.Fatalf("no such method: err = %v", err)
	}
	err = c.Prepare(client.Version("2.0")).Call(ctx, "echo", nil, nil)
	if !errors.Is(err, dispatcher.ErrUnsupportedVersion) || !errors.As(err, &re) ||
		re.Message != "Endpoint does not support RPC version 2.0. Attempted method: echo" {
		t.Fatalf("unsupported version: err = %v", err)
	}
	err = c.Call(ctx, "echo", map[string]any{"n": "not a number"}, nil)
	if !errors.Is(err, dispatcher.ErrInvalidArguments) || !strings.Contains(err.Error(), "'n'") {
		t.Fatalf("bad argument: err = %v", err)
	}
	// The server keeps serving after all that.
	if err := c.Call(ctx, "echo", nil, nil); err != nil {
		t.Fatalf("call after failures: %v", err)
	}
}

func (s *suite) testRequestContext(t *testing.T) {
	tr := s.open(t)
	tp := topic(t)
	s.startServer(t, s.open(t), target.Target{Topic: tp, Server: "s1"}, []any{newEcho("s1")})
	c := newClient(t, tr, target.Target{Topic: tp})
	rc := serializer.RequestContext{"request_id": "req-1", "user": "u1", "roles": []any{"admin", "member"}, "is_admin": true, "quota": map[string]any{"cores": 4.0}}
	ctx := serializer.WithRequestContext(s.ctx(t, 20*time.Second), rc)
	got, err := client.Call[map[string]any](ctx, c, "context", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got["request_id"] != "req-1" || got["user"] != "u1" || got["is_admin"] != true {
		t.Fatalf("context = %#v", got)
	}
	if roles, _ := got["roles"].([]any); len(roles) != 2 || roles[0] != "admin" {
		t.Fatalf("roles = %#v", got["roles"])
	}
	if q, _ := got["quota"].(map[string]any); q == nil || fmt.Sprint(q["cores"]) != "4" {
		t.Fatalf("quota = %#v", got["quota"])
	}
}

func (s *suite) testTimeout(t *testing.T) {
	tr := s.open(t)
	tp := topic(t)
	e := newEcho("s1")
	s.startServer(t, s.open(t), target.Target{Topic: tp, Server: "s1"}, []any{e})
	defer close(e.gate)
	c := newClient(t, tr, target.Target{Topic: tp}, client.Timeout(s.d(300*time.Millisecond)))
	start := time.Now()
	err := c.Call(context.Background(), "block", nil, nil)
	elapsed := time.Since(start)
	if !errors.Is(err, transport.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want ErrTimeout and DeadlineExceeded", err)
	}
	if elapsed < s.d(300*time.Millisecond) || elapsed > s.d(5*time.Second) {
		t.Fatalf("timed out after %v, want about %v", elapsed, s.d(300*time.Millisecond))
	}
	// A sooner ctx deadline wins over the client timeout.
	ctx, cancel := context.WithTimeout(context.Background(), s.d(200*time.Millisecond))
	defer cancel()
	start = time.Now()
	err = c.Prepare(client.Timeout(time.Hour)).Call(ctx, "block", nil, nil)
	if !errors.Is(err, transport.ErrTimeout) || time.Since(start) > s.d(5*time.Second) {
		t.Fatalf("ctx deadline: err = %v after %v", err, time.Since(start))
	}
}

func (s *suite) testNoServer(t *testing.T) {
	tr := s.open(t)
	c := newClient(t, tr, target.Target{Topic: topic(t)}, client.Timeout(s.d(300*time.Millisecond)))
	start := time.Now()
	err := c.Call(context.Background(), "echo", nil, nil)
	if s.cfg.NoServersFailFast {
		if !errors.Is(err, transport.ErrNoServers) {
			t.Fatalf("err = %v, want ErrNoServers", err)
		}
		if time.Since(start) >= s.d(300*time.Millisecond) {
			t.Fatalf("no-servers error took %v, want it before the timeout", time.Since(start))
		}
		return
	}
	if !errors.Is(err, transport.ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
}

func (s *suite) testCallMonitor(t *testing.T) {
	tr := s.open(t)
	tp := topic(t)
	s.startServer(t, s.open(t), target.Target{Topic: tp, Server: "s1"}, []any{newEcho("s1")})
	c := newClient(t, tr, target.Target{Topic: tp},
		client.Timeout(s.d(20*time.Second)), client.CallMonitorTimeout(s.d(2*time.Second)))
	// Longer than the monitor timeout, so only heartbeats keep the call
	// alive; the 2 s window tolerates a loaded broker on a small machine.
	ms := int(s.d(3500*time.Millisecond) / time.Millisecond)
	got, err := client.Call[string](context.Background(), c, "sleep", SleepArgs{Millis: ms})
	if err != nil || got != "slept" {
		t.Fatalf("monitored call of %d ms: %q, %v (heartbeats must keep it alive)", ms, got, err)
	}
}

// testCallMonitorDeadServer takes a request off the queue and never
// answers, like a server that died: the monitor fails the call long
// before the overall timeout.
func (s *suite) testCallMonitorDeadServer(t *testing.T) {
	tr := s.open(t)
	tg := target.Target{Topic: topic(t), Server: "s1"}
	l, err := engine.Of(s.open(t)).Listen(s.ctx(t, 10*time.Second), tg, driver.ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := make(chan struct{})
	go func() {
		defer close(taken)
		l.Next(s.ctx(t, 20*time.Second))
	}()
	c := newClient(t, tr, target.Target{Topic: tg.Topic},
		client.Timeout(s.d(20*time.Second)), client.CallMonitorTimeout(s.d(500*time.Millisecond)))
	start := time.Now()
	err = c.Call(context.Background(), "echo", nil, nil)
	var te *transport.TimeoutError
	if !errors.As(err, &te) || !te.Monitor || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a monitor TimeoutError", err)
	}
	if e := time.Since(start); e > s.d(5*time.Second) {
		t.Fatalf("monitor fired after %v", e)
	}
	<-taken
}

func (s *suite) testShutdownInFlight(t *testing.T) {
	tr, str := s.open(t), s.open(t)
	tg := target.Target{Topic: topic(t), Server: "s1"}
	e := newEcho("s1")
	srv, err := server.New(str, tg, []any{e})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(s.ctx(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, tr, target.Target{Topic: tg.Topic}, client.Timeout(s.d(20*time.Second)))
	const n = 8
	ms := int(s.d(300*time.Millisecond) / time.Millisecond)
	results := make(chan error, n)
	for range n {
		go func() {
			got, err := client.Call[string](context.Background(), c, "sleep", SleepArgs{Millis: ms})
			if err == nil && got != "slept" {
				err = fmt.Errorf("got %q", got)
			}
			results <- err
		}()
	}
	for range n {
		select {
		case <-e.inCall:
		case <-time.After(s.d(10 * time.Second)):
			t.Fatal("calls did not reach the handler")
		}
	}
	if err := srv.Shutdown(s.ctx(t, 10*time.Second)); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	// Shutdown returned only after the handlers were done and had replied.
	for range n {
		if err := <-results; err != nil {
			t.Fatalf("call in flight during Shutdown: %v", err)
		}
	}
	if err := srv.Shutdown(s.ctx(t, time.Second)); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
	if err := srv.Start(s.ctx(t, time.Second)); !errors.Is(err, server.ErrServerClosed) {
		t.Fatalf("Start after Shutdown: %v", err)
	}
	srv.Close()
}

func (s *suite) testLargeMessage(t *testing.T) {
	tr := s.open(t)
	tp := topic(t)
	s.startServer(t, s.open(t), target.Target{Topic: tp, Server: "s1"}, []any{newEcho("s1")})
	c := newClient(t, tr, target.Target{Topic: tp})
	big := strings.Repeat("0123456789abcdef\"\\é", 1<<16) // ~1.3 MB, with escapes
	got, err := client.Call[EchoResult](s.ctx(t, 30*time.Second), c, "echo", EchoArgs{Text: big})
	if err != nil {
		t.Fatal(err)
	}
	if got.Text != big {
		t.Fatalf("large message came back with %d bytes, want %d", len(got.Text), len(big))
	}
}

func (s *suite) testClose(t *testing.T) {
	tr, str := s.open(t), s.open(t)
	tg := target.Target{Topic: topic(t), Server: "s1"}
	e := newEcho("s1")
	srv := s.startServer(t, str, tg, []any{e})
	defer close(e.gate)
	c := newClient(t, tr, target.Target{Topic: tg.Topic}, client.Timeout(s.d(20*time.Second)))
	// A call in flight when its transport closes fails at once.
	errc := make(chan error, 1)
	go func() { errc <- c.Call(context.Background(), "block", nil, nil) }()
	select {
	case <-e.inCall:
	case <-time.After(s.d(10 * time.Second)):
		t.Fatal("call did not reach the handler")
	}
	if err := tr.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, transport.ErrClosed) {
			t.Fatalf("call in flight at Close: err = %v, want ErrClosed", err)
		}
	case <-time.After(s.d(5 * time.Second)):
		t.Fatal("call in flight did not end at Close")
	}
	if err := tr.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := c.Call(context.Background(), "echo", nil, nil); !errors.Is(err, transport.ErrClosed) {
		t.Fatalf("call after Close: err = %v", err)
	}
	if err := c.Cast(context.Background(), "echo", nil); !errors.Is(err, transport.ErrClosed) {
		t.Fatalf("cast after Close: err = %v", err)
	}
	srv.Close()
	srv.Close()
	if err := str.Close(); err != nil {
		t.Fatalf("server transport Close: %v", err)
	}
	if err := str.Close(); err != nil {
		t.Fatalf("second server transport Close: %v", err)
	}
}

// testNotifications drives the driver's notification interface directly:
// messages sent before any listener exists are kept; each pool and the
// default pool get every message once; requeue redelivers. With NoPools,
// a pool is refused with errors.ErrUnsupported instead.
func (s *suite) testNotifications(t *testing.T) {
	tr := s.open(t)
	n, ok := engine.Of(tr).Driver().(driver.Notifier)
	if !ok {
		t.Fatal("driver does not implement driver.Notifier")
	}
	tg := engine.Of(tr).ResolveTarget(target.Target{Topic: topic(t) + ".info"})
	ctx := s.ctx(t, 30*time.Second)
	listeners := map[string]driver.Listener{}
	// Listeners in a pool only get what is sent after they exist; start the
	// pool first, then send, then start the default listener late.
	pooled, err := n.ListenNotifications(ctx, []target.Target{tg}, "pool1", driver.ListenOptions{})
	switch {
	case s.cfg.NoPools && err == nil:
		pooled.Close()
		t.Fatal("ListenNotifications with a pool succeeded; the driver is configured as having no pools")
	case s.cfg.NoPools && !errors.Is(err, errors.ErrUnsupported):
		t.Fatalf("ListenNotifications with a pool: err = %v, want one matching errors.ErrUnsupported", err)
	case s.cfg.NoPools:
		pooled = nil
	case err != nil:
		t.Fatal(err)
	default:
		defer pooled.Close()
		listeners["pool1"] = pooled
	}
	const count = 5
	for i := range count {
		if err := n.Notify(ctx, tg, &driver.Message{Body: []byte(fmt.Sprintf(`{"n": %d}`, i))}); err != nil {
			t.Fatal(err)
		}
	}
	def, err := engine.Of(s.open(t)).Driver().(driver.Notifier).ListenNotifications(ctx, []target.Target{tg}, "", driver.ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer def.Close()
	listeners["default"] = def
	for name, l := range listeners {
		got := map[string]bool{}
		for len(got) < count {
			in, err := l.Next(ctx)
			if err != nil {
				t.Fatalf("%s: Next: %v (got %d of %d)", name, err, len(got), count)
			}
			body := string(in.Message().Body)
			if got[body] {
				t.Fatalf("%s: %s delivered twice", name, body)
			}
			got[body] = true
			if err := in.Ack(); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Requeue: the message comes back.
	if err := n.Notify(ctx, tg, &driver.Message{Body: []byte(`{"again": true}`)}); err != nil {
		t.Fatal(err)
	}
	in, err := def.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Requeue(); err != nil {
		t.Fatal(err)
	}
	in2, err := def.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if string(in2.Message().Body) != `{"again": true}` {
		t.Fatalf("after requeue got %s", in2.Message().Body)
	}
	in2.Ack()
	// Drain the pooled copy.
	if pooled != nil {
		if in3, err := pooled.Next(ctx); err == nil {
			in3.Ack()
		}
	}
}
