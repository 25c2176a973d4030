package oslootel_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/oslo-go/messaging/client"
	oslootel "github.com/oslo-go/messaging/contrib/otel"
	"github.com/oslo-go/messaging/drivers/rabbit/rabbittest"
	"github.com/oslo-go/messaging/serializer"
	"github.com/oslo-go/messaging/target"
)

// python is Debian's interpreter, for which python3-oslo.messaging is
// installed (a python3 earlier on PATH may lack it).
const python = "/usr/bin/python3"

// needPython skips t, loudly, when oslo.messaging is not importable by
// Debian's Python, or fails it when CI is set.
func needPython(t *testing.T) {
	t.Helper()
	out, err := exec.Command(python, "-c", "import oslo_messaging, oslo_context").CombinedOutput()
	if err == nil {
		return
	}
	msg := fmt.Sprintf("oslo.messaging is not importable by %s (apt-get install python3-oslo.messaging): %v: %s", python, err, bytes.TrimSpace(out))
	if os.Getenv("CI") != "" {
		t.Fatal(msg + "; CI is set")
	}
	t.Skipf("\n\n*** SKIPPING %s: %s ***\n", t.Name(), msg)
}

// startRelay starts testdata/relay_server.py on topic and waits until it
// is ready. It stops when t ends.
func startRelay(t *testing.T, topic string) {
	t.Helper()
	cmd := exec.Command(python, "-B", "testdata/relay_server.py", "--url", rabbittest.URL(), "--topic", topic)
	stderrFile := filepath.Join(t.TempDir(), "stderr")
	f, err := os.Create(stderrFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close() // the child has its own copy
	cmd.Stderr = f
	stderr := func() string {
		b, _ := os.ReadFile(stderrFile)
		return string(b)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	t.Cleanup(func() {
		stdin.Close()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("relay_server.py stderr:\n%s", stderr())
		}
	})
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() && bytes.Contains(sc.Bytes(), []byte(`"ready"`)) {
			ready <- nil
		} else {
			ready <- fmt.Errorf("relay_server.py did not get ready (%v)", sc.Err())
		}
		_, _ = io.Copy(io.Discard, stdout)
		done <- cmd.Wait()
	}()
	select {
	case err := <-ready:
		if err != nil {
			t.Fatalf("%v; stderr:\n%s", err, stderr())
		}
	case <-time.After(90 * time.Second):
		t.Fatalf("relay_server.py not ready after 90s; stderr:\n%s", stderr())
	}
}

// TestTraceThroughPython: Go client -> Python server -> Go server, the
// Python endpoint calling with the ctxt it received. The Go server's span
// is the child of the Go client's; the Python hop adds none.
func TestTraceThroughPython(t *testing.T) {
	rabbittest.Need(t)
	needPython(t)
	pyTopic, goTopic := uniqueTopic("py"), uniqueTopic("go")
	t.Cleanup(func() {
		rabbittest.DeleteQueues(t, pyTopic)
		rabbittest.DeleteQueues(t, goTopic)
	})
	startRelay(t, pyTopic)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tr := openTransport(t, rabbittest.URL())
	tg := newTracing(t)
	opts := tg.opts(tr)
	startServer(t, tr, target.Target{Topic: goTopic, Server: "go-1"}, []any{&Svc{}}, opts...)
	c, err := client.New(tr, target.Target{Topic: pyTopic}, client.Timeout(60*time.Second),
		client.WithMiddleware(oslootel.ClientMiddleware(opts...)))
	if err != nil {
		t.Fatal(err)
	}

	type relayed struct {
		Ctxt   map[string]any `json:"ctxt"`
		Result string         `json:"result"`
	}
	ctx = serializer.WithRequestContext(ctx, serializer.RequestContext{"request_id": "req-py", "user_id": "u1"})
	ctx, root := tg.root(ctx)
	args := map[string]any{"topic": goTopic, "method": "echo"}
	got, err := client.Call[relayed](ctx, c, "relay", args)
	if err != nil {
		t.Fatal(err)
	}
	// oslo.context's RequestContext keeps only the keys it knows: the
	// trace ends at a Python service that turns the ctxt into one.
	dropped, err := client.Call[relayed](ctx, c, "relay_as_context", args)
	if err != nil {
		t.Fatal(err)
	}
	root.End()

	call := tg.child(t, root.SpanContext(), "call relay")
	want := traceparent(call.SpanContext)
	if got.Ctxt["traceparent"] != want || got.Ctxt["request_id"] != "req-py" {
		t.Errorf("Python received ctxt %v, want traceparent %s and request_id req-py", got.Ctxt, want)
	}
	if got.Result != want {
		t.Errorf("the Go server behind Python saw traceparent %q, want %q", got.Result, want)
	}
	handled := tg.child(t, call.SpanContext, "process echo")
	wantAttrs(t, handled, map[attribute.Key]string{oslootel.RequestIDKey: "req-py", oslootel.ServerKey: "go-1"})
	if handled.SpanContext.TraceID() != root.SpanContext().TraceID() {
		t.Errorf("Go server span in trace %s, the client's is %s", handled.SpanContext.TraceID(), root.SpanContext().TraceID())
	}
	if n := len(tg.named("process relay")); n != 0 {
		t.Errorf("%d spans for the Python hop, want none", n)
	}

	asContext := tg.child(t, root.SpanContext(), "call relay_as_context")
	if _, ok := dropped.Ctxt["traceparent"]; ok || dropped.Result != "" {
		t.Errorf("RequestContext kept the trace context: ctxt %v, Go server saw %q", dropped.Ctxt, dropped.Result)
	}
	// Its Go server span starts a trace of its own.
	var orphan bool
	for _, s := range tg.named("process echo") {
		if s.Parent.SpanID() == asContext.SpanContext.SpanID() {
			t.Errorf("span %q is the child of %q although RequestContext dropped the trace context", s.Name, asContext.Name)
		}
		if !s.Parent.IsValid() {
			orphan = true
		}
	}
	if !orphan {
		t.Error("no root span for the request relayed through RequestContext")
	}
}
