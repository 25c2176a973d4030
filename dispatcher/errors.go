package dispatcher

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/oslo-go/messaging/serializer"
	"github.com/oslo-go/messaging/transport"
)

const dispatcherModule = "oslo_messaging.rpc.dispatcher"

// Sentinel kinds, one per oslo exception class the dispatcher raises. On
// the server, errors.Is matches the typed errors below; on the calling side
// it matches the [*transport.RemoteError] a Python or Go server sent.
var (
	// ErrNoSuchMethod is oslo's NoSuchMethod: an endpoint accepted the
	// namespace and version but none had the method. Matched by
	// [*NoSuchMethodError].
	ErrNoSuchMethod = transport.NewKind(dispatcherModule, "NoSuchMethod", "dispatcher: no such method")
	// ErrUnsupportedVersion is oslo's UnsupportedVersion: no endpoint
	// accepted the namespace and version. Matched by
	// [*UnsupportedVersionError].
	ErrUnsupportedVersion = transport.NewKind(dispatcherModule, "UnsupportedVersion", "dispatcher: unsupported version")
	// ErrInvalidArguments is Python's TypeError, raised for arguments that
	// do not fit the method. Matched by [*ArgumentError].
	ErrInvalidArguments = transport.NewKind("builtins", "TypeError", "dispatcher: invalid arguments")
	// ErrPanic is Python's RuntimeError, sent for a handler that panicked.
	// Matched by [*PanicError].
	ErrPanic = transport.NewKind("builtins", "RuntimeError", "dispatcher: handler panicked")
)

// Compile-time checks that the typed errors choose their wire form.
var (
	_ transport.WireError = (*NoSuchMethodError)(nil)
	_ transport.WireError = (*UnsupportedVersionError)(nil)
	_ transport.WireError = (*ArgumentError)(nil)
	_ transport.WireError = (*PanicError)(nil)
)

// NoSuchMethodError reports a request that an endpoint accepted by
// namespace and version but that no such endpoint could serve: none has the
// method, or its access policy ([Expose]) hides it. It travels as oslo's
// NoSuchMethod.
type NoSuchMethodError struct {
	Method string
}

func (e *NoSuchMethodError) message() string {
	return "Endpoint does not support RPC method " + e.Method
}

// Error returns "dispatcher: Endpoint does not support RPC method <method>".
func (e *NoSuchMethodError) Error() string { return "dispatcher: " + e.message() }

// Is makes errors.Is(err, ErrNoSuchMethod) hold.
func (e *NoSuchMethodError) Is(target error) bool { return target == ErrNoSuchMethod }

// WireError returns oslo's module, class and message text for NoSuchMethod.
func (e *NoSuchMethodError) WireError() (module, class, message string) {
	return dispatcherModule, "NoSuchMethod", e.message()
}

// UnsupportedVersionError reports a request that no endpoint accepted by
// namespace and version. Version is the requested version ("1.0" when the
// request had none). It travels as oslo's UnsupportedVersion.
type UnsupportedVersionError struct {
	Version, Method string
}

func (e *UnsupportedVersionError) message() string {
	return "Endpoint does not support RPC version " + e.Version + ". Attempted method: " + e.Method
}

// Error returns "dispatcher: Endpoint does not support RPC version <version>.
// Attempted method: <method>".
func (e *UnsupportedVersionError) Error() string { return "dispatcher: " + e.message() }

// Is makes errors.Is(err, ErrUnsupportedVersion) hold.
func (e *UnsupportedVersionError) Is(target error) bool { return target == ErrUnsupportedVersion }

// WireError returns oslo's module, class and message text for
// UnsupportedVersion.
func (e *UnsupportedVersionError) WireError() (module, class, message string) {
	return dispatcherModule, "UnsupportedVersion", e.message()
}

// ArgumentError reports request arguments that do not fit the method's
// parameter. It travels as Python's TypeError with a Python-flavoured
// message naming the method and the argument:
//
//	get_filesystem_stats() argument 'fs_path': expected string, got number
//	get_filesystem_stats() argument 'opts.tags[1]': expected string, got object
//	get_filesystem_stats() missing required argument: 'fs_path'
//
// Method is the wire name. Field is the argument's key, or for a nested
// value its path of keys and [index]es ("" when the error is not about one
// value). Err is the codec's error; it is nil when a required field is
// missing.
type ArgumentError struct {
	Method string
	Field  string
	Err    error

	// want and got are the JSON types expected and received when the
	// dispatcher found the mismatch ("" otherwise).
	want, got string
}

