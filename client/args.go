package client

import (
	"context"
	"fmt"
	"reflect"
	"strings"

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
// or a struct) as a fresh map, naming struct fields as encoding/json does.
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
	case reflect.Struct:
		structFields(v, kw)
	default:
		return nil, fmt.Errorf("client: arguments must be a struct or a map, got %s", v.Type())
	}
	return kw, nil
}

// structFields adds the fields of struct v to kw under their JSON names.
// Fields of embedded structs are promoted unless an outer field has the
// same name.
func structFields(v reflect.Value, kw map[string]any) {
	t := v.Type()
	var embedded []reflect.Value
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		fv := v.Field(i)
		if f.Anonymous && name == "" {
			for fv.Kind() == reflect.Pointer {
				if fv.IsNil() {
					break
				}
				fv = fv.Elem()
			}
			if fv.Kind() == reflect.Struct {
				embedded = append(embedded, fv)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if strings.Contains(","+opts+",", ",omitempty,") && isEmpty(fv) {
			continue
		}
		kw[name] = fv.Interface()
	}
	for _, e := range embedded {
		inner := map[string]any{}
		structFields(e, inner)
		for k, val := range inner {
			if _, taken := kw[k]; !taken {
				kw[k] = val
			}
		}
	}
}

// isEmpty is encoding/json's notion of an empty value for omitempty.
func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}
