package server_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/oslo-go/messaging/client"
	"github.com/oslo-go/messaging/dispatcher"
	_ "github.com/oslo-go/messaging/drivers/fake"
	"github.com/oslo-go/messaging/internal/engine"
	"github.com/oslo-go/messaging/serializer"
	"github.com/oslo-go/messaging/server"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
	"github.com/oslo-go/messaging/transport/driver"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type endpoint struct {
	running, peak atomic.Int32
	calls         atomic.Int32
	release       chan struct{}
	started       chan struct{}
	deadline      chan time.Duration
}

func newEndpoint() *endpoint {
	return &endpoint{release: make(chan struct{}), started: make(chan struct{}, 100), deadline: make(chan time.Duration, 10)}
}

func (e *endpoint) Wait(ctx context.Context) (string, error) {
	e.calls.Add(1)
	n := e.running.Add(1)
	defer e.running.Add(-1)
	for {
		p := e.peak.Load()
		if n <= p || e.peak.CompareAndSwap(p, n) {
			break
		}
	}
	e.started <- struct{}{}
	select {
	case <-e.release:
		return "done", nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func (e *endpoint) Deadline(ctx context.Context) error {
	e.calls.Add(1)
	if dl, ok := ctx.Deadline(); ok {
		e.deadline <- time.Until(dl)
	} else {
		e.deadline <- 0
	}
	return nil
}

func (e *endpoint) Count(ctx context.Context) error {
	e.calls.Add(1)
	e.started <- struct{}{}
	return nil
}

func (e *endpoint) Who(ctx context.Context) (map[string]any, error) {
	return serializer.RequestContextFrom(ctx), nil
}

func setup(t *testing.T, e *endpoint, opts ...server.Option) (*transport.Transport, *server.Server, *client.Client) {
	t.Helper()
	ctx := context.Background()
	tr, err := transport.Open(ctx, "fake:///"+t.Name(), transport.WithLogger(testLogger))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	srv, err := server.New(tr, target.Target{Topic: "t", Server: "s"}, []any{e}, append([]server.Option{server.WithLogger(testLogger)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	c, err := client.New(tr, target.Target{Topic: "t"}, client.Timeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return tr, srv, c
}

func TestMaxConcurrency(t *testing.T) {
	e := newEndpoint()
	_, srv, c := setup(t, e, server.MaxConcurrency(2))
	const n = 6
	errc := make(chan error, n)
	for range n {
		go func() { errc <- c.Call(context.Background(), "wait", nil, nil) }()
	}
	<-e.started
	<-e.started
	select {
	case <-e.started:
		t.Fatal("a third handler started with MaxConcurrency(2)")
	case <-time.After(100 * time.Millisecond):
	}
	close(e.release)
	for range n {
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
	}
	if p := e.peak.Load(); p != 2 {
		t.Fatalf("peak concurrency %d, want 2", p)
	}
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestDuplicateSuppressed(t *testing.T) {
	e := newEndpoint()
	tr, srv, _ := setup(t, e)
	body := `{"oslo.version": "2.0", "oslo.message": "{\"method\": \"count\", \"args\": {}, \"_unique_id\": \"0123456789abcdef0123456789abcdef\"}"}`
	tg := engine.Of(tr).ResolveTarget(target.Target{Topic: "t"})
	for range 3 {
		if err := engine.Of(tr).Driver().Send(context.Background(), tg, &driver.Message{Body: []byte(body)}); err != nil {
			t.Fatal(err)
		}
	}
	// A different message after the duplicates proves they were processed.
	other := strings.Replace(body, "0123456789", "9999999999", 1)
	engine.Of(tr).Driver().Send(context.Background(), tg, &driver.Message{Body: []byte(other)})
	<-e.started
	<-e.started
	srv.Shutdown(context.Background())
	if n := e.calls.Load(); n != 2 {
		t.Fatalf("handled %d times, want 2 (the duplicates once)", n)
	}
}

func TestGarbageDoesNotStopServer(t *testing.T) {
	e := newEndpoint()
	tr, _, c := setup(t, e)
	tg := engine.Of(tr).ResolveTarget(target.Target{Topic: "t"})
	for _, body := range []string{"", "garbage", `{"oslo.version": "9.0", "oslo.message": "{}"}`, `[1,2]`, `{"oslo.version": "2.0", "oslo.message": "{\"method\": \"count\", \"args\": 5}"}`} {
		engine.Of(tr).Driver().Send(context.Background(), tg, &driver.Message{Body: []byte(body)})
	}
	engine.Of(tr).Driver().Send(context.Background(), tg, &driver.Message{Body: []byte("{}"), ContentType: "application/x-unknown"})
	if err := c.Call(context.Background(), "count", nil, nil); err != nil {
		t.Fatalf("call after garbage: %v", err)
	}
	if n := e.calls.Load(); n != 1 {
		t.Fatalf("garbage reached the handler: %d calls", n)
	}
}

func TestLifecycle(t *testing.T) {
	e := newEndpoint()
	_, srv, c := setup(t, e)
	if err := srv.Start(context.Background()); !errors.Is(err, server.ErrServerStarted) {
		t.Fatalf("second Start: %v", err)
	}
	errc := make(chan error, 1)
	callCtx, cancelCall := context.WithTimeout(context.Background(), time.Second)
	defer cancelCall()
	go func() { errc <- c.Call(callCtx, "wait", nil, nil) }()
	<-e.started
	// Shutdown bounded by a ctx that expires while the handler runs.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown with a blocked handler: %v", err)
	}
	// Close cancels the handler's ctx; its reply is abandoned, so the call
	// ends with its own deadline or error.
	srv.Close()
	select {
	case <-e.started:
		t.Fatal("handler ran again")
	default:
	}
	if e.running.Load() != 0 {
		// The handler returns promptly after Close.
		deadline := time.Now().Add(2 * time.Second)
		for e.running.Load() != 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if e.running.Load() != 0 {
			t.Fatal("Close did not cancel the handler")
		}
	}
	if err := srv.Start(context.Background()); !errors.Is(err, server.ErrServerClosed) {
		t.Fatalf("Start after Close: %v", err)
	}
	srv.Close()
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown after Close: %v", err)
	}
	select {
	case err := <-errc:
		// The reply was abandoned: the caller's own deadline ends the call.
		if !errors.Is(err, transport.ErrTimeout) {
			t.Fatalf("call after Close: %v, want its timeout", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("call did not end")
	}
}

func TestNewValidates(t *testing.T) {
	tr, err := transport.Open(context.Background(), "fake:///"+t.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	if _, err := server.New(tr, target.Target{Topic: "t"}, []any{newEndpoint()}); !errors.Is(err, target.ErrInvalidTarget) {
		t.Errorf("no server name: %v", err)
	}
	if _, err := server.New(tr, target.Target{Topic: "t", Server: "s"}, []any{struct{}{}}); err == nil {
		t.Error("endpoint without methods accepted")
	}
	if _, err := server.New(nil, target.Target{Topic: "t", Server: "s"}, []any{newEndpoint()}); err == nil {
		t.Error("nil transport accepted")
	}
}

func TestHandlerDeadlineIsCallers(t *testing.T) {
	e := newEndpoint()
	_, _, c := setup(t, e)
	if err := c.Prepare(client.Timeout(5*time.Second)).Call(context.Background(), "deadline", nil, nil); err != nil {
		t.Fatal(err)
	}
	if d := <-e.deadline; d <= 4*time.Second || d > 5*time.Second {
		t.Fatalf("handler deadline in %v, want about 5s", d)
	}
	if err := c.Cast(context.Background(), "deadline", nil); err != nil {
		t.Fatal(err)
	}
	if d := <-e.deadline; d != 0 {
		t.Fatalf("cast handler has a deadline in %v", d)
	}
}

// tagging adds a key to the request context on the way in and wraps
// results on the way out.
type tagging struct{ serializer.NoOp }

func (tagging) DeserializeContext(ctx context.Context, m map[string]any) (context.Context, error) {
	rc := serializer.RequestContext{"server_saw": m["request_id"]}
	return serializer.WithRequestContext(ctx, rc), nil
}

func (tagging) SerializeEntity(_ context.Context, e any) (any, error) {
	return map[string]any{"wrapped": e}, nil
}

func TestSerializerAndMiddleware(t *testing.T) {
	e := newEndpoint()
	var seen []string
	mw := func(next dispatcher.Handler) dispatcher.Handler {
		return func(ctx context.Context, req *dispatcher.Request) (any, error) {
			seen = append(seen, req.Method+"@"+req.Target.Exchange+"/"+req.Target.Topic)
			return next(ctx, req)
		}
	}
	_, srv, c := setup(t, e, server.DispatchOptions(dispatcher.WithSerializer(tagging{}), dispatcher.WithMiddleware(mw)))
	ctx := serializer.WithRequestContext(context.Background(), serializer.RequestContext{"request_id": "req-9"})
	got, err := client.Call[map[string]map[string]any](ctx, c, "who", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got["wrapped"]["server_saw"] != "req-9" {
		t.Fatalf("result %v", got)
	}
	srv.Shutdown(context.Background())
	if len(seen) != 1 || seen[0] != "who@openstack/"+srv.Target().Topic {
		t.Fatalf("middleware saw %v", seen)
	}
}

// lateEndpoint's handler returns a result only after its caller's
// deadline.
type lateEndpoint struct{ returned chan struct{} }

func (e *lateEndpoint) Late(ctx context.Context) (string, error) {
	<-ctx.Done()
	time.Sleep(20 * time.Millisecond)
	defer close(e.returned)
	return "late", nil
}

// recorder keeps the messages of the records it handles.
type recorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	r.msgs = append(r.msgs, rec.Message)
	r.mu.Unlock()
	return nil
}
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }

// TestNoReplyAfterCallersDeadline: a result that comes after the caller's
// deadline is not sent; the caller reports its timeout.
func TestNoReplyAfterCallersDeadline(t *testing.T) {
	ctx := context.Background()
	tr, err := transport.Open(ctx, "fake:///"+t.Name(), transport.WithLogger(testLogger))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	rec := &recorder{}
	e := &lateEndpoint{returned: make(chan struct{})}
	srv, err := server.New(tr, target.Target{Topic: "t", Server: "s"}, []any{e}, server.WithLogger(slog.New(rec)))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c, _ := client.New(tr, target.Target{Topic: "t"}, client.Timeout(200*time.Millisecond))
	var te *transport.TimeoutError
	if err := c.Call(ctx, "late", nil, nil); !errors.As(err, &te) {
		t.Fatalf("call: %v, want a timeout", err)
	}
	<-e.returned
	const want = "server: the caller's deadline has passed; reply not sent"
	for range 200 {
		rec.mu.Lock()
		found := slices.Contains(rec.msgs, want)
		rec.mu.Unlock()
		if found {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("server logged %q, want %q", rec.msgs, want)
}
