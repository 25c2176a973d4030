package pyjson

import (
	"encoding"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// Bind stores the generic value src (as Parse returns it; also accepts
// float64/int64/int/uint64 numbers) into the value v points to, following
// encoding/json's rules.
//
// v must be a non-nil pointer, otherwise Bind returns a
// *json.InvalidUnmarshalError. The rules are those of encoding/json.Unmarshal
// with Decoder.UseNumber, ported to generic values:
//
//   - struct fields are matched by json tag name or field name, exactly
//     first and then case-insensitively; "-" fields and unexported fields are
//     ignored; fields of embedded structs (and pointers to structs) are
//     promoted with encoding/json's precedence and conflict rules; the
//     ",string" option is honoured;
//   - json.Unmarshaler targets receive the JSON text of the value, and
//     encoding.TextUnmarshaler targets (and map keys) the text of a string;
//   - pointers are allocated as needed; null sets pointers, maps, slices and
//     interfaces to nil and leaves other values unchanged;
//   - an empty-interface target receives the generic value as is (a
//     json.Number stays a json.Number); a non-empty interface target is an
//     error unless it holds a non-nil pointer, which is decoded into;
//   - maps may have string, integer or TextUnmarshaler keys; arrays drop
//     extra elements and zero missing ones; []byte is decoded from a base64
//     (StdEncoding) string;
//   - integers are range-checked, and NaN, Infinity and -Infinity (float64
//     values) can only be stored in float fields or empty interfaces.
//
// A value that does not fit its target is skipped and recorded as a
// *json.UnmarshalTypeError whose Value is "number", "number <text>",
// "string", "bool", "array" or "object" as encoding/json reports it (or
// "number NaN", "number Infinity", "number -Infinity") and whose Field is the
// dotted path of JSON names, as encoding/json reports it; Bind carries on and
// returns the first such error at the end. Errors from UnmarshalJSON and
// UnmarshalText methods stop Bind immediately, as they stop encoding/json.
//
// Differences from encoding/json.Unmarshal: the JSON text given to an
// UnmarshalJSON method is re-encoded from the generic value (object keys
// sorted, strings escaped by AppendString, NaN and ±Inf written as Python's
// tokens), and since a map[string]any has no order, object members are
// visited in sorted key order, which decides which error is reported first
// and which of two keys differing only in case wins. (Unmarshal's fallback
// path keeps document order and the original bytes, exactly like
// encoding/json.)
func Bind(src any, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return &json.InvalidUnmarshalError{Type: reflect.TypeOf(v)}
	}
	var b binder
	if err := b.value(src, rv); err != nil {
		return b.addErrorContext(err)
	}
	return b.saved
}

// binder holds the state of one Bind call, like encoding/json's
// decodeState: the first recoverable error and the context (innermost
// struct type and path of field names) used to annotate type errors.
type binder struct {
	saved      error
	ctxStruct  reflect.Type
	fieldStack []string
}

func (b *binder) saveError(err error) {
	if b.saved == nil {
		b.saved = b.addErrorContext(err)
	}
}

func (b *binder) addErrorContext(err error) error {
	if b.ctxStruct != nil || len(b.fieldStack) > 0 {
		if e, ok := err.(*json.UnmarshalTypeError); ok {
			if b.ctxStruct != nil {
				e.Struct = b.ctxStruct.Name()
			}
			stack := b.fieldStack
			if e.Field != "" {
				stack = append(stack[:len(stack):len(stack)], e.Field)
			}
			e.Field = strings.Join(stack, ".")
		}
	}
	return err
}

func typeError(value string, t reflect.Type) error {
	return &json.UnmarshalTypeError{Value: value, Type: t}
}

var (
	unmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
	numberType          = reflect.TypeFor[json.Number]()
)

