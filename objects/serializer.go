package objects

import (
	"context"
	"errors"
	"reflect"
	"strings"

	"github.com/oslo-go/messaging/serializer"
)

// Indirection is the part of oslo's VersionedObjectIndirectionAPI the
// serializer uses: asking a service that knows newer object versions (in
// Nova, the conductor) to backport an object it cannot take.
type Indirection interface {
	// ObjectBackportVersions returns objinst (a primitive) backported to
	// the versions in versions (object name to version, as made by
	// [Registry.VersionManifest]), as a primitive.
	ObjectBackportVersions(ctx context.Context, objinst map[string]any, versions map[string]string) (map[string]any, error)
}

// Serializer is the [serializer.Serializer] for versioned objects (oslo's
// VersionedObjectSerializer, and NovaObjectSerializer with a Nova
// registry). Sending, it writes every [Object] found in an entity (also in
// slices, arrays, maps and structs, and behind pointers and interfaces) as
// its primitive. Receiving, it turns every map carrying "<ns>.name" into
// the registered Go object, in lists and dicts at any depth; an object
// version the registry cannot take is backported through the
// [Indirection] when one is set (oslo's _process_object), and is an
// [*IncompatibleObjectVersionError] otherwise.
//
// The request context is left to another serializer ([WithBase];
// [serializer.NoOp] by default).
type Serializer struct {
	reg  *Registry
	base serializer.Serializer
	ind  Indirection
	caps map[string]string
}

// A SerializerOption configures a [Serializer].
type SerializerOption func(*Serializer)

// WithBase sets the serializer whose context hooks the Serializer uses
// (oslo projects chain a RequestContextSerializer the same way), and whose
// entity hooks run on entities after (sending) or before (receiving) the
// object conversion.
func WithBase(s serializer.Serializer) SerializerOption {
	return func(o *Serializer) { o.base = s }
}

// WithIndirection sets the service asked to backport objects the registry
// cannot take, for example [NewConductorAPI] over a client of the
// conductor topic.
func WithIndirection(ind Indirection) SerializerOption {
	return func(o *Serializer) { o.ind = ind }
}

// VersionCaps caps the versions of the objects the Serializer sends: an
// object whose name caps has, at a newer version, is sent at the capped
// version, and its sub-objects at theirs (through the manifest), for
// peers that know only older versions (as [upgrade_levels] caps RPC API
// versions).
func VersionCaps(caps map[string]string) SerializerOption {
	return func(o *Serializer) { o.caps = caps }
}

// NewSerializer returns a Serializer for the objects of reg.
func NewSerializer(reg *Registry, opts ...SerializerOption) *Serializer {
	s := &Serializer{reg: reg, base: serializer.NoOp{}}
	for _, o := range opts {
		o(s)
	}
	return s
}

// SerializeEntity converts the objects in entity to primitives.
func (s *Serializer) SerializeEntity(ctx context.Context, entity any) (any, error) {
	out, _, err := s.serialize(reflect.ValueOf(entity), 0)
	if err != nil {
		return nil, err
	}
	return s.base.SerializeEntity(ctx, out)
}

// maxDepth bounds the nesting the entity walk follows, against cycles.
const maxDepth = 1000

var errTooDeep = errors.New("objects: entity nested too deeply (a cycle?)")

// serialize returns v with objects replaced by primitives; changed is
// false when v holds no object (and is returned as it is).
func (s *Serializer) serialize(v reflect.Value, depth int) (out any, changed bool, err error) {
	if !v.IsValid() {
		return nil, false, nil
	}
	if depth > maxDepth {
		return nil, false, errTooDeep
	}
	if v.CanInterface() {
		switch x := v.Interface().(type) {
		case Object:
			if v.Kind() == reflect.Pointer && v.IsNil() {
				return nil, true, nil
			}
			p, err := s.reg.toPrimitive(x, s.capped(x))
			return p, true, err
		case *atVersion:
			p, err := s.reg.toPrimitive(x.obj, x.opts)
			return p, true, err
		}
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return v.Interface(), false, nil
		}
		inner, changed, err := s.serialize(v.Elem(), depth+1)
		if !changed || err != nil {
			return v.Interface(), false, err
		}
		return inner, true, nil
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			return v.Interface(), false, nil
		}
		var list []any
		for i := 0; i < v.Len(); i++ {
			e, c, err := s.serialize(v.Index(i), depth+1)
			if err != nil {
				return nil, false, err
			}
			if c && list == nil {
				list = make([]any, v.Len())
				for j := 0; j < i; j++ {
					list[j] = v.Index(j).Interface()
				}
			}
			if list != nil {
				list[i] = e
			}
		}
		if list == nil {
			return v.Interface(), false, nil
		}
		return list, true, nil
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String {
			return v.Interface(), false, nil
		}
		m := make(map[string]any, v.Len())
		any := false
		for it := v.MapRange(); it.Next(); {
			e, c, err := s.serialize(it.Value(), depth+1)
			if err != nil {
				return nil, false, err
			}
			any = any || c
			m[it.Key().String()] = e
		}
		if !any {
			return v.Interface(), false, nil
		}
		return m, true, nil
	case reflect.Struct:
		return s.serializeStruct(v, depth)
	}
	return v.Interface(), false, nil
}

