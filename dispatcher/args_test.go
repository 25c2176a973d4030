package dispatcher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oslo-go/messaging/serializer"
	"github.com/oslo-go/messaging/serializer/msgpack"
)

type FSArgs struct {
	FSPath string `json:"fs_path" rpc:"required"`
	Limit  int64  `json:"limit"`
	Opts   FSOpts `json:"opts"`
}

type FSOpts struct {
	Depth int      `json:"depth"`
	Tags  []string `json:"tags"`
	Flag  bool     `json:"flag" rpc:"required"` // nested: not checked
}

type FSStats struct {
	Path  string
	Used  int64
	Depth int
	Tags  []string
}

type Base struct {
	Name string `json:"name" rpc:"required"`
}

type EmbArgs struct {
	*Base
	Size  int    `json:"size,omitempty" rpc:"required,other"`
	Alias string `json:"alias" msgpack:"al" rpc:"required"`
	Plain string
	Skip  string `json:"-" rpc:"required"`
	Label
	Inner Wrapper   `json:"inner"`
	List  []Wrapper `json:"list"`
}

// Label is an embedded non-struct: a field named Label.
type Label string

type Wrapper struct{ Deeper }

type Deeper struct {
	Deep int `json:"deep"`
}

type OptArgs struct {
	Msg  string `json:"msg"`
	Fail bool   `json:"fail"`
}

type argsEP struct{}

func (*argsEP) GetFilesystemStats(_ context.Context, a FSArgs) (FSStats, error) {
	return FSStats{Path: a.FSPath, Used: a.Limit, Depth: a.Opts.Depth, Tags: a.Opts.Tags}, nil
}
func (*argsEP) PtrArgs(_ context.Context, a *FSArgs) (*FSArgs, error)               { return a, nil }
func (*argsEP) Optional(_ context.Context, a OptArgs) (OptArgs, error)              { return a, nil }
func (*argsEP) MapArgs(_ context.Context, m map[string]any) (map[string]any, error) { return m, nil }
func (*argsEP) IntMap(_ context.Context, m map[string]int) (map[string]int, error)  { return m, nil }
func (*argsEP) NoArgs(context.Context) (string, error)                              { return "none", nil }
func (*argsEP) Embedded(_ context.Context, a EmbArgs) (string, error) {
	return fmt.Sprintf("%s/%d/%s", a.Name, a.Size, a.Alias), nil
}
func (*argsEP) OnlyErr(_ context.Context, a OptArgs) error {
	if a.Fail {
		return errors.New(a.Msg)
	}
	return nil
}
func (*argsEP) ResultAndErr(context.Context) (string, error) { return "partial", errors.New("failed") }
func (*argsEP) Panics(_ context.Context, a OptArgs) (string, error) {
	if a.Msg == "nil" {
		panic(nil)
	}
	panic(a.Msg)
}

// jsonError returns encoding/json's error for decoding s into a map.
func jsonError(s string) string {
	var m map[string]any
	return fmt.Sprint(json.Unmarshal([]byte(s), &m))
}

// argsRequest returns a request for method with args; "-" means no args.
func argsRequest(method, args string) *Request {
	r := &Request{Method: method}
	if args != "-" {
		r.Args = raw(args)
	}
	return r
}

const typeErr = "builtins.TypeError: "

// argCase is a request's method and args, and the outcome of dispatching
// it: the result as %+v prints it, or the error as outcome gives it.
type argCase struct {
	method, args string
	want         string
}