// value stores src into v; an invalid v means the value is skipped. It
// returns only errors that abort binding.
func (b *binder) value(src any, v reflect.Value) error {
	if !v.IsValid() {
		return nil
	}
	switch s := src.(type) {
	case *object:
		return b.object(s.keys, s.vals, src, v)
	case map[string]any:
		keys := make([]string, 0, len(s))
		for k := range s {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		vals := make([]any, len(keys))
		for i, k := range keys {
			vals[i] = s[k]
		}
		return b.object(keys, vals, src, v)
	case *array:
		return b.array(s.vals, src, v)
	case []any:
		return b.array(s, src, v)
	case nil:
		return b.storeNull(v)
	case bool:
		return b.storeBool(s, v)
	case string:
		return b.storeString(s, nil, v)
	case *rawString:
		return b.storeString(s.s, s.raw, v)
	case json.Number:
		return b.storeNumber(string(s), src, v)
	case float64:
		if math.IsNaN(s) || math.IsInf(s, 0) {
			return b.storeNonFinite(s, v)
		}
		return b.storeNumber(strconv.FormatFloat(s, 'g', -1, 64), src, v)
	case int64:
		return b.storeNumber(strconv.FormatInt(s, 10), src, v)
	case int:
		return b.storeNumber(strconv.Itoa(s), src, v)
	case uint64:
		return b.storeNumber(strconv.FormatUint(s, 10), src, v)
	}
	return fmt.Errorf("pyjson: Bind: unsupported source value of type %T", src)
}

// indirect walks down v allocating pointers as needed, until it gets to a
// non-pointer. If it encounters an Unmarshaler, indirect stops and returns
// that. If decodingNull is true, indirect stops at the first settable pointer
// so it can be set to nil. This is encoding/json's indirect.
func indirect(v reflect.Value, decodingNull bool) (json.Unmarshaler, encoding.TextUnmarshaler, reflect.Value) {
	v0 := v
	haveAddr := false

	// If v is a named type and is addressable, start with its address, so
	// that if the type has pointer methods, we find them.
	if v.Kind() != reflect.Pointer && v.Type().Name() != "" && v.CanAddr() {
		haveAddr = true
		v = v.Addr()
	}
	for {
		// Load value from interface, but only if the result will be
		// usefully addressable.
		if v.Kind() == reflect.Interface && !v.IsNil() {
			e := v.Elem()
			if e.Kind() == reflect.Pointer && !e.IsNil() && (!decodingNull || e.Elem().Kind() == reflect.Pointer) {
				haveAddr = false
				v = e
				continue
			}
		}

		if v.Kind() != reflect.Pointer {
			break
		}

		if decodingNull && v.CanSet() {
			break
		}

		// Prevent infinite loop if v is an interface pointing to its own
		// address: var v any; v = &v
		if v.Elem().Kind() == reflect.Interface && v.Elem().Elem().Equal(v) {
			v = v.Elem()
			break
		}
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		if v.Type().NumMethod() > 0 && v.CanInterface() {
			if u, ok := v.Interface().(json.Unmarshaler); ok {
				return u, nil, reflect.Value{}
			}
			if !decodingNull {
				if u, ok := v.Interface().(encoding.TextUnmarshaler); ok {
					return nil, u, reflect.Value{}
				}
			}
		}

		if haveAddr {
			v = v0 // restore original value after round-trip Value.Addr().Elem()
			haveAddr = false
		} else {
			v = v.Elem()
		}
	}
	return nil, nil, v
}

// jsonText returns the JSON text of src for an UnmarshalJSON method: the
// original bytes for containers from parseOrdered, otherwise a re-encoding.
func jsonText(src any) ([]byte, error) {
	switch s := src.(type) {
	case *object:
		return s.raw, nil
	case *array:
		return s.raw, nil
	}
	return appendGeneric(nil, src)
}

// appendGeneric appends the JSON encoding of a generic value (object keys
// sorted, NaN and ±Inf as Python tokens).
func appendGeneric(dst []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case bool:
		return strconv.AppendBool(dst, v), nil
	case string:
		return AppendString(dst, v), nil
	case json.Number:
		if !isValidNumber(string(v)) {
			return nil, fmt.Errorf("pyjson: invalid number literal %q", string(v))
		}
		return append(dst, v...), nil
	case float64:
		switch {
		case math.IsNaN(v):
			return append(dst, tokNaN...), nil
		case math.IsInf(v, 1):
			return append(dst, tokInf...), nil
		case math.IsInf(v, -1):
			return append(dst, tokNegInf...), nil
		}
		return strconv.AppendFloat(dst, v, 'g', -1, 64), nil
	case int64:
		return strconv.AppendInt(dst, v, 10), nil
	case int:
		return strconv.AppendInt(dst, int64(v), 10), nil
	case uint64:
		return strconv.AppendUint(dst, v, 10), nil
	case *object:
		return append(dst, v.raw...), nil
	case *array:
		return append(dst, v.raw...), nil
	case *rawString:
		return append(dst, v.raw...), nil
	case []any:
		dst = append(dst, '[')
		for i, e := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendGeneric(dst, e); err != nil {
				return nil, err
			}
		}
		return append(dst, ']'), nil
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = AppendString(dst, k)
			dst = append(dst, ':')
			var err error
			if dst, err = appendGeneric(dst, v[k]); err != nil {
				return nil, err
			}
		}
		return append(dst, '}'), nil
	}
	return nil, fmt.Errorf("pyjson: Bind: unsupported source value of type %T", v)
}

