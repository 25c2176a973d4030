package interop

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestPythonClientGoServer runs python/rpc_client.py's scenarios, with
// Python oslo.messaging's RPCClient, against two Go servers ("go-a" and
// "go-b" on one topic) of the interop service (service_test.go).
func TestPythonClientGoServer(t *testing.T) {
	needPython(t)
	topic := uniqueTopic("pyclient")
	deleteQueues(t, serverQueues(topic, "go-a", "go-b")...)
	tr := openTransport(t)
	casts := make(chan castEvent, 64)
	startGoServer(t, tr, topic, "go-a", casts)
	startGoServer(t, tr, topic, "go-b", casts)

	// The same scenarios run at the same time against a Python server,
	// as the reference: SameAsPythonServer compares the answers.
	refTopic := uniqueTopic("pyref")
	deleteQueues(t, serverQueues(refTopic, "py-ref")...)
	type run struct {
		lines  []line
		stderr string
		err    error
	}
	goRun := make(chan run, 1)
	go func() {
		var r run
		r.lines, r.stderr, r.err = runScriptErr(60*time.Second, "rpc_client.py", "--url", brokerURL, "--topic", topic, "--direct-server", "go-b")
		goRun <- r
	}()
	startPythonServers(t, refTopic, "py-ref")
	ref := byScenario(runScript(t, 60*time.Second, "rpc_client.py", "--url", brokerURL, "--topic", refTopic, "--direct-server", "py-ref"))
	r := <-goRun
	if r.err != nil {
		t.Fatalf("rpc_client.py against the Go servers: %v\nstderr:\n%s", r.err, r.stderr)
	}
	res := byScenario(r.lines)

	value := func(t *testing.T, name string, want any) {
		t.Helper()
		l, ok := res[name]
		if !ok {
			t.Fatalf("no result for scenario %s", name)
		}
		if e := l.obj("error"); e != nil {
			t.Fatalf("%s raised %s.%s: %s", name, e["module"], e["class"], e["str"])
		}
		if want != nil && !sameJSON(t, l["value"], want) {
			t.Errorf("%s returned %s, want %s", name, js(l["value"]), js(want))
		}
	}
	// raised checks the exception a scenario raised: its class, module and
	// first message line, and the fields given in more.
	raised := func(t *testing.T, name, module, class, message string, more map[string]any) line {
		t.Helper()
		l, ok := res[name]
		if !ok {
			t.Fatalf("no result for scenario %s", name)
		}
		e := l.obj("error")
		if e == nil {
			t.Fatalf("%s returned %s, want %s.%s", name, js(l["value"]), module, class)
		}
		if e["module"] != module || e["class"] != class || e["message"] != message {
			t.Errorf("%s raised %s.%s %q, want %s.%s %q", name, e["module"], e["class"], e["message"], module, class, message)
		}
		for k, v := range more {
			if !sameJSON(t, e[k], v) {
				t.Errorf("%s: exception %s is %s, want %s", name, k, js(e[k]), js(v))
			}
		}
		return e
	}

	t.Run("SameAsPythonServer", func(t *testing.T) { sameAsPythonServer(t, res, ref) })

	t.Run("NamespaceVersion", func(t *testing.T) {
		value(t, "call_v1_2", map[string]any{"text": "v1.2"})
		value(t, "call_v1_0", map[string]any{"text": "v1.0"})
		value(t, "call_v2_0", map[string]any{"version": "2.0", "args": map[string]any{"text": "v2.0"}})
	})

	t.Run("UnsupportedVersion", func(t *testing.T) {
		// Without allowed_remote_exmods, oslo raises a RemoteError naming
		// the class: exactly what a Python server's failure gives.
		for name, v := range map[string]string{"unsupported_version": "1.3", "unsupported_revision": "1.2.1", "unsupported_major": "3.0", "unsupported_namespace": "1.2"} {
			msg := "Endpoint does not support RPC version " + v + ". Attempted method: echo"
			raised(t, name, "oslo_messaging.rpc.client", "RemoteError", "Remote error: UnsupportedVersion "+msg,
				map[string]any{"exc_type": "UnsupportedVersion", "value": msg, "traceback": []any{}})
		}
		// With the dispatcher module allowed, oslo rebuilds the class
		// itself (as a subclass named UnsupportedVersion_Remote).
		e := raised(t, "unsupported_version_allowed", "oslo_messaging.rpc.dispatcher_Remote", "UnsupportedVersion_Remote",
			"Endpoint does not support RPC version 1.3. Attempted method: echo", nil)
		if !slices.Contains(anyStrings(e["mro"]), "oslo_messaging.rpc.dispatcher.UnsupportedVersion") {
			t.Errorf("rebuilt exception is not an UnsupportedVersion: %v", e["mro"])
		}
	})

	t.Run("NoSuchMethod", func(t *testing.T) {
		msg := "Endpoint does not support RPC method no_such_method"
		raised(t, "no_such_method", "oslo_messaging.rpc.client", "RemoteError", "Remote error: NoSuchMethod "+msg,
			map[string]any{"exc_type": "NoSuchMethod", "value": msg})
		e := raised(t, "no_such_method_allowed", "oslo_messaging.rpc.dispatcher_Remote", "NoSuchMethod_Remote", msg, nil)
		if !slices.Contains(anyStrings(e["mro"]), "oslo_messaging.rpc.dispatcher.NoSuchMethod") {
			t.Errorf("rebuilt exception is not a NoSuchMethod: %v", e["mro"])
		}
	})

	t.Run("RequestContext", func(t *testing.T) {
		value(t, "context", nil)
		v := res["context"].obj("value")
		sent, got := v["sent"].(map[string]any), v["got"].(map[string]any)
		for k, want := range sent {
			if !sameJSON(t, got[k], want) {
				t.Errorf("context key %q reached the Go handler as %s, sent %s", k, js(got[k]), js(want))
			}
		}
		// A Python endpoint also finds client_timeout in its ctxt; a Go
		// handler gets the caller's context only (the monitor timeout is
		// the request's MonitorTimeout).
		if len(got) != len(sent) {
			t.Errorf("the Go handler got keys %v, Python sent %v", keys(got), keys(sent))
		}
	})

	t.Run("NestedKwargs", func(t *testing.T) {
		value(t, "kwargs", nil)
		v := res["kwargs"].obj("value")
		if !sameJSON(t, v["got"], v["sent"]) {
			t.Errorf("echo returned\n%s\nPython sent\n%s", js(v["got"]), js(v["sent"]))
		}
		// Decoded into a Go struct (big.Int, *string, nested slices of
		// structs, map[string]any) and encoded back, the volume is intact.
		value(t, "nested", nil)
		v = res["nested"].obj("value")
		if v["equal"] != true || !sameJSON(t, v["got"], v["sent"]) {
			t.Errorf("describe_volume returned\n%s\nPython sent\n%s", js(v["got"]), js(v["sent"]))
		}
		value(t, "large", map[string]any{"equal": true, "size": 4 << 20})
		// NaN and Infinity from Python decode into Go float64s.
		value(t, "floats", []string{"nan", "+inf", "-inf", "finite", "finite", "finite"})
	})

	t.Run("GoError", func(t *testing.T) {
		// errors.New travels as builtins.Exception, which oslo re-raises
		// as Exception; Go sends no traceback, so str(e) is the message
		// and a newline.
		e := raised(t, "fail_generic", "builtins", "Exception", "generic failure", nil)
		if e["str"] != "generic failure\n" {
			t.Errorf("str(e) = %q", e["str"])
		}
		raised(t, "fail_value", "builtins", "ValueError", "bad volume size: 0", nil)
		// A transport.Kind of an application module: RemoteError, or the
		// class itself when the module is allowed.
		msg := "Volume vol-9 could not be found."
		raised(t, "fail_custom", "oslo_messaging.rpc.client", "RemoteError", "Remote error: VolumeNotFound "+msg,
			map[string]any{"exc_type": "VolumeNotFound", "value": msg})
		e = raised(t, "fail_custom_allowed", "interop_errors_Remote", "VolumeNotFound_Remote", msg,
			// Go errors carry no kwargs (a Python server sends
			// {"volume_id": "vol-9"}).
			map[string]any{"kwargs": map[string]any{}})
		if !slices.Contains(anyStrings(e["mro"]), "interop_errors.VolumeNotFound") {
			t.Errorf("rebuilt exception is not a VolumeNotFound: %v", e["mro"])
		}
	})

	t.Run("ArgumentMismatch", func(t *testing.T) {
		// A missing argument tagged rpc:"required" is Python's TypeError.
		raised(t, "missing_argument", "builtins", "TypeError", "fail_custom() missing required argument: 'volume_id'", nil)
		if e := ref["missing_argument"].obj("error"); e["class"] != "TypeError" ||
			e["message"] != "InteropV1.fail_custom() missing 1 required positional argument: 'volume_id'" {
			t.Errorf("the Python server raised %s", js(e))
		}
		// An unknown argument is ignored by a Go server; a Python
		// endpoint refuses it (the method has no such parameter).
		value(t, "unexpected_argument", nil)
		if v := res["unexpected_argument"]["value"]; v != "go-a" && v != "go-b" {
			t.Errorf("whoami with an extra argument: %v", v)
		}
		if e := ref["unexpected_argument"].obj("error"); e["class"] != "TypeError" ||
			e["message"] != "InteropV1.whoami() got an unexpected keyword argument 'extra'" {
			t.Errorf("the Python server raised %s", js(e))
		}
	})

	t.Run("Timeout", func(t *testing.T) {
		// The Go handler blocks until the caller's deadline (its ctx has
		// the request's expiration); the Python caller gives up at 1 s.
		l := res["timeout"]
		e := l.obj("error")
		if e == nil || e["module"] != "oslo_messaging.exceptions" || e["class"] != "MessagingTimeout" ||
			!strings.HasPrefix(e.str("message"), "Timed out waiting for a reply to message ID ") {
			t.Fatalf("timeout scenario: %s", js(l))
		}
		if el := num(l["elapsed"]); el < 1 || el > 3 {
			t.Errorf("timed out after %v s, want 1", el)
		}
	})

	t.Run("CallMonitor", func(t *testing.T) {
		value(t, "call_monitor", "slept")
		if el := num(res["call_monitor"]["elapsed"]); el < 3 || el > 10 {
			t.Errorf("monitored call took %v s, want 3", el)
		}
		// A Go server heartbeats every monitor/2 whatever the monitor; an
		// oslo server refuses monitors under 2 s ("Client provided an
		// invalid timeout value") and the call times out.
		value(t, "call_monitor_short", "slept")
		if e := ref["call_monitor_short"].obj("error"); e["class"] != "MessagingTimeout" {
			t.Errorf("a 1 s monitor on a Python server: %s", js(ref["call_monitor_short"]))
		}
	})

	t.Run("Ping", func(t *testing.T) { value(t, "ping", "pong") })

	t.Run("Direct", func(t *testing.T) { value(t, "direct", []string{"go-b", "go-b", "go-b", "go-b"}) })

	t.Run("Cast", func(t *testing.T) {
		value(t, "cast", nil)
		value(t, "fanout", nil)
		got := map[string][]string{}
		deadline := time.After(10 * time.Second)
		for len(got["cast from python"]) < 1 || len(got["fanout from python"]) < 2 {
			select {
			case e := <-casts:
				if e.User != "py-user" {
					t.Errorf("cast %q on %s: context user %q", e.Text, e.Server, e.User)
				}
				got[e.Text] = append(got[e.Text], e.Server)
			case <-deadline:
				t.Fatalf("casts received: %v", got)
			}
		}
		time.Sleep(200 * time.Millisecond)
	drain:
		for {
			select {
			case e := <-casts:
				got[e.Text] = append(got[e.Text], e.Server)
			default:
				break drain
			}
		}
		slices.Sort(got["fanout from python"])
		if len(got["cast from python"]) != 1 || !slices.Equal(got["fanout from python"], []string{"go-a", "go-b"}) {
			t.Errorf("the cast reached %v, the fanout cast %v", got["cast from python"], got["fanout from python"])
		}
	})
}

