package objects

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// kind is an oslo field type.
type kind uint8

const (
	kString   kind = iota // String, or a Go string without options
	kUUID                 // UUID
	kEnum                 // Enum(valid_values)
	kInt                  // Integer
	kFloat                // Float
	kBool                 // Boolean
	kDateTime             // DateTime
	kIPAddr               // IPAddress, IPV4Address, IPV6Address
	kIPNet                // IPNetwork, IPV4Network, IPV6Network
	kList                 // List(elem)
	kSet                  // Set(elem): a list on the wire
	kDict                 // Dict(elem): string keys
	kObject               // Object(name)
	kAny                  // FieldType(): the value as it is
)

// ftype is the type of a field or of an element of a compound field.
type ftype struct {
	kind     kind
	gotype   reflect.Type // the Go type of the value
	ptr      bool         // a pointer to a scalar: nil is None
	nullable bool         // None is accepted
	enum     []string
	ipv      int  // 4 or 6 to restrict IP fields
	naive    bool // DateTime(tzinfo_aware=False)
	setMap   bool // a Set held as map[K]struct{}
	elem     *ftype
}

var (
	timeType   = reflect.TypeFor[time.Time]()
	addrType   = reflect.TypeFor[netip.Addr]()
	prefixType = reflect.TypeFor[netip.Prefix]()
	objectType = reflect.TypeFor[Object]()
)

// tagOpts are the options of an obj struct tag that shape the field type.
type tagOpts struct {
	nullable, uuid, set, naive bool
	enum                       []string
	ipv                        int
}

// buildType maps a Go type to an oslo field type.
func buildType(t reflect.Type, o tagOpts) (*ftype, error) {
	ft := &ftype{gotype: t}
	if t.Implements(objectType) {
		if t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
			return nil, fmt.Errorf("an object field must be a pointer to a struct, not %s", t)
		}
		ft.kind = kObject
		return ft, nil
	}
	if t.Kind() == reflect.Pointer {
		inner, err := buildType(t.Elem(), o)
		if err != nil {
			return nil, err
		}
		if inner.ptr || inner.kind == kObject {
			return nil, fmt.Errorf("pointer to pointer %s", t)
		}
		inner.gotype, inner.ptr = t, true
		return inner, nil
	}
	switch {
	case t == timeType:
		ft.kind, ft.naive = kDateTime, o.naive
		return ft, nil
	case t == addrType:
		ft.kind, ft.ipv = kIPAddr, o.ipv
		return ft, nil
	case t == prefixType:
		ft.kind, ft.ipv = kIPNet, o.ipv
		return ft, nil
	}
	switch t.Kind() {
	case reflect.String:
		switch {
		case o.uuid:
			ft.kind = kUUID
		case len(o.enum) > 0:
			ft.kind, ft.enum = kEnum, o.enum
		default:
			ft.kind = kString
		}
	case reflect.Bool:
		ft.kind = kBool
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		ft.kind = kInt
	case reflect.Float32, reflect.Float64:
		ft.kind = kFloat
	case reflect.Slice:
		elem, err := buildElem(t.Elem(), o)
		if err != nil {
			return nil, err
		}
		ft.kind, ft.elem = kList, elem
		if o.set {
			ft.kind = kSet
			if !t.Elem().Comparable() || elem.kind == kObject || elem.ptr {
				return nil, fmt.Errorf("set elements of %s are not hashable", t)
			}
		}
	case reflect.Map:
		if t.Elem().Kind() == reflect.Struct && t.Elem().NumField() == 0 {
			elem, err := buildElem(t.Key(), o)
			if err != nil {
				return nil, err
			}
			if elem.kind == kObject || elem.ptr {
				return nil, fmt.Errorf("set elements of %s are not hashable", t)
			}
			ft.kind, ft.elem, ft.setMap = kSet, elem, true
			return ft, nil
		}
		if t.Key().Kind() != reflect.String {
			return nil, fmt.Errorf("a dict field needs string keys, not %s", t)
		}
		elem, err := buildElem(t.Elem(), o)
		if err != nil {
			return nil, err
		}
		ft.kind, ft.elem = kDict, elem
	case reflect.Interface:
		if t.NumMethod() != 0 {
			return nil, fmt.Errorf("unsupported interface type %s", t)
		}
		ft.kind = kAny
		ft.nullable = true
	default:
		return nil, fmt.Errorf("unsupported Go type %s", t)
	}
	return ft, nil
}