// isValidNumber reports whether s is a JSON number (without Python tokens).
func isValidNumber(s string) bool {
	if s == "" || s[0] != '-' && !isDigit(s[0]) {
		return false
	}
	end, err := scanNumber([]byte(s), 0)
	return err == nil && end == len(s)
}

func (b *binder) array(elems []any, src any, v reflect.Value) error {
	u, ut, pv := indirect(v, false)
	if u != nil {
		text, err := jsonText(src)
		if err != nil {
			return err
		}
		return u.UnmarshalJSON(text)
	}
	if ut != nil {
		b.saveError(typeError("array", v.Type()))
		return nil
	}
	v = pv

	switch v.Kind() {
	case reflect.Interface:
		if v.NumMethod() == 0 {
			v.Set(reflect.ValueOf(toGeneric(src)))
			return nil
		}
		b.saveError(typeError("array", v.Type()))
		return nil
	case reflect.Array, reflect.Slice:
	default:
		b.saveError(typeError("array", v.Type()))
		return nil
	}

	i := 0
	for _, e := range elems {
		if v.Kind() == reflect.Slice {
			if i >= v.Cap() {
				v.Grow(1)
			}
			if i >= v.Len() {
				v.SetLen(i + 1)
			}
		}
		if i < v.Len() {
			if err := b.value(e, v.Index(i)); err != nil {
				return err
			}
		}
		i++
	}
	if i < v.Len() {
		if v.Kind() == reflect.Array {
			for ; i < v.Len(); i++ {
				v.Index(i).SetZero()
			}
		} else {
			v.SetLen(i)
		}
	}
	if i == 0 && v.Kind() == reflect.Slice {
		v.Set(reflect.MakeSlice(v.Type(), 0, 0))
	}
	return nil
}