// argCases are the cases of TestArguments, for the methods of argsEP.
var argCases = []argCase{
	{"get_filesystem_stats", `{"fs_path": "/var", "limit": 10, "opts": {"depth": 2, "tags": ["a"]}}`, "{Path:/var Used:10 Depth:2 Tags:[a]}"},
	{"get_filesystem_stats", `{"fs_path": "/var", "unknown": {"x": 1}}`, "{Path:/var Used:0 Depth:0 Tags:[]}"},
	{"get_filesystem_stats", `{"FS_Path": "/var"}`, "{Path:/var Used:0 Depth:0 Tags:[]}"}, // keys match as encoding/json matches them
	{"get_filesystem_stats", `{"fs_path": ""}`, "{Path: Used:0 Depth:0 Tags:[]}"},
	{"get_filesystem_stats", `{"fs_path": 1}`, typeErr + "get_filesystem_stats() argument 'fs_path': expected string, got number"},
	{"get_filesystem_stats", `{"fs_path": "/", "limit": "10"}`, typeErr + "get_filesystem_stats() argument 'limit': expected integer, got string"},
	{"get_filesystem_stats", `{"fs_path": "/", "limit": 1.5}`, typeErr + "get_filesystem_stats() argument 'limit': expected integer, got number 1.5"},
	{"get_filesystem_stats", `{"fs_path": "/", "opts": {"depth": "deep"}}`, typeErr + "get_filesystem_stats() argument 'opts.depth': expected integer, got string"},
	{"get_filesystem_stats", `{"fs_path": "/", "opts": {"tags": "a"}}`, typeErr + "get_filesystem_stats() argument 'opts.tags': expected array, got string"},
	{"get_filesystem_stats", `{"fs_path": "/", "opts": []}`, typeErr + "get_filesystem_stats() argument 'opts': expected object, got array"},
	{"get_filesystem_stats", `{"fs_path": "/", "opts": {"flag": 1}}`, typeErr + "get_filesystem_stats() argument 'opts.flag': expected boolean, got number"},
	{"get_filesystem_stats", `{}`, typeErr + "get_filesystem_stats() missing required argument: 'fs_path'"},
	{"get_filesystem_stats", `{"fs_path": null}`, typeErr + "get_filesystem_stats() missing required argument: 'fs_path'"},
	{"get_filesystem_stats", `null`, typeErr + "get_filesystem_stats() missing required argument: 'fs_path'"},
	{"get_filesystem_stats", `-`, typeErr + "get_filesystem_stats() missing required argument: 'fs_path'"},
	{"get_filesystem_stats", `[1]`, typeErr + "get_filesystem_stats() invalid arguments: expected object, got array"},
	{"get_filesystem_stats", `"x"`, typeErr + "get_filesystem_stats() invalid arguments: expected object, got string"},
	{"get_filesystem_stats", `{"fs_path":`, typeErr + "get_filesystem_stats() invalid arguments: " + jsonError(`{"fs_path":`)},
	{"optional", `-`, "{Msg: Fail:false}"},
	{"optional", `null`, "{Msg: Fail:false}"},
	{"optional", `{}`, "{Msg: Fail:false}"},
	{"optional", `{"msg": "hi", "fail": true}`, "{Msg:hi Fail:true}"},
	{"optional", `{"msg": 1}`, typeErr + "optional() argument 'msg': expected string, got number"},
	{"optional", `[]`, typeErr + "optional() invalid arguments: expected object, got array"},
	{"ptr_args", `{"fs_path": "/p", "limit": 3}`, "&{FSPath:/p Limit:3 Opts:{Depth:0 Tags:[] Flag:false}}"},
	{"ptr_args", `{"limit": 3}`, typeErr + "ptr_args() missing required argument: 'fs_path'"},
	{"ptr_args", `{"fs_path": 1}`, typeErr + "ptr_args() argument 'fs_path': expected string, got number"},
	{"map_args", `{"a": 1, "b": "x", "c": null, "d": [true]}`, "map[a:1 b:x c:<nil> d:[true]]"},
	{"map_args", `-`, "map[]"},
	{"map_args", `null`, "map[]"},
	{"map_args", `{}`, "map[]"},
	{"map_args", `[1]`, typeErr + "map_args() invalid arguments: expected object, got array"},
	{"int_map", `{"a": 1, "b": 2}`, "map[a:1 b:2]"},
	{"int_map", `{"a": "x"}`, typeErr + "int_map() argument 'a': expected integer, got string"},
	{"int_map", `{"a": 1, "b": 1e3}`, typeErr + "int_map() argument 'b': expected integer, got number 1e3"},
	{"no_args", `-`, "none"},
	{"no_args", `{"ignored": 1}`, "none"},
	{"no_args", `[garbage`, "none"},
	{"embedded", `{"name": "n", "size": 2, "alias": "a"}`, "n/2/a"},
	{"embedded", `{"name": "n", "size": 2, "al": "a"}`, "n/2/"}, // msgpack spelling satisfies required, json decoding ignores it
	{"embedded", `{"size": 2, "alias": "a"}`, typeErr + "embedded() missing required argument: 'name'"},
	{"embedded", `{"name": "n", "alias": "a"}`, typeErr + "embedded() missing required argument: 'size'"},
	{"embedded", `{"name": "n", "size": 1}`, typeErr + "embedded() missing required argument: 'alias'"},
	{"embedded", `{"name": 1, "size": 2, "alias": "a"}`, typeErr + "embedded() argument 'name': expected string, got number"},
	{"embedded", `{"name": "n", "size": 2, "alias": "a", "inner": {"deep": "x"}}`, typeErr + "embedded() argument 'inner.deep': expected integer, got string"},
	{"embedded", `{"name": "n", "size": 2, "alias": "a", "list": [{"deep": "x"}]}`, typeErr + "embedded() argument 'list[0].deep': expected integer, got string"},
	{"embedded", `{"name": "n", "size": 2, "alias": "a", "list": [{}, {"Deep": true}]}`, typeErr + "embedded() argument 'list[1].Deep': expected integer, got boolean"},
	{"embedded", `{"name": "n", "size": 2, "alias": "a", "Label": 5}`, typeErr + "embedded() argument 'Label': expected string, got number"},
	{"only_err", `{}`, "<nil>"},
	{"only_err", `{"fail": true, "msg": "bad"}`, "error: bad"},
	{"result_and_err", `-`, "error: failed"},
}

