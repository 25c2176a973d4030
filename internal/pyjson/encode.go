package pyjson

import (
	"encoding"
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// An encPlan writes one struct type as encoding/json does without HTML
// escaping (json.Encoder with SetEscapeHTML(false), less its newline), with
// no reflection beyond reading the fields: the keys are written once, when
// the plan is built. Only the struct types whose every field is a string, a
// bool, an integer, a float, a slice of or a pointer to one of those (not a
// []byte, which encoding/json writes in base64), or a struct with a plan of
// its own have one, and only when encoding/json would encode them field by
// field: no MarshalJSON or MarshalText on the type or a field's or
// element's type, no json.Number, no embedded fields, no ",string" or
// ",omitzero" option, no two fields of one name and no tag name
// encoding/json would not take.
type encPlan struct {
	fields []encField // in the struct's order, which is encoding/json's without embedded fields
}

// encField is one field of an encPlan.
type encField struct {
	key       []byte // the key with its quotes and colon
	index     int
	kind      reflect.Kind
	elem      reflect.Kind // a slice's or a pointer's element kind, a scalar
	omitEmpty bool
	sub       *encPlan // a struct field's plan
}

var (
	encPlans          sync.Map // map[reflect.Type]*encPlan, nil when the type has none
	jsonMarshalerType = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

// AppendStruct appends the JSON encoding of v, a struct or a pointer to one,
// to dst when v's type has a plan, byte for byte as a json.Encoder with
// SetEscapeHTML(false) writes it (without the newline), and reports whether
// it did. Otherwise (any other value, a struct type without a plan, or a
// float that is NaN or infinite, which encoding/json refuses) it returns dst
// unchanged and false, and the caller encodes v with encoding/json.
func AppendStruct(dst []byte, v any) ([]byte, bool) {
	t := reflect.TypeOf(v)
	if t == nil {
		return dst, false
	}
	rv := reflect.ValueOf(v)
	if t.Kind() == reflect.Pointer {
		if t = t.Elem(); t.Kind() != reflect.Struct {
			return dst, false
		}
		if rv.IsNil() {
			return append(dst, "null"...), true
		}
		rv = rv.Elem()
	} else if t.Kind() != reflect.Struct {
		return dst, false
	}
	p := encPlanFor(t)
	if p == nil {
		return dst, false
	}
	out, ok := p.append(dst, rv)
	if !ok {
		return dst, false
	}
	return out, true
}

// encPlanFor returns the plan of struct type t, or nil.
func encPlanFor(t reflect.Type) *encPlan { return cachedPlan(&encPlans, t, buildEncPlan) }

// buildEncPlan returns the plan of struct type t, or nil when it has none.
// The recursion into struct fields ends: a struct cannot hold itself by
// value.
func buildEncPlan(t reflect.Type) *encPlan {
	fields, ok := plainFields(t)
	if !ok || customEncoding(t) {
		return nil
	}
	p := &encPlan{fields: make([]encField, 0, len(fields))}
	for _, f := range fields {
		sf := t.Field(f.Index[0])
		_, opts, _ := strings.Cut(sf.Tag.Get("json"), ",")
		options := strings.Split(opts, ",")
		if slices.Contains(options, "omitzero") {
			return nil
		}
		ft := sf.Type
		ef := encField{index: f.Index[0], kind: ft.Kind(), omitEmpty: slices.Contains(options, "omitempty")}
		switch {
		case customEncoding(ft) || ft == numberType:
			return nil
		case ef.kind == reflect.Struct:
			if ef.sub = encPlanFor(ft); ef.sub == nil {
				return nil
			}
		case ef.kind == reflect.Slice || ef.kind == reflect.Pointer:
			et := ft.Elem()
			ef.elem = et.Kind()
			if !encodableScalar(ef.elem) || customEncoding(et) || et == numberType ||
				ef.kind == reflect.Slice && ef.elem == reflect.Uint8 {
				return nil
			}
		case !encodableScalar(ef.kind):
			return nil
		}
		ef.key = append(AppendString(nil, f.Name), ':')
		p.fields = append(p.fields, ef)
	}
	return p
}

// encodableScalar reports whether a plan writes values of kind k itself:
// the kinds a decoding plan parses in place, and uintptr, which
// encoding/json writes as an unsigned integer.
func encodableScalar(k reflect.Kind) bool { return scalarKind(k) || k == reflect.Uintptr }

// customEncoding reports whether encoding/json encodes values of type t,
// or pointers to them, through their methods.
func customEncoding(t reflect.Type) bool {
	pt := reflect.PointerTo(t)
	return t.Implements(jsonMarshalerType) || t.Implements(textMarshalerType) ||
		pt.Implements(jsonMarshalerType) || pt.Implements(textMarshalerType)
}

// append appends the object for sv, a value of the plan's struct type, or
// reports false for a float encoding/json refuses.
func (p *encPlan) append(b []byte, sv reflect.Value) ([]byte, bool) {
	next := byte('{')
	for i := range p.fields {
		f := &p.fields[i]
		v := sv.Field(f.index)
		if f.omitEmpty && emptyValue(v, f.kind) {
			continue
		}
		b = append(b, next)
		next = ','
		b = append(b, f.key...)
		var ok bool
		switch f.kind {
		case reflect.Struct:
			b, ok = f.sub.append(b, v)
		case reflect.Pointer:
			if v.IsNil() {
				b, ok = append(b, "null"...), true
			} else {
				b, ok = appendScalar(b, v.Elem(), f.elem)
			}
		case reflect.Slice:
			b, ok = appendSlice(b, v, f.elem)
		default:
			b, ok = appendScalar(b, v, f.kind)
		}
		if !ok {
			return b, false
		}
	}
	if next == '{' {
		return append(b, "{}"...), true
	}
	return append(b, '}'), true
}

// appendScalar appends v, of scalar kind k, or reports false for a float
// encoding/json refuses.
func appendScalar(b []byte, v reflect.Value, k reflect.Kind) ([]byte, bool) {
	switch k {
	case reflect.String:
		return AppendString(b, v.String()), true
	case reflect.Bool:
		return strconv.AppendBool(b, v.Bool()), true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.AppendInt(b, v.Int(), 10), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.AppendUint(b, v.Uint(), 10), true
	case reflect.Float32:
		return appendFloat(b, v.Float(), 32)
	case reflect.Float64:
		return appendFloat(b, v.Float(), 64)
	}
	return b, false
}

// appendSlice appends v, a slice of scalar kind elem: null when it is nil.
func appendSlice(b []byte, v reflect.Value, elem reflect.Kind) ([]byte, bool) {
	if v.IsNil() {
		return append(b, "null"...), true
	}
	b = append(b, '[')
	for j := range v.Len() {
		if j > 0 {
			b = append(b, ',')
		}
		var ok bool
		if b, ok = appendScalar(b, v.Index(j), elem); !ok {
			return b, false
		}
	}
	return append(b, ']'), true
}

// emptyValue is encoding/json's omitempty test for the kinds a plan holds:
// a struct is never empty.
func emptyValue(v reflect.Value, k reflect.Kind) bool {
	switch k {
	case reflect.String, reflect.Slice:
		return v.Len() == 0
	case reflect.Pointer:
		return v.IsNil()
	case reflect.Bool:
		return !v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int() == 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return v.Uint() == 0
	case reflect.Float32, reflect.Float64:
		return v.Float() == 0
	}
	return false
}

// appendFloat writes f as encoding/json does (ES6 number formatting: the
// shortest representation, in exponent form below 1e-6 and from 1e21 on,
// with a one-digit negative exponent unpadded), or reports false for NaN
// and the infinities.
func appendFloat(b []byte, f float64, bits int) ([]byte, bool) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return b, false
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	b = strconv.AppendFloat(b, f, format, -1, bits)
	if format == 'e' {
		// e-09 is written e-9
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, true
}
