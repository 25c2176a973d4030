package objects

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"

	"github.com/oslo-go/messaging/dispatcher"
)

// Object is a versioned object: a pointer to a struct that embeds [Base].
type Object interface {
	objectState() *State
}

// Registry holds object types by name, with the serial namespace that
// prefixes the keys of their primitives ("nova_object" gives
// "nova_object.name", "nova_object.data", ...) and the project namespace
// written as "<serial>.namespace" ("nova"). oslo's defaults are
// "versioned_object" and "versionedobjects". A Registry is safe for
// concurrent use; register types before using it.
type Registry struct {
	serial, project string
	keys            [5]string // name, namespace, version, data, changes

	mu     sync.RWMutex
	byName map[string]*schema
}

// NewRegistry returns an empty registry for objects whose primitives use
// the serial namespace serial (oslo's OBJ_SERIAL_NAMESPACE, "nova_object"
// for Nova, "versioned_object" for most projects) and the project namespace
// project (OBJ_PROJECT_NAMESPACE: "nova", "karbor", ...).
func NewRegistry(serial, project string) *Registry {
	r := &Registry{serial: serial, project: project, byName: map[string]*schema{}}
	for i, k := range []string{"name", "namespace", "version", "data", "changes"} {
		r.keys[i] = serial + "." + k
	}
	return r
}

// key returns "<serial>.<what>".
func (r *Registry) key(what string) string {
	switch what {
	case "name":
		return r.keys[0]
	case "namespace":
		return r.keys[1]
	case "version":
		return r.keys[2]
	case "data":
		return r.keys[3]
	case "changes":
		return r.keys[4]
	}
	return r.serial + "." + what
}

// SerialNamespace returns the prefix of the primitive keys.
func (r *Registry) SerialNamespace() string { return r.serial }

// ProjectNamespace returns the project namespace written in primitives.
func (r *Registry) ProjectNamespace() string { return r.project }

// schema is what the package knows about one Go object type.
type schema struct {
	typ        reflect.Type // *T
	name       string
	version    string
	ver        version
	fields     []*field
	byName     map[string]*field
	rels       map[string][]relPair
	downgrades []downgrade // newest first
	list       bool        // ObjectListBase semantics
	childVers  []relPair
}

// field is one field of an object type.
type field struct {
	name       string
	goName     string
	index      []int
	t          *ftype
	hasDefault bool
	def        any // wire form of the default
	since      string
}

type relPair struct{ parent, child string }

type downgrade struct {
	version string
	ver     version
	fn      func(data map[string]any) error
}

// schemas maps *T to its *schema, for every registered T.
var schemas sync.Map

// schemaOf returns the schema of the object type t (*T), or nil.
func schemaOf(t reflect.Type) *schema {
	s, _ := schemas.Load(t)
	sc, _ := s.(*schema)
	return sc
}

func schemaFor(o Object) (*schema, error) {
	t := reflect.TypeOf(o)
	if s := schemaOf(t); s != nil {
		return s, nil
	}
	return nil, fmt.Errorf("objects: type %s is not registered", t)
}

// An Option declares something about an object type for
// [Registry.Register].
type Option func(*declaration)

type declaration struct {
	name, version string
	rels          map[string][]relPair
	downgrades    []downgrade
	list          bool
	childVers     []relPair
	errs          []error
}

// Name sets the object's name on the wire (oslo's obj_name()); the default
// is the Go type's name.
func Name(name string) Option { return func(d *declaration) { d.name = name } }

// Version sets the object's current version (oslo's VERSION); the default
// is "1.0".
func Version(v string) Option { return func(d *declaration) { d.version = v } }

// Relationship declares which version of the object (or list of objects)
// in field goes with which version of this object, oldest first, as oslo's
// obj_relationships: each pair is {parent version, child version}. Making
// the object compatible with a version before the first pair drops the
// field; with a version between two pairs, the child is backported to the
// earlier pair's child version.
//
//	objects.Relationship("flavor", [2]string{"1.0", "1.0"}, [2]string{"1.4", "1.1"})
func Relationship(field string, pairs ...[2]string) Option {
	return func(d *declaration) {
		if d.rels == nil {
			d.rels = map[string][]relPair{}
		}
		for _, p := range pairs {
			d.rels[field] = append(d.rels[field], relPair{p[0], p[1]})
		}
	}
}