func TestArguments(t *testing.T) {
	d, err := New([]any{&argsEP{}})
	if err != nil {
		t.Fatal(err)
	}
	runArgCases(t, d, argCases)
}

// TestTypedFuncs: argsEP's methods as Funcs handlers made by Func and Proc
// decode, check and fail exactly as the reflected methods do.
func TestTypedFuncs(t *testing.T) {
	ep := &argsEP{}
	d, err := New([]any{Funcs{
		"get_filesystem_stats": Func(ep.GetFilesystemStats),
		"ptr_args":             Func(ep.PtrArgs),
		"optional":             Func(ep.Optional),
		"map_args":             Func(ep.MapArgs),
		"int_map":              Func(ep.IntMap),
		"embedded":             Func(ep.Embedded),
		"only_err":             Proc(ep.OnlyErr),
		"result_and_err": Func(func(ctx context.Context, _ struct{}) (string, error) {
			return ep.ResultAndErr(ctx)
		}),
	}})
	if err != nil {
		t.Fatal(err)
	}
	var cases []argCase
	for _, c := range argCases {
		if c.method != "no_args" { // a Func always takes an argument
			cases = append(cases, c)
		}
	}
	runArgCases(t, d, cases)
}

func runArgCases(t *testing.T, d *Dispatcher, tests []argCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.args, func(t *testing.T) {
			res, err := d.Dispatch(context.Background(), argsRequest(tt.method, tt.args))
			got := outcome(res, err)
			if err == nil {
				got = fmt.Sprintf("%+v", res)
				if m, ok := res.(map[string]any); ok && m == nil {
					got = "nil map"
				}
			}
			if got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			if err != nil && strings.HasPrefix(tt.want, typeErr) {
				var ae *ArgumentError
				if !errors.Is(err, ErrInvalidArguments) || !errors.As(err, &ae) || ae.Method != tt.method {
					t.Errorf("err = %#v, want *ArgumentError matching ErrInvalidArguments", err)
				}
				if !strings.HasPrefix(err.Error(), "dispatcher: "+tt.method+"() ") {
					t.Errorf("Error() = %q", err)
				}
			}
		})
	}
}

