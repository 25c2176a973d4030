package pyjson

import (
	"reflect"
	"slices"
	"strings"
	"sync"
)

// Field is a struct field as encoding/json names it in a JSON object.
type Field struct {
	Name   string // the key: the json tag's name, else the Go field name
	Index  []int  // the path of field indexes, through embedded structs
	Quoted bool   // the ",string" option applies
	tagged bool
}

// StructFields returns the fields of struct type t that encoding/json sees
// (exported fields not tagged "-", and the fields of embedded structs,
// pointed to or not, that are not tagged with a name), the shallowest
// first and, at one depth, the tagged ones first. Unlike encoding/json it
// keeps fields whose name is taken by another one at the same depth. The
// result is cached and must not be modified.
func StructFields(t reflect.Type) []Field {
	if fs, ok := fieldCache.Load(t); ok {
		return fs.([]Field)
	}
	var fields []Field
	type embedded struct {
		t     reflect.Type
		index []int
	}
	next := []embedded{{t: t}}
	visited := map[reflect.Type]bool{}
	for len(next) > 0 {
		e := next[0]
		next = next[1:]
		if visited[e.t] {
			continue
		}
		visited[e.t] = true
		for i := range e.t.NumField() {
			sf := e.t.Field(i)
			ft := sf.Type
			if ft.Name() == "" && ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			tag := sf.Tag.Get("json")
			if tag == "-" || !sf.IsExported() && (!sf.Anonymous || ft.Kind() != reflect.Struct) {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			index := append(slices.Clip(e.index), i)
			if name == "" && sf.Anonymous && ft.Kind() == reflect.Struct {
				next = append(next, embedded{ft, index})
				continue
			}
			f := Field{Name: name, Index: index, tagged: name != ""}
			if name == "" {
				f.Name = sf.Name
			}
			if k := ft.Kind(); slices.Contains(strings.Split(opts, ","), "string") {
				// Bool through Float64, and String: the kinds ",string" applies to.
				f.Quoted = reflect.Bool <= k && k <= reflect.Float64 || k == reflect.String
			}
			fields = append(fields, f)
		}
	}
	rank := func(f Field) int { // by depth, then tagged first
		if f.tagged {
			return 2 * len(f.Index)
		}
		return 2*len(f.Index) + 1
	}
	slices.SortStableFunc(fields, func(a, b Field) int { return rank(a) - rank(b) })
	fs, _ := fieldCache.LoadOrStore(t, fields)
	return fs.([]Field)
}

var fieldCache sync.Map // map[reflect.Type][]Field

// StructField returns the field of struct type t that an object member
// named key decodes into: the first of StructFields named key, else the
// first whose name equals key ignoring case (encoding/json's rule, except
// that it would ignore a name that two fields at one depth share).
func StructField(t reflect.Type, key string) (Field, bool) {
	fields := StructFields(t)
	for _, f := range fields {
		if f.Name == key {
			return f, true
		}
	}
	for _, f := range fields {
		if strings.EqualFold(f.Name, key) {
			return f, true
		}
	}
	return Field{}, false
}
