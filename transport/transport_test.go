package transport

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oslo-go/messaging/internal/engine"
	"github.com/oslo-go/messaging/internal/wire"
	"github.com/oslo-go/messaging/serializer"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport/driver"
)

// stub is a driver whose replies the test scripts.
type stub struct {
	wg      sync.WaitGroup // scripted onSend goroutines
	mu      sync.Mutex
	url     *driver.URL
	cfg     driver.Config
	sent    []*driver.Message
	targets []target.Target
	onSend  func(m *driver.Message)
	closed  int
}

func (s *stub) Open(_ context.Context, u *driver.URL, cfg driver.Config) (driver.Conn, error) {
	if _, bad := u.Query["bad"]; bad {
		return nil, errors.New("stub: unknown query parameter bad")
	}
	s.mu.Lock()
	s.url, s.cfg = u, cfg
	s.mu.Unlock()
	return s, nil
}

func (s *stub) Send(_ context.Context, t target.Target, m *driver.Message) error {
	s.mu.Lock()
	s.sent = append(s.sent, m)
	s.targets = append(s.targets, t)
	f := s.onSend
	s.mu.Unlock()
	if f != nil {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			f(m)
		}()
	}
	return nil
}

func (s *stub) ReplyAddress(context.Context) (string, error) { return "reply_stub", nil }
func (s *stub) Listen(context.Context, target.Target, driver.ListenOptions) (driver.Listener, error) {
	return nil, errors.New("stub: no listen")
}
func (s *stub) Close() error { s.mu.Lock(); s.closed++; s.mu.Unlock(); return nil }

var theStub = &stub{}

func init() { Register("stub", theStub) }

func openStub(t *testing.T, url string, opts ...Option) *Transport {
	t.Helper()
	theStub.setOnSend(nil)
	tr, err := Open(context.Background(), url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		theStub.wg.Wait() // the scripts end before the next test reopens the stub
		tr.Close()
	})
	return tr
}

func (s *stub) setOnSend(f func(m *driver.Message)) {
	s.mu.Lock()
	s.onSend = f
	s.mu.Unlock()
}

// onReply returns the transport's reply callback.
func (s *stub) onReply() func(driver.Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg.OnReply
}

func reply(msgID string, result string, failure *RemoteError, ending bool) *driver.Message {
	body, err := wire.EncodeReply(serializer.JSON{}, msgID, rawJSON(result), (*wire.Failure)(failure), ending)
	if err != nil {
		panic(err)
	}
	return &driver.Message{Body: body}
}

// legacyResult is the first of the two replies oslo < 4.0 sent: the result
// with ending false.
func legacyResult(msgID, result string) *driver.Message {
	inner := `{"result": ` + result + `, "failure": null, "ending": false, "_msg_id": "` + msgID + `"}`
	body := `{"oslo.version": "2.0", "oslo.message": "` + strings.ReplaceAll(inner, `"`, `\"`) + `"}`
	return &driver.Message{Body: []byte(body)}
}

// rawJSON makes a result that encodes as the given JSON text.
type rawJSON string

func (r rawJSON) MarshalJSON() ([]byte, error) {
	if r == "" {
		return []byte("null"), nil
	}
	return []byte(r), nil
}

