package client

import (
	"context"
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/oslo-go/messaging/internal/pyjson"
	"github.com/oslo-go/messaging/serializer"
)

// serializeArgs runs the serializer's entity hook on each keyword argument,
// as oslo does, and returns them as a map.
func serializeArgs(ctx context.Context, ser serializer.Serializer, args any) (map[string]any, error) {
	kw, err := kwargs(args)
	if err != nil {
		return nil, err
	}
	for k, v := range kw {
		if kw[k], err = ser.SerializeEntity(ctx, v); err != nil {
			return nil, fmt.Errorf("client: serializing argument %q: %w", k, err)
		}
	}
	return kw, nil
}

// kwargs returns the keyword arguments of args (nil, a map with string keys
// or a struct) as a fresh map. A struct's arguments are the members of its
// encoding/json encoding, so that they are the same with any serializer:
// each member is the field's Go value when that encodes to the same JSON
// (the serializer's hook then sees the Go value), else the member's JSON
// decoded generically (",string" fields, structs with their own
// MarshalJSON), numbers as json.Number.
func kwargs(args any) (map[string]any, error) {
	kw := map[string]any{}
	if args == nil {
		return kw, nil
	}
	v := reflect.ValueOf(args)
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return kw, nil
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String {
			return nil, fmt.Errorf("client: arguments map must have string keys, got %s", v.Type())
		}
		it := v.MapRange()
		for it.Next() {
			kw[it.Key().String()] = it.Value().Interface()
		}
		return kw, nil
	case reflect.Struct:
	default:
		return nil, fmt.Errorf("client: arguments must be a struct or a map, got %s", v.Type())
	}
	data, err := json.Marshal(args)
	if err != nil {
		return nil, fmt.Errorf("client: encoding arguments: %w", err)
	}
	_, custom := marshaler(v)
	err = pyjson.Fields(data, func(key string, value []byte) error {
		if !custom {
			if f, ok := pyjson.StructField(v.Type(), key); ok && f.Name == key && !f.Quoted {
				if fv, err := v.FieldByIndexErr(f.Index); err == nil && fv.CanInterface() {
					kw[key], _ = marshaler(fv)
					return nil
				}
			}
		}
		var err error
		kw[key], err = pyjson.Parse(value)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("client: arguments must encode to an object, got %T: %w", args, err)
	}
	return kw, nil
}

// marshaler returns v as encoding/json encodes it, as a value or, when
// only its pointer marshals itself and v is addressable, as that pointer;
// and whether it marshals itself.
func marshaler(v reflect.Value) (any, bool) {
	if t := v.Type(); t.Implements(marshalerType) || t.Implements(textMarshalerType) {
		return v.Interface(), true
	}
	if p := reflect.PointerTo(v.Type()); v.CanAddr() && (p.Implements(marshalerType) || p.Implements(textMarshalerType)) {
		return v.Addr().Interface(), true
	}
	return v.Interface(), false
}

var (
	marshalerType     = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)
