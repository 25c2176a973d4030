package dispatcher

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"unicode"

	"github.com/oslo-go/messaging/serializer"
	"github.com/oslo-go/messaging/target"
)

// Endpoint attaches registration options to an endpoint value; put the
// result in New's list in place of impl. Options override what impl's
// Target method says. Endpoint of an Endpoint result adds the options.
func Endpoint(impl any, opts ...EndpointOption) any {
	if s, ok := impl.(*endpointSpec); ok && s != nil {
		all := append(append([]EndpointOption(nil), s.opts...), opts...)
		return &endpointSpec{impl: s.impl, opts: all}
	}
	return &endpointSpec{impl: impl, opts: opts}
}

type endpointSpec struct {
	impl any
	opts []EndpointOption
}

// EndpointOption configures one endpoint; see [Endpoint].
type EndpointOption func(*endpointOptions)

type endpointOptions struct {
	namespace    *string
	version      *string
	legacy       []string
	legacySet    bool
	names        map[string]string // Go name (or Funcs key) -> wire name
	namesOrder   []string
	expose       []string
	exposeSet    bool
	expectedErrs []error
}

// Namespace sets the endpoint's namespace; "" is oslo's null namespace.
func Namespace(ns string) EndpointOption {
	return func(o *endpointOptions) { o.namespace = &ns }
}

// Version sets the API version the endpoint implements, "X.Y" or "X.Y.Z".
// An endpoint without a version is "1.0".
func Version(v string) EndpointOption {
	return func(o *endpointOptions) { o.version = &v }
}

// LegacyNamespaces sets extra namespaces the endpoint also accepts.
func LegacyNamespaces(ns ...string) EndpointOption {
	return func(o *endpointOptions) {
		o.legacy = append([]string(nil), ns...)
		o.legacySet = true
	}
}

// MethodName sets the wire name of the method goName (for a [Funcs]
// endpoint: of the handler keyed goName), for names the snake_case rule of
// [WireName] does not produce, such as MySQLStats -> mysql_stats.
func MethodName(goName, wireName string) EndpointOption {
	return func(o *endpointOptions) {
		if o.names == nil {
			o.names = map[string]string{}
		}
		if _, ok := o.names[goName]; !ok {
			o.namesOrder = append(o.namesOrder, goName)
		}
		o.names[goName] = wireName
	}
}

// Expose gives the endpoint an explicit access policy (oslo's
// ExplicitRPCAccessPolicy with @expose): only the listed wire names are
// callable. A request for another method of the endpoint is treated as if
// the endpoint did not have it. Several Expose options add up.
func Expose(wireNames ...string) EndpointOption {
	return func(o *endpointOptions) {
		o.expose = append(o.expose, wireNames...)
		o.exposeSet = true
	}
}

// ExpectedErrors declares errors that are a normal outcome of the
// endpoint's methods (oslo's @expected_exceptions): a returned error err
// for which errors.Is(err, e) holds for one of errs is returned as
// [Expected](err). Nil values are ignored.
func ExpectedErrors(errs ...error) EndpointOption {
	return func(o *endpointOptions) {
		for _, e := range errs {
			if e != nil {
				o.expectedErrs = append(o.expectedErrs, e)
			}
		}
	}
}

// Funcs is an endpoint given as explicit handlers keyed by wire name, with
// no reflection. A handler gets the request's encoded args (an empty
// object when the request had none) and decodes them itself with
// args.Decode, or is made by [Func] or [Proc] from a typed function.
type Funcs map[string]func(ctx context.Context, args serializer.Raw) (any, error)

// WireName returns the wire name of a Go method name: snake_case, where an
// underscore goes before an upper-case letter that follows a lower-case
// letter or a digit, and before an upper-case letter that follows an
// upper-case letter and is followed by a lower-case letter; everything is
// lower-cased, and digits never start a word. GetFilesystemStats gives
// get_filesystem_stats, UpdateBackupID update_backup_id, HTTPServer
// http_server, GetV2Stats get_v2_stats.
func WireName(goName string) string {
	r := []rune(goName)
	var b strings.Builder
	b.Grow(len(goName) + 4)
	for i, c := range r {
		if i > 0 && unicode.IsUpper(c) {
			p := r[i-1]
			if unicode.IsLower(p) || unicode.IsDigit(p) ||
				(unicode.IsUpper(p) && i+1 < len(r) && unicode.IsLower(r[i+1])) {
				b.WriteByte('_')
			}
		}
		b.WriteRune(unicode.ToLower(c))
	}
	return b.String()
}

type argKind uint8

const (
	argNone argKind = iota
	argStruct
	argPtrStruct
	argMap
)