// Downgrade declares a change of the object's representation made in
// version v: when the object is sent at a version before v, fn turns the
// primitive's data (field name to wire value) from the v form into the
// form before it. Conversions run newest first, before fields added after
// the target version (tag option since=) are dropped.
//
//	objects.Downgrade("1.3", func(data map[string]any) error {
//		// 1.3 made memory_mb an integer; before, it was a string.
//		if v, ok := data["memory_mb"]; ok && v != nil {
//			data["memory_mb"] = fmt.Sprint(v)
//		}
//		return nil
//	})
func Downgrade(v string, fn func(data map[string]any) error) Option {
	return func(d *declaration) {
		ver, err := parseVersion(v)
		if err != nil {
			d.errs = append(d.errs, err)
			return
		}
		d.downgrades = append(d.downgrades, downgrade{version: v, ver: ver, fn: fn})
	}
}

// ObjectList declares a list object, as oslo's ObjectListBase: the type
// has one list-of-objects field named "objects", which counts as changed
// when one of its objects has changes. childVersions ({list version, object
// version} pairs, oldest first; oslo's child_versions) say which object
// version goes with which list version; without them, the Relationship of
// "objects" is used, and without that objects are backported to 1.0, as
// oslo does.
func ObjectList(childVersions ...[2]string) Option {
	return func(d *declaration) {
		d.list = true
		for _, p := range childVersions {
			d.childVers = append(d.childVers, relPair{p[0], p[1]})
		}
	}
}

// Register adds the object type of proto (a pointer to a struct that
// embeds Base; its value is not used) to the registry.
//
// Fields are the struct's fields (including those of embedded structs)
// tagged obj:"name,options"; untagged fields are not part of the object. An
// empty name is the snake_case of the Go name. The Go type gives the oslo
// field type (see the package documentation); options:
//
//	nullable        None is a valid value (the Go type must be a pointer, slice, map or any)
//	uuid            UUIDField (a string)
//	enum=a|b|c      EnumField with these valid values (strings)
//	ipv4, ipv6      IPV4AddressField, IPV6AddressField (netip.Addr), or networks (netip.Prefix)
//	naive           DateTimeField(tzinfo_aware=False) (time.Time)
//	set             a slice holds a SetField (map[K]struct{} is one without this)
//	since=1.2       the field was added in version 1.2: dropped when sent at an older version
//	default=VALUE   the field's default: JSON, or a bare string; must be the last option
//
// A Go type is declared once: registering it in another registry must give
// the same name and version.
func (r *Registry) Register(proto Object, opts ...Option) error {
	d := declaration{version: "1.0"}
	for _, o := range opts {
		o(&d)
	}
	t := reflect.TypeOf(proto)
	if t == nil || t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("objects: Register needs a pointer to a struct, not %v", t)
	}
	if d.name == "" {
		d.name = t.Elem().Name()
	}
	s, err := buildSchema(t, &d)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if prev, ok := r.byName[s.name]; ok && prev.typ != t {
		return fmt.Errorf("objects: %s is already registered as %s, not %s", s.name, prev.typ, t)
	}
	if prev, loaded := schemas.LoadOrStore(t, s); loaded {
		p := prev.(*schema)
		if p.name != s.name || p.version != s.version {
			return fmt.Errorf("objects: %s is already declared as %s %s, not %s %s", t, p.name, p.version, s.name, s.version)
		}
		s = p
	}
	r.byName[s.name] = s
	return nil
}

// MustRegister is Register that panics on error, for package
// initialization.
func (r *Registry) MustRegister(proto Object, opts ...Option) {
	if err := r.Register(proto, opts...); err != nil {
		panic(err)
	}
}

// lookup returns the schema registered under name, or nil.
func (r *Registry) lookup(name string) *schema {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.byName[name]
}

// Versions returns the registered object names and their versions.
func (r *Registry) Versions() map[string]string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	m := make(map[string]string, len(r.byName))
	for n, s := range r.byName {
		m[n] = s.version
	}
	return m
}

