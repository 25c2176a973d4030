package pyjson

import (
	"cmp"
	"reflect"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// This file mirrors encoding/json's computation of the JSON fields of a
// struct type (typeFields in encoding/json/encode.go), keeping only what
// decoding needs, so that Bind resolves names, embedded structs and
// conflicts exactly as encoding/json.Unmarshal does.

// field is a JSON-visible struct field.
type field struct {
	name   string
	tag    bool  // name came from a json tag
	index  []int // path of field indexes through embedded structs
	typ    reflect.Type
	quoted bool // ",string" option applies
}

type structFields struct {
	list    []field
	byExact map[string]*field
	byFold  map[string]*field
}

var fieldCache sync.Map // map[reflect.Type]*structFields

func cachedTypeFields(t reflect.Type) *structFields {
	if f, ok := fieldCache.Load(t); ok {
		return f.(*structFields)
	}
	f, _ := fieldCache.LoadOrStore(t, typeFields(t))
	return f.(*structFields)
}

func typeFields(t reflect.Type) *structFields {
	// Anonymous fields to explore at the current level and the next.
	current := []field{}
	next := []field{{typ: t}}

	// Count of queued names for current level and the next.
	var count, nextCount map[reflect.Type]int

	// Types already visited at an earlier level.
	visited := map[reflect.Type]bool{}

	var fields []field
	for len(next) > 0 {
		current, next = next, current[:0]
		count, nextCount = nextCount, map[reflect.Type]int{}

		for _, f := range current {
			if visited[f.typ] {
				continue
			}
			visited[f.typ] = true

			for i := 0; i < f.typ.NumField(); i++ {
				sf := f.typ.Field(i)
				if sf.Anonymous {
					t := sf.Type
					if t.Kind() == reflect.Pointer {
						t = t.Elem()
					}
					if !sf.IsExported() && t.Kind() != reflect.Struct {
						// Ignore embedded fields of unexported non-struct types.
						continue
					}
					// Embedded fields of unexported struct types may have
					// exported fields.
				} else if !sf.IsExported() {
					continue
				}
				tag := sf.Tag.Get("json")
				if tag == "-" {
					continue
				}
				name, opts, _ := strings.Cut(tag, ",")
				if !isValidTag(name) {
					name = ""
				}
				index := make([]int, len(f.index)+1)
				copy(index, f.index)
				index[len(f.index)] = i

				ft := sf.Type
				if ft.Name() == "" && ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}

				// Only strings, floats, integers, and booleans can be quoted.
				quoted := false
				if hasOption(opts, "string") {
					switch ft.Kind() {
					case reflect.Bool,
						reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
						reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
						reflect.Float32, reflect.Float64,
						reflect.String:
						quoted = true
					}
				}

				if name != "" || !sf.Anonymous || ft.Kind() != reflect.Struct {
					tagged := name != ""
					if name == "" {
						name = sf.Name
					}
					fields = append(fields, field{name: name, tag: tagged, index: index, typ: ft, quoted: quoted})
					if count[f.typ] > 1 {
						// Multiple instances: add a second copy so that the
						// annihilation below sees a duplicate.
						fields = append(fields, fields[len(fields)-1])
					}
					continue
				}

				// Record new anonymous struct to explore in next round.
				nextCount[ft]++
				if nextCount[ft] == 1 {
					next = append(next, field{name: ft.Name(), index: index, typ: ft})
				}
			}
		}
	}

	slices.SortFunc(fields, func(a, b field) int {
		// Sort by name, then depth, then "name came from a tag", then index.
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		if c := cmp.Compare(len(a.index), len(b.index)); c != 0 {
			return c
		}
		if a.tag != b.tag {
			if a.tag {
				return -1
			}
			return +1
		}
		return slices.Compare(a.index, b.index)
	})

	// Delete all fields hidden by Go's embedding rules, except that fields
	// with JSON tags are promoted: for each name keep the dominant field, or
	// none if the shallowest ones conflict.
	out := fields[:0]
	for advance, i := 0, 0; i < len(fields); i += advance {
		fi := fields[i]
		for advance = 1; i+advance < len(fields); advance++ {
			if fields[i+advance].name != fi.name {
				break
			}
		}
		if advance == 1 {
			out = append(out, fi)
			continue
		}
		dup := fields[i : i+advance]
		if len(dup[0].index) == len(dup[1].index) && dup[0].tag == dup[1].tag {
			continue
		}
		out = append(out, dup[0])
	}
	fields = out
	slices.SortFunc(fields, func(a, b field) int {
		return slices.Compare(a.index, b.index)
	})

	sf := &structFields{
		list:    fields,
		byExact: make(map[string]*field, len(fields)),
		byFold:  make(map[string]*field, len(fields)),
	}
	for i := range fields {
		f := &fields[i]
		sf.byExact[f.name] = f
		// For historical reasons, the first folded match takes precedence.
		folded := string(appendFoldedName(nil, f.name))
		if _, ok := sf.byFold[folded]; !ok {
			sf.byFold[folded] = f
		}
	}
	return sf
}

// lookup returns the field for a JSON key: an exact match, or else a
// case-insensitive one.
func (sf *structFields) lookup(key string) *field {
	if f := sf.byExact[key]; f != nil {
		return f
	}
	var buf [32]byte
	return sf.byFold[string(appendFoldedName(buf[:0], key))]
}

func hasOption(opts, name string) bool {
	for opts != "" {
		var o string
		o, opts, _ = strings.Cut(opts, ",")
		if o == name {
			return true
		}
	}
	return false
}

func isValidTag(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c):
			// Backslash and quote chars are reserved, but otherwise any
			// punctuation chars are allowed in a tag name.
		case !unicode.IsLetter(c) && !unicode.IsDigit(c):
			return false
		}
	}
	return true
}

// appendFoldedName appends the case-folded form of name to out, as
// encoding/json does for case-insensitive field matching.
func appendFoldedName(out []byte, name string) []byte {
	for i := 0; i < len(name); {
		if c := name[i]; c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			out = append(out, c)
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(name[i:])
		out = utf8.AppendRune(out, foldRune(r))
		i += n
	}
	return out
}

// foldRune returns the smallest rune in r's case-folding orbit.
func foldRune(r rune) rune {
	for {
		r2 := unicode.SimpleFold(r)
		if r2 <= r {
			return r2
		}
		r = r2
	}
}
