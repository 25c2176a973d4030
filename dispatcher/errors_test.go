package dispatcher

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/oslo-go/messaging/transport"
)

var (
	errNotFound = errors.New("not found")
	errKind     = transport.NewKind("trove.common.exception", "NotFound", "trove: not found")
)

type expectEP struct{}

func (*expectEP) Find(_ context.Context, a OptArgs) (string, error) {
	switch a.Msg {
	case "not found":
		return "", fmt.Errorf("instance 1: %w", errNotFound)
	case "kind":
		return "", fmt.Errorf("instance 2: %w", errKind)
	case "marked":
		return "", Expected(errors.New("marked by handler"))
	case "other":
		return "", errors.New("other")
	}
	return "found", nil
}

func TestExpectedErrors(t *testing.T) {
	d, err := New([]any{Endpoint(&expectEP{}, ExpectedErrors(errNotFound, nil, errKind))})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := New([]any{&expectEP{}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		d        *Dispatcher
		msg      string
		expected bool
		is       error
		text     string
	}{
		{d, "not found", true, errNotFound, "instance 1: not found"},
		{d, "kind", true, errKind, "instance 2: trove: not found"},
		{d, "marked", true, nil, "marked by handler"},
		{d, "other", false, nil, "other"},
		{plain, "not found", false, errNotFound, "instance 1: not found"},
		{plain, "marked", true, nil, "marked by handler"},
	}
	for _, tt := range tests {
		res, err := tt.d.Dispatch(context.Background(), argsRequest("find", `{"msg": "`+tt.msg+`"}`))
		if res != nil || err == nil {
			t.Errorf("%s: got %v, %v", tt.msg, res, err)
			continue
		}
		if IsExpected(err) != tt.expected {
			t.Errorf("%s: IsExpected(%v) = %v, want %v", tt.msg, err, !tt.expected, tt.expected)
		}
		if tt.is != nil && !errors.Is(err, tt.is) {
			t.Errorf("%s: errors.Is(%v, %v) = false", tt.msg, err, tt.is)
		}
		if err.Error() != tt.text {
			t.Errorf("%s: Error() = %q, want %q", tt.msg, err, tt.text)
		}
	}
	// Dispatcher errors are not subject to ExpectedErrors.
	d, err = New([]any{Endpoint(&expectEP{}, ExpectedErrors(ErrNoSuchMethod))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Dispatch(context.Background(), &Request{Method: "nope"}); IsExpected(err) || !errors.Is(err, ErrNoSuchMethod) {
		t.Errorf("nope: %#v", err)
	}
}

type remoteish struct{ msg string }

func (e remoteish) Error() string { return e.msg }

func TestExpected(t *testing.T) {
	if Expected(nil) != nil {
		t.Error("Expected(nil) != nil")
	}
	if IsExpected(nil) || IsExpected(errNotFound) {
		t.Error("IsExpected of an unmarked error")
	}
	e := Expected(errNotFound)
	if !IsExpected(e) || errors.Unwrap(e) != errNotFound || e.Error() != errNotFound.Error() || !errors.Is(e, errNotFound) {
		t.Errorf("Expected(errNotFound) = %#v", e)
	}
	if Expected(e) != e {
		t.Error("marking twice wraps twice")
	}
	if w := fmt.Errorf("ctx: %w", e); !IsExpected(w) {
		t.Error("IsExpected does not look down the chain")
	}

	// The mark does not change how the error travels.
	for _, err := range []error{
		errNotFound,
		fmt.Errorf("wrapped: %w", errNotFound),
		&customErr{},
		remoteish{"value type"},
		fmt.Errorf("kind: %w", errKind),
		&NoSuchMethodError{Method: "m"},
		fmt.Errorf("w: %w", &ArgumentError{Method: "m", Field: "f"}),
		&PanicError{Method: "m", Value: "v", Stack: []byte("a\nb\n")},
		&transport.RemoteError{Module: "nova.exception_Remote", Class: "InstanceNotFound_Remote", Message: "m",
			Traceback: []string{"tb\n"}, Args: []any{"m", 1.0}, Kwargs: map[string]any{"code": 404.0}},
		fmt.Errorf("re-raise: %w", &transport.RemoteError{Module: "builtins", Class: "ValueError", Message: "v"}),
	} {
		want := transport.FailureOf(err)
		if got := transport.FailureOf(Expected(err)); !reflect.DeepEqual(got, want) {
			t.Errorf("FailureOf(Expected(%#v)) =\n%+v\nwant %+v", err, got, want)
		}
	}
}

type panicEP struct{}

func (*panicEP) Explode(_ context.Context, a OptArgs) (string, error) {
	switch a.Msg {
	case "nil":
		panic(nil)
	case "error":
		panic(fmt.Errorf("wrapped %w", errNotFound))
	case "index":
		var s []int
		return fmt.Sprint(s[len(a.Msg)]), nil
	}
	panic(a.Msg)
}

func TestPanic(t *testing.T) {
	d, err := New([]any{&panicEP{}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ msg, want string }{
		{"boom", "explode() panicked: boom"},
		{"error", "explode() panicked: wrapped not found"},
		{"index", "explode() panicked: runtime error: index out of range [5] with length 0"},
		{"nil", "explode() panicked: " + new(runtime.PanicNilError).Error()},
	}
	for _, tt := range tests {
		res, err := d.Dispatch(context.Background(), argsRequest("explode", `{"msg": "`+tt.msg+`"}`))
		var pe *PanicError
		if res != nil || !errors.As(err, &pe) || !errors.Is(err, ErrPanic) {
			t.Errorf("%s: got %v, %#v", tt.msg, res, err)
			continue
		}
		if m, c, msg := pe.WireError(); m != "builtins" || c != "RuntimeError" || msg != tt.want {
			t.Errorf("%s: WireError() = %s, %s, %q; want message %q", tt.msg, m, c, msg, tt.want)
		}
		if err.Error() != "dispatcher: "+tt.want || pe.Method != "explode" {
			t.Errorf("%s: Error() = %q", tt.msg, err)
		}
		if !strings.Contains(string(pe.Stack), "(*panicEP).Explode") {
			t.Errorf("%s: stack does not show the handler:\n%s", tt.msg, pe.Stack)
		}
		tb := pe.Traceback()
		if len(tb) < 3 || strings.Join(tb, "") != strings.TrimRight(string(pe.Stack), "\n")+"\n" {
			t.Errorf("%s: Traceback() = %q", tt.msg, tb)
		}
		for _, l := range tb {
			if !strings.HasSuffix(l, "\n") || strings.Count(l, "\n") != 1 {
				t.Errorf("%s: traceback line %q", tt.msg, l)
			}
		}
		f := transport.FailureOf(err)
		if f.Class != "RuntimeError" || f.Message != tt.want || !reflect.DeepEqual(f.Traceback, tb) {
			t.Errorf("%s: FailureOf = %+v", tt.msg, f)
		}
	}
	var pe *PanicError
	_, err = d.Dispatch(context.Background(), argsRequest("explode", `{"msg": "nil"}`))
	var pn *runtime.PanicNilError
	if !errors.As(err, &pe) || !errors.As(pe.Value.(error), &pn) {
		t.Errorf("panic(nil): Value = %#v", pe.Value)
	}
	if (&PanicError{}).Traceback() != nil {
		t.Error("empty stack: Traceback() != nil")
	}
}

func TestPanicInMiddleware(t *testing.T) {
	d, err := New([]any{&fooBar{}}, WithMiddleware(func(next Handler) Handler {
		return func(ctx context.Context, req *Request) (any, error) {
			if req.Method == "mw" {
				panic("middleware boom")
			}
			return next(ctx, req)
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.Dispatch(context.Background(), &Request{Method: "mw"})
	var pe *PanicError
	if !errors.As(err, &pe) || pe.Method != "mw" || pe.Value != "middleware boom" {
		t.Fatalf("err = %#v", err)
	}
	if res, err := d.Dispatch(context.Background(), &Request{Method: "foo"}); err != nil || res != "foo@0" {
		t.Errorf("after a panic: %v, %v", res, err)
	}
}

func TestWireErrors(t *testing.T) {
	tests := []struct {
		err                error
		module, class, msg string
		sentinel           error
	}{
		{&NoSuchMethodError{Method: "get"}, "oslo_messaging.rpc.dispatcher", "NoSuchMethod",
			"Endpoint does not support RPC method get", ErrNoSuchMethod},
		{&UnsupportedVersionError{Version: "1.0", Method: "get"}, "oslo_messaging.rpc.dispatcher", "UnsupportedVersion",
			"Endpoint does not support RPC version 1.0. Attempted method: get", ErrUnsupportedVersion},
		{&ArgumentError{Method: "get", Field: "a"}, "builtins", "TypeError",
			"get() missing required argument: 'a'", ErrInvalidArguments},
		{&PanicError{Method: "get", Value: 3}, "builtins", "RuntimeError", "get() panicked: 3", ErrPanic},
	}
	sentinels := []error{ErrNoSuchMethod, ErrUnsupportedVersion, ErrInvalidArguments, ErrPanic}
	for _, tt := range tests {
		we := tt.err.(transport.WireError)
		if m, c, msg := we.WireError(); m != tt.module || c != tt.class || msg != tt.msg {
			t.Errorf("%T.WireError() = %q, %q, %q", tt.err, m, c, msg)
		}
		if tt.err.Error() != "dispatcher: "+tt.msg {
			t.Errorf("%T.Error() = %q", tt.err, tt.err)
		}
		for _, s := range sentinels {
			if errors.Is(tt.err, s) != (s == tt.sentinel) {
				t.Errorf("errors.Is(%T, %v) = %v", tt.err, s, !(s == tt.sentinel))
			}
		}
		k := tt.sentinel.(*transport.Kind)
		if k.Module() != tt.module || k.Class() != tt.class {
			t.Errorf("sentinel %v is %s.%s, want %s.%s", k, k.Module(), k.Class(), tt.module, tt.class)
		}
		// The calling side's RemoteError matches the sentinel.
		if f := transport.FailureOf(tt.err); !errors.Is(f, tt.sentinel) || f.Message != tt.msg {
			t.Errorf("FailureOf(%T) = %+v", tt.err, f)
		}
	}
}
