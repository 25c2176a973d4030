package dispatcher

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/oslo-go/messaging/serializer"
	"github.com/oslo-go/messaging/target"
)

type eligArgs struct{ A string }

// eligibility has one method per rule; only the Ok* ones are eligible.
type eligibility struct{}

func (*eligibility) OkNoArg(context.Context) error                                   { return nil }
func (*eligibility) OkStruct(context.Context, eligArgs) error                        { return nil }
func (*eligibility) OkPtrStruct(context.Context, *eligArgs) (int, error)             { return 0, nil }
func (*eligibility) OkMap(context.Context, map[string]any) (map[string]any, error)   { return nil, nil }
func (*eligibility) OkNamedStringKeys(context.Context, map[keyName]int) (any, error) { return nil, nil }
func (*eligibility) NoContext(eligArgs) error                                        { return nil }
func (*eligibility) NoArgsAtAll() error                                              { return nil }
func (*eligibility) CtxSecond(eligArgs, context.Context) error                       { return nil }
func (*eligibility) ConcreteCtx(*ctxImpl) error                                      { return nil }
func (*eligibility) TooMany(context.Context, eligArgs, eligArgs) error               { return nil }
func (*eligibility) ScalarArg(context.Context, string) error                         { return nil }
func (*eligibility) SliceArg(context.Context, []eligArgs) error                      { return nil }
func (*eligibility) PtrPtrArg(context.Context, **eligArgs) error                     { return nil }
func (*eligibility) IntKeys(context.Context, map[int]string) error                   { return nil }
func (*eligibility) Variadic(context.Context, ...eligArgs) error                     { return nil }
func (*eligibility) NoError(context.Context) int                                     { return 0 }

//lint:ignore ST1008 the test needs a method with the error first (ineligible)
func (*eligibility) ErrorFirst(context.Context) (error, int)        { return nil, 0 }
func (*eligibility) ThreeResults(context.Context) (int, int, error) { return 0, 0, nil }
func (*eligibility) NoResults(context.Context)                      {}
func (*eligibility) CustomErr(context.Context) *customErr           { return nil }
func (*eligibility) unexported(context.Context) error               { return nil }
func (*eligibility) Target() target.Target {
	return target.Target{Namespace: "elig", Version: "2.3", LegacyNamespaces: []string{"old"}}
}

type keyName string
type ctxImpl struct{ context.Context }
type customErr struct{}

func (*customErr) Error() string { return "custom" }

