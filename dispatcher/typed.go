package dispatcher

import (
	"context"
	"reflect"

	"github.com/oslo-go/messaging/serializer"
)

// Func returns a [Funcs] handler that decodes the request's arguments into
// an A and calls fn: a method with typed arguments and result, called
// without reflection. A is what a method of an endpoint would take (a
// struct, a pointer to one, or a map with string keys), and its arguments
// are decoded and checked the same way: unknown keys are ignored, fields
// tagged rpc:"required" must be present, and arguments that do not fit A
// fail with an [ArgumentError] naming the method. The call's result is
// fn's.
//
//	dispatcher.Funcs{"get_stats": dispatcher.Func(svc.GetStats)}
func Func[A, R any](fn func(ctx context.Context, args A) (R, error)) func(context.Context, serializer.Raw) (any, error) {
	dec := newArgDecoder[A]()
	return func(ctx context.Context, raw serializer.Raw) (any, error) {
		var a A
		if err := dec.decode(raw, &a); err != nil {
			return nil, err
		}
		return fn(ctx, a)
	}
}

// Proc is [Func] for a method without a result: a call's result is null
// (Python's None).
func Proc[A any](fn func(ctx context.Context, args A) error) func(context.Context, serializer.Raw) (any, error) {
	dec := newArgDecoder[A]()
	return func(ctx context.Context, raw serializer.Raw) (any, error) {
		var a A
		if err := dec.decode(raw, &a); err != nil {
			return nil, err
		}
		return nil, fn(ctx, a)
	}
}

// argDecoder decodes the arguments of a Func or Proc into its type.
type argDecoder struct {
	t        reflect.Type // A
	required []requiredField
}

func newArgDecoder[A any]() argDecoder {
	t := reflect.TypeFor[A]()
	d := argDecoder{t: t}
	switch {
	case t.Kind() == reflect.Struct:
		d.required = requiredFields(t)
	case t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct:
		d.required = requiredFields(t.Elem())
	}
	return d
}

// decode decodes raw into v, a *A. Its errors are argError, which the
// dispatcher turns into an ArgumentError naming the method.
func (d argDecoder) decode(raw serializer.Raw, v any) error {
	if len(d.required) > 0 {
		kw, err := decodeKwargs(raw)
		if err != nil {
			return &argError{err: err, t: mapStringAnyType, raw: raw}
		}
		if f := missingField(kw, d.required); f != "" {
			return &argError{field: f}
		}
	}
	if err := decodeZero(raw, v); err != nil {
		return &argError{err: err, t: d.t, raw: raw}
	}
	return nil
}

// argError is a Func's or Proc's argument failure, before the dispatcher
// adds the method's name (a Funcs handler does not know it).
type argError struct {
	err   error
	t     reflect.Type // what the arguments were decoded into
	raw   serializer.Raw
	field string // a required field that is missing
}

func (e *argError) Error() string {
	if e.field != "" {
		return "dispatcher: missing argument " + e.field
	}
	return "dispatcher: decoding arguments: " + e.err.Error()
}

// argumentError is e as the ArgumentError of method.
func (e *argError) argumentError(method string) *ArgumentError {
	if e.field != "" {
		return &ArgumentError{Method: method, Field: e.field}
	}
	return newArgumentError(method, e.err, e.t, e.raw)
}
