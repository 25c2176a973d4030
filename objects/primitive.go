package objects

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
)

// A PrimitiveOption changes how [Registry.ToPrimitive] writes an object.
type PrimitiveOption func(*primitiveOptions)

type primitiveOptions struct {
	target      string
	manifest    map[string]string
	hasManifest bool
}

// TargetVersion writes the object at version v, made compatible with it
// (oslo's obj_to_primitive(target_version=v)): fields added after v are
// dropped, Downgrade conversions applied and sub-objects backported
// through the Relationship tables (or the Manifest). v must not be above
// the object's version.
func TargetVersion(v string) PrimitiveOption {
	return func(o *primitiveOptions) { o.target = v }
}

// Manifest backports sub-objects to the versions m gives by object name
// (oslo's version_manifest, as made by [Registry.VersionManifest] on the
// receiving side) instead of through Relationship tables; sub-objects
// whose name m lacks are left as they are, as oslo leaves them.
func Manifest(m map[string]string) PrimitiveOption {
	return func(o *primitiveOptions) { o.manifest, o.hasManifest = m, m != nil }
}

// ToPrimitive returns o's wire form (oslo's obj_to_primitive):
//
//	{"<ns>.name": "Instance", "<ns>.namespace": "nova", "<ns>.version": "1.3",
//	 "<ns>.data": {...set fields...}, "<ns>.changes": [...changed fields...]}
//
// with "<ns>.changes" only when some field in data changed. The data maps
// field names to wire values: strings, int64, uint64, float64, bool, nil,
// []any, map[string]any, and nested primitives.
func (r *Registry) ToPrimitive(o Object, opts ...PrimitiveOption) (map[string]any, error) {
	var po primitiveOptions
	for _, opt := range opts {
		opt(&po)
	}
	return r.toPrimitive(o, po)
}

func (r *Registry) toPrimitive(o Object, po primitiveOptions) (map[string]any, error) {
	s, err := schemaFor(o)
	if err != nil {
		return nil, err
	}
	own := VersionOf(o)
	target := po.target
	if target == "" {
		target = own
	}
	tv, err := parseVersion(target)
	if err != nil {
		return nil, err
	}
	ov, err := parseVersion(own)
	if err != nil {
		return nil, err
	}
	if cmpTuple(tv, ov) > 0 {
		return nil, &InvalidTargetVersionError{Version: target}
	}
	c := codec{reg: r, obj: s.name}
	data := make(map[string]any, len(s.fields))
	for _, f := range s.fields {
		if !isSet(o, f) {
			continue
		}
		p, err := c.toPrimitive(f.t, f.name, fieldValue(o, f))
		if err != nil {
			return nil, err
		}
		data[f.name] = p
	}
	if target != own || len(po.manifest) > 0 {
		if err := r.makeCompatible(o, s, data, target, po.manifest, po.hasManifest); err != nil {
			return nil, err
		}
	}
	prim := map[string]any{
		r.key("name"):      s.name,
		r.key("namespace"): r.project,
		r.key("version"):   target,
		r.key("data"):      data,
	}
	var changes []any
	for _, name := range WhatChanged(o) {
		if _, ok := data[name]; ok {
			changes = append(changes, name)
		}
	}
	if len(changes) > 0 {
		prim[r.key("changes")] = changes
	}
	return prim, nil
}

// errTargetBefore is oslo's TargetBeforeSubobjectExistedException: the
// sub-object did not exist at the target version.
var errTargetBefore = errors.New("objects: no subobject existed at the target version")

// makeCompatible is obj_make_compatible_from_manifest: data (the
// primitive's data of o) is made fit for version target.
func (r *Registry) makeCompatible(o Object, s *schema, data map[string]any, target string, manifest map[string]string, hasManifest bool) error {
	tv, err := parseVersion(target)
	if err != nil {
		return err
	}
	for _, dg := range s.downgrades {
		if cmpTuple(tv, dg.ver) < 0 {
			if err := dg.fn(data); err != nil {
				return fmt.Errorf("objects: %s: downgrade from %s: %w", s.name, dg.version, err)
			}
		}
	}
	for _, f := range s.fields {
		if f.since != "" && lessThan(target, f.since) {
			delete(data, f.name)
		}
	}
	if s.list {
		return r.makeListCompatible(o, s, data, target, manifest, hasManifest)
	}
	for _, f := range s.fields {
		if !holdsObjects(f.t) || !isSet(o, f) {
			continue
		}
		if _, ok := data[f.name]; !ok {
			continue // dropped above
		}
		rels, err := r.relationshipFor(s, f, target, manifest, hasManifest)
		if err != nil {
			return err
		}
		if len(rels) == 0 {
			continue // not in the manifest: the receiver does not want it
		}
		err = subobjectVersion(tv, rels, func(v string) error {
			return r.backportSubobject(v, o, f, data, manifest)
		})
		if errors.Is(err, errTargetBefore) {
			delete(data, f.name)
		} else if err != nil {
			return err
		}
	}
	return nil
}