func TestRegistry(t *testing.T) {
	if got := Drivers(); !contains(got, "stub") {
		t.Fatalf("Drivers() = %v", got)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("duplicate Register did not panic")
			}
		}()
		Register("stub", &stub{})
	}()
	func() {
		defer func() {
			if recover() == nil {
				t.Error("nil Register did not panic")
			}
		}()
		Register("nil-driver", nil)
	}()
	_, err := Open(context.Background(), "nosuch://h/")
	if !errors.Is(err, ErrUnknownDriver) || !strings.Contains(err.Error(), `"nosuch"`) || !strings.Contains(err.Error(), "stub") {
		t.Fatalf("unknown driver: %v", err)
	}
	if _, err := Open(context.Background(), "no scheme"); !errors.Is(err, ErrInvalidURL) {
		t.Fatalf("bad URL: %v", err)
	}
	// The driver rejects query keys it does not know, and the error says so.
	_, err = Open(context.Background(), "stub://u:secret@h/?bad=1")
	if err == nil || !strings.Contains(err.Error(), "unknown query parameter bad") || strings.Contains(err.Error(), "secret") {
		t.Fatalf("driver error: %v", err)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestControlExchange(t *testing.T) {
	tr := openStub(t, "stub://h/")
	if tr.ControlExchange() != "openstack" {
		t.Fatal(tr.ControlExchange())
	}
	tr = openStub(t, "stub://h/", ControlExchange("nova"))
	if got := tr.e.ResolveTarget(target.Target{Topic: "t"}); got.Exchange != "nova" {
		t.Fatalf("resolved %+v", got)
	}
	if got := tr.e.ResolveTarget(target.Target{Topic: "t", Exchange: "x"}); got.Exchange != "x" {
		t.Fatalf("explicit exchange replaced: %+v", got)
	}
	// The URL wins over the option, and the driver does not see the key.
	tr = openStub(t, "stub://h/?control_exchange=trove&other=1", ControlExchange("nova"))
	if tr.ControlExchange() != "trove" {
		t.Fatal(tr.ControlExchange())
	}
	if _, seen := theStub.url.Query["control_exchange"]; seen || theStub.url.Query["other"] != "1" {
		t.Fatalf("driver query %v", theStub.url.Query)
	}
	if err := tr.e.Cast(context.Background(), target.Target{Topic: "t"}, &wire.Request{Method: "m"}, engine.SendOptions{}); err != nil {
		t.Fatal(err)
	}
	if theStub.targets[len(theStub.targets)-1].Exchange != "trove" {
		t.Fatal("cast not sent to the control exchange")
	}
}

func TestCallReplies(t *testing.T) {
	tr := openStub(t, "stub://")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	call := func(script func(m *driver.Message)) (serializer.Raw, error) {
		theStub.setOnSend(script)
		return tr.e.Call(ctx, target.Target{Topic: "t"}, &wire.Request{Method: "m"}, engine.CallOptions{})
	}
	deliver := func(m *driver.Message) { theStub.onReply()(driver.Reply{Message: m}) }

	// Heartbeats, an unrelated reply and a duplicate are ignored; the final reply wins.
	raw, err := call(func(m *driver.Message) {
		deliver(reply(m.MsgID, "", nil, false))
		deliver(reply("someone-else", `"no"`, nil, true))
		deliver(reply(m.MsgID, `"yes"`, nil, true))
		deliver(reply(m.MsgID, `"dup"`, nil, true))
	})
	if err != nil || string(raw.Data) != `"yes"` {
		t.Fatalf("result %s, %v", raw.Data, err)
	}
	// oslo < 4.0: the result first with ending false, then an empty ending reply.
	raw, err = call(func(m *driver.Message) {
		deliver(legacyResult(m.MsgID, `42`))
		deliver(reply(m.MsgID, "", nil, true))
	})
	if err != nil || string(raw.Data) != `42` {
		t.Fatalf("legacy result %s, %v", raw.Data, err)
	}
	// A failure.
	_, err = call(func(m *driver.Message) {
		deliver(reply(m.MsgID, "", &RemoteError{Module: "builtins", Class: "ValueError", Message: "bad"}, true))
	})
	var re *RemoteError
	if !errors.As(err, &re) || re.Class != "ValueError" || re.Message != "bad" {
		t.Fatalf("failure: %v", err)
	}
	// A driver-reported failure of this call.
	_, err = call(func(m *driver.Message) {
		theStub.onReply()(driver.Reply{MsgID: m.MsgID, Err: ErrNoServers})
	})
	if !errors.Is(err, ErrNoServers) {
		t.Fatalf("no servers: %v", err)
	}
	// A reply that names its call but does not decode fails the call at
	// once, not at its timeout.
	start := time.Now()
	_, err = call(func(m *driver.Message) {
		inner := `{"result": 1, "_msg_id": "` + m.MsgID + `"}` // no failure key
		deliver(&driver.Message{Body: []byte(`{"oslo.version": "2.0", "oslo.message": "` + strings.ReplaceAll(inner, `"`, `\"`) + `"}`)})
	})
	if err == nil || !strings.Contains(err.Error(), "does not decode") || time.Since(start) > 2*time.Second {
		t.Fatalf("undecodable reply: %v after %v", err, time.Since(start))
	}
	// Garbage replies are dropped without harm.
	_, err = call(func(m *driver.Message) {
		deliver(&driver.Message{Body: []byte("garbage")})
		theStub.onReply()(driver.Reply{})
		theStub.onReply()(driver.Reply{Err: ErrConnectionLost})
	})
	if !errors.Is(err, ErrConnectionLost) {
		t.Fatalf("connection lost: %v", err)
	}
}

// NotFound is a user error type rebuilt from a remote failure.
type NotFound struct{ Remote *RemoteError }

func (e *NotFound) Error() string { return "not found: " + e.Remote.Message }
func (e *NotFound) Unwrap() error { return e.Remote }

func TestAllowRemoteError(t *testing.T) {
	tr := openStub(t, "stub://", AllowRemoteError("trove.common.exception", "NotFound",
		func(re *RemoteError) error { return &NotFound{Remote: re} }))
	theStub.setOnSend(func(m *driver.Message) {
		theStub.onReply()(driver.Reply{Message: reply(m.MsgID, "", &RemoteError{Module: "trove.common.exception", Class: "NotFound", Message: "instance i-1"}, true)})
	})
	_, err := tr.e.Call(context.Background(), target.Target{Topic: "t"}, &wire.Request{Method: "m"}, engine.CallOptions{})
	var nf *NotFound
	if !errors.As(err, &nf) || nf.Remote.Message != "instance i-1" || err.Error() != "not found: instance i-1" {
		t.Fatalf("err = %v", err)
	}
	var re *RemoteError
	if !errors.As(err, &re) {
		t.Fatal("rebuilt error does not unwrap to the RemoteError")
	}
}

func TestMonitorTimeout(t *testing.T) {
	tr := openStub(t, "stub://")
	// Heartbeats every 20ms keep a 100ms monitor alive past 300ms, then stop.
	theStub.setOnSend(func(m *driver.Message) {
		for range 15 {
			theStub.onReply()(driver.Reply{Message: reply(m.MsgID, "", nil, false)})
			time.Sleep(20 * time.Millisecond)
		}
	})
	start := time.Now()
	_, err := tr.e.Call(context.Background(), target.Target{Topic: "t"}, &wire.Request{Method: "m"}, engine.CallOptions{MonitorTimeout: 100 * time.Millisecond})
	var te *TimeoutError
	if !errors.As(err, &te) || !te.Monitor || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	if e := time.Since(start); e < 300*time.Millisecond {
		t.Fatalf("monitor fired after %v despite heartbeats", e)
	}
	if !strings.Contains(err.Error(), te.MsgID) {
		t.Fatalf("message %q lacks the message id", err)
	}
}

func TestCloseFailsCalls(t *testing.T) {
	tr := openStub(t, "stub://")
	errc := make(chan error)
	sent := make(chan struct{})
	theStub.setOnSend(func(*driver.Message) { close(sent) }) // the call waits once sent
	go func() {
		_, err := tr.e.Call(context.Background(), target.Target{Topic: "t"}, &wire.Request{Method: "m"}, engine.CallOptions{})
		errc <- err
	}()
	<-sent
	tr.Close()
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Fatalf("err = %v", err)
	}
	tr.Close()
	if theStub.closed == 0 {
		t.Fatal("driver not closed")
	}
	if err := tr.e.Cast(context.Background(), target.Target{Topic: "t"}, &wire.Request{Method: "m"}, engine.SendOptions{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("cast after close: %v", err)
	}
	if _, err := tr.e.Listen(context.Background(), target.Target{Topic: "t", Server: "s"}, driver.ListenOptions{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("listen after close: %v", err)
	}
}

func TestValidation(t *testing.T) {
	tr := openStub(t, "stub://")
	ctx := context.Background()
	if _, err := tr.e.Call(ctx, target.Target{Topic: "t", Fanout: true}, &wire.Request{Method: "m"}, engine.CallOptions{}); !errors.Is(err, target.ErrInvalidTarget) {
		t.Errorf("fanout call: %v", err)
	}
	if err := tr.e.Cast(ctx, target.Target{}, &wire.Request{Method: "m"}, engine.SendOptions{}); !errors.Is(err, target.ErrInvalidTarget) {
		t.Errorf("cast without topic: %v", err)
	}
	if _, err := tr.e.Listen(ctx, target.Target{Topic: "t"}, driver.ListenOptions{}); !errors.Is(err, target.ErrInvalidTarget) {
		t.Errorf("listen without server: %v", err)
	}
	expired, cancel := context.WithDeadline(ctx, time.Now().Add(-time.Second))
	defer cancel()
	if _, err := tr.e.Call(expired, target.Target{Topic: "t"}, &wire.Request{Method: "m"}, engine.CallOptions{}); !errors.Is(err, ErrTimeout) {
		t.Errorf("expired ctx: %v", err)
	}
}

func TestFailureOf(t *testing.T) {
	kind := NewKind("trove.common.exception", "NotFound", "trove: not found")
	tests := []struct {
		err                    error
		module, class, message string
	}{
		{errors.New("boom"), "builtins", "Exception", "boom"},
		{fmt.Errorf("wrapped: %w", errors.New("x")), "builtins", "Exception", "wrapped: x"},
		{fmt.Errorf("instance 1: %w", kind), "trove.common.exception", "NotFound", "instance 1: trove: not found"},
		{&RemoteError{Module: "m_Remote", Class: "C_Remote", Message: "re-raised"}, "m", "C", "re-raised"},
		{&TimeoutError{MsgID: "x"}, "github.com/oslo-go/messaging/transport", "TimeoutError", "transport: timed out waiting for a reply to message ID x"},
		{wireErr{}, "mod", "Cls", "wire message"},
	}
	for _, tt := range tests {
		f := FailureOf(tt.err)
		if f.Module != tt.module || f.Class != tt.class || f.Message != tt.message {
			t.Errorf("FailureOf(%v) = %s.%s %q", tt.err, f.Module, f.Class, f.Message)
		}
		if len(f.Args) != 1 || f.Args[0] != f.Message || f.Kwargs == nil {
			t.Errorf("FailureOf(%v) args %v kwargs %v", tt.err, f.Args, f.Kwargs)
		}
	}
	f := FailureOf(wireErr{})
	if len(f.Traceback) != 1 {
		t.Errorf("traceback %v", f.Traceback)
	}
	// errors.Is matches kinds by class, and Python 2's module name.
	re := &RemoteError{Module: "exceptions", Class: "ValueError"}
	if !errors.Is(re, NewKind("builtins", "ValueError", "")) || errors.Is(re, NewKind("builtins", "TypeError", "")) {
		t.Error("Kind matching")
	}
}

type wireErr struct{}

func (wireErr) Error() string                              { return "go text" }
func (wireErr) WireError() (module, class, message string) { return "mod", "Cls", "wire message" }
func (wireErr) Traceback() []string                        { return []string{"frame\n"} }

func TestNotifyUnsupported(t *testing.T) {
	tr := openStub(t, "stub://")
	err := tr.e.Notify(context.Background(), target.Target{Topic: "notifications.info"}, &wire.Notification{}, true, engine.SendOptions{})
	if !errors.Is(err, ErrNotificationsUnsupported) {
		t.Fatalf("Notify: %v", err)
	}
	if _, err := tr.e.ListenNotifications(context.Background(), []target.Target{{Topic: "n.info"}}, "", driver.ListenOptions{}); !errors.Is(err, ErrNotificationsUnsupported) {
		t.Fatalf("ListenNotifications: %v", err)
	}
}
