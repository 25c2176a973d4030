package pyjson

import (
	"cmp"
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
)

// node is a value of the fallback path's tree: its text, whether it holds
// a Python token and, for an object or array that does, its members.
type node struct {
	raw  []byte
	py   bool
	keys [][]byte // an object's raw key literals
	kids []*node
}

// build returns the tree of the value at data[i], which validate has
// accepted, and the index past it. The recursion is bounded by maxDepth.
// Tests set force to have every object and array walked by hand.
func build(data []byte, i int, force bool) (*node, int) {
	n := &node{}
	start := i
	if c := data[i]; c == '{' || c == '[' {
		i, _ = eachMember(data, i, 0, func(key []byte, _ uint8, value int) (int, error) {
			n.keys = append(n.keys, key) // nil in arrays
			kid, end := build(data, value, force)
			n.kids = append(n.kids, kid)
			n.py = n.py || kid.py
			return end, nil
		})
		n.py = n.py || force
	} else {
		i, n.py, _ = scanScalar(data, i)
	}
	n.raw = data[start:i]
	return n, i
}

// fallback decodes input that validate accepted and that holds a Python
// token into v.
func fallback(data []byte, v any, force bool) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return &json.InvalidUnmarshalError{Type: reflect.TypeOf(v)}
	}
	tree, _ := build(data, skipSpace(data, 0), force)
	var b binder
	b.bind(tree, rv.Elem())
	return b.err
}

// binder stores a tree into Go values and keeps the first error.
type binder struct{ err error }

func (b *binder) keep(err error) { b.err = cmp.Or(b.err, err) }

// typeError reports that n does not fit type t, naming n's JSON type as
// encoding/json does.
func typeError(n *node, t reflect.Type) error {
	value := "number " + string(n.raw)
	if c := n.raw[0]; c == '{' || c == '[' {
		value = map[byte]string{'{': "object", '[': "array"}[c]
	}
	return &json.UnmarshalTypeError{Value: value, Type: t}
}

// bind stores n into v, which is addressable: through encoding/json when n
// holds no Python token, by hand otherwise.
func (b *binder) bind(n *node, v reflect.Value) {
	if !n.py {
		b.keep(decodeUseNumber(n.raw, v.Addr().Interface()))
		return
	}
	if v.Kind() != reflect.Pointer && v.Kind() != reflect.Interface {
		switch u := v.Addr().Interface().(type) {
		case json.Unmarshaler:
			b.keep(u.UnmarshalJSON(n.raw))
			return
		case encoding.TextUnmarshaler:
			b.keep(typeError(n, v.Type()))
			return
		}
	}
	c := n.raw[0]
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		b.bind(n, v.Elem())
		return
	case reflect.Interface:
		if e := v.Elem(); e.Kind() == reflect.Pointer && !e.IsNil() {
			b.bind(n, e.Elem()) // as encoding/json, decode into what it points to
			return
		}
		if v.NumMethod() == 0 {
			g, err := Parse(n.raw)
			b.keep(err)
			v.Set(reflect.ValueOf(g))
			return
		}
	case reflect.Float32, reflect.Float64:
		if c != '{' && c != '[' {
			v.SetFloat(pyFloat(n.raw))
			return
		}
	case reflect.Map, reflect.Struct:
		if c == '{' {
			b.object(n, v)
			return
		}
	case reflect.Slice, reflect.Array:
		if c == '[' {
			b.array(n, v)
			return
		}
	}
	b.keep(typeError(n, v.Type()))
}

// object stores the object n into the map or struct v, in document order:
// each run of members without Python tokens through encoding/json at once,
// the others by hand.
func (b *binder) object(n *node, v reflect.Value) {
	plain := append(make([]byte, 0, len(n.raw)), '{')
	flush := func() { // also makes a nil map
		if len(plain) > 1 || v.Kind() == reflect.Map && v.IsNil() {
			b.keep(decodeUseNumber(append(plain, '}'), v.Addr().Interface()))
			plain = plain[:1]
		}
	}
	for i, kid := range n.kids {
		if !kid.py {
			if len(plain) > 1 {
				plain = append(plain, ',')
			}
			plain = append(append(append(plain, n.keys[i]...), ':'), kid.raw...)
			continue
		}
		flush()
		if v.Kind() == reflect.Map {
			b.mapMember(n.keys[i], kid, v)
			continue
		}
		key, _ := UnquoteString(n.keys[i])
		f, ok := StructField(v.Type(), key)
		if !ok {
			continue
		}
		fv, err := fieldByIndex(v, f.Index)
		if err == nil && f.Quoted {
			err = typeError(kid, fv.Type())
		}
		if err != nil {
			b.keep(err)
			continue
		}
		b.bind(kid, fv)
	}
	flush()
}

// mapMember stores the member rawKey: kid into the map m, converting the
// key as encoding/json does by having it decode {rawKey: null}.
func (b *binder) mapMember(rawKey []byte, kid *node, m reflect.Value) {
	keys := reflect.New(reflect.MapOf(m.Type().Key(), reflect.TypeFor[struct{}]()))
	text := append(append([]byte{'{'}, rawKey...), ":null}"...)
	if err := decodeUseNumber(text, keys.Interface()); err != nil {
		b.keep(err)
		return
	}
	it := keys.Elem().MapRange()
	if !it.Next() {
		return
	}
	elem := reflect.New(m.Type().Elem()).Elem()
	b.bind(kid, elem)
	m.SetMapIndex(it.Key(), elem)
}

// array stores the array n into the slice or array v.
func (b *binder) array(n *node, v reflect.Value) {
	if v.Kind() == reflect.Slice {
		v.Set(reflect.MakeSlice(v.Type(), len(n.kids), len(n.kids)))
	}
	for i := 0; i < v.Len(); i++ {
		if i < len(n.kids) {
			b.bind(n.kids[i], v.Index(i))
		} else {
			v.Index(i).SetZero()
		}
	}
}

// fieldByIndex returns the field of struct v at index, allocating the
// embedded structs pointed to on the way, which fails for a nil pointer to
// an unexported struct type.
func fieldByIndex(v reflect.Value, index []int) (reflect.Value, error) {
	for k, i := range index {
		if k > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				if !v.CanSet() {
					return reflect.Value{}, fmt.Errorf("pyjson: cannot set embedded pointer to unexported struct %v", v.Type().Elem())
				}
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		v = v.Field(i)
	}
	return v, nil
}