// makeListCompatible is ObjectListBase.obj_make_compatible.
func (r *Registry) makeListCompatible(o Object, s *schema, data map[string]any, target string, manifest map[string]string, hasManifest bool) error {
	if _, ok := data["objects"]; !ok {
		return nil
	}
	f := s.byName["objects"]
	rels := s.childVers
	if len(rels) == 0 {
		var err error
		if rels, err = r.relationshipFor(s, f, target, manifest, hasManifest); err != nil && !errors.Is(err, ErrObjectAction) {
			return err
		}
	}
	backport := func(v string) error { return r.backportSubobject(v, o, f, data, manifest) }
	var err error
	if len(rels) > 0 {
		tv, _ := parseVersion(target)
		err = subobjectVersion(tv, rels, backport)
	} else {
		err = backport("1.0")
	}
	if errors.Is(err, errTargetBefore) {
		delete(data, "objects")
		return nil
	}
	return err
}

// relationshipFor is _obj_relationship_for.
func (r *Registry) relationshipFor(s *schema, f *field, target string, manifest map[string]string, hasManifest bool) ([]relPair, error) {
	if !hasManifest {
		rels, ok := s.rels[f.name]
		if !ok {
			return nil, &ObjectActionError{Action: "obj_make_compatible", Reason: "No rule for " + f.name}
		}
		return rels, nil
	}
	child := objectFieldSchema(f.t)
	if child == nil {
		return nil, fmt.Errorf("objects: %s.%s: object type %s is not registered", s.name, f.name, objectGoType(f.t))
	}
	v, ok := manifest[child.name]
	if !ok {
		return nil, nil
	}
	return []relPair{{parent: target, child: v}}, nil
}

func objectGoType(t *ftype) reflect.Type {
	if t.kind == kList {
		return t.elem.gotype
	}
	return t.gotype
}

func objectFieldSchema(t *ftype) *schema { return schemaOf(objectGoType(t)) }

// subobjectVersion is _get_subobject_version.
func subobjectVersion(tv version, rels []relPair, backport func(string) error) error {
	for i, p := range rels {
		pv, err := parseVersion(p.parent)
		if err != nil {
			return err
		}
		switch c := cmpTuple(tv, pv); {
		case c < 0:
			if i == 0 {
				return errTargetBefore
			}
			return backport(rels[i-1].child)
		case c == 0:
			return backport(p.child)
		}
	}
	return nil
}

// backportSubobject is _do_subobject_backport: the sub-object primitives
// in data[f] are made compatible with version to.
func (r *Registry) backportSubobject(to string, parent Object, f *field, data map[string]any, manifest map[string]string) error {
	hasManifest := len(manifest) > 0 // oslo passes an empty manifest on as None
	v := fieldValue(parent, f)
	one := func(child reflect.Value, prim any) error {
		if child.IsNil() {
			return nil
		}
		p, ok := prim.(map[string]any)
		if !ok {
			return fmt.Errorf("objects: %s: no primitive to backport", f.name)
		}
		cd, ok := p[r.key("data")].(map[string]any)
		if !ok {
			return fmt.Errorf("objects: %s: primitive without data", f.name)
		}
		co := child.Interface().(Object)
		cs, err := schemaFor(co)
		if err != nil {
			return err
		}
		if lessThan(VersionOf(co), to) {
			// oslo would relabel an older child with the newer version;
			// its data is in the older form, so it keeps its version.
			return nil
		}
		if err := r.makeCompatible(co, cs, cd, to, manifest, hasManifest); err != nil {
			return err
		}
		p[r.key("version")] = to
		return nil
	}
	if f.t.kind == kObject {
		return one(v, data[f.name])
	}
	list, _ := data[f.name].([]any)
	for i := 0; i < v.Len() && i < len(list); i++ {
		if err := one(v.Index(i), list[i]); err != nil {
			return err
		}
	}
	return nil
}

