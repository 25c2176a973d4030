package objects

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"time"
)

// Base carries an object's version and change tracking. Embed it (by
// value) in a struct to make a pointer to that struct an [Object]:
//
//	type Instance struct {
//		objects.Base
//		UUID string  `obj:"uuid,uuid"`
//		Host *string `obj:"host,nullable"`
//	}
//
// Change tracking needs no setters: a field counts as changed when
// [Base.MarkChanged] named it or when its value differs from the one it
// had when the object was decoded or its changes were last reset (see
// [WhatChanged]). Copying a Base (by copying the struct) copies the
// tracking state; the copies then evolve independently. Like oslo's
// objects, an object is not safe for concurrent modification.
type Base struct {
	// ObjState is the tracking state. It is exported only so that it
	// survives encoding/json and msgpack round trips, such as the one the
	// RPC client and dispatcher make between the serializer hook and the
	// handler's parameter type; do not set it.
	ObjState State `json:",omitzero"`
}

func (b *Base) objectState() *State { return &b.ObjState }

// MarkChanged marks fields as set and changed, for values that do not
// differ from the last snapshot (a field set to its zero value on a new
// object, or to the value it had). Unknown names are ignored when the
// object is serialized, as oslo ignores them.
func (b *Base) MarkChanged(fields ...string) {
	s := &b.ObjState
	s.set = withNames(s.set, fields)
	s.changed = withNames(s.changed, fields)
}

// ObjVersion returns the version the object was received at, or "" for an
// object made in this process (whose version is its type's).
func (b *Base) ObjVersion() string { return b.ObjState.version }

// State is the change-tracking state of an object (see [Base]). Its maps
// are never modified in place, so copies of a State are independent.
type State struct {
	version string
	id      uint64
	set     map[string]struct{}
	changed map[string]struct{}
	snap    map[string]uint64
}

// IsZero reports whether the state is empty (a new object).
func (s State) IsZero() bool {
	return s.version == "" && s.id == 0 && len(s.set) == 0 && len(s.changed) == 0 && len(s.snap) == 0
}

type stateJSON struct {
	Version string            `json:"v,omitempty"`
	ID      string            `json:"id,omitempty"`
	Set     []string          `json:"set,omitempty"`
	Changed []string          `json:"changed,omitempty"`
	Snap    map[string]string `json:"snap,omitempty"`
}

// MarshalJSON encodes the state.
func (s State) MarshalJSON() ([]byte, error) {
	j := stateJSON{Version: s.version, Set: sortedNames(s.set), Changed: sortedNames(s.changed)}
	if s.id != 0 {
		j.ID = strconv.FormatUint(s.id, 16)
	}
	if len(s.snap) > 0 {
		j.Snap = make(map[string]string, len(s.snap))
		for k, h := range s.snap {
			j.Snap[k] = strconv.FormatUint(h, 16)
		}
	}
	return json.Marshal(j)
}

// UnmarshalJSON decodes a state encoded by MarshalJSON.
func (s *State) UnmarshalJSON(b []byte) error {
	var j stateJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	n := State{version: j.Version, set: withNames(nil, j.Set), changed: withNames(nil, j.Changed)}
	if j.ID != "" {
		id, err := strconv.ParseUint(j.ID, 16, 64)
		if err != nil {
			return err
		}
		n.id = id
	}
	if len(j.Snap) > 0 {
		n.snap = make(map[string]uint64, len(j.Snap))
		for k, v := range j.Snap {
			h, err := strconv.ParseUint(v, 16, 64)
			if err != nil {
				return err
			}
			n.snap[k] = h
		}
	}
	*s = n
	return nil
}

// MarshalText encodes the state as MarshalJSON does, for codecs that use
// encoding.TextMarshaler (msgpack).
func (s State) MarshalText() ([]byte, error) { return s.MarshalJSON() }

// UnmarshalText decodes what MarshalText encodes.
func (s *State) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*s = State{}
		return nil
	}
	return s.UnmarshalJSON(b)
}

func withNames(m map[string]struct{}, names []string) map[string]struct{} {
	if len(names) == 0 {
		return m
	}
	n := make(map[string]struct{}, len(m)+len(names))
	for k := range m {
		n[k] = struct{}{}
	}
	for _, k := range names {
		n[k] = struct{}{}
	}
	return n
}

func withoutNames(m map[string]struct{}, names []string) map[string]struct{} {
	n := make(map[string]struct{}, len(m))
	for k := range m {
		if !slices.Contains(names, k) {
			n[k] = struct{}{}
		}
	}
	return n
}