func TestArgumentErrorFields(t *testing.T) {
	d, err := New([]any{&argsEP{}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.Dispatch(context.Background(), argsRequest("get_filesystem_stats", `{"fs_path": "/", "opts": {"depth": "deep"}}`))
	var ae *ArgumentError
	if !errors.As(err, &ae) || ae.Method != "get_filesystem_stats" || ae.Field != "opts.depth" {
		t.Fatalf("err = %#v", err)
	}
	if ae.Err == nil || errors.Unwrap(err) != ae.Err {
		t.Errorf("Unwrap does not give the codec error: %#v", ae.Err)
	}
	_, err = d.Dispatch(context.Background(), argsRequest("get_filesystem_stats", `{}`))
	if !errors.As(err, &ae) || ae.Field != "fs_path" || ae.Err != nil {
		t.Fatalf("missing: err = %#v", err)
	}
	if got, want := err.Error(), "dispatcher: get_filesystem_stats() missing required argument: 'fs_path'"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	// Hand-made ArgumentErrors.
	for _, tt := range []struct {
		e    *ArgumentError
		want string
	}{
		{&ArgumentError{Method: "m", Err: errors.New("bad")}, "m() invalid arguments: bad"},
		{&ArgumentError{Method: "m", Field: "f", Err: errors.New("bad")}, "m() argument 'f': bad"},
		{&ArgumentError{Method: "m", Field: "f"}, "m() missing required argument: 'f'"},
	} {
		if _, _, msg := tt.e.WireError(); msg != tt.want {
			t.Errorf("WireError message = %q, want %q", msg, tt.want)
		}
	}
}

type mismatchArgs struct {
	N    int8                `json:"n"`
	U    uint                `json:"u"`
	F32  float32             `json:"f32"`
	Big  *big.Int            `json:"big"`
	Num  json.Number         `json:"num"`
	T    time.Time           `json:"t"`
	IP   net.IP              `json:"ip"`
	By   []byte              `json:"by"`
	Arr  [2]string           `json:"arr"`
	M    map[int]bool        `json:"m"`
	S    fmt.Stringer        `json:"s"`
	Q    int                 `json:"q,string"`
	Any  any                 `json:"any"`
	Deep []map[string][]int  `json:"deep"`
	P    **mismatchArgs      `json:"p"`
	Opt  map[string]*FSOpts  `json:"opt"`
	Keys map[netip.Addr]bool `json:"keys"`
}

// TestArgumentMismatch checks the dispatcher's own account of arguments
// that do not fit, whatever the codec and its error texts.
func TestArgumentMismatch(t *testing.T) {
	typ := reflect.TypeFor[mismatchArgs]()
	tests := []struct {
		args, want string
		prefixed   bool // also through prefixCodec, whose numbers are float64
		packed     bool // also through msgpack
	}{
		{`{"n": 300}`, "argument 'n': expected integer, got number 300", true, true},
		{`{"n": 1, "u": -1}`, "argument 'u': expected integer, got number -1", true, true},
		{`{"f32": 1e39}`, "argument 'f32': expected number, got number 1e39", false, false},
		{`{"big": "x"}`, "argument 'big': expected big.Int, got string", true, true},
		{`{"big": 123456789012345678901234567890, "num": true}`, "argument 'num': expected number, got boolean", false, false},
		{`{"num": "12", "t": 5}`, "argument 't': expected time.Time, got number", true, true},
		{`{"t": "2024-05-01T10:22:33Z", "ip": "bad"}`, "argument 'ip': expected net.IP, got string", true, true},
		{`{"ip": "10.0.0.1", "by": "!!"}`, "argument 'by': expected base64 string, got string", true, false}, // msgpack: bytes
		{`{"by": "aGk=", "arr": ["a", 1]}`, "argument 'arr[1]': expected string, got number", true, true},
		{`{"m": {"1": true, "x": true}}`, "argument 'm.x': expected integer key, got string", true, true},
		{`{"s": "x"}`, "argument 's': expected fmt.Stringer, got string", true, false}, // msgpack panics
		{`{"any": {"x": [1, null]}, "deep": [{"k": [1, "x"]}]}`, "argument 'deep[0].k[1]': expected integer, got string", true, true},
		{`{"deep": [{"k": [1.5]}]}`, "argument 'deep[0].k[0]': expected integer, got number 1.5", true, true},
		{`{"p": {"p": {"n": "x"}}}`, "argument 'p.p.n': expected integer, got string", true, true},
		{`{"opt": {"a": {"depth": 1}, "b": {"tags": [1]}}}`, "argument 'opt.b.tags[0]': expected string, got number", true, true},
		{`{"keys": {"1.2.3.4": true, "nope": false}}`, "argument 'keys.nope': expected netip.Addr key, got string", true, true},
		{`[1]`, "invalid arguments: expected object, got array", true, true},
		{`"x"`, "invalid arguments: expected object, got string", true, true},
	}
	for _, tt := range tests {
		raws := []serializer.Raw{raw(tt.args)}
		if tt.prefixed {
			raws = append(raws, serializer.Raw{Data: []byte("T" + tt.args), Codec: prefixCodec{}})
		}
		if tt.packed {
			var generic any
			if err := json.Unmarshal([]byte(tt.args), &generic); err != nil {
				t.Fatal(err)
			}
			packed, err := msgpack.Codec{}.Marshal(generic)
			if err != nil {
				t.Fatal(err)
			}
			raws = append(raws, serializer.Raw{Data: packed, Codec: msgpack.Codec{}})
		}
		for _, r := range raws {
			err := r.Decode(reflect.New(typ).Interface())
			if err == nil {
				t.Errorf("%s: decodes", r.Data)
				continue
			}
			msg := newArgumentError("m", err, typ, r).message()
			if msg != "m() "+tt.want {
				t.Errorf("%s: %q, want %q", r.Data, msg, "m() "+tt.want)
			}
		}
	}
	// ",string" fields and syntax errors: the codec's error.
	for _, args := range []string{`{"q": 1}`, `{"n": `} {
		err := raw(args).Decode(new(mismatchArgs))
		if msg := newArgumentError("m", err, typ, raw(args)).message(); msg != "m() invalid arguments: "+err.Error() {
			t.Errorf("%s: %q", args, msg)
		}
	}
}

// upper is a serializer whose DeserializeEntity upper-cases strings and
// records what it saw.
type upper struct {
	serializer.NoOp
	mu   sync.Mutex
	seen []string
}

func (u *upper) DeserializeEntity(_ context.Context, v any) (any, error) {
	u.mu.Lock()
	u.seen = append(u.seen, fmt.Sprintf("%T %v", v, v))
	u.mu.Unlock()
	switch s := v.(type) {
	case string:
		if s == "bad" {
			return nil, errBadEntity
		}
		return strings.ToUpper(s), nil
	case map[string]any:
		if n, ok := s["depth"].(json.Number); ok {
			s["depth"] = n + "0"
		}
	}
	return v, nil
}

func (u *upper) reset() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	s := u.seen
	u.seen = nil
	sort.Strings(s)
	return s
}

var errBadEntity = errors.New("bad entity")

func TestCustomSerializer(t *testing.T) {
	ser := &upper{}
	funcs := Funcs{"raw_args": func(_ context.Context, args serializer.Raw) (any, error) {
		var m map[string]any
		if err := args.Decode(&m); err != nil {
			return nil, err
		}
		return fmt.Sprint(m), nil
	}}
	d, err := New([]any{&argsEP{}, funcs}, WithSerializer(ser))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		method, args string
		want         string
		seen         []string
	}{
		{"get_filesystem_stats", `{"fs_path": "/var", "limit": 7, "opts": {"depth": 2, "tags": ["a"]}}`,
			"{Path:/VAR Used:7 Depth:20 Tags:[a]}",
			[]string{"json.Number 7", "map[string]interface {} map[depth:2 tags:[a]]", "string /var"}},
		{"ptr_args", `{"fs_path": "x"}`, "&{FSPath:X Limit:0 Opts:{Depth:0 Tags:[] Flag:false}}", []string{"string x"}},
		{"get_filesystem_stats", `{"limit": 7}`, "builtins.TypeError: get_filesystem_stats() missing required argument: 'fs_path'", []string{"json.Number 7"}},
		{"get_filesystem_stats", `{"fs_path": 1}`, "builtins.TypeError: get_filesystem_stats() argument 'fs_path': expected string, got number", []string{"json.Number 1"}},
		{"get_filesystem_stats", `[1]`, "builtins.TypeError: get_filesystem_stats() invalid arguments: expected object, got array", nil},
		{"optional", `-`, "{Msg: Fail:false}", nil},
		{"optional", `{"msg": "hi"}`, "{Msg:HI Fail:false}", []string{"string hi"}},
		{"map_args", `{"a": "b", "n": 1}`, "map[a:B n:1]", []string{"json.Number 1", "string b"}},
		{"map_args", `-`, "map[]", nil},
		{"int_map", `{"a": 1}`, "map[a:1]", []string{"json.Number 1"}},
		{"no_args", `{"a": "b"}`, "none", nil},
		{"raw_args", `{"a": "b"}`, "map[a:B]", []string{"string b"}},
		{"raw_args", `-`, "map[]", nil},
		{"optional", `{"msg": "bad"}`, "error: bad entity", []string{"string bad"}},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.args, func(t *testing.T) {
			ser.reset()
			res, err := d.Dispatch(context.Background(), argsRequest(tt.method, tt.args))
			got := outcome(res, err)
			if err == nil {
				got = fmt.Sprintf("%+v", res)
			}
			if got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			if seen := ser.reset(); !reflect.DeepEqual(seen, tt.seen) {
				t.Errorf("DeserializeEntity saw %q, want %q", seen, tt.seen)
			}
		})
	}
	_, err = d.Dispatch(context.Background(), argsRequest("optional", `{"msg": "bad"}`))
	if !errors.Is(err, errBadEntity) {
		t.Errorf("serializer error not returned as is: %v", err)
	}
}