func TestEligibility(t *testing.T) {
	e := &eligibility{}
	_ = e.unexported
	d, err := New([]any{e})
	if err != nil {
		t.Fatal(err)
	}
	want := []Method{
		{"eligibility", "elig", "2.3", "ok_map"},
		{"eligibility", "elig", "2.3", "ok_named_string_keys"},
		{"eligibility", "elig", "2.3", "ok_no_arg"},
		{"eligibility", "elig", "2.3", "ok_ptr_struct"},
		{"eligibility", "elig", "2.3", "ok_struct"},
	}
	if got := d.Methods(); !reflect.DeepEqual(got, want) {
		t.Errorf("Methods() = %v\nwant %v", got, want)
	}
	// The Target method gave namespace, version and legacy namespaces.
	for _, ns := range []string{"elig", "old"} {
		if _, err := d.Dispatch(context.Background(), &Request{Method: "ok_no_arg", Namespace: ns, Version: "2.1"}); err != nil {
			t.Errorf("namespace %q: %v", ns, err)
		}
	}
	if _, err := d.Dispatch(context.Background(), &Request{Method: "ok_no_arg"}); !errors.Is(err, ErrUnsupportedVersion) {
		t.Errorf("null namespace: err = %v, want UnsupportedVersion", err)
	}
	// Registration options override the Target method, each on its own.
	d, err = New([]any{Endpoint(e, Namespace(""), Version("1.1"))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Dispatch(context.Background(), &Request{Method: "ok_no_arg"}); err != nil {
		t.Errorf("overridden target: %v", err)
	}
	if _, err := d.Dispatch(context.Background(), &Request{Method: "ok_no_arg", Namespace: "old"}); err != nil {
		t.Errorf("legacy namespace from Target kept: %v", err)
	}
	d, err = New([]any{Endpoint(e, LegacyNamespaces())})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Dispatch(context.Background(), &Request{Method: "ok_no_arg", Namespace: "old", Version: "2.0"}); !errors.Is(err, ErrUnsupportedVersion) {
		t.Errorf("legacy namespaces overridden: err = %v", err)
	}
}

type valueEP struct{}

func (valueEP) Get(context.Context) error { return nil }

type ptrOnly struct{}

func (*ptrOnly) Get(context.Context) error { return nil }

type nothing struct{}

func (nothing) Hello() string { return "" }

type dupNames struct{}

func (*dupNames) GetID(context.Context) error { return nil }
func (*dupNames) GetId(context.Context) error { return nil }

type panickyTarget struct{}

func (*panickyTarget) Target() target.Target     { panic("boom") }
func (*panickyTarget) Get(context.Context) error { return nil }

type badTargetVersion struct{}

func (*badTargetVersion) Target() target.Target     { return target.Target{Version: "1"} }
func (*badTargetVersion) Get(context.Context) error { return nil }

func TestNewErrors(t *testing.T) {
	get := func(context.Context, serializer.Raw) (any, error) { return nil, nil }
	tests := []struct {
		name      string
		endpoints []any
		opts      []Option
		want      string // substring of the error
	}{
		{"nil element", []any{&ptrOnly{}, nil}, nil, "endpoint 1 is nil"},
		{"nil pointer", []any{(*ptrOnly)(nil)}, nil, "endpoint 0 is nil"},
		{"nil in Endpoint", []any{Endpoint(nil, Version("1.0"))}, nil, "endpoint 0 is nil"},
		{"nil Funcs", []any{Funcs(nil)}, nil, "endpoint 0 is nil"},
		{"empty Funcs", []any{Funcs{}}, nil, "has no handlers"},
		{"nil Funcs handler", []any{Funcs{"a": nil}}, nil, `handler "a" is nil`},
		{"value needs pointer", []any{ptrOnly{}}, nil, "has no eligible methods (pass a pointer?)"},
		{"no eligible", []any{nothing{}}, nil, "endpoint 0 (dispatcher.nothing) has no eligible methods: an eligible method is exported"},
		{"no eligible pointer", []any{&nothing{}}, nil, "has no eligible methods: "},
		{"duplicate wire names", []any{&dupNames{}}, nil, `methods GetID and GetId both have wire name "get_id" (use MethodName)`},
		{"duplicate after MethodName", []any{Endpoint(&eligibility{}, MethodName("OkMap", "ok_struct"))}, nil, `both have wire name "ok_struct"`},
		{"MethodName unknown", []any{Endpoint(&ptrOnly{}, MethodName("Put", "put"))}, nil, `MethodName("Put", ...): no such method`},
		{"MethodName ineligible", []any{Endpoint(&eligibility{}, MethodName("NoContext", "x"))}, nil, `MethodName("NoContext", ...): no such method`},
		{"MethodName empty", []any{Endpoint(&ptrOnly{}, MethodName("Get", ""))}, nil, `invalid wire name ""`},
		{"MethodName private", []any{Endpoint(&ptrOnly{}, MethodName("Get", "_get"))}, nil, `invalid wire name "_get"`},
		{"Funcs private", []any{Funcs{"_x": get}}, nil, `invalid wire name "_x"`},
		{"Expose unknown", []any{Endpoint(&ptrOnly{}, Expose("get", "put"))}, nil, `Expose("put"): no such method`},
		{"Expose Go name", []any{Endpoint(&ptrOnly{}, Expose("Get"))}, nil, `Expose("Get"): no such method`},
		{"bad Version", []any{Endpoint(&ptrOnly{}, Version("1"))}, nil, `invalid version "1"`},
		{"bad Version 4 parts", []any{Endpoint(&ptrOnly{}, Version("1.2.3.4"))}, nil, `invalid version "1.2.3.4"`},
		{"bad Target version", []any{&badTargetVersion{}}, nil, `invalid version "1"`},
		{"Target panics", []any{&panickyTarget{}}, nil, "Target() panicked: boom"},
		{"nil middleware", []any{&ptrOnly{}}, []Option{WithMiddleware(nil)}, "middleware 0 is nil"},
		{"middleware returns nil", []any{&ptrOnly{}}, []Option{WithMiddleware(func(Handler) Handler { return nil })}, "middleware 0 returned a nil Handler"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := New(tt.endpoints, tt.opts...)
			if err == nil {
				t.Fatalf("New succeeded (%v), want error containing %q", d.Methods(), tt.want)
			}
			if !strings.HasPrefix(err.Error(), "dispatcher: ") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %q, want it to start with \"dispatcher: \" and contain %q", err, tt.want)
			}
		})
	}
}

func TestNewAccepts(t *testing.T) {
	tests := []struct {
		name      string
		endpoints []any
		want      []Method
	}{
		{"no endpoints", nil, nil},
		{"value receiver", []any{valueEP{}}, []Method{{Name: "get"}}},
		{"pointer to value receiver", []any{&valueEP{}}, []Method{{Name: "get"}}},
		{"MethodName", []any{Endpoint(&ptrOnly{}, MethodName("Get", "fetch"))}, []Method{{Name: "fetch"}}},
		{"MethodName resolves duplicate", []any{Endpoint(&dupNames{}, MethodName("GetId", "get_id_legacy"))},
			[]Method{{Name: "get_id"}, {Name: "get_id_legacy"}}},
		{"Expose", []any{Endpoint(&dupNames{}, MethodName("GetId", "x"), Expose("x"))}, []Method{{Name: "x"}}},
		{"Expose nothing", []any{Endpoint(&ptrOnly{}, Expose())}, nil},
		{"X.Y.Z version", []any{Endpoint(&ptrOnly{}, Version("1.2.3"), Namespace("ns"))}, []Method{{Namespace: "ns", Version: "1.2.3", Name: "get"}}},
		{"Funcs", []any{Funcs{"b": nil2, "a": nil2}}, []Method{{Name: "a"}, {Name: "b"}}},
		{"Funcs MethodName", []any{Endpoint(Funcs{"b": nil2}, MethodName("b", "c"))}, []Method{{Name: "c"}}},
		{"nested Endpoint", []any{Endpoint(Endpoint(&ptrOnly{}, Version("1.1")), Namespace("n"))}, []Method{{Namespace: "n", Version: "1.1", Name: "get"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := New(tt.endpoints)
			if err != nil {
				t.Fatal(err)
			}
			got := d.Methods()
			for i := range got {
				got[i].Endpoint = "" // this test is about what is accepted
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Methods() = %v, want %v", got, tt.want)
			}
		})
	}
}

func nil2(context.Context, serializer.Raw) (any, error) { return nil, nil }