func sortedNames(m map[string]struct{}) []string {
	if len(m) == 0 {
		return nil
	}
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// mustSchema returns o's schema or panics: the functions that take an
// Object without returning an error need a registered type.
func mustSchema(o Object) *schema {
	s, err := schemaFor(o)
	if err != nil {
		panic(err)
	}
	return s
}

func fieldValue(o Object, f *field) reflect.Value {
	return reflect.ValueOf(o).Elem().FieldByIndex(f.index)
}

// isSet is oslo's obj_attr_is_set: the field came with the object, was
// marked, or holds a value other than its Go zero value.
func isSet(o Object, f *field) bool {
	if _, ok := o.objectState().set[f.name]; ok {
		return true
	}
	return !fieldValue(o, f).IsZero()
}

// IsSet reports whether field is set on o (oslo's obj_attr_is_set). It
// panics if o's type is not registered or has no such field.
func IsSet(o Object, field string) bool {
	s := mustSchema(o)
	f := s.byName[field]
	if f == nil {
		panic("objects: " + s.name + " object has no attribute '" + field + "'")
	}
	return isSet(o, f)
}

// VersionOf returns the version o is at: the one it was received at, or
// its type's version. It panics if o's type is not registered.
func VersionOf(o Object) string {
	if v := o.objectState().version; v != "" {
		return v
	}
	return mustSchema(o).version
}

// WhatChanged returns the names of o's changed fields, sorted (oslo's
// obj_what_changed): those marked changed (by [Base.MarkChanged], or
// received as changed), those set whose value differs from the last
// snapshot, and object fields whose object has changes. Lists and dicts of
// objects do not count their objects' changes, as in oslo, except the
// objects field of an [ObjectList]. It panics if o's type is not
// registered.
func WhatChanged(o Object) []string {
	s := mustSchema(o)
	st := o.objectState()
	var out []string
	for _, f := range s.fields {
		if changed(o, s, st, f) {
			out = append(out, f.name)
		}
	}
	return out
}

func changed(o Object, s *schema, st *State, f *field) bool {
	if _, ok := st.changed[f.name]; ok {
		return true
	}
	if !isSet(o, f) {
		return false
	}
	v := fieldValue(o, f)
	if h, ok := st.snap[f.name]; !ok || h != hashValue(f.t, v, false) {
		return true
	}
	switch {
	case f.t.kind == kObject:
		return !v.IsNil() && len(WhatChanged(v.Interface().(Object))) > 0
	case s.list && f.name == "objects":
		for i := 0; i < v.Len(); i++ {
			if c := v.Index(i); !c.IsNil() && len(WhatChanged(c.Interface().(Object))) > 0 {
				return true
			}
		}
	}
	return false
}

// ResetChanges forgets the changes of the named fields, or of all fields
// (oslo's obj_reset_changes): their current values become the snapshot
// later changes are measured against. It panics if o's type is not
// registered.
func ResetChanges(o Object, fields ...string) {
	s := mustSchema(o)
	resetChanges(o, s, fields)
}

// ResetChangesRecursive is ResetChanges that also resets, completely, the
// objects held by changed object and list-of-object fields among fields
// (oslo's obj_reset_changes(recursive=True)).
func ResetChangesRecursive(o Object, fields ...string) {
	s := mustSchema(o)
	for _, name := range WhatChanged(o) {
		if len(fields) > 0 && !slices.Contains(fields, name) {
			continue
		}
		f := s.byName[name]
		if !isSet(o, f) {
			continue
		}
		v := fieldValue(o, f)
		switch {
		case f.t.kind == kObject && !v.IsNil():
			ResetChangesRecursive(v.Interface().(Object))
		case f.t.kind == kList && f.t.elem.kind == kObject:
			for i := 0; i < v.Len(); i++ {
				if c := v.Index(i); !c.IsNil() {
					ResetChangesRecursive(c.Interface().(Object))
				}
			}
		}
	}
	resetChanges(o, s, fields)
}

func resetChanges(o Object, s *schema, fields []string) {
	st := o.objectState()
	if len(fields) == 0 {
		st.changed = nil
	} else {
		st.changed = withoutNames(st.changed, fields)
	}
	snapshot(o, s, fields)
}

// snapshot records the hashes of the named fields (all when none) and
// marks those holding a value as set.
func snapshot(o Object, s *schema, fields []string) {
	st := o.objectState()
	if st.id == 0 {
		st.id = newID()
	}
	snap := make(map[string]uint64, len(s.fields))
	for k, h := range st.snap {
		snap[k] = h
	}
	var set []string
	for _, f := range s.fields {
		if len(fields) > 0 && !slices.Contains(fields, f.name) {
			continue
		}
		if !isSet(o, f) {
			delete(snap, f.name)
			continue
		}
		set = append(set, f.name)
		snap[f.name] = hashValue(f.t, fieldValue(o, f), true)
	}
	st.snap = snap
	st.set = withNames(st.set, set)
}

// Unset makes field unset (oslo's delattr): zero, not set, not changed.
// It panics if o's type is not registered or has no such field.
func Unset(o Object, field string) {
	s := mustSchema(o)
	f := s.byName[field]
	if f == nil {
		panic("objects: " + s.name + " object has no attribute '" + field + "'")
	}
	fieldValue(o, f).SetZero()
	st := o.objectState()
	st.set = withoutNames(st.set, []string{field})
	st.changed = withoutNames(st.changed, []string{field})
	snap := make(map[string]uint64, len(st.snap))
	for k, h := range st.snap {
		if k != field {
			snap[k] = h
		}
	}
	st.snap = snap
}

// SetDefaults sets the named fields, or all fields that have a default,
// to their default unless they are set (oslo's obj_set_defaults). Naming a
// field without a default is an [*ObjectActionError].
func SetDefaults(o Object, fields ...string) error {
	s, err := schemaFor(o)
	if err != nil {
		return err
	}
	if len(fields) == 0 {
		for _, f := range s.fields {
			if f.hasDefault {
				fields = append(fields, f.name)
			}
		}
	}
	c := codec{reg: NewRegistry("", ""), obj: s.name} // defaults hold no objects
	for _, name := range fields {
		f := s.byName[name]
		if f == nil || !f.hasDefault {
			return &ObjectActionError{Action: "set_defaults", Reason: "No default set for field " + name}
		}
		if isSet(o, f) {
			continue
		}
		if err := c.fromPrimitive(f.t, f.name, f.def, fieldValue(o, f), f); err != nil {
			return err
		}
		o.objectState().objectChanged(f.name)
	}
	return nil
}

func (st *State) objectChanged(name string) {
	st.set = withNames(st.set, []string{name})
	st.changed = withNames(st.changed, []string{name})
}

func newID() uint64 {
	for {
		if id := rand.Uint64(); id != 0 {
			return id
		}
	}
}

// hashValue hashes a field value for change detection (64-bit FNV-1a).
// Objects count by identity (their State id), not content: a field holding
// an object is changed when another object is put there. assign gives
// objects without an id one, when a snapshot is taken.
func hashValue(ft *ftype, v reflect.Value, assign bool) uint64 {
	h := fnv64(14695981039346656037)
	h.value(ft, v, assign)
	return uint64(h)
}

type fnv64 uint64

func (h *fnv64) bytes(b []byte) {
	for _, c := range b {
		*h = (*h ^ fnv64(c)) * 1099511628211
	}
}

func (h *fnv64) str(s string) {
	h.u64(uint64(len(s)))
	for i := 0; i < len(s); i++ {
		*h = (*h ^ fnv64(s[i])) * 1099511628211
	}
}

func (h *fnv64) u64(x uint64) {
	for i := 0; i < 8; i++ {
		*h = (*h ^ fnv64(byte(x>>(8*i)))) * 1099511628211
	}
}

func (h *fnv64) value(ft *ftype, v reflect.Value, assign bool) {
	if ft.ptr || ft.kind == kObject || ft.kind == kAny {
		if v.IsNil() {
			h.u64(0)
			return
		}
		h.u64(1)
		if ft.ptr {
			v = v.Elem()
		}
	}
	switch ft.kind {
	case kString, kUUID, kEnum:
		h.str(v.String())
	case kInt:
		if v.CanInt() {
			h.u64(uint64(v.Int()))
		} else {
			h.u64(v.Uint())
		}
	case kFloat:
		h.u64(math.Float64bits(v.Float()))
	case kBool:
		if v.Bool() {
			h.u64(1)
		} else {
			h.u64(0)
		}
	case kDateTime:
		t := v.Interface().(time.Time)
		_, off := t.Zone()
		h.u64(uint64(t.UnixNano()))
		h.u64(uint64(off))
	case kIPAddr:
		bs, _ := v.Interface().(netip.Addr).MarshalBinary()
		h.bytes(bs)
	case kIPNet:
		bs, _ := v.Interface().(netip.Prefix).MarshalBinary()
		h.bytes(bs)
	case kList:
		h.u64(uint64(v.Len()))
		for i := 0; i < v.Len(); i++ {
			h.value(ft.elem, v.Index(i), assign)
		}
	case kSet:
		// Order does not matter: combine element hashes commutatively.
		var sum uint64
		if ft.setMap {
			for it := v.MapRange(); it.Next(); {
				sum += hashValue(ft.elem, it.Key(), assign)
			}
		} else {
			for i := 0; i < v.Len(); i++ {
				sum += hashValue(ft.elem, v.Index(i), assign)
			}
		}
		h.u64(uint64(v.Len()))
		h.u64(sum)
	case kDict:
		// Order does not matter either.
		var sum uint64
		for it := v.MapRange(); it.Next(); {
			e := fnv64(14695981039346656037)
			e.str(it.Key().String())
			e.value(ft.elem, it.Value(), assign)
			sum += uint64(e)
		}
		h.u64(uint64(v.Len()))
		h.u64(sum)
	case kObject:
		st := v.Interface().(Object).objectState()
		if st.id == 0 && assign {
			st.id = newID()
		}
		h.u64(st.id)
	case kAny:
		bs, _ := json.Marshal(v.Interface())
		h.bytes(bs)
	}
}