func (e *ArgumentError) message() string {
	var what string
	switch {
	case e.Err == nil && e.want == "":
		return e.Method + "() missing required argument: '" + e.Field + "'"
	case e.want != "":
		what = "expected " + e.want + ", got " + e.got
	default:
		what = e.Err.Error()
	}
	if e.Field == "" {
		return e.Method + "() invalid arguments: " + what
	}
	return e.Method + "() argument '" + e.Field + "': " + what
}

// Error returns "dispatcher: " followed by the wire message.
func (e *ArgumentError) Error() string { return "dispatcher: " + e.message() }

// Is makes errors.Is(err, ErrInvalidArguments) hold.
func (e *ArgumentError) Is(target error) bool { return target == ErrInvalidArguments }

// Unwrap returns Err.
func (e *ArgumentError) Unwrap() error { return e.Err }

// WireError returns module "builtins", class "TypeError" and the message.
func (e *ArgumentError) WireError() (module, class, message string) {
	return "builtins", "TypeError", e.message()
}

// newArgumentError explains err, the codec's error for decoding args into a
// value of type t: args decoded generically are walked along t to find the
// value that does not fit, independently of how the codec words its
// errors.
func newArgumentError(method string, err error, t reflect.Type, args serializer.Raw) *ArgumentError {
	e := &ArgumentError{Method: method, Err: err}
	var generic any
	if args.Decode(&generic) == nil {
		if bad := mismatch(t, generic, ""); bad != nil {
			e.Field, e.want, e.got = bad.path, bad.want, bad.got
		}
	}
	return e
}

// PanicError reports a handler (or middleware) that panicked. Method is the
// requested wire name, Value what was passed to panic and Stack the
// goroutine's stack at the panic. It travels as Python's RuntimeError with
// the stack as the traceback.
type PanicError struct {
	Method string
	Value  any
	Stack  []byte
}

func (e *PanicError) message() string {
	return fmt.Sprintf("%s() panicked: %v", e.Method, e.Value)
}

// Error returns "dispatcher: <method>() panicked: <value>".
func (e *PanicError) Error() string { return "dispatcher: " + e.message() }

// Is makes errors.Is(err, ErrPanic) hold.
func (e *PanicError) Is(target error) bool { return target == ErrPanic }

// WireError returns module "builtins", class "RuntimeError" and the message.
func (e *PanicError) WireError() (module, class, message string) {
	return "builtins", "RuntimeError", e.message()
}

// Traceback returns Stack as lines, each ending in "\n", the form of
// Python's traceback.format_exception that oslo sends as tb.
func (e *PanicError) Traceback() []string {
	s := strings.TrimRight(string(e.Stack), "\n")
	if s == "" {
		return nil
	}
	lines := strings.SplitAfter(s+"\n", "\n")
	return lines[:len(lines)-1] // SplitAfter leaves a final ""
}

// Expected marks err as an expected error, oslo's ExpectedException: the
// server replies with err as usual (the caller sees err's own class and
// message) but logs it without a stack trace, as a normal outcome. Unwrap
// returns err; nil stays nil, and an error already marked is returned as
// is.
func Expected(err error) error {
	if err == nil || IsExpected(err) {
		return err
	}
	// The mark must not change how err travels. transport.FailureOf finds
	// WireErrors, RemoteErrors and Kinds through Unwrap, but names other
	// errors after their outermost Go type, which would be the mark's; for
	// those the mark names err's type itself.
	var (
		we transport.WireError
		re *transport.RemoteError
		k  *transport.Kind
	)
	if errors.As(err, &we) || errors.As(err, &re) || errors.As(err, &k) {
		return &expectedError{err: err}
	}
	return &expectedClassError{expectedError{err: err}}
}

// IsExpected reports whether err or an error in its chain was marked with
// [Expected].
func IsExpected(err error) bool {
	var m expectedMarker
	return errors.As(err, &m)
}

type expectedMarker interface{ expectedMark() }

type expectedError struct{ err error }

func (e *expectedError) Error() string { return e.err.Error() }
func (e *expectedError) Unwrap() error { return e.err }
func (e *expectedError) expectedMark() {}

// expectedClassError is an expectedError that travels with the exception
// class of the error it marks, as transport.FailureOf names a plain Go
// error: builtins.Exception for errors.New and fmt.Errorf errors, else the
// Go package path and type name.
type expectedClassError struct{ expectedError }

func (e *expectedClassError) WireError() (module, class, message string) {
	f := transport.FailureOf(e.err)
	return f.Module, f.Class, f.Message
}
