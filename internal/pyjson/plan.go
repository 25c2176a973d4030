package pyjson

import (
	"encoding"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unsafe"
)

// A plan decodes JSON objects into one struct type without encoding/json's
// second scan and reflection per member: strings, booleans and numbers are
// parsed in place, struct fields by their own plan, and any other field by
// Unmarshal's pooled encoding/json path for its type. Decoding with a plan
// either gives encoding/json's result or reports that it cannot, and the
// caller then decodes the whole value with encoding/json (whose results and
// errors it keeps, partial ones included). Struct types it cannot decode
// exactly as encoding/json does have no plan: those with an UnmarshalJSON or
// UnmarshalText method, embedded fields, ",string" fields, two fields of one
// name or a tag name encoding/json would not take.
type plan struct {
	fields []planField    // in the struct's order, encoding/json's order for case-insensitive matches
	byName map[string]int // index in fields by exact name
}

// planField is one field of a plan: how its values are decoded.
type planField struct {
	name  string
	index int
	kind  reflect.Kind // a scalar kind parsed in place, reflect.Struct with sub, or reflect.Invalid for encoding/json
	sub   *plan
	// nilOnNull: a delegated field that encoding/json sets to nil on null
	// (a slice, map, pointer or interface without decoding methods), so
	// the plan does it without the decoder.
	nilOnNull bool
}

var (
	plans           sync.Map // map[reflect.Type]*plan, nil when the type has none
	numberType      = reflect.TypeFor[json.Number]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// planFor returns the plan of struct type t, or nil.
func planFor(t reflect.Type) *plan { return cachedPlan(&plans, t, buildPlan) }

// cachedPlan returns the plan of type t in cache, built by build the first
// time (nil when t has none).
func cachedPlan[P any](cache *sync.Map, t reflect.Type, build func(reflect.Type) *P) *P {
	if p, ok := cache.Load(t); ok {
		return p.(*P)
	}
	p := build(t)
	cache.Store(t, p)
	return p
}

// buildPlan returns the plan of struct type t, or nil when it has none.
func buildPlan(t reflect.Type) *plan {
	fields, ok := plainFields(t)
	if !ok || customDecoding(t) {
		return nil
	}
	p := &plan{byName: make(map[string]int, len(fields))}
	for _, f := range fields {
		ft := t.Field(f.Index[0]).Type
		pf := planField{name: f.Name, index: f.Index[0], kind: ft.Kind()}
		switch {
		case ownDecoding(ft):
			pf.kind = reflect.Invalid
		case pf.kind == reflect.Slice || pf.kind == reflect.Map || pf.kind == reflect.Pointer || pf.kind == reflect.Interface:
			pf.kind, pf.nilOnNull = reflect.Invalid, true
		case pf.kind == reflect.Struct:
			if pf.sub = planFor(ft); pf.sub == nil {
				pf.kind = reflect.Invalid
			}
		case scalarKind(pf.kind):
		default:
			pf.kind = reflect.Invalid
		}
		p.byName[f.Name] = len(p.fields)
		p.fields = append(p.fields, pf)
	}
	return p
}

// plainFields returns the fields of struct type t in its order when a
// plan can stand for encoding/json's handling of them: none embedded, none
// with the ",string" option, no two of one name and no tag name
// encoding/json would not take.
func plainFields(t reflect.Type) ([]Field, bool) {
	for i := range t.NumField() {
		if t.Field(i).Anonymous {
			return nil, false
		}
	}
	fields := slices.Clone(StructFields(t))
	slices.SortFunc(fields, func(a, b Field) int { return a.Index[0] - b.Index[0] })
	for i, f := range fields {
		if f.Quoted || !validTagName(f.Name) || slices.ContainsFunc(fields[:i], func(g Field) bool { return g.Name == f.Name }) {
			return nil, false
		}
	}
	return fields, true
}

// scalarKind reports whether a plan parses values of kind k in place.
func scalarKind(k reflect.Kind) bool {
	return k == reflect.String || k == reflect.Bool || reflect.Int <= k && k <= reflect.Uint64 ||
		k == reflect.Float32 || k == reflect.Float64
}

// nullDescends reports whether encoding/json, decoding null into v, goes
// on into the value v holds rather than setting v to nil: an interface
// holding a non-nil pointer to a pointer.
func nullDescends(v reflect.Value) bool {
	if v.Kind() != reflect.Interface || v.IsNil() {
		return false
	}
	e := v.Elem()
	return e.Kind() == reflect.Pointer && !e.IsNil() && e.Elem().Kind() == reflect.Pointer
}

// ownDecoding reports whether encoding/json decodes values of type t in a
// way of their own: through their methods, or as a json.Number, which it
// checks.
func ownDecoding(t reflect.Type) bool { return customDecoding(t) || t == numberType }

// customDecoding reports whether encoding/json decodes into values of type
// t through their methods.
func customDecoding(t reflect.Type) bool {
	pt := reflect.PointerTo(t)
	return pt.Implements(unmarshalerType) || pt.Implements(textUnmarshaler)
}

// validTagName reports whether encoding/json takes name from a json tag
// (encoding/json's isValidTag); field names always qualify.
func validTagName(name string) bool {
	for _, c := range name {
		if !strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c) && !unicode.IsLetter(c) && !unicode.IsDigit(c) {
			return false
		}
	}
	return true
}