func buildSchema(t reflect.Type, d *declaration) (*schema, error) {
	if err := errors.Join(d.errs...); err != nil {
		return nil, fmt.Errorf("objects: %s: %w", d.name, err)
	}
	ver, err := parseVersion(d.version)
	if err != nil {
		return nil, fmt.Errorf("objects: %s: %w", d.name, err)
	}
	s := &schema{typ: t, name: d.name, version: d.version, ver: ver, byName: map[string]*field{},
		rels: d.rels, downgrades: d.downgrades, list: d.list, childVers: d.childVers}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("objects: %s: "+format, append([]any{d.name}, args...)...)
	}
	for _, sf := range reflect.VisibleFields(t.Elem()) {
		tag, ok := sf.Tag.Lookup("obj")
		if !ok || tag == "-" {
			continue
		}
		if !sf.IsExported() {
			return nil, fail("field %s is tagged but not exported", sf.Name)
		}
		for i := 1; i < len(sf.Index); i++ {
			if t.Elem().FieldByIndex(sf.Index[:i]).Type.Kind() == reflect.Pointer {
				return nil, fail("field %s is in an embedded pointer", sf.Name)
			}
		}
		f, err := buildField(sf, tag)
		if err != nil {
			return nil, fail("field %s: %v", sf.Name, err)
		}
		if _, dup := s.byName[f.name]; dup {
			return nil, fail("two fields named %q", f.name)
		}
		if f.since != "" && lessThan(d.version, f.since) {
			return nil, fail("field %s is since %s, after the object's version %s", f.name, f.since, d.version)
		}
		s.fields = append(s.fields, f)
		s.byName[f.name] = f
	}
	for name, pairs := range s.rels {
		f := s.byName[name]
		if f == nil || !holdsObjects(f.t) {
			return nil, fail("relationship for %q, which is not an object field", name)
		}
		for _, p := range pairs {
			if _, err := parseVersion(p.parent); err != nil {
				return nil, fail("relationship for %q: %v", name, err)
			}
			if _, err := parseVersion(p.child); err != nil {
				return nil, fail("relationship for %q: %v", name, err)
			}
		}
	}
	if s.list {
		f := s.byName["objects"]
		if f == nil || f.t.kind != kList || f.t.elem.kind != kObject {
			return nil, fail("an object list needs a field objects holding a slice of objects")
		}
	}
	for _, dg := range s.downgrades {
		if cmpTuple(dg.ver, ver) > 0 {
			return nil, fail("downgrade from %s, after the object's version %s", dg.version, d.version)
		}
	}
	slices.SortStableFunc(s.downgrades, func(a, b downgrade) int { return -cmpTuple(a.ver, b.ver) })
	return s, nil
}

// holdsObjects reports whether a field is an ObjectField or a
// ListOfObjectsField, the two oslo backports sub-objects of.
func holdsObjects(t *ftype) bool {
	return t.kind == kObject || (t.kind == kList && t.elem.kind == kObject)
}

func buildField(sf reflect.StructField, tag string) (*field, error) {
	f := &field{goName: sf.Name, index: sf.Index}
	var o tagOpts
	name, rest, _ := strings.Cut(tag, ",")
	if name == "" {
		name = dispatcher.WireName(sf.Name)
	}
	f.name = name
	for rest != "" {
		var opt string
		if strings.HasPrefix(rest, "default=") {
			opt, rest = rest, ""
		} else {
			opt, rest, _ = strings.Cut(rest, ",")
		}
		key, val, _ := strings.Cut(opt, "=")
		switch key {
		case "nullable":
			o.nullable = true
		case "uuid":
			o.uuid = true
		case "set":
			o.set = true
		case "naive":
			o.naive = true
		case "ipv4":
			o.ipv = 4
		case "ipv6":
			o.ipv = 6
		case "enum":
			o.enum = strings.Split(val, "|")
			if slices.Contains(o.enum, "") {
				return nil, errors.New("an empty enum value")
			}
		case "since":
			if _, err := parseVersion(val); err != nil {
				return nil, err
			}
			f.since = val
		case "default":
			f.hasDefault, f.def = true, parseDefault(val)
		default:
			return nil, fmt.Errorf("unknown tag option %q", opt)
		}
	}
	ft, err := buildType(sf.Type, o)
	if err != nil {
		return nil, err
	}
	if o.nullable {
		switch sf.Type.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
		default:
			return nil, fmt.Errorf("nullable, but %s cannot hold None: use a pointer", sf.Type)
		}
	}
	ft.nullable = o.nullable || ft.kind == kAny
	f.t = ft
	if f.hasDefault && !(f.def == nil && ft.nullable) {
		v := reflect.New(sf.Type).Elem()
		if err := (codec{reg: NewRegistry("", ""), obj: "default"}).fromPrimitive(ft, name, f.def, v, nil); err != nil {
			return nil, fmt.Errorf("default: %v", err)
		}
	}
	return f, nil
}
