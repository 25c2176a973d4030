package dispatcher

import (
	"context"
	"fmt"
	"reflect"

	"github.com/oslo-go/messaging/serializer"
)

var mapStringAnyType = reflect.TypeFor[map[string]any]()

// decodeArg builds the value of m's parameter from req.Args.
func (d *Dispatcher) decodeArg(ctx context.Context, m *method, req *Request) (reflect.Value, error) {
	raw := req.Args
	null := raw.IsNull()

	// The generic form: needed for the serializer hook and to see which
	// keys are present.
	var kw map[string]any
	if (!d.noop || len(m.required) > 0) && !null {
		if err := raw.Decode(&kw); err != nil {
			return reflect.Value{}, newArgumentError(req.Method, err, nil)
		}
	}
	if !d.noop {
		if err := d.deserializeEach(ctx, kw); err != nil {
			return reflect.Value{}, err
		}
	}
	if len(m.required) > 0 {
		if f := missingField(kw, m.required); f != "" {
			return reflect.Value{}, &ArgumentError{Method: req.Method, Field: f}
		}
	}

	if !d.noop && m.arg == mapStringAnyType {
		if kw == nil {
			kw = map[string]any{}
		}
		return reflect.ValueOf(kw), nil
	}

	elem := m.arg
	if m.kind == argPtrStruct {
		elem = m.arg.Elem()
	}
	ptr := reflect.New(elem)
	switch {
	case !d.noop && len(kw) > 0:
		data, err := serializer.CodecOf(raw.Codec).Marshal(kw)
		if err != nil {
			return reflect.Value{}, fmt.Errorf("dispatcher: %s(): encoding deserialized arguments: %w", req.Method, err)
		}
		if err := (serializer.Raw{Data: data, Codec: raw.Codec}).Decode(ptr.Interface()); err != nil {
			return reflect.Value{}, newArgumentError(req.Method, err, elem)
		}
	case d.noop && !null:
		if err := raw.Decode(ptr.Interface()); err != nil {
			return reflect.Value{}, newArgumentError(req.Method, err, elem)
		}
	}
	switch m.kind {
	case argPtrStruct:
		return ptr, nil
	case argMap:
		v := ptr.Elem()
		if v.IsNil() {
			v.Set(reflect.MakeMap(m.arg))
		}
		return v, nil
	}
	return ptr.Elem(), nil
}

// deserializeEach runs the serializer's DeserializeEntity on each value of
// kw, as oslo does for each keyword argument.
func (d *Dispatcher) deserializeEach(ctx context.Context, kw map[string]any) error {
	for k, v := range kw {
		nv, err := d.ser.DeserializeEntity(ctx, v)
		if err != nil {
			return err
		}
		kw[k] = nv
	}
	return nil
}

// deserializeRaw returns req.Args with DeserializeEntity applied to each
// value, re-encoded with the same codec, for Funcs handlers.
func (d *Dispatcher) deserializeRaw(ctx context.Context, req *Request) (serializer.Raw, error) {
	raw := req.Args
	kw := map[string]any{}
	if !raw.IsNull() {
		if err := raw.Decode(&kw); err != nil {
			return serializer.Raw{}, newArgumentError(req.Method, err, nil)
		}
		if kw == nil {
			kw = map[string]any{}
		}
	}
	if err := d.deserializeEach(ctx, kw); err != nil {
		return serializer.Raw{}, err
	}
	data, err := serializer.CodecOf(raw.Codec).Marshal(kw)
	if err != nil {
		return serializer.Raw{}, fmt.Errorf("dispatcher: %s(): encoding deserialized arguments: %w", req.Method, err)
	}
	return serializer.Raw{Data: data, Codec: raw.Codec}, nil
}

// emptyArgs returns an empty args object in codec c.
func emptyArgs(c serializer.Codec) (serializer.Raw, error) {
	if c == nil || c.Name() == serializer.JSONContentType {
		return serializer.Raw{Data: []byte("{}"), Codec: c}, nil
	}
	data, err := c.Marshal(map[string]any{})
	if err != nil {
		return serializer.Raw{}, fmt.Errorf("dispatcher: encoding empty arguments: %w", err)
	}
	return serializer.Raw{Data: data, Codec: c}, nil
}
