package transport

import (
	"context"
	"errors"
	"reflect"
	"strings"

	"github.com/oslo-go/messaging/internal/engine"
	"github.com/oslo-go/messaging/internal/wire"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport/driver"
)

// Errors reported by transports and drivers.
var (
	// ErrTimeout is matched by every call that got no reply in time
	// (oslo's MessagingTimeout). Such errors also match
	// context.DeadlineExceeded.
	ErrTimeout = errors.New("transport: timed out")
	// ErrClosed is returned by operations on a closed transport.
	ErrClosed = driver.ErrClosed
	// ErrNoServers reports a call to a target no server listens on, on
	// drivers that can tell (NATS).
	ErrNoServers = driver.ErrNoServers
	// ErrConnectionLost reports a call whose connection went away before
	// the reply came.
	ErrConnectionLost = driver.ErrConnectionLost
	// ErrUndeliverable reports a message the broker could not route: a
	// cast or call sent with client.AtLeastOnce that no queue took.
	ErrUndeliverable = driver.ErrUndeliverable
	// ErrMessageTooLarge reports a message over the broker's or the
	// driver's maximum size; it is not retried.
	ErrMessageTooLarge = driver.ErrMessageTooLarge
	// ErrUnsupportedEnvelope reports a message in an envelope version other
	// than 2.x (oslo's UnsupportedRpcEnvelopeVersion).
	ErrUnsupportedEnvelope = wire.ErrUnsupportedEnvelope
	// ErrNotificationsUnsupported is returned when notifying or listening
	// for notifications on a transport whose driver carries none.
	ErrNotificationsUnsupported = engine.ErrNotificationsUnsupported
)

// TimeoutError reports a call that got no reply in time, or a cast or
// notification the broker did not take in time. It matches both
// ErrTimeout and context.DeadlineExceeded. Its text names the method, the
// target and the message id, and the connection error behind the timeout
// when the broker could not be reached.
type TimeoutError struct {
	// Op is "call", "cast" or "notify".
	Op string
	// Method is the method called, or a notification's event type.
	Method string
	// Target is where the message went, with its exchange.
	Target target.Target
	// MsgID is the call's message id; "" for casts and notifications.
	MsgID string
	// Monitor is true when the call-monitor timer expired (no heartbeat
	// from the server) rather than the call's deadline.
	Monitor bool
	cause   error
}

// Error implements the error interface.
func (e *TimeoutError) Error() string {
	var b strings.Builder
	b.WriteString("transport: ")
	if e.Op != "" {
		b.WriteString(e.Op + " " + e.Method + " to " + e.Target.String() + " ")
	}
	if e.MsgID != "" || e.Op == "call" || e.Op == "" {
		b.WriteString("timed out waiting for a reply to message ID " + e.MsgID)
	} else {
		b.WriteString("timed out")
	}
	if e.Monitor {
		b.WriteString(" (no heartbeat from the server)")
	}
	if e.cause != nil && e.cause != context.DeadlineExceeded && e.cause != context.Canceled {
		b.WriteString(": " + e.cause.Error())
	}
	return b.String()
}

// Is makes errors.Is(err, ErrTimeout) hold.
func (e *TimeoutError) Is(target error) bool { return target == ErrTimeout }

// Unwrap returns the error behind the timeout: the ctx's, or the driver's
// that wraps it.
func (e *TimeoutError) Unwrap() error { return e.cause }

// Kind is a sentinel error standing for one oslo exception class (module
// and class name), so that errors.Is matches a [*RemoteError] of that class
// on the calling side. A handler returning an error that wraps a Kind sends
// the Kind's class:
//
//	var ErrNotFound = transport.NewKind("trove.common.exception", "NotFound", "trove: not found")
//	return fmt.Errorf("instance %s: %w", id, ErrNotFound)     // server
//	errors.Is(err, ErrNotFound)                              // client: true
type Kind struct {
	module, class, text string
}

// NewKind returns a sentinel for the exception class module.class whose
// Error text is text.
func NewKind(module, class, text string) *Kind {
	return &Kind{module: module, class: class, text: text}
}

// Error implements the error interface.
func (k *Kind) Error() string { return k.text }

// Module returns the exception's module, for example "builtins".
func (k *Kind) Module() string { return k.module }

// Class returns the exception's class name, for example "ValueError".
func (k *Kind) Class() string { return k.class }

// WireError is implemented by errors that choose how they travel as an oslo
// failure: module, class and the message text.
type WireError interface {
	error
	WireError() (module, class, message string)
}

// RemoteError is an exception raised by the remote side of a call, as oslo
// sends it: {class, module, message, tb, args, kwargs}.
type RemoteError struct {
	Module    string
	Class     string
	Message   string
	Traceback []string
	Args      []any
	Kwargs    map[string]any
}

// Error implements the error interface.
func (e *RemoteError) Error() string {
	return "transport: remote error: " + e.Class + ": " + e.Message
}

// Is matches a [*Kind] of the same module and class, so that
// errors.Is(err, dispatcher.ErrNoSuchMethod) works on the calling side.
func (e *RemoteError) Is(target error) bool {
	k, ok := target.(*Kind)
	return ok && k.class == e.Class && normalizeModule(k.module) == normalizeModule(e.Module)
}

func normalizeModule(m string) string { return wire.NormalizeModule(m) }

// FailureOf describes how err travels as an oslo failure:
//
//   - an error implementing [WireError] chooses module, class and message;
//   - a [*RemoteError] (re-raising a remote failure) travels as itself;
//   - an error wrapping a [*Kind] takes the Kind's module and class;
//   - errors made by errors.New or fmt.Errorf travel as builtins.Exception,
//     which Python callers re-raise as Exception;
//   - any other error type travels with its Go package path as module and
//     its type name as class.
//
// The message is err.Error() unless a WireError gives one; args is
// [message]. An error with a Traceback() []string method supplies tb.
func FailureOf(err error) *RemoteError {
	f := &RemoteError{Kwargs: map[string]any{}}
	var we WireError
	var re *RemoteError
	var k *Kind
	switch {
	case errors.As(err, &we):
		f.Module, f.Class, f.Message = we.WireError()
	case errors.As(err, &re):
		*f = *re
		f.Module = strings.TrimSuffix(f.Module, "_Remote")
		f.Class = strings.TrimSuffix(f.Class, "_Remote")
		if f.Kwargs == nil {
			f.Kwargs = map[string]any{}
		}
		if f.Args == nil {
			f.Args = []any{f.Message}
		}
		return f
	case errors.As(err, &k):
		f.Module, f.Class, f.Message = k.module, k.class, err.Error()
	default:
		f.Module, f.Class = goErrorClass(err)
		f.Message = err.Error()
	}
	var tb interface{ Traceback() []string }
	if errors.As(err, &tb) {
		f.Traceback = tb.Traceback()
	}
	f.Args = []any{f.Message}
	return f
}

// goErrorClass names a Go error type as an exception class.
func goErrorClass(err error) (module, class string) {
	t := reflect.TypeOf(err)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	pkg, name := t.PkgPath(), t.Name()
	if pkg == "errors" || pkg == "fmt" || name == "" {
		return "builtins", "Exception"
	}
	return pkg, name
}
