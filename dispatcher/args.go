package dispatcher

import (
	"context"
	"encoding"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"

	"github.com/oslo-go/messaging/internal/pyjson"
	"github.com/oslo-go/messaging/serializer"
)

var mapStringAnyType = reflect.TypeFor[map[string]any]()

// decodeArg builds the value of m's parameter from req.Args, in slot (an
// addressable zero value of the parameter's type) unless the parameter is
// a pointer.
func (d *Dispatcher) decodeArg(ctx context.Context, m *method, req *Request, slot reflect.Value) (reflect.Value, error) {
	raw := req.Args
	null := raw.IsNull()

	// The generic form: needed for the serializer hook and to see which
	// keys are present.
	var kw map[string]any
	if (!d.noop || len(m.required) > 0) && !null {
		var err error
		if kw, err = decodeKwargs(raw); err != nil {
			return reflect.Value{}, newArgumentError(req.Method, err, mapStringAnyType, raw)
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

	var ptr reflect.Value
	if m.kind == argPtrStruct {
		ptr = reflect.New(m.arg.Elem())
	} else {
		ptr = slot.Addr()
	}
	elem := ptr.Type().Elem()
	switch {
	case !d.noop && len(kw) > 0:
		data, err := serializer.CodecOf(raw.Codec).Marshal(kw)
		if err != nil {
			return reflect.Value{}, fmt.Errorf("dispatcher: %s(): encoding deserialized arguments: %w", req.Method, err)
		}
		encoded := serializer.Raw{Data: data, Codec: raw.Codec}
		if err := decodeZero(encoded, ptr.Interface()); err != nil {
			return reflect.Value{}, newArgumentError(req.Method, err, elem, encoded)
		}
	case d.noop && !null:
		if err := decodeZero(raw, ptr.Interface()); err != nil {
			return reflect.Value{}, newArgumentError(req.Method, err, elem, raw)
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

// decodeKwargs decodes raw generically. It is apart from decodeArg so that
// the map variable, which escapes, is allocated only when needed.
func decodeKwargs(raw serializer.Raw) (map[string]any, error) {
	var kw map[string]any
	err := raw.Decode(&kw)
	return kw, err
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
			return serializer.Raw{}, newArgumentError(req.Method, err, mapStringAnyType, raw)
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

var (
	jsonUnmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	numberType          = reflect.TypeFor[json.Number]()
)

// badArg is a value that does not fit its parameter: its path, the JSON
// type expected there and what it is.
type badArg struct{ path, want, got string }

// mismatch returns the first value (in sorted key order) of v, arguments
// decoded generically by a codec, at path, that cannot be stored into type
// t, or nil when everything fits as far as types tell (the fault is then
// in a json.Unmarshaler, or in what the codec checks beyond types).
func mismatch(t reflect.Type, v any, path string) *badArg {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	p := reflect.PointerTo(t)
	s, isString := v.(string)
	switch {
	case v == nil || t.Kind() == reflect.Interface && t.NumMethod() == 0:
		return nil
	case p.Implements(jsonUnmarshalerType):
		// Whatever the codec, ask the type whether the value's JSON fits.
		text, err := json.Marshal(v)
		if err == nil && reflect.New(t).Interface().(json.Unmarshaler).UnmarshalJSON(text) == nil {
			return nil
		}
	case p.Implements(textUnmarshalerType):
		if isString && reflect.New(t).Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)) == nil {
			return nil
		}
	case t == numberType:
		if _, isNumber := numberText(v); isNumber || isString {
			return nil
		}
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 && isString:
		if _, err := base64.StdEncoding.DecodeString(s); err != nil {
			return &badArg{path, "base64 string", "string"}
		}
		return nil
	default:
		if fits, checked := fitsKind(t, v, path); checked {
			return fits
		}
	}
	return &badArg{path, jsonTypeName(t), genericTypeName(v)}
}

// fitsKind is mismatch for the kinds of JSON values; checked is false when
// v's kind cannot go into t at all.
func fitsKind(t reflect.Type, v any, path string) (bad *badArg, checked bool) {
	switch x := v.(type) {
	case bool:
		return nil, t.Kind() == reflect.Bool
	case string:
		return nil, t.Kind() == reflect.String
	case []byte: // msgpack's binary
		return nil, t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8
	case []any:
		if t.Kind() != reflect.Slice && t.Kind() != reflect.Array {
			return nil, false
		}
		for i, e := range x {
			if bad := mismatch(t.Elem(), e, path+"["+strconv.Itoa(i)+"]"); bad != nil {
				return bad, true
			}
		}
		return nil, true
	case map[string]any:
		if t.Kind() != reflect.Struct && t.Kind() != reflect.Map {
			return nil, false
		}
		if path != "" {
			path += "."
		}
		for _, k := range slices.Sorted(maps.Keys(x)) {
			var ft reflect.Type
			switch {
			case t.Kind() == reflect.Map:
				if !keyFits(t.Key(), k) {
					return &badArg{path + k, jsonTypeName(t.Key()) + " key", "string"}, true
				}
				ft = t.Elem()
			default:
				if f, ok := pyjson.StructField(t, k); ok && !f.Quoted {
					ft = t.FieldByIndex(f.Index).Type
				}
			}
			if ft != nil {
				if bad := mismatch(ft, x[k], path+k); bad != nil {
					return bad, true
				}
			}
		}
		return nil, true
	}
	text, isNumber := numberText(v)
	switch {
	case !isNumber:
		return nil, false
	case numberFits(t, text):
		return nil, true
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Float64:
		return &badArg{path, jsonTypeName(t), "number " + text}, true // out of range, or not whole
	}
	return nil, false
}

// keyFits reports whether the object key k fits the map key type kt, as
// encoding/json converts keys.
func keyFits(kt reflect.Type, k string) bool {
	if u, ok := reflect.New(kt).Interface().(encoding.TextUnmarshaler); ok {
		return u.UnmarshalText([]byte(k)) == nil
	}
	return kt.Kind() == reflect.String || numberFits(kt, k)
}

// numberText returns the text of a number decoded generically: a
// json.Number from the JSON codec, an integer or a float from others.
func numberText(v any) (string, bool) {
	switch n := v.(type) {
	case json.Number:
		return string(n), true
	case float64:
		return strconv.FormatFloat(n, 'g', -1, 64), true
	case float32:
		return strconv.FormatFloat(float64(n), 'g', -1, 32), true
	case int64:
		return strconv.FormatInt(n, 10), true
	case uint64:
		return strconv.FormatUint(n, 10), true
	case int:
		return strconv.Itoa(n), true
	}
	return "", false
}

// numberFits reports whether the number text fits the numeric type t.
func numberFits(t reflect.Type, text string) bool {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(text, 10, 64)
		return err == nil && !reflect.Zero(t).OverflowInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		n, err := strconv.ParseUint(text, 10, 64)
		return err == nil && !reflect.Zero(t).OverflowUint(n)
	case reflect.Float32, reflect.Float64:
		_, err := strconv.ParseFloat(text, t.Bits())
		return err == nil
	}
	return false
}

// genericTypeName names the JSON type of a value decoded generically.
func genericTypeName(v any) string {
	switch v.(type) {
	case bool:
		return "boolean"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	case []byte:
		return "binary"
	}
	if _, ok := numberText(v); ok {
		return "number"
	}
	return fmt.Sprintf("%T", v)
}

// jsonTypeName names the JSON type a Go type decodes from.
func jsonTypeName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if p := reflect.PointerTo(t); t == numberType {
		return "number"
	} else if p.Implements(jsonUnmarshalerType) || p.Implements(textUnmarshalerType) {
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

// decodeZero is raw.Decode for a v that points to a zero value (the fresh
// argument of a call): for JSON, pyjson.UnmarshalZero, which gives the same
// result in one pass over the data instead of two.
func decodeZero(raw serializer.Raw, v any) error {
	switch raw.Codec.(type) {
	case nil, serializer.JSON:
		return pyjson.UnmarshalZero(raw.Data, v)
	}
	return raw.Decode(v)
}