// buildElem builds the type of a compound field's elements: pointers to
// scalars and any are nullable elements (DictOfNullableStrings).
func buildElem(t reflect.Type, o tagOpts) (*ftype, error) {
	ft, err := buildType(t, tagOpts{uuid: o.uuid, enum: o.enum, ipv: o.ipv, naive: o.naive})
	if err != nil {
		return nil, err
	}
	ft.nullable = ft.ptr || ft.kind == kAny
	return ft, nil
}

// codec carries what converting values needs: the registry (for nested
// objects' keys) and where the value is, for error messages.
type codec struct {
	reg *Registry
	obj string // object name
}

func (c codec) fail(attr, class, msg string) error {
	return &FieldError{Object: c.obj, Field: attr, Class: class, Msg: msg}
}

// toPrimitive converts a Go value to its wire form.
func (c codec) toPrimitive(ft *ftype, attr string, v reflect.Value) (any, error) {
	if ft.ptr || ft.kind == kObject || ft.kind == kAny {
		if v.IsNil() {
			return nil, nil
		}
		if ft.ptr {
			v = v.Elem()
		}
	}
	switch ft.kind {
	case kString, kUUID:
		return v.String(), nil
	case kEnum:
		s := v.String()
		if !slices.Contains(ft.enum, s) {
			return nil, c.fail(attr, "ValueError", "Field value "+s+" is invalid")
		}
		return s, nil
	case kInt:
		if v.CanInt() {
			return v.Int(), nil
		}
		return v.Uint(), nil
	case kFloat:
		return v.Float(), nil
	case kBool:
		return v.Bool(), nil
	case kDateTime:
		return isotime(v.Interface().(time.Time), ft.naive), nil
	case kIPAddr:
		a := v.Interface().(netip.Addr)
		if !a.IsValid() {
			return nil, c.fail(attr, "ValueError", "the zero netip.Addr is not an IP address")
		}
		return a.String(), nil
	case kIPNet:
		p := v.Interface().(netip.Prefix)
		if !p.IsValid() {
			return nil, c.fail(attr, "ValueError", "the zero netip.Prefix is not an IP network")
		}
		return p.String(), nil
	case kList:
		out := make([]any, v.Len())
		for i := range out {
			p, err := c.toPrimitive(ft.elem, attr, v.Index(i))
			if err != nil {
				return nil, err
			}
			out[i] = p
		}
		return out, nil
	case kSet:
		var out []any
		add := func(e reflect.Value) error {
			p, err := c.toPrimitive(ft.elem, attr, e)
			out = append(out, p)
			return err
		}
		if ft.setMap {
			out = make([]any, 0, v.Len())
			for it := v.MapRange(); it.Next(); {
				if err := add(it.Key()); err != nil {
					return nil, err
				}
			}
		} else {
			out = make([]any, 0, v.Len())
			for i := 0; i < v.Len(); i++ {
				if err := add(v.Index(i)); err != nil {
					return nil, err
				}
			}
		}
		slices.SortFunc(out, comparePrimitive)
		return slices.CompactFunc(out, func(a, b any) bool { return comparePrimitive(a, b) == 0 }), nil
	case kDict:
		out := make(map[string]any, v.Len())
		for it := v.MapRange(); it.Next(); {
			k := it.Key().String()
			p, err := c.toPrimitive(ft.elem, attr+`["`+k+`"]`, it.Value())
			if err != nil {
				return nil, err
			}
			out[k] = p
		}
		return out, nil
	case kObject:
		return c.reg.toPrimitive(v.Interface().(Object), primitiveOptions{})
	case kAny:
		return v.Elem().Interface(), nil
	}
	return nil, fmt.Errorf("objects: unknown field kind %d", ft.kind)
}

// comparePrimitive orders the scalar wire values of a set, so that sets
// are written in a stable order.
func comparePrimitive(a, b any) int {
	af, aNum := toFloat(a)
	bf, bNum := toFloat(b)
	switch {
	case aNum && bNum:
		return cmp.Compare(af, bf)
	case aNum:
		return -1
	case bNum:
		return 1
	}
	return strings.Compare(fmt.Sprint(a), fmt.Sprint(b))
}

func toFloat(v any) (float64, bool) {
	switch v := v.(type) {
	case int64:
		return float64(v), true
	case uint64:
		return float64(v), true
	case float64:
		return v, true
	}
	return 0, false
}

