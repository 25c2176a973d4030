package interop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/oslo-go/messaging/client"
	"github.com/oslo-go/messaging/dispatcher"
	"github.com/oslo-go/messaging/serializer"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
)

// TestGoClientPythonServer calls two Python oslo.messaging servers
// (python/rpc_server.py, "py-a" and "py-b" on one topic) with the Go
// client.
func TestGoClientPythonServer(t *testing.T) {
	needPython(t)
	topic := uniqueTopic("goclient")
	deleteQueues(t, serverQueues(topic, "py-a", "py-b")...)
	peers := startPythonServers(t, topic, "py-a", "py-b")
	pyA, pyB := peers[0], peers[1]

	tr := openTransport(t)
	c, err := client.New(tr, target.Target{Topic: topic, Namespace: "interop", Version: "1.2"},
		client.Timeout(15*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	bg := context.Background()

	t.Run("NamespaceVersion", func(t *testing.T) {
		for _, tc := range []struct {
			version string
			want    any
		}{
			{"1.2", map[string]any{"text": "hi"}},
			{"1.0", map[string]any{"text": "hi"}},   // 1.0 is compatible with 1.2
			{"1.2.0", map[string]any{"text": "hi"}}, // a revision
			{"2.0", map[string]any{"version": "2.0", "args": map[string]any{"text": "hi"}}},
		} {
			got, err := client.Call[map[string]any](bg, c.Prepare(client.Version(tc.version)), "echo", map[string]any{"text": "hi"})
			if err != nil || !sameJSON(t, got, tc.want) {
				t.Errorf("echo at version %s: %v, %v; want %v", tc.version, js(got), err, js(tc.want))
			}
		}
	})

	t.Run("UnsupportedVersion", func(t *testing.T) {
		for _, tc := range []struct {
			opt     client.Option
			message string
		}{
			{client.Version("1.3"), "Endpoint does not support RPC version 1.3. Attempted method: echo"},
			{client.Version("3.0"), "Endpoint does not support RPC version 3.0. Attempted method: echo"},
			// A revision above the endpoint's (1.2 is 1.2.0).
			{client.Version("1.2.1"), "Endpoint does not support RPC version 1.2.1. Attempted method: echo"},
			{client.Namespace("other"), "Endpoint does not support RPC version 1.2. Attempted method: echo"},
		} {
			err := c.Prepare(tc.opt).Call(bg, "echo", nil, nil)
			re := remoteError(t, err, "oslo_messaging.rpc.dispatcher", "UnsupportedVersion", tc.message)
			if !errors.Is(err, dispatcher.ErrUnsupportedVersion) || errors.Is(err, dispatcher.ErrNoSuchMethod) {
				t.Errorf("errors.Is(%v, ErrUnsupportedVersion) is false, or ErrNoSuchMethod true", err)
			}
			checkPythonTraceback(t, re)
		}
	})

	t.Run("NoSuchMethod", func(t *testing.T) {
		err := c.Call(bg, "no_such_method", nil, nil)
		remoteError(t, err, "oslo_messaging.rpc.dispatcher", "NoSuchMethod", "Endpoint does not support RPC method no_such_method")
		if !errors.Is(err, dispatcher.ErrNoSuchMethod) || errors.Is(err, dispatcher.ErrUnsupportedVersion) {
			t.Errorf("errors.Is(%v, ErrNoSuchMethod) is false, or ErrUnsupportedVersion true", err)
		}
		// oslo's default access policy hides names starting with "_":
		// they exist in Python but are not callable.
		err = c.Call(bg, "__init__", nil, nil)
		remoteError(t, err, "oslo_messaging.rpc.dispatcher", "NoSuchMethod", "Endpoint does not support RPC method __init__")
	})

	t.Run("ArgumentMismatch", func(t *testing.T) {
		// A Python endpoint refuses missing and unknown keyword arguments
		// with TypeError (a Go server ignores unknown ones).
		err := c.Call(bg, "fail_custom", nil, nil)
		checkPythonTraceback(t, remoteError(t, err, "builtins", "TypeError",
			"InteropV1.fail_custom() missing 1 required positional argument: 'volume_id'"))
		if !errors.Is(err, dispatcher.ErrInvalidArguments) {
			t.Errorf("errors.Is(%v, ErrInvalidArguments) is false", err)
		}
		err = c.Call(bg, "whoami", map[string]any{"extra": 1}, nil)
		remoteError(t, err, "builtins", "TypeError", "InteropV1.whoami() got an unexpected keyword argument 'extra'")
	})

	t.Run("RequestContext", func(t *testing.T) {
		rc := serializer.RequestContext{
			"user":              "go-user",
			"project_id":        "p-1",
			"request_id":        "req-0b6f3c0e-4a43-4bc9-8f1e-000000000001",
			"global_request_id": nil,
			"roles":             []string{"admin", "member"},
			"is_admin":          true,
			"read_only":         false,
			"auth_token":        "tok-secret",
			"unicode":           "ünïcødé ✓ 🎉",
			"nested":            map[string]any{"a": []any{1, map[string]any{"b": nil}}, "c": map[string]any{}},
			"big":               json.Number("1180591620717411303424"),
			"ratio":             0.5,
		}
		ctx := serializer.WithRequestContext(bg, rc)
		got, err := client.Call[map[string]any](ctx, c, "echo_context", nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range rc {
			if !sameJSON(t, got[k], v) {
				t.Errorf("context key %q arrived as %s, sent %s", k, js(got[k]), js(v))
			}
		}
		// oslo adds client_timeout (the call monitor timeout, None when
		// unset) to the context it hands to endpoints.
		if v, ok := got["client_timeout"]; !ok || v != nil {
			t.Errorf("client_timeout in the Python context: %v (present %v), want None", v, ok)
		}
		if len(got) != len(rc)+1 {
			t.Errorf("Python context has keys %v, sent %d keys", keys(got), len(rc))
		}
		// With a call monitor, client_timeout is its value in seconds.
		got, err = client.Call[map[string]any](ctx, c.Prepare(client.CallMonitorTimeout(4*time.Second)), "echo_context", nil)
		if err != nil || !sameJSON(t, got["client_timeout"], 4) {
			t.Errorf("client_timeout with a 4 s call monitor: %v, %v", got["client_timeout"], err)
		}
	})

	t.Run("NestedKwargs", func(t *testing.T) {
		big70, _ := new(big.Int).SetString("-1180591620717411303424", 10)
		args := map[string]any{
			"nested":    map[string]any{"a": []any{map[string]any{"b": []any{1, 2}}, map[string]any{"c": map[string]any{"d": []any{}}}}},
			"unicode":   "h\u00e9llo \u2713 \u65e5\u672c 🎉 \x00\x1f\"\\/",
			"big":       json.Number("18446744073709551617"), // 2**64 + 1
			"neg_big":   big70,
			"uint64max": uint64(math.MaxUint64),
			"float":     1.5,
			"tiny":      5e-324,
			"int_float": 2.0,
			"none":      nil,
			"yes":       true,
			"no":        false,
			"empty":     map[string]any{},
			"list":      []any{1, "two", nil, []any{3.5}},
		}
		got, err := client.Call[map[string]any](bg, c, "echo", args)
		if err != nil {
			t.Fatal(err)
		}
		if !sameJSON(t, got, args) {
			t.Errorf("echo returned\n%s\nsent\n%s", js(got), js(args))
		}
		types, err := client.Call[map[string]any](bg, c, "echo_types", args)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]any{
			"nested":    map[string]any{"a": []any{map[string]any{"b": []any{"int", "int"}}, map[string]any{"c": map[string]any{"d": []any{}}}}},
			"unicode":   "str",
			"big":       "int",
			"neg_big":   "int",
			"uint64max": "int",
			"float":     "float",
			"tiny":      "float",
			// Go's encoding/json writes the float64 2.0 as 2: Python
			// sees an int. Send json.Number("2.0") to get a float.
			"int_float": "int",
			"none":      "NoneType",
			"yes":       "bool",
			"no":        "bool",
			"empty":     map[string]any{},
			"list":      []any{"int", "str", "NoneType", []any{"float"}},
		}
		if !sameJSON(t, types, want) {
			t.Errorf("Python saw the types\n%s\nwant\n%s", js(types), js(want))
		}
	})

	t.Run("LargeMessage", func(t *testing.T) {
		// 4 MiB each way: many AMQP frames.
		big := strings.Repeat("0123456789abcdef", 1<<18)
		got, err := client.Call[map[string]any](bg, c, "echo", map[string]any{"data": big})
		if err != nil || got["data"] != big {
			t.Errorf("4 MiB echo: %d bytes back, %v", len(fmt.Sprint(got["data"])), err)
		}
	})

	t.Run("PythonValues", func(t *testing.T) {
		// What only Python sends: NaN, Infinity, big integers, tuples,
		// sets and datetimes (as oslo's jsonutils writes them).
		var got struct {
			NaN       float64        `json:"nan"`
			Inf       float64        `json:"inf"`
			NegInf    float64        `json:"neg_inf"`
			Big       *big.Int       `json:"big"`
			NegBig    *big.Int       `json:"neg_big"`
			Uint64Max uint64         `json:"uint64_max"`
			IntFloat  float64        `json:"int_float"`
			Tiny      float64        `json:"tiny"`
			Unicode   string         `json:"unicode"`
			Control   string         `json:"control"`
			None      *string        `json:"none"`
			True      bool           `json:"true"`
			False     bool           `json:"false"`
			Tuple     []any          `json:"tuple"`
			Set       []int          `json:"set"`
			Datetime  string         `json:"datetime"`
			EmptyList []any          `json:"empty_list"`
			EmptyDict map[string]any `json:"empty_dict"`
		}
		got.None = new(string)
		if err := c.Call(bg, "specials", nil, &got); err != nil {
			t.Fatal(err)
		}
		two100 := new(big.Int).Lsh(big.NewInt(1), 100)
		neg80 := new(big.Int).Neg(new(big.Int).Lsh(big.NewInt(1), 80))
		switch {
		case !math.IsNaN(got.NaN), !math.IsInf(got.Inf, 1), !math.IsInf(got.NegInf, -1):
			t.Errorf("NaN, Infinity, -Infinity decoded as %v %v %v", got.NaN, got.Inf, got.NegInf)
		case got.Big == nil || got.Big.Cmp(two100) != 0, got.NegBig == nil || got.NegBig.Cmp(neg80) != 0:
			t.Errorf("2**100 and -(2**80) decoded as %v %v", got.Big, got.NegBig)
		case got.Uint64Max != math.MaxUint64, got.IntFloat != 2, got.Tiny != 5e-324:
			t.Errorf("numbers decoded as %v %v %v", got.Uint64Max, got.IntFloat, got.Tiny)
		case got.Unicode != "h\u00e9llo \u2713 \u65e5\u672c 🎉", got.Control != "\x00\x1f\"\\/":
			t.Errorf("strings decoded as %q %q", got.Unicode, got.Control)
		case got.None != nil, !got.True, got.False:
			t.Errorf("None, True, False decoded as %v %v %v", got.None, got.True, got.False)
		case !sameJSON(t, got.Tuple, []any{1, "two"}), !sameJSON(t, got.Set, []int{3}):
			t.Errorf("tuple and set decoded as %v %v", got.Tuple, got.Set)
		case got.Datetime != "2026-05-13T12:00:00.000007":
			t.Errorf("datetime arrived as %q", got.Datetime)
		case got.EmptyList == nil || len(got.EmptyList) != 0 || got.EmptyDict == nil || len(got.EmptyDict) != 0:
			t.Errorf("empty list and dict decoded as %#v %#v", got.EmptyList, got.EmptyDict)
		}
		// Decoded generically, numbers keep every digit (json.Number) and
		// the non-finite floats are float64.
		m, err := client.Call[map[string]any](bg, c, "specials", nil)
		if err != nil {
			t.Fatal(err)
		}
		if n, ok := m["big"].(json.Number); !ok || n.String() != two100.String() {
			t.Errorf("2**100 as any: %#v", m["big"])
		}
		if f, ok := m["nan"].(float64); !ok || !math.IsNaN(f) {
			t.Errorf("NaN as any: %#v", m["nan"])
		}
		if f, ok := m["neg_inf"].(float64); !ok || !math.IsInf(f, -1) {
			t.Errorf("-Infinity as any: %#v", m["neg_inf"])
		}
		// The other way, Go cannot send NaN: encoding/json refuses it,
		// and the call fails before anything is sent.
		if _, err := client.Call[any](bg, c, "classify_floats", map[string]any{"values": []float64{math.NaN()}}); err == nil {
			t.Error("a NaN argument was sent")
		}
		classes, err := client.Call[[]string](bg, c, "classify_floats", map[string]any{"values": []any{1.5, 0, 1e308}})
		if err != nil || !sameJSON(t, classes, []string{"finite", "finite", "finite"}) {
			t.Errorf("classify_floats: %v, %v", classes, err)
		}
	})

	t.Run("PythonException", func(t *testing.T) {
		err := c.Call(bg, "fail_value", map[string]any{"message": "bad volume size: 0"}, nil)
		re := remoteError(t, err, "builtins", "ValueError", "bad volume size: 0")
		checkPythonTraceback(t, re)
		if re != nil && (!sameJSON(t, re.Args, []string{"bad volume size: 0"}) || len(re.Kwargs) != 0) {
			t.Errorf("ValueError args %v kwargs %v", re.Args, re.Kwargs)
		}
		if !errors.Is(err, transport.NewKind("builtins", "ValueError", "")) {
			t.Errorf("errors.Is(%v, builtins.ValueError kind) is false", err)
		}

		err = c.Call(bg, "fail_generic", map[string]any{"message": "generic failure"}, nil)
		checkPythonTraceback(t, remoteError(t, err, "builtins", "Exception", "generic failure"))
	})

	t.Run("CustomException", func(t *testing.T) {
		err := c.Call(bg, "fail_custom", map[string]any{"volume_id": "vol-9"}, nil)
		re := remoteError(t, err, "interop_errors", "VolumeNotFound", "Volume vol-9 could not be found.")
		checkPythonTraceback(t, re)
		if re != nil && (!sameJSON(t, re.Kwargs, map[string]any{"volume_id": "vol-9"}) || !sameJSON(t, re.Args, []string{"Volume vol-9 could not be found."})) {
			t.Errorf("VolumeNotFound kwargs %v args %v", re.Kwargs, re.Args)
		}
		if !errors.Is(err, errVolumeNotFound) {
			t.Errorf("errors.Is(%v, errVolumeNotFound) is false", err)
		}

		// With AllowRemoteError (oslo's allowed_remote_exmods) the
		// failure is rebuilt as the Go error for that class.
		tr2 := openTransport(t, transport.AllowRemoteError("interop_errors", "VolumeNotFound",
			func(re *transport.RemoteError) error {
				id, _ := re.Kwargs["volume_id"].(string)
				return &volumeNotFoundError{VolumeID: id, Remote: re}
			}))
		c2, err := client.New(tr2, c.Target(), client.Timeout(15*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		err = c2.Call(bg, "fail_custom", map[string]any{"volume_id": "vol-9"}, nil)
		var vnf *volumeNotFoundError
		if !errors.As(err, &vnf) || vnf.VolumeID != "vol-9" || vnf.Remote == nil || len(vnf.Remote.Traceback) == 0 {
			t.Errorf("rebuilt VolumeNotFound: %#v", err)
		}
		if !errors.Is(err, errVolumeNotFound) {
			t.Errorf("errors.Is(rebuilt %v, errVolumeNotFound) is false", err)
		}
	})

	t.Run("Slow", func(t *testing.T) {
		t.Run("Timeout", func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			_, err := client.Call[string](bg, c.Prepare(client.Timeout(time.Second)), "sleep", map[string]any{"seconds": 3})
			elapsed := time.Since(start)
			var te *transport.TimeoutError
			if !errors.Is(err, transport.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &te) || te.Monitor {
				t.Fatalf("call of a Python method sleeping past the timeout: %v", err)
			}
			if elapsed < time.Second || elapsed > 2500*time.Millisecond {
				t.Errorf("timed out after %v, want 1 s", elapsed)
			}
		})
		t.Run("CallMonitor", func(t *testing.T) {
			t.Parallel()
			// 3 s of work with a 2 s monitor: only the heartbeats
			// Python sends every second keep the call alive.
			start := time.Now()
			got, err := client.Call[string](bg, c.Prepare(client.Timeout(20*time.Second), client.CallMonitorTimeout(2*time.Second)),
				"sleep", map[string]any{"seconds": 3})
			if err != nil || got != "slept" {
				t.Fatalf("monitored call: %q, %v", got, err)
			}
			if elapsed := time.Since(start); elapsed < 3*time.Second {
				t.Errorf("returned after %v, before the method's 3 s", elapsed)
			}
		})
		t.Run("CallMonitorUnder2s", func(t *testing.T) {
			t.Parallel()
			// oslo heartbeats every int(timeout)/2 s and refuses intervals
			// under 1 s: a monitor under 2 s gets no heartbeat from a
			// Python server ("Client provided an invalid timeout value"),
			// and the call fails when the monitor expires.
			start := time.Now()
			_, err := client.Call[string](bg, c.Prepare(client.Timeout(20*time.Second), client.CallMonitorTimeout(1500*time.Millisecond)),
				"sleep", map[string]any{"seconds": 3})
			var te *transport.TimeoutError
			if !errors.As(err, &te) || !te.Monitor || !errors.Is(err, transport.ErrTimeout) {
				t.Fatalf("call with a 1.5 s monitor: %v, want a monitor timeout", err)
			}
			if elapsed := time.Since(start); elapsed > 2500*time.Millisecond {
				t.Errorf("monitor expired after %v, want 1.5 s", elapsed)
			}
		})
	})

	t.Run("Ping", func(t *testing.T) {
		for _, v := range []string{"", "1.0"} {
			got, err := client.Call[string](bg, c.Prepare(client.Namespace(""), client.Version(v)), "oslo_rpc_server_ping", nil)
			if err != nil || got != "pong" {
				t.Errorf("ping (version %q): %q, %v", v, got, err)
			}
		}
		// The ping endpoint lives in the null namespace only.
		err := c.Call(bg, "oslo_rpc_server_ping", nil, nil)
		remoteError(t, err, "oslo_messaging.rpc.dispatcher", "NoSuchMethod", "Endpoint does not support RPC method oslo_rpc_server_ping")
	})

	t.Run("Direct", func(t *testing.T) {
		for _, name := range []string{"py-a", "py-b"} {
			cc := c.Prepare(client.Server(name))
			for range 3 {
				got, err := client.Call[string](bg, cc, "whoami", nil)
				if err != nil || got != name {
					t.Errorf("call to server %s answered by %q, %v", name, got, err)
				}
			}
		}
	})

	t.Run("Cast", func(t *testing.T) {
		ctx := serializer.WithRequestContext(bg, serializer.RequestContext{"user": "go-user"})
		if err := c.Cast(ctx, "record", map[string]any{"text": "cast from go"}); err != nil {
			t.Fatal(err)
		}
		got := awaitEvents(t, 1, "cast", "text", "cast from go", pyA, pyB)
		if got[0].str("user") != "go-user" {
			t.Errorf("cast context user %v", got[0]["user"])
		}
		// A cast of an unknown method fails on the server only.
		if err := c.Cast(bg, "no_such_method", nil); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("Fanout", func(t *testing.T) {
		ctx := serializer.WithRequestContext(bg, serializer.RequestContext{"user": "go-user"})
		if err := c.Prepare(client.Fanout(true)).Cast(ctx, "record", map[string]any{"text": "fanout from go"}); err != nil {
			t.Fatal(err)
		}
		for _, p := range []*peer{pyA, pyB} {
			awaitEvents(t, 1, "cast", "text", "fanout from go", p)
		}
		// A call cannot be fanned out.
		if err := c.Prepare(client.Fanout(true)).Call(bg, "whoami", nil, nil); err == nil {
			t.Error("a fanout call was sent")
		}
	})

	// Every cast reached exactly one server, every fanout both.
	time.Sleep(200 * time.Millisecond)
	if n := len(events("cast", "text", "cast from go", pyA, pyB)); n != 1 {
		t.Errorf("the cast reached %d servers", n)
	}
	for _, p := range []*peer{pyA, pyB} {
		if n := len(events("cast", "text", "fanout from go", p)); n != 1 {
			t.Errorf("%s got the fanout cast %d times", p.name, n)
		}
	}
}

// remoteError checks that err is a *transport.RemoteError of module.class
// with message, and returns it (nil when it is not one).
func remoteError(t testing.TB, err error, module, class, message string) *transport.RemoteError {
	t.Helper()
	var re *transport.RemoteError
	if !errors.As(err, &re) {
		t.Errorf("got %#v, want a %s.%s RemoteError", err, module, class)
		return nil
	}
	if re.Module != module || re.Class != class || re.Message != message {
		t.Errorf("got %s.%s %q, want %s.%s %q", re.Module, re.Class, re.Message, module, class, message)
	}
	if !errors.Is(err, transport.NewKind(module, class, "")) {
		t.Errorf("errors.Is(%v, kind %s.%s) is false", err, module, class)
	}
	return re
}

// checkPythonTraceback checks that a failure from a Python server carries
// Python's formatted traceback, ending with the exception line.
func checkPythonTraceback(t testing.TB, re *transport.RemoteError) {
	t.Helper()
	if re == nil {
		return
	}
	tb := re.Traceback
	if len(tb) < 2 || tb[0] != "Traceback (most recent call last):\n" || !strings.HasSuffix(tb[len(tb)-1], re.Class+": "+re.Message+"\n") {
		t.Errorf("traceback of %s: %q", re.Class, tb)
	}
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