func (b *binder) object(keys []string, vals []any, src any, v reflect.Value) error {
	u, ut, pv := indirect(v, false)
	if u != nil {
		text, err := jsonText(src)
		if err != nil {
			return err
		}
		return u.UnmarshalJSON(text)
	}
	if ut != nil {
		b.saveError(typeError("object", v.Type()))
		return nil
	}
	v = pv
	t := v.Type()

	if v.Kind() == reflect.Interface && v.NumMethod() == 0 {
		v.Set(reflect.ValueOf(toGeneric(src)))
		return nil
	}

	var fields *structFields
	switch v.Kind() {
	case reflect.Map:
		// Map key must either have string kind, have an integer kind, or be
		// an encoding.TextUnmarshaler.
		switch t.Key().Kind() {
		case reflect.String,
			reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		default:
			if !reflect.PointerTo(t.Key()).Implements(textUnmarshalerType) {
				b.saveError(typeError("object", t))
				return nil
			}
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(t))
		}
	case reflect.Struct:
		fields = cachedTypeFields(t)
	default:
		b.saveError(typeError("object", t))
		return nil
	}

	var mapElem reflect.Value
	origStruct, origDepth := b.ctxStruct, len(b.fieldStack)

	for idx, key := range keys {
		val := vals[idx]
		var subv reflect.Value
		destring := false // whether the value is wrapped in a string to be decoded first

		if v.Kind() == reflect.Map {
			if !mapElem.IsValid() {
				mapElem = reflect.New(t.Elem()).Elem()
			} else {
				mapElem.SetZero()
			}
			subv = mapElem
		} else if f := fields.lookup(key); f != nil {
			subv = v
			destring = f.quoted
			for i, ind := range f.index {
				if subv.Kind() == reflect.Pointer {
					if subv.IsNil() {
						// A struct embedding a pointer to an unexported type
						// cannot have it allocated (golang.org/issue/21357).
						if !subv.CanSet() {
							b.saveError(fmt.Errorf("json: cannot set embedded pointer to unexported struct: %v", subv.Type().Elem()))
							subv = reflect.Value{}
							destring = false
							break
						}
						subv.Set(reflect.New(subv.Type().Elem()))
					}
					subv = subv.Elem()
				}
				if i < len(f.index)-1 {
					b.fieldStack = append(b.fieldStack, subv.Type().Field(ind).Name)
				}
				subv = subv.Field(ind)
			}
			b.ctxStruct = t
			b.fieldStack = append(b.fieldStack, f.name)
		}

		if destring {
			switch qv := val.(type) {
			case nil:
				if err := b.storeNull(subv); err != nil {
					return err
				}
			case string:
				if err := b.storeQuoted([]byte(qv), subv); err != nil {
					return err
				}
			case *rawString:
				if err := b.storeQuoted([]byte(qv.s), subv); err != nil {
					return err
				}
			default:
				b.saveError(fmt.Errorf("json: invalid use of ,string struct tag, trying to unmarshal unquoted value into %v", subv.Type()))
			}
		} else if err := b.value(val, subv); err != nil {
			return err
		}

		// Write value back to map; if using struct, subv points into struct
		// already.
		if v.Kind() == reflect.Map {
			kt := t.Key()
			var kv reflect.Value
			if reflect.PointerTo(kt).Implements(textUnmarshalerType) {
				kv = reflect.New(kt)
				if err := b.storeQuoted(AppendString(nil, key), kv); err != nil {
					return err
				}
				kv = kv.Elem()
			} else {
				switch kt.Kind() {
				case reflect.String:
					kv = reflect.New(kt).Elem()
					kv.SetString(key)
				case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
					n, err := strconv.ParseInt(key, 10, 64)
					if err != nil || kt.OverflowInt(n) {
						b.saveError(typeError("number "+key, kt))
						break
					}
					kv = reflect.New(kt).Elem()
					kv.SetInt(n)
				case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
					n, err := strconv.ParseUint(key, 10, 64)
					if err != nil || kt.OverflowUint(n) {
						b.saveError(typeError("number "+key, kt))
						break
					}
					kv = reflect.New(kt).Elem()
					kv.SetUint(n)
				}
			}
			if kv.IsValid() {
				v.SetMapIndex(kv, subv)
			}
		}

		b.fieldStack = b.fieldStack[:origDepth]
		b.ctxStruct = origStruct
	}
	return nil
}