func TestFuncs(t *testing.T) {
	errGone := errors.New("gone")
	d, err := New([]any{Endpoint(Funcs{
		"echo": func(_ context.Context, args serializer.Raw) (any, error) { return string(args.Data), nil },
		"gone": func(context.Context, serializer.Raw) (any, error) { return "ignored", fmt.Errorf("x: %w", errGone) },
		"boom": func(context.Context, serializer.Raw) (any, error) { panic("funcs boom") },
	}, Version("1.1"), ExpectedErrors(errGone))})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ method, args, want string }{
		{"echo", `{"a": 1}`, `{"a": 1}`},
		{"echo", `-`, `{}`},
		{"echo", `null`, `{}`},
		{"gone", `-`, "builtins.Exception: x: gone"}, // marked Expected, same class
		{"boom", `-`, "builtins.RuntimeError: boom() panicked: funcs boom"},
	}
	for _, tt := range tests {
		res, err := d.Dispatch(context.Background(), argsRequest(tt.method, tt.args))
		if got := outcome(res, err); got != tt.want {
			t.Errorf("%s %s: got %s, want %s", tt.method, tt.args, got, tt.want)
		}
	}
	_, err = d.Dispatch(context.Background(), argsRequest("gone", "-"))
	if !IsExpected(err) || !errors.Is(err, errGone) {
		t.Errorf("gone: err = %#v, want expected", err)
	}
}
