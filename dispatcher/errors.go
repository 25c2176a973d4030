package dispatcher

import (
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

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
//	get_filesystem_stats() missing required argument: 'fs_path'
//
// Method is the wire name. Field is the argument's key, or its dotted path
// for a nested value ("" when the error is not about one field). Err is
// the codec's error; it is nil when a required field is missing.
type ArgumentError struct {
	Method string
	Field  string
	Err    error
}

func (e *ArgumentError) message() string {
	if e.Err == nil {
		return e.Method + "() missing required argument: '" + e.Field + "'"
	}
	var te *json.UnmarshalTypeError
	if errors.As(e.Err, &te) && te.Type != nil {
		got := te.Value
		if got == "" {
			got = "a different type"
		}
		if e.Field == "" {
			return e.Method + "() invalid arguments: expected " + jsonTypeName(te.Type) + ", got " + got
		}
		return e.Method + "() argument '" + e.Field + "': expected " + jsonTypeName(te.Type) + ", got " + got
	}
	if e.Field != "" {
		return e.Method + "() argument '" + e.Field + "': " + e.Err.Error()
	}
	return e.Method + "() invalid arguments: " + e.Err.Error()
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

// newArgumentError classifies a codec error from decoding into a value of
// type t (nil when unknown).
func newArgumentError(method string, err error, t reflect.Type) *ArgumentError {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return &ArgumentError{Method: method, Field: jsonPath(t, te.Field), Err: err}
	}
	return &ArgumentError{Method: method, Err: err}
}

func indirectType(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// jsonPath turns encoding/json's Field path, which names the Go types of
// embedded structs on the way ("Base.name"), into the path of JSON keys
// ("name"), walking t.
func jsonPath(t reflect.Type, field string) string {
	if t == nil || field == "" {
		return field
	}
	segs := strings.Split(field, ".")
	out := make([]string, 0, len(segs))
	for i, s := range segs {
		for t != nil && (t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map) {
			t = t.Elem()
		}
		if t == nil || t.Kind() != reflect.Struct {
			return strings.Join(append(out, segs[i:]...), ".")
		}
		next := reflect.Type(nil)
		for j := 0; j < t.NumField(); j++ {
			f := t.Field(j)
			tag := f.Tag.Get("json")
			name, _, _ := strings.Cut(tag, ",")
			if tag == "-" {
				continue
			}
			if f.Anonymous && name == "" && f.Name == s && indirectType(f.Type).Kind() == reflect.Struct {
				next = f.Type // an embedded struct: not a key
				s = ""
				break
			}
			if name == "" {
				name = f.Name
			}
			if name == s {
				next = f.Type
				break
			}
		}
		if next == nil {
			return strings.Join(append(out, segs[i:]...), ".")
		}
		if s != "" {
			out = append(out, s)
		}
		t = next
	}
	return strings.Join(out, ".")
}

var (
	jsonUnmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// jsonTypeName names the JSON type a Go type decodes from.
func jsonTypeName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if p := reflect.PointerTo(t); p.Implements(jsonUnmarshalerType) || p.Implements(textUnmarshalerType) {
		return t.String()
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return "string" // base64
		}
		return "array"
	case reflect.Array:
		return "array"
	case reflect.Map, reflect.Struct:
		return "object"
	}
	return t.String()
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
