package dispatcher

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/oslo-go/messaging/serializer"
	"github.com/oslo-go/messaging/transport"
)

// fooBar is the endpoint of oslo's test_dispatcher.py: methods foo and bar.
// Results name the endpoint that served the call.
type fooBar struct{ id int }

func (e *fooBar) Foo(context.Context) (string, error) { return fmt.Sprintf("foo@%d", e.id), nil }
func (e *fooBar) Bar(_ context.Context, args map[string]any) (string, error) {
	return fmt.Sprintf("bar@%d %v", e.id, args), nil
}

// barOnly has bar but not foo.
type barOnly struct{ id int }

func (e *barOnly) Bar(context.Context) (string, error) { return fmt.Sprintf("bar@%d", e.id), nil }

func TestDispatchMatching(t *testing.T) {
	fb := func(id int, opts ...EndpointOption) any { return Endpoint(&fooBar{id}, opts...) }
	bo := func(id int, opts ...EndpointOption) any { return Endpoint(&barOnly{id}, opts...) }
	const (
		noSuch = "oslo_messaging.rpc.dispatcher.NoSuchMethod: "
		unsupp = "oslo_messaging.rpc.dispatcher.UnsupportedVersion: "
	)
	tests := []struct {
		name      string
		endpoints []any
		req       Request
		want      string // the result, or module.class: message of the error
	}{
		// oslo's scenarios.
		{"no endpoints", nil, Request{Method: "foo"},
			unsupp + "Endpoint does not support RPC version 1.0. Attempted method: foo"},
		{"default target", []any{fb(0)}, Request{Method: "foo"}, "foo@0"},
		{"default target args", []any{fb(0)}, Request{Method: "bar", Args: raw(`{"blaa": true}`)}, "bar@0 map[blaa:true]"},
		{"default target version", []any{fb(0)}, Request{Method: "foo", Version: "1.0"}, "foo@0"},
		{"default target no such method", []any{fb(0)}, Request{Method: "foobar"},
			noSuch + "Endpoint does not support RPC method foobar"},
		{"namespace", []any{fb(0), fb(1, Namespace("testns"))}, Request{Method: "foo", Namespace: "testns"}, "foo@1"},
		{"namespace mismatch", []any{fb(0), fb(1, Namespace("testns"))}, Request{Method: "foo", Namespace: "nstest"},
			unsupp + "Endpoint does not support RPC version 1.0. Attempted method: foo"},
		{"version", []any{fb(0, Version("1.5")), fb(1, Version("3.4"))}, Request{Method: "foo", Version: "3.2"}, "foo@1"},
		{"version mismatch", []any{fb(0, Version("1.5")), fb(1, Version("3.0"))}, Request{Method: "foo", Version: "3.2"},
			unsupp + "Endpoint does not support RPC version 3.2. Attempted method: foo"},
		{"null namespace via legacy", []any{fb(0, Namespace("testns"), LegacyNamespaces(""))}, Request{Method: "foo"}, "foo@0"},
		{"wrong namespace with legacy", []any{fb(0, Namespace("testns"), LegacyNamespaces("second", ""))},
			Request{Method: "foo", Namespace: "wrong"},
			unsupp + "Endpoint does not support RPC version 1.0. Attempted method: foo"},
		{"legacy namespace", []any{fb(0, Namespace("testns"), LegacyNamespaces("second", ""))},
			Request{Method: "foo", Namespace: "second"}, "foo@0"},
		{"explicit policy without exposed method", []any{fb(0, Expose("bar"))}, Request{Method: "foo"},
			noSuch + "Endpoint does not support RPC method foo"},
		{"explicit policy exposed", []any{fb(0, Expose("foo"))}, Request{Method: "foo"}, "foo@0"},

		// Versions against an endpoint at 1.5 and one without a version (1.0).
		{"1.5 serves 1.0", []any{fb(0, Version("1.5"))}, Request{Method: "foo", Version: "1.0"}, "foo@0"},
		{"1.5 serves none", []any{fb(0, Version("1.5"))}, Request{Method: "foo"}, "foo@0"},
		{"1.5 serves 1.5", []any{fb(0, Version("1.5"))}, Request{Method: "foo", Version: "1.5"}, "foo@0"},
		{"1.5 refuses 1.6", []any{fb(0, Version("1.5"))}, Request{Method: "foo", Version: "1.6"},
			unsupp + "Endpoint does not support RPC version 1.6. Attempted method: foo"},
		{"1.5 refuses 2.0", []any{fb(0, Version("1.5"))}, Request{Method: "foo", Version: "2.0"},
			unsupp + "Endpoint does not support RPC version 2.0. Attempted method: foo"},
		{"1.5 refuses 0.9", []any{fb(0, Version("1.5"))}, Request{Method: "foo", Version: "0.9"},
			unsupp + "Endpoint does not support RPC version 0.9. Attempted method: foo"},
		{"1.5 serves 1.4.9", []any{fb(0, Version("1.5"))}, Request{Method: "foo", Version: "1.4.9"}, "foo@0"},
		{"1.5 serves 1.5.0", []any{fb(0, Version("1.5"))}, Request{Method: "foo", Version: "1.5.0"}, "foo@0"},
		{"1.5 refuses 1.5.1", []any{fb(0, Version("1.5"))}, Request{Method: "foo", Version: "1.5.1"},
			unsupp + "Endpoint does not support RPC version 1.5.1. Attempted method: foo"},
		{"1.5.2 serves 1.5.2", []any{fb(0, Version("1.5.2"))}, Request{Method: "foo", Version: "1.5.2"}, "foo@0"},
		{"1.5.2 refuses 1.5.3", []any{fb(0, Version("1.5.2"))}, Request{Method: "foo", Version: "1.5.3"},
			unsupp + "Endpoint does not support RPC version 1.5.3. Attempted method: foo"},
		{"1.5.2 serves 1.4.7", []any{fb(0, Version("1.5.2"))}, Request{Method: "foo", Version: "1.4.7"}, "foo@0"},
		{"default serves 1.0", []any{fb(0)}, Request{Method: "foo", Version: "1.0"}, "foo@0"},
		{"default refuses 1.6", []any{fb(0)}, Request{Method: "foo", Version: "1.6"},
			unsupp + "Endpoint does not support RPC version 1.6. Attempted method: foo"},
		{"default refuses 1.0.1", []any{fb(0)}, Request{Method: "foo", Version: "1.0.1"},
			unsupp + "Endpoint does not support RPC version 1.0.1. Attempted method: foo"},
		{"unparsable request version", []any{fb(0)}, Request{Method: "foo", Version: "one"},
			unsupp + "Endpoint does not support RPC version one. Attempted method: foo"},
		{"incompatible version, unknown method", []any{fb(0, Version("1.5"))}, Request{Method: "nope", Version: "2.0"},
			unsupp + "Endpoint does not support RPC version 2.0. Attempted method: nope"},
		{"compatible version, unknown method", []any{fb(0, Version("1.5"))}, Request{Method: "nope", Version: "1.1"},
			noSuch + "Endpoint does not support RPC method nope"},
		{"namespaced request, null namespace endpoint", []any{fb(0)}, Request{Method: "foo", Namespace: "ns"},
			unsupp + "Endpoint does not support RPC version 1.0. Attempted method: foo"},

		// Several endpoints: the scan goes on past compatible endpoints
		// without the method; the first match wins.
		{"skip compatible without method", []any{bo(0), fb(1)}, Request{Method: "foo"}, "foo@1"},
		{"first match wins", []any{bo(0), fb(1), fb(2)}, Request{Method: "bar"}, "bar@0"},
		{"first compatible match wins", []any{fb(0, Version("1.1")), fb(1, Version("1.5")), fb(2, Version("1.9"))},
			Request{Method: "foo", Version: "1.3"}, "foo@1"},
		{"skip other namespace", []any{fb(0, Namespace("a")), fb(1, Namespace("b")), fb(2)},
			Request{Method: "foo", Namespace: "b"}, "foo@1"},
		{"skip other version", []any{fb(0, Version("2.0")), fb(1, Version("1.2"))}, Request{Method: "foo", Version: "1.1"}, "foo@1"},
		{"compatible without method, then incompatible with it", []any{bo(0, Version("1.5")), fb(1, Version("2.0"))},
			Request{Method: "foo", Version: "1.2"}, noSuch + "Endpoint does not support RPC method foo"},
		{"incompatible with method, then compatible without", []any{fb(0, Version("2.0")), bo(1)},
			Request{Method: "foo"}, noSuch + "Endpoint does not support RPC method foo"},
		{"not exposed, later exposed", []any{fb(0, Expose("bar")), fb(1)}, Request{Method: "foo"}, "foo@1"},
		{"go name is not a wire name", []any{fb(0)}, Request{Method: "Foo"},
			noSuch + "Endpoint does not support RPC method Foo"},
		{"private name", []any{fb(0)}, Request{Method: "_foobar"},
			noSuch + "Endpoint does not support RPC method _foobar"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := New(tt.endpoints)
			if err != nil {
				t.Fatal(err)
			}
			req := tt.req
			res, err := d.Dispatch(context.Background(), &req)
			if got := outcome(res, err); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
			if !reflect.DeepEqual(req, tt.req) {
				t.Errorf("Dispatch changed the request: %+v", req)
			}
		})
	}
}