// decode stores the object at data[i] into sv, a value of the plan's struct
// type. It returns the index past the object, or false where encoding/json
// must decide (a value that does not fit its field, an error from a field
// decoded by encoding/json, or data that is not valid JSON or holds a
// Python token), having then stored some members. The data need not have
// been validated: it checks the syntax of what it reads.
func (p *plan) decode(data []byte, i int, sv reflect.Value, depth int) (int, bool) {
	var scratch []byte
	next := 0
	end, err := eachMember(data, i, depth, func(rawKey []byte, flags uint8, j int) (int, error) {
		f := p.field(rawKey, flags, &next, &scratch)
		if f == nil { // encoding/json skips unknown members
			return skipStandard(data, j, depth+1)
		}
		if end, ok := f.store(data, j, sv.Field(f.index), depth+1); ok {
			return end, nil
		}
		return 0, errNoFit
	})
	return end, err == nil
}

var errNoFit = errors.New("pyjson: a value does not fit its field")

// field returns the field a member decodes into, as encoding/json picks it:
// the one of its name, else the first whose name equals it ignoring case. A
// member usually names the field after the previous member's, *next.
func (p *plan) field(rawKey []byte, flags uint8, next *int, scratch *[]byte) *planField {
	key := rawKey[1 : len(rawKey)-1]
	if !isPlain(key, flags) {
		key, _ = AppendUnquotedContent((*scratch)[:0], key)
		*scratch = key
	}
	k, found := *next, *next < len(p.fields) && p.fields[*next].name == string(key)
	if !found {
		k, found = p.byName[string(key)]
	}
	for f := 0; !found && f < len(p.fields); f++ {
		k, found = f, strings.EqualFold(p.fields[f].name, string(key))
	}
	if !found {
		return nil
	}
	*next = k + 1
	return &p.fields[k]
}

// errPythonToken stops a plan at a Python token, which encoding/json does
// not read.
var errPythonToken = errors.New("pyjson: a Python token")

// skipStandard is skipValue for standard JSON: a Python token is an error.
func skipStandard(data []byte, i, depth int) (int, error) {
	end, py, err := skipValue(data, i, depth)
	if err == nil && py {
		err = errPythonToken
	}
	return end, err
}

// store decodes the value at data[j] into v, the field f of a struct, and
// returns the index past the value and whether it fit (false also for
// invalid JSON or a Python token).
func (f *planField) store(data []byte, j int, v reflect.Value, depth int) (int, bool) {
	if j >= len(data) {
		return 0, false
	}
	c := data[j]
	switch {
	case f.kind == reflect.Struct && c == '{':
		return f.sub.decode(data, j, v, depth)
	case f.kind == reflect.String && c == '"':
		end, flags, err := scanString(data, j)
		if err != nil {
			return 0, false
		}
		if content := data[j+1 : end-1]; isPlain(content, flags) {
			v.SetString(string(content))
		} else {
			var stack [64]byte
			b, _ := AppendUnquotedContent(stack[:0], content)
			v.SetString(string(b))
		}
		return end, true
	}
	end, err := skipStandard(data, j, depth)
	if err != nil {
		return 0, false
	}
	if f.kind == reflect.Invalid {
		if c == 'n' && f.nilOnNull && !nullDescends(v) {
			v.SetZero()
			return end, true
		}
		return end, unmarshalValid(data[j:end], v.Addr().Interface()) == nil
	}
	if c == 'n' {
		return end, true // null leaves scalars and structs as they are
	}
	lit := data[j:end]
	text := unsafe.String(unsafe.SliceData(lit), len(lit))
	number := c == '-' || isDigit(c)
	switch f.kind {
	case reflect.Bool:
		if c != 't' && c != 'f' {
			return end, false
		}
		v.SetBool(c == 't')
	case reflect.Float32, reflect.Float64:
		n, err := strconv.ParseFloat(text, v.Type().Bits())
		if !number || err != nil || v.OverflowFloat(n) {
			return end, false
		}
		v.SetFloat(n)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(text, 10, 64)
		if !number || err != nil || v.OverflowInt(n) {
			return end, false
		}
		v.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, err := strconv.ParseUint(text, 10, 64)
		if !number || err != nil || v.OverflowUint(n) {
			return end, false
		}
		v.SetUint(n)
	default: // a string or a struct given something else
		return end, false
	}
	return end, true
}

// decodeInPlace decodes data into v with v's plan when it points to a
// struct that has one and data is an object, or in place when it points to
// a string, a bool or a number that encoding/json has no way of its own for
// (ownDecoding), and reports whether it did. When it did not, it may have
// stored part of the value, and encoding/json must decide. data need not
// have been validated: invalid JSON, a Python token or trailing data make
// it report false.
func decodeInPlace(data []byte, v any) bool {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return false
	}
	i := skipSpace(data, 0)
	if i >= len(data) {
		return false
	}
	end, ok := 0, false
	switch e := rv.Elem(); {
	case e.Kind() == reflect.Struct:
		if p := planFor(e.Type()); p != nil && data[i] == '{' {
			end, ok = p.decode(data, i, e, 0)
		}
	case scalarKind(e.Kind()) && !ownDecoding(e.Type()):
		// A call's result is often a number or a string: parsed in
		// place as a struct's field would be.
		f := planField{kind: e.Kind()}
		end, ok = f.store(data, i, e, 0)
	}
	return ok && checkTrailing(data, end) == nil
}

// unmarshalValid decodes data, which validate has accepted without Python
// tokens, into v: with v's plan when it points to a struct that has one and
// data is an object, in place when it points to a string, a bool or a
// number that encoding/json has no way of its own for (ownDecoding), else (or when that value does not fit)
// with encoding/json.
func unmarshalValid(data []byte, v any) error {
	if decodeInPlace(data, v) {
		return nil
	}
	// A pooled decoder saves json.Unmarshal's decodeState, error context
	// and scanner stack on every call. UseNumber is only set where an
	// interface value may receive a number; elsewhere it makes no
	// difference.
	if needsUseNumber(reflect.TypeOf(v)) {
		return decodePooled(&numberDecoders, data, v)
	}
	return decodePooled(&plainDecoders, data, v)
}