// fromPrimitive decodes wire value p into dst (settable, of ft.gotype),
// applying oslo's from_primitive and coerce.
func (c codec) fromPrimitive(ft *ftype, attr string, p any, dst reflect.Value, def *field) error {
	if p == nil {
		if ft.nullable {
			dst.SetZero()
			return nil
		}
		if def != nil && def.hasDefault {
			return c.fromPrimitive(ft, attr, def.def, dst, nil)
		}
		return c.fail(attr, "ValueError", "Field `"+attr+"' cannot be None")
	}
	if ft.ptr {
		nv := reflect.New(ft.gotype.Elem())
		inner := *ft
		inner.ptr, inner.gotype = false, ft.gotype.Elem()
		if err := c.fromPrimitive(&inner, attr, p, nv.Elem(), nil); err != nil {
			return err
		}
		dst.Set(nv)
		return nil
	}
	switch ft.kind {
	case kString:
		s, ok := pyStr(p)
		if !ok {
			return c.fail(attr, "ValueError", "A string is required in field "+attr+", not a "+pyTypeName(p))
		}
		dst.SetString(s)
	case kUUID:
		s, ok := pyStr(p)
		if !ok {
			return c.fail(attr, "ValueError", "A UUID is required in field "+attr+", not a "+pyTypeName(p))
		}
		dst.SetString(s)
	case kEnum:
		s, ok := p.(string)
		if !ok || !slices.Contains(ft.enum, s) {
			v, _ := pyStr(p)
			if !ok && v == "" {
				v = pyTypeName(p)
			}
			return c.fail(attr, "ValueError", "Field value "+v+" is invalid")
		}
		dst.SetString(s)
	case kInt:
		n, class, msg := pyInt(p)
		if class != "" {
			return c.fail(attr, class, msg)
		}
		if dst.CanInt() {
			if dst.OverflowInt(n) {
				return c.fail(attr, "ValueError", "integer "+strconv.FormatInt(n, 10)+" does not fit in "+dst.Type().String())
			}
			dst.SetInt(n)
		} else {
			if n < 0 || dst.OverflowUint(uint64(n)) {
				return c.fail(attr, "ValueError", "integer "+strconv.FormatInt(n, 10)+" does not fit in "+dst.Type().String())
			}
			dst.SetUint(uint64(n))
		}
	case kFloat:
		f, class, msg := pyFloat(p)
		if class != "" {
			return c.fail(attr, class, msg)
		}
		if dst.Kind() == reflect.Float32 && math.Abs(f) > math.MaxFloat32 && !math.IsInf(f, 0) {
			return c.fail(attr, "OverflowError", "float "+pyFloatRepr(f)+" does not fit in float32")
		}
		dst.SetFloat(f)
	case kBool:
		dst.SetBool(pyBool(p))
	case kDateTime:
		s, ok := p.(string)
		if !ok {
			return c.fail(attr, "ValueError", "expected string or bytes-like object, got '"+pyTypeName(p)+"'")
		}
		t, msg, ok := parseISOTime(s)
		if !ok {
			return c.fail(attr, "ValueError", msg)
		}
		dst.Set(reflect.ValueOf(coerceTime(t, ft.naive)))
	case kIPAddr:
		a, err := parseAddr(p)
		if err == "" && ft.ipv != 0 && !isVersion(a, ft.ipv) {
			err = fmt.Sprintf("Network %q is not valid in field %s", fmt.Sprint(p), attr)
		}
		if err != "" {
			return c.fail(attr, "ValueError", err)
		}
		dst.Set(reflect.ValueOf(a))
	case kIPNet:
		s, _ := p.(string)
		pr, err := netip.ParsePrefix(s)
		if err != nil { // netaddr.IPNetwork takes a bare address as a host network
			if a, aerr := netip.ParseAddr(s); aerr == nil {
				pr, err = netip.PrefixFrom(a, a.BitLen()), nil
			}
		}
		if err != nil || (ft.ipv != 0 && !isVersion(pr.Addr(), ft.ipv)) {
			return c.fail(attr, "ValueError", "invalid IPNetwork "+fmt.Sprint(p))
		}
		dst.Set(reflect.ValueOf(pr))
	case kList, kSet:
		list, ok := p.([]any)
		if !ok {
			what := "list"
			if ft.kind == kSet {
				what = "set"
			}
			return c.fail(attr, "ValueError", "A "+what+" is required in field "+attr+", not a "+pyTypeName(p))
		}
		return c.listFromPrimitive(ft, attr, list, dst)
	case kDict:
		m, ok := p.(map[string]any)
		if !ok {
			return c.fail(attr, "ValueError", "A dict is required in field "+attr+", not a "+pyTypeName(p))
		}
		out := reflect.MakeMapWithSize(ft.gotype, len(m))
		for k, e := range m {
			ev := reflect.New(ft.elem.gotype).Elem()
			if err := c.fromPrimitive(ft.elem, attr+"["+k+"]", e, ev, nil); err != nil {
				return err
			}
			out.SetMapIndex(reflect.ValueOf(k).Convert(ft.gotype.Key()), ev)
		}
		dst.Set(out)
	case kObject:
		m, ok := p.(map[string]any)
		want := ft.gotype.Elem().Name()
		if s := schemaOf(ft.gotype); s != nil {
			want = s.name
		}
		if !ok || m[c.reg.key("name")] != want {
			got := pyTypeName(p)
			if ok {
				got, _ = m[c.reg.key("name")].(string)
			}
			return c.fail(attr, "ValueError", "An object of type "+want+" is required in field "+attr+", not a "+got)
		}
		obj, err := c.reg.fromPrimitive(m, ft.gotype)
		if err != nil {
			return err
		}
		dst.Set(reflect.ValueOf(obj))
	case kAny:
		dst.Set(reflect.ValueOf(p))
	}
	return nil
}