// method is one callable method of an endpoint.
type method struct {
	wire   string
	goName string
	recv   reflect.Value // endpoint value (reflected methods)
	fn     reflect.Value // method func taking the receiver first
	funcs  func(context.Context, serializer.Raw) (any, error)
	arg    reflect.Type // parameter type; nil for argNone
	kind   argKind
	// frame is struct{Ctx context.Context; Arg T} (reflected methods;
	// Arg for argStruct and argMap only): one allocation per call holds
	// the ctx as the interface value reflect.Value.Call needs, and the
	// decoded argument, which the call copies. A pointer argument, which
	// the method may keep, has its own allocation.
	frame    reflect.Type
	required []requiredField
	result   bool // returns (R, error)
	allowed  bool // by the access policy
	expected []error
}

type endpoint struct {
	typeName  string // the implementation's Go type name, for Method.Endpoint
	namespace string
	legacy    []string
	version   string         // as registered; "" is 1.0
	ver       target.Version // parsed, 1.0 by default
	methods   map[string]*method
	names     []string // allowed wire names, sorted
}

func (ep *endpoint) accepts(ns string) bool {
	if ep.namespace == ns {
		return true
	}
	for _, l := range ep.legacy {
		if l == ns {
			return true
		}
	}
	return false
}

var (
	contextType = reflect.TypeFor[context.Context]()
	errorType   = reflect.TypeFor[error]()
	targetType  = reflect.TypeFor[target.Target]()
)

// eligible reports whether m, a method of a type's method set (receiver
// first), can be called by the dispatcher, and fills in its signature.
func eligible(m reflect.Method) (*method, bool) {
	if !m.IsExported() {
		return nil, false
	}
	t := m.Type
	if t.NumIn() < 2 || t.NumIn() > 3 || t.In(1) != contextType || t.IsVariadic() {
		return nil, false
	}
	switch t.NumOut() {
	case 1:
		if t.Out(0) != errorType {
			return nil, false
		}
	case 2:
		if t.Out(1) != errorType {
			return nil, false
		}
	default:
		return nil, false
	}
	me := &method{goName: m.Name, fn: m.Func, result: t.NumOut() == 2}
	if t.NumIn() == 3 {
		a := t.In(2)
		me.arg = a
		switch {
		case a.Kind() == reflect.Struct:
			me.kind = argStruct
			me.required = requiredFields(a)
		case a.Kind() == reflect.Pointer && a.Elem().Kind() == reflect.Struct:
			me.kind = argPtrStruct
			me.required = requiredFields(a.Elem())
		case a.Kind() == reflect.Map && a.Key().Kind() == reflect.String:
			me.kind = argMap
		default:
			return nil, false
		}
	}
	fields := []reflect.StructField{{Name: "Ctx", Type: contextType}}
	if me.kind == argStruct || me.kind == argMap {
		fields = append(fields, reflect.StructField{Name: "Arg", Type: me.arg})
	}
	me.frame = reflect.StructOf(fields)
	return me, true
}

func countEligible(t reflect.Type) int {
	n := 0
	for i := 0; i < t.NumMethod(); i++ {
		if _, ok := eligible(t.Method(i)); ok {
			n++
		}
	}
	return n
}