func (b *binder) storeNull(v reflect.Value) error {
	if !v.IsValid() {
		return nil
	}
	u, _, pv := indirect(v, true)
	if u != nil {
		return u.UnmarshalJSON([]byte("null"))
	}
	switch pv.Kind() {
	case reflect.Interface, reflect.Pointer, reflect.Map, reflect.Slice:
		pv.SetZero()
	}
	return nil
}

func (b *binder) storeBool(x bool, v reflect.Value) error {
	u, ut, pv := indirect(v, false)
	if u != nil {
		return u.UnmarshalJSON(strconv.AppendBool(nil, x))
	}
	if ut != nil {
		b.saveError(typeError("bool", v.Type()))
		return nil
	}
	v = pv
	switch v.Kind() {
	default:
		b.saveError(typeError("bool", v.Type()))
	case reflect.Bool:
		v.SetBool(x)
	case reflect.Interface:
		if v.NumMethod() == 0 {
			v.Set(reflect.ValueOf(x))
		} else {
			b.saveError(typeError("bool", v.Type()))
		}
	}
	return nil
}

// storeString stores s, whose literal is raw (nil: re-encode s), into v.
func (b *binder) storeString(s string, raw []byte, v reflect.Value) error {
	u, ut, pv := indirect(v, false)
	if u != nil {
		if raw == nil {
			raw = AppendString(nil, s)
		}
		return u.UnmarshalJSON(raw)
	}
	if ut != nil {
		return ut.UnmarshalText([]byte(s))
	}
	return b.setString(s, raw, pv)
}

// setString stores the string s into v (already indirected). item is the
// quoted literal for error messages (nil: build it from s).
func (b *binder) setString(s string, item []byte, v reflect.Value) error {
	switch v.Kind() {
	default:
		b.saveError(typeError("string", v.Type()))
	case reflect.Slice:
		if v.Type().Elem().Kind() != reflect.Uint8 {
			b.saveError(typeError("string", v.Type()))
			break
		}
		buf := make([]byte, base64.StdEncoding.DecodedLen(len(s)))
		n, err := base64.StdEncoding.Decode(buf, []byte(s))
		if err != nil {
			b.saveError(err)
			break
		}
		v.SetBytes(buf[:n])
	case reflect.String:
		if v.Type() == numberType && !isValidNumber(s) {
			if item == nil {
				item = AppendString(nil, s)
			}
			return fmt.Errorf("json: invalid number literal, trying to unmarshal %q into Number", item)
		}
		v.SetString(s)
	case reflect.Interface:
		if v.NumMethod() == 0 {
			v.Set(reflect.ValueOf(s))
		} else {
			b.saveError(typeError("string", v.Type()))
		}
	}
	return nil
}

// storeNumber stores the number with JSON text text (whose generic form is
// src) into v.
func (b *binder) storeNumber(text string, src any, v reflect.Value) error {
	u, ut, pv := indirect(v, false)
	if u != nil {
		return u.UnmarshalJSON([]byte(text))
	}
	if ut != nil {
		b.saveError(typeError("number", v.Type()))
		return nil
	}
	v = pv
	switch v.Kind() {
	case reflect.Interface:
		if v.NumMethod() != 0 {
			b.saveError(typeError("number", v.Type()))
			break
		}
		v.Set(reflect.ValueOf(src))
	case reflect.String:
		if v.Type() == numberType {
			v.SetString(text)
			break
		}
		b.saveError(typeError("number", v.Type()))
	default:
		if !b.setNumeric(text, v) {
			b.saveError(typeError("number", v.Type()))
		}
	}
	return nil
}

// setNumeric stores the number text into an integer or float v, recording a
// type error if it does not fit. It reports false if v is not numeric.
func (b *binder) setNumeric(text string, v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil || v.OverflowInt(n) {
			b.saveError(typeError("number "+text, v.Type()))
			break
		}
		v.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		n, err := strconv.ParseUint(text, 10, 64)
		if err != nil || v.OverflowUint(n) {
			b.saveError(typeError("number "+text, v.Type()))
			break
		}
		v.SetUint(n)
	case reflect.Float32, reflect.Float64:
		n, err := strconv.ParseFloat(text, v.Type().Bits())
		if err != nil || v.OverflowFloat(n) {
			b.saveError(typeError("number "+text, v.Type()))
			break
		}
		v.SetFloat(n)
	default:
		return false
	}
	return true
}