func (c codec) listFromPrimitive(ft *ftype, attr string, list []any, dst reflect.Value) error {
	if ft.setMap {
		out := reflect.MakeMapWithSize(ft.gotype, len(list))
		for _, e := range list {
			kv := reflect.New(ft.elem.gotype).Elem()
			ev, _ := pyStr(e)
			if err := c.fromPrimitive(ft.elem, attr+"["+ev+"]", e, kv, nil); err != nil {
				return err
			}
			out.SetMapIndex(kv, reflect.ValueOf(struct{}{}))
		}
		dst.Set(out)
		return nil
	}
	out := reflect.MakeSlice(ft.gotype, 0, len(list))
	for i, e := range list {
		ev := reflect.New(ft.elem.gotype).Elem()
		name := attr + "[" + strconv.Itoa(i) + "]"
		if ft.kind == kSet {
			s, _ := pyStr(e)
			name = attr + "[" + s + "]"
		}
		if err := c.fromPrimitive(ft.elem, name, e, ev, nil); err != nil {
			return err
		}
		out = reflect.Append(out, ev)
	}
	if ft.kind == kSet {
		out = dedupe(out)
	}
	dst.Set(out)
	return nil
}

// dedupe removes repeated elements of a slice of comparable values,
// keeping the first of each: a Set received as a list with repeats.
func dedupe(s reflect.Value) reflect.Value {
	seen := make(map[any]bool, s.Len())
	out := reflect.MakeSlice(s.Type(), 0, s.Len())
	for i := 0; i < s.Len(); i++ {
		k := s.Index(i).Interface()
		if seen[k] {
			continue
		}
		seen[k] = true
		out = reflect.Append(out, s.Index(i))
	}
	return out
}

// parseAddr is netaddr.IPAddress(value) for a string or an integer.
func parseAddr(p any) (netip.Addr, string) {
	if s, ok := p.(string); ok {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return netip.Addr{}, "failed to detect a valid IP address from " + pyRepr(s)
		}
		return a, ""
	}
	i, _, isInt, ok := number(p)
	if !ok || !isInt || i.Sign() < 0 || i.BitLen() > 128 {
		return netip.Addr{}, fmt.Sprintf("failed to detect a valid IP address from %v", p)
	}
	var b [16]byte
	i.FillBytes(b[:])
	if i.BitLen() <= 32 {
		return netip.AddrFrom4([4]byte(b[12:])), ""
	}
	return netip.AddrFrom16(b), ""
}

func isVersion(a netip.Addr, v int) bool {
	if v == 4 {
		return a.Is4()
	}
	return a.Is6()
}

// parseDefault reads the default=... value of a struct tag as a wire
// value: JSON when it parses, else the text itself as a string.
func parseDefault(s string) any {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return s
	}
	return v
}