// sameAsPythonServer checks that every scenario gave the Python client the
// same answer from the Go servers (res) as from a Python server (ref),
// except for what a Go server cannot or does not reproduce (see
// comparable).
func sameAsPythonServer(t *testing.T, res, ref map[string]line) {
	if len(res) != len(ref) {
		t.Errorf("%d scenarios ran against the Go servers, %d against the Python server", len(res), len(ref))
	}
	for name, want := range ref {
		switch name {
		case "unexpected_argument": // Python refuses unknown kwargs, Go ignores them (ArgumentMismatch)
			continue
		case "call_monitor_short": // Go heartbeats short monitors, Python does not (CallMonitor)
			continue
		}
		got, ok := res[name]
		if !ok {
			t.Errorf("scenario %s did not run against the Go servers", name)
			continue
		}
		if g, w := comparable(t, got), comparable(t, want); !reflect.DeepEqual(g, w) {
			t.Errorf("scenario %s:\nGo server:     %s\nPython server: %s", name, js(g), js(w))
		}
	}
}

// comparable returns a copy of an rpc_client.py result without what
// legitimately differs between a Go and a Python server:
//   - the time taken;
//   - tracebacks: a Python server sends the Python traceback, a Go server
//     none (or a goroutine stack for panics); oslo appends it to str(e);
//   - exception kwargs: Python's exceptions carry their keyword arguments
//     (VolumeNotFound's volume_id); Go errors have none to send;
//   - client_timeout, which oslo adds to the context of Python endpoints;
//   - message ids in MessagingTimeout's message, and server names;
//   - the text of TypeError for a missing argument (Python names the
//     endpoint class).
func comparable(t *testing.T, l line) any {
	m := canon(t, l).(map[string]any)
	delete(m, "elapsed")
	if e, ok := m["error"].(map[string]any); ok {
		delete(e, "traceback")
		delete(e, "str")
		delete(e, "kwargs")
		switch e["class"] {
		case "MessagingTimeout":
			delete(e, "message")
		case "TypeError":
			// Python: "InteropV1.fail_custom() missing 1 required
			// positional argument: 'volume_id'"; Go: "fail_custom()
			// missing required argument: 'volume_id'".
			delete(e, "message")
		}
	}
	switch m["scenario"] {
	case "context":
		delete(m["value"].(map[string]any)["got"].(map[string]any), "client_timeout")
	case "direct":
		delete(m, "value")
	}
	return m
}

func anyStrings(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// num returns a JSON number printed by a script as a float64.
func num(v any) float64 {
	switch n := v.(type) {
	case float64:
		return n
	case interface{ Float64() (float64, error) }:
		f, _ := n.Float64()
		return f
	}
	return -1
}