// outcome formats a result, or an error as module.class: message.
func outcome(res any, err error) string {
	if err == nil {
		return fmt.Sprint(res)
	}
	if res != nil {
		return fmt.Sprintf("result %v with error %v", res, err)
	}
	var we transport.WireError
	if errors.As(err, &we) {
		m, c, msg := we.WireError()
		return m + "." + c + ": " + msg
	}
	return "error: " + err.Error()
}

func raw(s string) serializer.Raw { return serializer.Raw{Data: []byte(s)} }

func TestErrorsIs(t *testing.T) {
	d, err := New([]any{&fooBar{}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.Dispatch(context.Background(), &Request{Method: "nope"})
	var nsm *NoSuchMethodError
	if !errors.Is(err, ErrNoSuchMethod) || errors.Is(err, ErrUnsupportedVersion) || !errors.As(err, &nsm) || nsm.Method != "nope" {
		t.Errorf("no such method: err = %#v", err)
	}
	if got, want := err.Error(), "dispatcher: Endpoint does not support RPC method nope"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	_, err = d.Dispatch(context.Background(), &Request{Method: "foo", Version: "2.1"})
	var uv *UnsupportedVersionError
	if !errors.Is(err, ErrUnsupportedVersion) || errors.Is(err, ErrNoSuchMethod) || !errors.As(err, &uv) || *uv != (UnsupportedVersionError{"2.1", "foo"}) {
		t.Errorf("unsupported version: err = %#v", err)
	}
	if got, want := err.Error(), "dispatcher: Endpoint does not support RPC version 2.1. Attempted method: foo"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	// On the wire, as transport encodes failures; the caller's RemoteError
	// matches the same sentinels.
	f := transport.FailureOf(fmt.Errorf("wrapped: %w", err))
	if f.Module != "oslo_messaging.rpc.dispatcher" || f.Class != "UnsupportedVersion" ||
		f.Message != "Endpoint does not support RPC version 2.1. Attempted method: foo" {
		t.Errorf("FailureOf = %+v", f)
	}
	if !errors.Is(f, ErrUnsupportedVersion) || errors.Is(f, ErrNoSuchMethod) {
		t.Errorf("RemoteError %+v does not match ErrUnsupportedVersion", f)
	}
}

func TestPing(t *testing.T) {
	mine := Funcs{"oslo_rpc_server_ping": func(context.Context, serializer.Raw) (any, error) { return "mine", nil }}
	tests := []struct {
		name      string
		endpoints []any
		opts      []Option
		req       Request
		want      string
	}{
		{"off", []any{&fooBar{}}, nil, Request{Method: "oslo_rpc_server_ping"},
			"oslo_messaging.rpc.dispatcher.NoSuchMethod: Endpoint does not support RPC method oslo_rpc_server_ping"},
		{"off explicitly", []any{&fooBar{}}, []Option{Ping(true), Ping(false)}, Request{Method: "oslo_rpc_server_ping"},
			"oslo_messaging.rpc.dispatcher.NoSuchMethod: Endpoint does not support RPC method oslo_rpc_server_ping"},
		{"on", []any{&fooBar{}}, []Option{Ping(true)}, Request{Method: "oslo_rpc_server_ping"}, "pong"},
		{"on, no endpoints", nil, []Option{Ping(true)}, Request{Method: "oslo_rpc_server_ping", Version: "1.0"}, "pong"},
		{"on, with args", nil, []Option{Ping(true)}, Request{Method: "oslo_rpc_server_ping", Args: raw(`{"a": 1}`)}, "pong"},
		{"on, namespaced endpoints", []any{Endpoint(&fooBar{}, Namespace("ns"), Version("3.0"))}, []Option{Ping(true)},
			Request{Method: "oslo_rpc_server_ping"}, "pong"},
		{"on, version 1.1", nil, []Option{Ping(true)}, Request{Method: "oslo_rpc_server_ping", Version: "1.1"},
			"oslo_messaging.rpc.dispatcher.UnsupportedVersion: Endpoint does not support RPC version 1.1. Attempted method: oslo_rpc_server_ping"},
		{"on, namespace", nil, []Option{Ping(true)}, Request{Method: "oslo_rpc_server_ping", Namespace: "ns"},
			"oslo_messaging.rpc.dispatcher.UnsupportedVersion: Endpoint does not support RPC version 1.0. Attempted method: oslo_rpc_server_ping"},
		{"overridden", []any{&fooBar{}, mine}, []Option{Ping(true)}, Request{Method: "oslo_rpc_server_ping"}, "mine"},
		// An endpoint that defines the name in another namespace still
		// prevents the ping endpoint, as in oslo.
		{"defined elsewhere", []any{Endpoint(mine, Namespace("ns"))}, []Option{Ping(true)}, Request{Method: "oslo_rpc_server_ping"},
			"oslo_messaging.rpc.dispatcher.UnsupportedVersion: Endpoint does not support RPC version 1.0. Attempted method: oslo_rpc_server_ping"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := New(tt.endpoints, tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			res, err := d.Dispatch(context.Background(), &tt.req)
			if got := outcome(res, err); got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
	d, err := New([]any{Endpoint(&fooBar{}, Version("1.2"))}, Ping(true))
	if err != nil {
		t.Fatal(err)
	}
	want := []Method{{"fooBar", "", "1.2", "bar"}, {"fooBar", "", "1.2", "foo"}, {"PingEndpoint", "", "", "oslo_rpc_server_ping"}}
	if got := d.Methods(); !reflect.DeepEqual(got, want) {
		t.Errorf("Methods() = %v, want %v", got, want)
	}
}

func TestMethods(t *testing.T) {
	d, err := New([]any{
		Endpoint(&fooBar{}, Namespace("b"), Version("1.3"), Expose("foo")),
		&barOnly{},
		Funcs{"zed": nil2, "alpha": nil2},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []Method{{"fooBar", "b", "1.3", "foo"}, {"barOnly", "", "", "bar"}, {"Funcs", "", "", "alpha"}, {"Funcs", "", "", "zed"}}
	got := d.Methods()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Methods() = %v, want %v", got, want)
	}
	got[0].Name = "changed"
	if d.Methods()[0].Name != "foo" {
		t.Error("Methods() shares its slice")
	}
}

type recordingMW struct {
	mu  sync.Mutex
	log []string
}

func (r *recordingMW) mw(name string) Middleware {
	return func(next Handler) Handler {
		return func(ctx context.Context, req *Request) (any, error) {
			r.add(name + " before " + req.Method)
			res, err := next(ctx, req)
			if err != nil {
				r.add(name + " after err " + err.Error())
			} else {
				r.add(fmt.Sprint(name, " after ", res))
			}
			return res, err
		}
	}
}

func (r *recordingMW) add(s string) {
	r.mu.Lock()
	r.log = append(r.log, s)
	r.mu.Unlock()
}

func TestMiddleware(t *testing.T) {
	var rec recordingMW
	shortCircuit := func(next Handler) Handler {
		return func(ctx context.Context, req *Request) (any, error) {
			if req.Method == "cached" {
				return "from cache", nil
			}
			return next(ctx, req)
		}
	}
	d, err := New([]any{&fooBar{}}, WithMiddleware(rec.mw("outer"), rec.mw("inner")), WithMiddleware(shortCircuit))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if res, err := d.Dispatch(ctx, &Request{Method: "foo"}); err != nil || res != "foo@0" {
		t.Fatalf("foo: %v, %v", res, err)
	}
	if res, err := d.Dispatch(ctx, &Request{Method: "cached"}); err != nil || res != "from cache" {
		t.Fatalf("cached: %v, %v", res, err)
	}
	if _, err := d.Dispatch(ctx, &Request{Method: "nope"}); !errors.Is(err, ErrNoSuchMethod) {
		t.Fatalf("nope: %v", err)
	}
	want := []string{
		"outer before foo", "inner before foo", "inner after foo@0", "outer after foo@0",
		"outer before cached", "inner before cached", "inner after from cache", "outer after from cache",
		"outer before nope", "inner before nope",
		"inner after err dispatcher: Endpoint does not support RPC method nope",
		"outer after err dispatcher: Endpoint does not support RPC method nope",
	}
	if !reflect.DeepEqual(rec.log, want) {
		t.Errorf("log:\n%s\nwant:\n%s", strings.Join(rec.log, "\n"), strings.Join(want, "\n"))
	}
}

func TestMiddlewareSeesRequest(t *testing.T) {
	var seen Request
	d, err := New([]any{Endpoint(&fooBar{}, Namespace("ns"))}, WithMiddleware(func(next Handler) Handler {
		return func(ctx context.Context, req *Request) (any, error) {
			seen = *req
			req.Namespace = "ns" // a middleware may rewrite the request
			return next(ctx, req)
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	req := &Request{Method: "foo", Version: "1.0", Args: raw(`{}`)}
	if res, err := d.Dispatch(context.Background(), req); err != nil || res != "foo@0" {
		t.Fatalf("got %v, %v", res, err)
	}
	if seen.Method != "foo" || seen.Version != "1.0" || string(seen.Args.Data) != "{}" {
		t.Errorf("middleware saw %+v", seen)
	}
}

func TestNilRequestAndContext(t *testing.T) {
	d, err := New([]any{&fooBar{}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Dispatch(context.Background(), nil); !errors.Is(err, ErrNoSuchMethod) {
		t.Errorf("nil request: %v", err)
	}
	var nilCtx context.Context
	if res, err := d.Dispatch(nilCtx, &Request{Method: "foo"}); err != nil || res != "foo@0" {
		t.Errorf("nil context: %v, %v", res, err)
	}
}

func TestConcurrentDispatch(t *testing.T) {
	d, err := New([]any{&argsEP{}}, Ping(true))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := &Request{Method: "get_filesystem_stats", Args: raw(fmt.Sprintf(`{"fs_path": "/p/%d", "limit": %d}`, i, i))}
			if i%3 == 0 {
				req = &Request{Method: "oslo_rpc_server_ping"}
			}
			res, err := d.Dispatch(context.Background(), req)
			switch {
			case err != nil:
				errs <- err
			case i%3 == 0:
				if res != "pong" {
					errs <- fmt.Errorf("%d: ping got %v", i, res)
				}
			default:
				if st := res.(FSStats); st.Path != fmt.Sprintf("/p/%d", i) || st.Used != int64(i) {
					errs <- fmt.Errorf("%d: got %+v", i, st)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestMethodOf(t *testing.T) {
	var seen []string
	mw := func(next Handler) Handler {
		return func(ctx context.Context, req *Request) (any, error) {
			before, okBefore := MethodOf(ctx)
			res, err := next(ctx, req)
			m, ok := MethodOf(ctx)
			if before != m || okBefore != ok {
				t.Errorf("%s: MethodOf before next %v %+v, after %v %+v", req.Method, okBefore, before, ok, m)
			}
			seen = append(seen, fmt.Sprintf("%s %v %+v", req.Method, ok, m))
			return res, err
		}
	}
	d, err := New([]any{Endpoint(&fooBar{}, Namespace("ns"), Version("1.2"))}, Ping(true), WithMiddleware(mw))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	d.Dispatch(ctx, &Request{Method: "foo", Namespace: "ns", Version: "1.1"})
	d.Dispatch(ctx, &Request{Method: "nope", Namespace: "ns"})
	d.Dispatch(ctx, &Request{Method: "oslo_rpc_server_ping"})
	want := []string{
		"foo true {Endpoint:fooBar Namespace:ns Version:1.2 Name:foo}",
		"nope false {Endpoint: Namespace: Version: Name:}",
		"oslo_rpc_server_ping true {Endpoint:PingEndpoint Namespace: Version: Name:oslo_rpc_server_ping}",
	}
	if strings.Join(seen, "\n") != strings.Join(want, "\n") {
		t.Fatalf("seen\n%s\nwant\n%s", strings.Join(seen, "\n"), strings.Join(want, "\n"))
	}
	if _, ok := MethodOf(ctx); ok {
		t.Fatal("MethodOf outside a dispatch")
	}
	// A middleware that changes the request: the handler runs the new
	// method, and MethodOf says so once next returns.
	rename := func(next Handler) Handler {
		return func(ctx context.Context, req *Request) (any, error) {
			req.Method = "bar"
			res, err := next(ctx, req)
			if m, ok := MethodOf(ctx); !ok || m.Name != "bar" {
				t.Errorf("after a rename: %v %+v", ok, m)
			}
			return res, err
		}
	}
	d, err = New([]any{&fooBar{}}, WithMiddleware(rename))
	if err != nil {
		t.Fatal(err)
	}
	if res, err := d.Dispatch(ctx, &Request{Method: "foo"}); err != nil || res != "bar@0 map[]" {
		t.Fatalf("renamed dispatch: %v %v", res, err)
	}
}