// FromPrimitive builds the object a primitive describes (oslo's
// obj_from_primitive), as the registered Go type of its name. The object
// keeps the version it was sent at ([VersionOf]) and its "changes" as
// changed fields. A primitive of another project namespace or an unknown
// name is an [*UnsupportedObjectError]; a version with another major, or a
// newer minor, than the registered type (of the object or of a nested
// one) is an [*IncompatibleObjectVersionError]. Values are converted with
// oslo's coercion rules; values that do not fit are [*FieldError]s.
func (r *Registry) FromPrimitive(p map[string]any) (Object, error) {
	return r.fromPrimitive(p, nil)
}

// fromPrimitive decodes p as an object of type want, or of the type its
// name is registered as when want is nil.
func (r *Registry) fromPrimitive(p map[string]any, want reflect.Type) (Object, error) {
	var str [3]string
	for i, k := range []string{"namespace", "name", "version"} {
		v, ok := p[r.key(k)]
		if !ok {
			return nil, &FieldError{Object: "primitive", Class: "KeyError", Msg: pyRepr(r.key(k))}
		}
		if str[i], ok = v.(string); !ok {
			return nil, &FieldError{Object: "primitive", Field: r.key(k), Class: "TypeError", Msg: "a string is required, not " + pyTypeName(v)}
		}
	}
	ns, name, ver := str[0], str[1], str[2]
	if ns != r.project {
		return nil, &UnsupportedObjectError{Type: ns + "." + name}
	}
	var s *schema
	if want != nil {
		s = schemaOf(want)
		if s == nil {
			return nil, fmt.Errorf("objects: type %s is not registered", want)
		}
	} else if s = r.lookup(name); s == nil {
		return nil, &UnsupportedObjectError{Type: name}
	}
	if ver != s.version {
		v, err := parseVersion(ver)
		if err != nil {
			return nil, err
		}
		if !compatible(v, s.ver) {
			return nil, &IncompatibleObjectVersionError{Name: name, Version: ver, Supported: s.version}
		}
	}
	rawData, ok := p[r.key("data")]
	if !ok {
		return nil, &FieldError{Object: name, Class: "KeyError", Msg: pyRepr(r.key("data"))}
	}
	data, ok := rawData.(map[string]any)
	if !ok {
		return nil, &FieldError{Object: name, Field: r.key("data"), Class: "TypeError", Msg: "a dict is required, not " + pyTypeName(rawData)}
	}
	var changes []string
	if raw, ok := p[r.key("changes")]; ok {
		list, ok := raw.([]any)
		if !ok {
			return nil, &FieldError{Object: name, Field: r.key("changes"), Class: "TypeError", Msg: "a list is required, not " + pyTypeName(raw)}
		}
		for _, c := range list {
			if cs, ok := c.(string); ok && s.byName[cs] != nil {
				changes = append(changes, cs)
			}
		}
	}
	o := reflect.New(s.typ.Elem()).Interface().(Object)
	c := codec{reg: r, obj: name}
	var set []string
	for _, f := range s.fields {
		v, ok := data[f.name]
		if !ok {
			continue
		}
		if err := c.fromPrimitive(f.t, f.name, v, fieldValue(o, f), f); err != nil {
			return nil, err
		}
		set = append(set, f.name)
	}
	st := o.objectState()
	st.version = ver
	st.set = withNames(nil, set)
	snapshot(o, s, nil)
	st.changed = withNames(nil, changes)
	return o, nil
}

// VersionManifest returns the names and versions of name and of every
// object type its fields can hold, recursively (oslo's
// obj_tree_get_versions): what a receiver sends with a backport request.
func (r *Registry) VersionManifest(name string) (map[string]string, error) {
	tree := map[string]string{}
	if err := r.versionTree(name, "", tree); err != nil {
		return nil, err
	}
	return tree, nil
}

func (r *Registry) versionTree(name, parent string, tree map[string]string) error {
	if _, ok := tree[name]; ok {
		return nil
	}
	s := r.lookup(name)
	if s == nil {
		if parent == "" {
			return &UnsupportedObjectError{Type: name}
		}
		return fmt.Errorf("objects: %s is referenced by %s but is not registered", name, parent)
	}
	tree[name] = s.version
	for _, f := range s.fields {
		if !holdsObjects(f.t) {
			continue
		}
		cs := objectFieldSchema(f.t)
		child := strings.TrimPrefix(objectGoType(f.t).String(), "*")
		if cs != nil {
			child = cs.name
		}
		if err := r.versionTree(child, name, tree); err != nil {
			return err
		}
	}
	return nil
}