// serializeStruct converts a plain struct holding objects to a map keyed
// as encoding/json names its fields (json tag names, "-", omitempty,
// embedded structs promoted); a struct without objects is left alone.
func (s *Serializer) serializeStruct(v reflect.Value, depth int) (any, bool, error) {
	m := map[string]any{}
	found := false
	for _, sf := range reflect.VisibleFields(v.Type()) {
		if !sf.IsExported() || (sf.Anonymous && sf.Tag.Get("json") == "") {
			continue
		}
		name, opts, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		fv, err := v.FieldByIndexErr(sf.Index)
		if err != nil {
			continue // behind a nil embedded pointer
		}
		if strings.Contains(","+opts+",", ",omitempty,") && fv.IsZero() {
			continue
		}
		if _, taken := m[name]; taken {
			continue
		}
		e, c, err := s.serialize(fv, depth+1)
		if err != nil {
			return nil, false, err
		}
		found = found || c
		m[name] = e
	}
	if !found {
		return v.Interface(), false, nil
	}
	return m, true, nil
}

func (s *Serializer) capped(o Object) primitiveOptions {
	if len(s.caps) == 0 {
		return primitiveOptions{}
	}
	po := primitiveOptions{manifest: s.caps, hasManifest: true}
	sc, err := schemaFor(o)
	if err != nil {
		return po
	}
	if c, ok := s.caps[sc.name]; ok && lessThan(c, VersionOf(o)) {
		po.target = c
	}
	return po
}

// atVersion is an object to send at a given version.
type atVersion struct {
	obj  Object
	opts primitiveOptions
}

// AtVersion returns an entity that a Serializer sends as o at version
// target (made compatible as with [TargetVersion]; opts may add a
// [Manifest]), for a client that found with CanSendVersion that the peer
// takes only an older object version. Only a Serializer understands it.
func AtVersion(o Object, target string, opts ...PrimitiveOption) any {
	po := primitiveOptions{target: target}
	for _, opt := range opts {
		opt(&po)
	}
	return &atVersion{obj: o, opts: po}
}

// DeserializeEntity converts the object primitives in entity to objects.
func (s *Serializer) DeserializeEntity(ctx context.Context, entity any) (any, error) {
	entity, err := s.base.DeserializeEntity(ctx, entity)
	if err != nil {
		return nil, err
	}
	return s.deserialize(ctx, entity, 0)
}

func (s *Serializer) deserialize(ctx context.Context, entity any, depth int) (any, error) {
	if depth > maxDepth {
		return nil, errTooDeep
	}
	switch x := entity.(type) {
	case map[string]any:
		if _, ok := x[s.reg.key("name")]; ok {
			return s.processObject(ctx, x)
		}
		for k, v := range x {
			nv, err := s.deserialize(ctx, v, depth+1)
			if err != nil {
				return nil, err
			}
			x[k] = nv
		}
	case []any:
		for i, v := range x {
			nv, err := s.deserialize(ctx, v, depth+1)
			if err != nil {
				return nil, err
			}
			x[i] = nv
		}
	}
	return entity, nil
}

// processObject is VersionedObjectSerializer._process_object.
func (s *Serializer) processObject(ctx context.Context, prim map[string]any) (any, error) {
	o, err := s.reg.FromPrimitive(prim)
	var iov *IncompatibleObjectVersionError
	if !errors.As(err, &iov) {
		return o, err
	}
	verKey := s.reg.key("version")
	if ver, _ := prim[verKey].(string); strings.Count(ver, ".") == 2 {
		// The .z part of a version is safe to accept without a backport.
		prim[verKey] = ver[:strings.LastIndexByte(ver, '.')]
		return s.processObject(ctx, prim)
	}
	name, _ := prim[s.reg.key("name")].(string)
	if s.ind == nil || s.reg.lookup(name) == nil {
		return nil, err
	}
	versions, verr := s.reg.VersionManifest(name)
	if verr != nil {
		return nil, verr
	}
	back, berr := s.ind.ObjectBackportVersions(ctx, prim, versions)
	if berr != nil {
		return nil, errors.Join(err, berr)
	}
	return s.reg.FromPrimitive(back)
}

// SerializeContext returns the base serializer's context.
func (s *Serializer) SerializeContext(ctx context.Context) (map[string]any, error) {
	return s.base.SerializeContext(ctx)
}

// DeserializeContext returns the base serializer's context.
func (s *Serializer) DeserializeContext(ctx context.Context, rc map[string]any) (context.Context, error) {
	return s.base.DeserializeContext(ctx, rc)
}

var _ serializer.Serializer = (*Serializer)(nil)