// newEndpoint builds endpoint i of New's list.
func newEndpoint(i int, elem any) (*endpoint, error) {
	var o endpointOptions
	impl := elem
	if s, ok := elem.(*endpointSpec); ok {
		if s == nil {
			return nil, fmt.Errorf("dispatcher: endpoint %d is nil", i)
		}
		impl = s.impl
		for _, opt := range s.opts {
			if opt != nil {
				opt(&o)
			}
		}
	}
	if isNil(impl) {
		return nil, fmt.Errorf("dispatcher: endpoint %d is nil", i)
	}
	name := fmt.Sprintf("endpoint %d (%T)", i, impl)
	ep := &endpoint{methods: map[string]*method{}, typeName: typeName(impl)}

	var all map[string]*method // by Go name or Funcs key
	var order []string
	if f, ok := impl.(Funcs); ok {
		all = make(map[string]*method, len(f))
		for k, fn := range f {
			if fn == nil {
				return nil, fmt.Errorf("dispatcher: %s: handler %q is nil", name, k)
			}
			all[k] = &method{goName: k, wire: k, funcs: fn}
			order = append(order, k)
		}
		if len(all) == 0 {
			return nil, fmt.Errorf("dispatcher: %s has no handlers", name)
		}
	} else {
		v := reflect.ValueOf(impl)
		t := v.Type()
		all = map[string]*method{}
		for j := 0; j < t.NumMethod(); j++ {
			rm := t.Method(j)
			if rm.Name == "Target" && rm.Type.NumIn() == 1 && rm.Type.NumOut() == 1 && rm.Type.Out(0) == targetType {
				tg, err := callTarget(v.Method(j))
				if err != nil {
					return nil, fmt.Errorf("dispatcher: %s: %w", name, err)
				}
				ep.namespace, ep.version, ep.legacy = tg.Namespace, tg.Version, append([]string(nil), tg.LegacyNamespaces...)
				continue
			}
			m, ok := eligible(rm)
			if !ok {
				continue
			}
			m.recv = v
			m.wire = WireName(rm.Name)
			all[rm.Name] = m
			order = append(order, rm.Name)
		}
		if len(all) == 0 {
			hint := ": an eligible method is exported, takes context.Context first, optionally a struct, " +
				"pointer to struct or map with string keys, and returns error or (R, error)"
			if t.Kind() != reflect.Pointer && countEligible(reflect.PointerTo(t)) > 0 {
				hint = " (pass a pointer?)"
			}
			return nil, fmt.Errorf("dispatcher: %s has no eligible methods%s", name, hint)
		}
	}

	if o.namespace != nil {
		ep.namespace = *o.namespace
	}
	if o.version != nil {
		ep.version = *o.version
	}
	if o.legacySet {
		ep.legacy = o.legacy
	}
	ep.ver = target.Version{Major: 1}
	if ep.version != "" {
		pv, err := target.ParseVersion(ep.version)
		if err != nil {
			return nil, fmt.Errorf("dispatcher: %s: invalid version %q: must be \"X.Y\" or \"X.Y.Z\"", name, ep.version)
		}
		ep.ver = pv
	}

	for _, goName := range o.namesOrder {
		m, ok := all[goName]
		if !ok {
			return nil, fmt.Errorf("dispatcher: %s: MethodName(%q, ...): no such method", name, goName)
		}
		m.wire = o.names[goName]
	}
	sort.Strings(order)
	byWire := make(map[string]string, len(all)) // wire -> Go name
	for _, goName := range order {
		m := all[goName]
		if m.wire == "" || strings.HasPrefix(m.wire, "_") {
			return nil, fmt.Errorf("dispatcher: %s: invalid wire name %q for %s: must be non-empty and not start with '_' (oslo's default access policy)", name, m.wire, goName)
		}
		if prev, dup := byWire[m.wire]; dup {
			return nil, fmt.Errorf("dispatcher: %s: methods %s and %s both have wire name %q (use MethodName)", name, prev, goName, m.wire)
		}
		byWire[m.wire] = goName
		m.allowed = !o.exposeSet
		m.expected = o.expectedErrs
		ep.methods[m.wire] = m
	}
	for _, w := range o.expose {
		m, ok := ep.methods[w]
		if !ok {
			return nil, fmt.Errorf("dispatcher: %s: Expose(%q): no such method", name, w)
		}
		m.allowed = true
	}
	for w, m := range ep.methods {
		if m.allowed {
			ep.names = append(ep.names, w)
		}
	}
	sort.Strings(ep.names)
	return ep, nil
}

func isNil(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Func, reflect.Chan, reflect.Interface, reflect.Slice:
		return rv.IsNil()
	}
	return false
}

func callTarget(fn reflect.Value) (tg target.Target, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("Target() panicked: %v", r)
		}
	}()
	return fn.Call(nil)[0].Interface().(target.Target), nil
}

// requiredField is a top-level argument key that must be present.
type requiredField struct {
	name string   // the key, as the json tag (or field name) gives it
	alt  []string // other accepted spellings (msgpack tag)
}

// requiredFields lists the fields of struct type t (and the promoted fields
// of its embedded structs) tagged rpc:"required".
func requiredFields(t reflect.Type) []requiredField {
	var out []requiredField
	seen := map[reflect.Type]bool{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		if seen[t] {
			return
		}
		seen[t] = true
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			jsonName, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if f.Tag.Get("json") == "-" {
				continue
			}
			if f.Anonymous && jsonName == "" {
				ft := f.Type
				if ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if ft.Kind() == reflect.Struct {
					walk(ft)
					continue
				}
			}
			if !f.IsExported() || !hasOption(f.Tag.Get("rpc"), "required") {
				continue
			}
			rf := requiredField{name: jsonName}
			if rf.name == "" {
				rf.name = f.Name
			}
			if mp, _, _ := strings.Cut(f.Tag.Get("msgpack"), ","); mp != "" && mp != "-" && mp != rf.name {
				rf.alt = append(rf.alt, mp)
			}
			out = append(out, rf)
		}
	}
	walk(t)
	return out
}

func hasOption(tag, opt string) bool {
	for _, s := range strings.Split(tag, ",") {
		if strings.TrimSpace(s) == opt {
			return true
		}
	}
	return false
}

// missingField returns the first required field absent or null in kw, or
// "". Keys match as encoding/json matches them: exactly, else ignoring
// case.
func missingField(kw map[string]any, req []requiredField) string {
	for _, f := range req {
		if !present(kw, f.name) && !presentAlt(kw, f.alt) {
			return f.name
		}
	}
	return ""
}

func presentAlt(kw map[string]any, names []string) bool {
	for _, n := range names {
		if present(kw, n) {
			return true
		}
	}
	return false
}

func present(kw map[string]any, name string) bool {
	if v, ok := kw[name]; ok {
		return v != nil
	}
	for k, v := range kw {
		if v != nil && strings.EqualFold(k, name) {
			return true
		}
	}
	return false
}

// typeName is the name of v's type, without pointers.
func typeName(v any) string {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Name() == "" {
		return t.String()
	}
	return t.Name()
}