// storeNonFinite stores NaN or ±Inf into v: only float kinds and empty
// interfaces accept them.
func (b *binder) storeNonFinite(f float64, v reflect.Value) error {
	text := tokNaN
	switch {
	case math.IsInf(f, 1):
		text = tokInf
	case math.IsInf(f, -1):
		text = tokNegInf
	}
	u, ut, pv := indirect(v, false)
	if u != nil {
		return u.UnmarshalJSON([]byte(text))
	}
	if ut != nil {
		b.saveError(typeError("number "+text, v.Type()))
		return nil
	}
	v = pv
	switch v.Kind() {
	case reflect.Float32, reflect.Float64:
		v.SetFloat(f)
	case reflect.Interface:
		if v.NumMethod() == 0 {
			v.Set(reflect.ValueOf(f))
			break
		}
		b.saveError(typeError("number "+text, v.Type()))
	default:
		b.saveError(typeError("number "+text, v.Type()))
	}
	return nil
}

func invalidUseError(item []byte, t reflect.Type) error {
	return fmt.Errorf("json: invalid use of ,string struct tag, trying to unmarshal %q into %v", item, t)
}

// storeQuoted is encoding/json's literalStore with fromQuoted set: it
// decodes item, the unquoted content of a ",string" value (or the quoted
// text of a TextUnmarshaler map key), as a JSON literal into v.
func (b *binder) storeQuoted(item []byte, v reflect.Value) error {
	if len(item) == 0 {
		b.saveError(invalidUseError(item, v.Type()))
		return nil
	}
	isNull := item[0] == 'n'
	u, ut, pv := indirect(v, isNull)
	if u != nil {
		return u.UnmarshalJSON(item)
	}
	if ut != nil {
		if item[0] != '"' {
			b.saveError(invalidUseError(item, v.Type()))
			return nil
		}
		s, ok := unquoteLenient(item)
		if !ok {
			return invalidUseError(item, v.Type())
		}
		return ut.UnmarshalText(s)
	}
	v = pv

	switch c := item[0]; c {
	case 'n':
		if string(item) != "null" {
			b.saveError(invalidUseError(item, v.Type()))
			break
		}
		switch v.Kind() {
		case reflect.Interface, reflect.Pointer, reflect.Map, reflect.Slice:
			v.SetZero()
		}
	case 't', 'f':
		if string(item) != "true" && string(item) != "false" {
			b.saveError(invalidUseError(item, v.Type()))
			break
		}
		switch v.Kind() {
		default:
			b.saveError(invalidUseError(item, v.Type()))
		case reflect.Bool:
			v.SetBool(c == 't')
		case reflect.Interface:
			if v.NumMethod() == 0 {
				v.Set(reflect.ValueOf(c == 't'))
			} else {
				b.saveError(typeError("bool", v.Type()))
			}
		}
	case '"':
		s, ok := unquoteLenient(item)
		if !ok {
			return invalidUseError(item, v.Type())
		}
		return b.setString(string(s), item, v)
	default: // number
		if c != '-' && !isDigit(c) {
			return invalidUseError(item, v.Type())
		}
		switch v.Kind() {
		case reflect.Interface:
			if v.NumMethod() != 0 {
				b.saveError(typeError("number", v.Type()))
				break
			}
			v.Set(reflect.ValueOf(json.Number(item)))
		case reflect.String:
			if v.Type() == numberType {
				v.SetString(string(item))
				break
			}
			return invalidUseError(item, v.Type())
		default:
			if !b.setNumeric(string(item), v) {
				return invalidUseError(item, v.Type())
			}
		}
	}
	return nil
}
