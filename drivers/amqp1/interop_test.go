package amqp1_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oslo-go/messaging/client"
	"github.com/oslo-go/messaging/drivers/amqp1/internal/intermediary"
	"github.com/oslo-go/messaging/internal/engine"
	"github.com/oslo-go/messaging/notify"
	"github.com/oslo-go/messaging/serializer"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
	"github.com/oslo-go/messaging/transport/driver"
)

// TestInteropPython runs Python oslo.messaging 14's amqp1 driver
// (testdata/oslo_peer.py) against this driver over the Proton
// intermediary, in both flavours: the broker makes both sides choose
// legacy addresses, the router routable ones (dynamic addressing, as by
// default). Each direction covers call, call to a server, fanout, cast,
// remote errors, call-monitor heartbeats and notifications; then the
// intermediary is killed and restarted while calls go on.
func TestInteropPython(t *testing.T) {
	needPython(t)
	t.Parallel()
	for _, f := range []intermediary.Flavour{intermediary.Broker, intermediary.Router} {
		t.Run(string(f), func(t *testing.T) {
			t.Parallel()
			interop(t, f)
		})
	}
}

func interop(t *testing.T, f intermediary.Flavour) {
	im := intermediary.Start(t, f, true)
	url := im.URL("connection_retry_interval=1&link_retry_delay=1")
	pyTopic, goTopic := uniqueTopic("py"), uniqueTopic("go")
	pyNotify, goNotify := uniqueTopic("pyn"), uniqueTopic("gon")
	// Python peers take seconds to start: start them all at once.
	peerURL := im.URL("")
	opts := []string{"--option", "connection_retry_interval=1"}
	// One process serves py1 and py2, the other is the client and the
	// notification listener.
	pys := startPeer(t, "py-servers", "server", append([]string{"--url", peerURL, "--topic", pyTopic, "--server", "py1", "--server", "py2"}, opts...)...)
	pyc := startPeer(t, "py-client", "client", append([]string{"--url", peerURL, "--topic", goTopic, "--listen-topic", pyNotify}, opts...)...)
	pyl := pyc

	tr := openTransport(t, url)
	go1, go2 := newService("go1"), newService("go2")
	startServer(t, openTransport(t, url), target.Target{Topic: goTopic, Server: "go1"}, go1)
	startServer(t, openTransport(t, url), target.Target{Topic: goTopic, Server: "go2"}, go2)
	ctx := timeout(t, 100*time.Second)
	gl, err := engine.Of(openTransport(t, url)).ListenNotifications(ctx, []target.Target{{Topic: goNotify + ".info"}}, "", driver.ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer gl.Close()
	for _, p := range []*peer{pys, pyc} {
		p.awaitEvent(t, ctx, "ready", nil)
	}
	// oslo's servers attach their links from the I/O thread after
	// start() returns: wait until the intermediary saw them.
	for _, want := range []string{"py1", "py2"} {
		im.Await(ctx, t, "attach of "+want, func(e intermediary.Event) bool {
			return e.Str("event") == "attach" && strings.HasSuffix(e.Str("source"), want)
		})
	}
	im.Await(ctx, t, "attach of the Python listener", func(e intermediary.Event) bool {
		return e.Str("event") == "attach" && strings.Contains(e.Str("source"), pyNotify)
	})

	t.Run("GoToPython", func(t *testing.T) {
		rc := serializer.RequestContext{"user": "u1", "request_id": "req-go"}
		ctx := serializer.WithRequestContext(timeout(t, 60*time.Second), rc)
		c, err := client.New(tr, target.Target{Topic: pyTopic, Namespace: "interop", Version: "1.2"}, client.Timeout(20*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		args := map[string]any{"x": 1.0, "s": "héllo \"wörld\"", "l": []any{true, nil, "a"}}
		got, err := client.Call[map[string]any](ctx, c, "echo", args)
		if err != nil || !sameJSON(got, args) {
			t.Fatalf("echo = %v, %v; want %v", got, err, args)
		}
		gotCtx, err := client.Call[map[string]any](ctx, c, "echo_context", nil)
		if err != nil || gotCtx["user"] != "u1" || gotCtx["request_id"] != "req-go" {
			t.Fatalf("echo_context = %v, %v", gotCtx, err)
		}
		for _, srv := range []string{"py2", "py1", "py2"} {
			who, err := client.Call[string](ctx, c.Prepare(client.Server(srv)), "whoami", nil)
			if err != nil || who != srv {
				t.Fatalf("whoami to %s = %q, %v", srv, who, err)
			}
		}
		if err := c.Prepare(client.Fanout(true)).Cast(ctx, "record", map[string]any{"text": "fan-go"}); err != nil {
			t.Fatal(err)
		}
		for _, srv := range []string{"py1", "py2"} {
			pys.awaitEvent(t, ctx, "cast", func(l line) bool {
				return l.str("text") == "fan-go" && l.str("user") == "u1" && l.str("server") == srv
			})
		}
		if err := c.Cast(ctx, "record", map[string]any{"text": "one-go"}); err != nil {
			t.Fatal(err)
		}
		deadline := timeout(t, 20*time.Second)
		for n := 0; n == 0; {
			n = len(casts(pys, "one-go"))
			if n == 0 {
				select {
				case <-deadline.Done():
					t.Fatal("the cast reached no Python server")
				case <-time.After(50 * time.Millisecond):
				}
			}
		}
		err = c.Call(ctx, "fail_value", map[string]any{"message": "bad volume"}, nil)
		var re *transport.RemoteError
		if !errors.As(err, &re) || re.Class != "ValueError" || re.Module != "builtins" || re.Message != "bad volume" {
			t.Fatalf("fail_value: %#v", err)
		}
		slept, err := client.Call[string](ctx, c.Prepare(client.CallMonitorTimeout(2*time.Second)), "sleep", map[string]any{"seconds": 3.5})
		if err != nil || slept != "slept" {
			t.Fatalf("monitored call of 3.5 s with a 2 s monitor: %q, %v", slept, err)
		}
		n, err := notify.New(tr, notify.PublisherID("go-pub"), notify.Topics(pyNotify))
		if err != nil {
			t.Fatal(err)
		}
		if err := n.Info(ctx, "go.event", map[string]any{"k": "v"}); err != nil {
			t.Fatal(err)
		}
		got2 := pyl.awaitEvent(t, ctx, "notification", func(l line) bool { return l.str("event_type") == "go.event" })
		if got2.str("publisher_id") != "go-pub" || got2.str("priority") != "info" ||
			!sameJSON(got2["payload"], map[string]any{"k": "v"}) || got2["ctxt"].(map[string]any)["user"] != "u1" {
			t.Fatalf("Python got notification %v", got2)
		}
	})

	t.Run("PythonToGo", func(t *testing.T) {
		ctx := timeout(t, 60*time.Second)
		args := map[string]any{"x": 1.0, "u": "日本 ✓", "n": nil}
		r := pyc.run(t, ctx, map[string]any{"op": "call", "method": "echo", "args": args, "ctxt": map[string]any{"user": "pyu"}})
		if r["ok"] != true || !sameJSON(r["result"], args) {
			t.Fatalf("echo from Python: %v", r)
		}
		r = pyc.run(t, ctx, map[string]any{"op": "call", "method": "echo_context", "ctxt": map[string]any{"user": "pyu", "roles": []any{"admin"}}})
		if res, _ := r["result"].(map[string]any); r["ok"] != true || res["user"] != "pyu" || !reflect.DeepEqual(res["roles"], []any{"admin"}) {
			t.Fatalf("echo_context from Python: %v", r)
		}
		for _, srv := range []string{"go2", "go1"} {
			r = pyc.run(t, ctx, map[string]any{"op": "call", "method": "whoami", "server": srv})
			if r["ok"] != true || r["result"] != srv {
				t.Fatalf("whoami to %s from Python: %v", srv, r)
			}
		}
		if r = pyc.run(t, ctx, map[string]any{"op": "cast", "method": "record", "args": map[string]any{"text": "fan-py"}, "fanout": true}); r["ok"] != true {
			t.Fatal(r)
		}
		awaitCast(t, ctx, go1, "fan-py")
		awaitCast(t, ctx, go2, "fan-py")
		if r = pyc.run(t, ctx, map[string]any{"op": "cast", "method": "record", "args": map[string]any{"text": "one-py"}}); r["ok"] != true {
			t.Fatal(r)
		}
		select {
		case got := <-go1.casts:
			if got != "one-py" {
				t.Fatalf("go1 got %q", got)
			}
		case got := <-go2.casts:
			if got != "one-py" {
				t.Fatalf("go2 got %q", got)
			}
		case <-ctx.Done():
			t.Fatal("the cast from Python reached no Go server")
		}
		r = pyc.run(t, ctx, map[string]any{"op": "call", "method": "fail_value", "args": map[string]any{"message": "bad thing"}})
		if e, _ := r["error"].(map[string]any); r["ok"] != false || !strings.Contains(fmt.Sprint(e["message"]), "bad thing") {
			t.Fatalf("fail_value from Python: %v", r)
		}
		r = pyc.run(t, ctx, map[string]any{"op": "call", "method": "sleep", "args": map[string]any{"seconds": 3.5}, "call_monitor_timeout": 2})
		if r["ok"] != true || r["result"] != "slept" {
			t.Fatalf("monitored call from Python: %v", r)
		}
		r = pyc.run(t, ctx, map[string]any{"op": "notify", "topic": goNotify, "event_type": "py.event",
			"payload": map[string]any{"p": 1.0}, "ctxt": map[string]any{"user": "pyu"}})
		if r["ok"] != true {
			t.Fatal(r)
		}
		d, err := gl.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if d.EventType != "py.event" || d.PublisherID != "py-peer" || d.Priority != "INFO" || d.Context["user"] != "pyu" || string(d.Payload.Data) != `{"p": 1}` {
			t.Fatalf("Go got notification %+v (payload %s)", d.IncomingNotification, d.Payload.Data)
		}
		d.Ack()
	})

	t.Run("Wire", func(t *testing.T) { checkWire(t, im, f, pyTopic, pyNotify) })

	t.Run("Restart", func(t *testing.T) {
		ctx := timeout(t, 90*time.Second)
		c, err := client.New(tr, target.Target{Topic: pyTopic, Namespace: "interop", Version: "1.2", Server: "py1"}, client.Timeout(3*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		var ok, failed atomic.Int64
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() { // traffic while the intermediary goes away and comes back
			defer close(done)
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := client.Call[string](ctx, c, "whoami", nil); err == nil {
					ok.Add(1)
				} else {
					failed.Add(1)
					time.Sleep(100 * time.Millisecond)
				}
			}
		}()
		waitFor(t, ctx, "calls before the restart", func() bool { return ok.Load() > 0 })
		im.Restart()
		before := ok.Load()
		waitFor(t, ctx, "Go calls to Python to succeed after the restart", func() bool { return ok.Load() > before+3 })
		close(stop)
		<-done
		t.Logf("Go to Python: %d calls answered, %d failed around the restart", ok.Load(), failed.Load())
		for {
			r := pyc.run(t, ctx, map[string]any{"op": "call", "method": "whoami", "server": "go1", "timeout": 3})
			if r["ok"] == true && r["result"] == "go1" {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("Python calls to Go fail after the restart: %v", r)
			}
		}
	})
}

// sameJSON reports whether a and b encode to the same JSON value.
func sameJSON(a, b any) bool {
	norm := func(v any) any {
		data, err := json.Marshal(v)
		if err != nil {
			return err
		}
		var out any
		json.Unmarshal(data, &out)
		return out
	}
	return reflect.DeepEqual(norm(a), norm(b))
}

// casts returns the cast events with text that p printed.
func casts(p *peer, text string) []line {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []line
	for _, l := range p.lines {
		if l.str("event") == "cast" && l.str("text") == text {
			out = append(out, l)
		}
	}
	return out
}

func waitFor(t testing.TB, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
