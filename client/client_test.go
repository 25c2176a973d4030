package client

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/oslo-go/messaging/internal/wire"
	"github.com/oslo-go/messaging/serializer"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
	"github.com/oslo-go/messaging/transport/driver"
)

// recorder is a driver that records what is sent and answers calls with
// a canned reply body.
type recorder struct {
	sent    []sent
	onReply func(driver.Reply)
	reply   func(m *driver.Message) []byte // builds the reply to a call
}

type sent struct {
	t target.Target
	m *driver.Message
}

func (r *recorder) Open(_ context.Context, _ *driver.URL, cfg driver.Config) (driver.Conn, error) {
	r.onReply = cfg.OnReply
	return r, nil
}

func (r *recorder) Send(_ context.Context, t target.Target, m *driver.Message) error {
	r.sent = append(r.sent, sent{t, m})
	if m.MsgID != "" && r.reply != nil {
		go r.onReply(driver.Reply{Message: &driver.Message{Body: r.reply(m)}})
	}
	return nil
}

func (r *recorder) ReplyAddress(context.Context) (string, error) { return "reply_test", nil }
func (r *recorder) Listen(context.Context, target.Target, driver.ListenOptions) (driver.Listener, error) {
	return nil, errors.New("not supported")
}
func (r *recorder) Close() error { return nil }

var rec = &recorder{}

func init() { transport.Register("clienttest", rec) }

func openRecorder(t *testing.T, reply func(m *driver.Message) []byte) *transport.Transport {
	t.Helper()
	rec.sent, rec.reply = nil, reply
	tr, err := transport.Open(context.Background(), "clienttest://")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

// replyWith answers a call with result (a JSON text).
func replyWith(result string) func(m *driver.Message) []byte {
	return func(m *driver.Message) []byte {
		inner := `{"result": ` + result + `, "failure": null, "ending": true, "_msg_id": "` + m.MsgID + `", "_unique_id": "u"}`
		return []byte(`{"oslo.version": "2.0", "oslo.message": ` + quote(inner) + `}`)
	}
}

func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

func lastRequest(t *testing.T) *wire.IncomingRequest {
	t.Helper()
	if len(rec.sent) == 0 {
		t.Fatal("nothing sent")
	}
	m := rec.sent[len(rec.sent)-1].m
	r, err := wire.DecodeRequest(m.Body, m.ContentType)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestNewValidates(t *testing.T) {
	tr := openRecorder(t, nil)
	if _, err := New(tr, target.Target{}); !errors.Is(err, target.ErrInvalidTarget) {
		t.Errorf("no topic: %v", err)
	}
	if _, err := New(tr, target.Target{Topic: "t", Version: "1"}); err == nil {
		t.Error("bad version accepted")
	}
	if _, err := New(tr, target.Target{Topic: "t"}, VersionCap("x")); err == nil {
		t.Error("bad version cap accepted")
	}
	if _, err := New(nil, target.Target{Topic: "t"}); err == nil {
		t.Error("nil transport accepted")
	}
}

func TestPrepareOverrides(t *testing.T) {
	tr := openRecorder(t, nil)
	c, err := New(tr, target.Target{Exchange: "nova", Topic: "compute", Namespace: "ns", Version: "1.0", Server: "h1"},
		Timeout(time.Second), VersionCap("1.5"), Retry(3), CallMonitorTimeout(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	cc := c.Prepare(Version("1.2"), Namespace(""), Server(""), Fanout(true), Topic("compute2"), Exchange(""))
	want := target.Target{Topic: "compute2", Version: "1.2", Fanout: true}
	if got := cc.Target(); !reflect.DeepEqual(got, want) {
		t.Fatalf("prepared target %+v, want %+v", got, want)
	}
	if cc.s.timeout != time.Second || cc.s.versionCap != "1.5" || cc.s.retry != 3 || cc.s.monitor != time.Minute {
		t.Fatalf("client settings not inherited: %+v", cc.s)
	}
	// The original is unchanged.
	if c.Target().Version != "1.0" || c.Target().Server != "h1" {
		t.Fatalf("Prepare changed the original: %+v", c.Target())
	}
	// Prepare on a prepared client.
	ccc := cc.Prepare(Fanout(false), Timeout(0))
	if ccc.Target().Fanout || ccc.s.timeout != 0 || ccc.Target().Version != "1.2" {
		t.Fatalf("second Prepare: %+v %+v", ccc.Target(), ccc.s)
	}
}

func TestVersionCap(t *testing.T) {
	tr := openRecorder(t, replyWith(`null`))
	c, err := New(tr, target.Target{Topic: "t", Version: "1.0"}, VersionCap("1.5"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	err = c.Prepare(Version("1.6")).Cast(ctx, "m", nil)
	var vce *VersionCapError
	if !errors.As(err, &vce) || !errors.Is(err, ErrVersionCap) {
		t.Fatalf("err = %v", err)
	}
	want := "client: Requested message version, 1.6 is incompatible.  It needs to be equal in major version and less than or equal in minor version as the specified version cap 1.5."
	if err.Error() != want {
		t.Fatalf("text %q\nwant %q", err.Error(), want)
	}
	if len(rec.sent) != 0 {
		t.Fatal("a message beyond the cap was sent")
	}
	if err := c.Prepare(Version("2.0")).Call(ctx, "m", nil, nil); !errors.Is(err, ErrVersionCap) {
		t.Fatalf("major mismatch: %v", err)
	}
	// oslo: a cap with an unversioned target fails.
	if err := c.Prepare(Version("")).Cast(ctx, "m", nil); !errors.Is(err, ErrVersionCap) {
		t.Fatalf("unversioned: %v", err)
	}
	if err := c.Prepare(Version("1.5")).Cast(ctx, "m", nil); err != nil {
		t.Fatalf("at the cap: %v", err)
	}
	if err := c.Prepare(Version("1.5")).Call(ctx, "m", nil, nil); err != nil {
		t.Fatalf("call at the cap: %v", err)
	}
	for v, ok := range map[string]bool{"1.0": true, "1.5": true, "1.5.1": false, "1.6": false, "2.0": false, "": true} {
		if got := c.CanSendVersion(v); got != ok {
			t.Errorf("CanSendVersion(%q) = %v", v, got)
		}
	}
	if !c.Prepare(VersionCap("")).CanSendVersion("9.9") {
		t.Error("no cap refuses a version")
	}
	if c.Prepare(Version("")).CanSendVersion("") {
		t.Error("cap with unversioned target allowed")
	}
}

func TestPrepareInvalidFailsLater(t *testing.T) {
	tr := openRecorder(t, nil)
	c, _ := New(tr, target.Target{Topic: "t"})
	bad := c.Prepare(Version("one"))
	if err := bad.Cast(context.Background(), "m", nil); err == nil {
		t.Fatal("cast with invalid version sent")
	}
	if err := bad.Call(context.Background(), "m", nil, nil); err == nil {
		t.Fatal("call with invalid version sent")
	}
	if err := c.Prepare(Topic("")).Cast(context.Background(), "m", nil); !errors.Is(err, target.ErrInvalidTarget) {
		t.Fatalf("empty topic: %v", err)
	}
	if err := c.Cast(context.Background(), "", nil); err == nil {
		t.Fatal("empty method sent")
	}
}

func TestRequestOnTheWire(t *testing.T) {
	tr := openRecorder(t, replyWith(`{"total": 10.5}`))
	c, _ := New(tr, target.Target{Topic: "t", Namespace: "ns", Version: "1.2"}, CallMonitorTimeout(4*time.Second))
	ctx := serializer.WithRequestContext(context.Background(), serializer.RequestContext{"request_id": "req-1"})
	var got map[string]float64
	if err := c.Call(ctx, "stats", map[string]any{"fs_path": "/x"}, &got); err != nil {
		t.Fatal(err)
	}
	if got["total"] != 10.5 {
		t.Fatalf("result %v", got)
	}
	r := lastRequest(t)
	if r.Method != "stats" || r.Namespace != "ns" || r.Version != "1.2" || r.MonitorTimeout != 4*time.Second ||
		r.ReplyTo != "reply_test" || len(r.MsgID) != 32 || r.Context["request_id"] != "req-1" {
		t.Fatalf("request %+v", r)
	}
	m := rec.sent[0].m
	if m.Expiration <= 59*time.Second || m.Expiration > DefaultTimeout || m.Retry != -1 {
		t.Fatalf("expiration %v retry %d", m.Expiration, m.Retry)
	}
	if rec.sent[0].t.Exchange != "openstack" {
		t.Fatalf("exchange %q", rec.sent[0].t.Exchange)
	}
}

func TestTimeoutChoice(t *testing.T) {
	tr := openRecorder(t, replyWith(`null`))
	c, _ := New(tr, target.Target{Topic: "t"}, Timeout(10*time.Second))
	ctx := context.Background()
	c.Call(ctx, "m", nil, nil)
	if e := rec.sent[0].m.Expiration; e <= 9*time.Second || e > 10*time.Second {
		t.Fatalf("client timeout: expiration %v", e)
	}
	// A sooner ctx deadline wins.
	dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	c.Call(dctx, "m", nil, nil)
	if e := rec.sent[1].m.Expiration; e > 2*time.Second || e < time.Second {
		t.Fatalf("ctx deadline: expiration %v", e)
	}
	// A later ctx deadline loses.
	lctx, cancel2 := context.WithTimeout(ctx, time.Hour)
	defer cancel2()
	c.Call(lctx, "m", nil, nil)
	if e := rec.sent[2].m.Expiration; e > 10*time.Second {
		t.Fatalf("later ctx deadline: expiration %v", e)
	}
	// Casts carry no expiration.
	c.Cast(ctx, "m", nil)
	if e := rec.sent[3].m.Expiration; e != 0 {
		t.Fatalf("cast expiration %v", e)
	}
}

func TestCallTimesOut(t *testing.T) {
	tr := openRecorder(t, nil) // never replies
	c, _ := New(tr, target.Target{Topic: "t"}, Timeout(50*time.Millisecond))
	start := time.Now()
	err := c.Call(context.Background(), "m", nil, nil)
	var te *transport.TimeoutError
	if !errors.As(err, &te) || !errors.Is(err, transport.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	if time.Since(start) < 50*time.Millisecond {
		t.Fatal("returned before the timeout")
	}
	// Canceled is not a timeout.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = c.Prepare(Timeout(time.Hour)).Call(ctx, "m", nil, nil)
	if errors.Is(err, transport.ErrTimeout) || !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled: %v", err)
	}
}

// upper upper-cases strings in both directions and tags the context.
type upper struct{}

func (upper) SerializeEntity(_ context.Context, e any) (any, error) {
	if s, ok := e.(string); ok {
		return strings.ToUpper(s), nil
	}
	return e, nil
}

func (upper) DeserializeEntity(_ context.Context, e any) (any, error) {
	if m, ok := e.(map[string]any); ok {
		m["deserialized"] = true
		return m, nil
	}
	return e, nil
}

func (upper) SerializeContext(ctx context.Context) (map[string]any, error) {
	return map[string]any{"via": "upper"}, nil
}

func (upper) DeserializeContext(ctx context.Context, m map[string]any) (context.Context, error) {
	return ctx, nil
}

func TestSerializerHooks(t *testing.T) {
	tr := openRecorder(t, replyWith(`{"a": 1}`))
	c, _ := New(tr, target.Target{Topic: "t"}, WithSerializer(upper{}))
	type Args struct {
		Name  string `json:"name"`
		Skip  string `json:"-"`
		Empty string `json:"empty,omitempty"`
		N     int
	}
	var got struct {
		A            int  `json:"a"`
		Deserialized bool `json:"deserialized"`
	}
	if err := c.Call(context.Background(), "m", Args{Name: "db", Skip: "x", N: 2}, &got); err != nil {
		t.Fatal(err)
	}
	if got.A != 1 || !got.Deserialized {
		t.Fatalf("result %+v", got)
	}
	r := lastRequest(t)
	var args map[string]any
	r.Args.Decode(&args)
	if args["name"] != "DB" || args["N"] == nil || len(args) != 2 {
		t.Fatalf("args %v", args)
	}
	if r.Context["via"] != "upper" {
		t.Fatalf("context %v", r.Context)
	}
}

func TestKwargs(t *testing.T) {
	type Base struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	type Args struct {
		Base
		Name  string `json:"name"` // shadows Base.Name
		Size  int    `json:"size,omitempty"`
		inner int
	}
	got, err := kwargs(&Args{Base: Base{ID: "i", Name: "base"}, Name: "outer", inner: 1})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]any{"id": "i", "name": "outer"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("kwargs = %v, want %v", got, want)
	}
	if _, err := kwargs([]int{1}); err == nil {
		t.Error("slice accepted")
	}
	if _, err := kwargs(map[int]string{}); err == nil {
		t.Error("int-keyed map accepted")
	}
	var nilPtr *Args
	if m, err := kwargs(nilPtr); err != nil || len(m) != 0 {
		t.Errorf("nil pointer: %v %v", m, err)
	}
}

func TestGenericCall(t *testing.T) {
	tr := openRecorder(t, replyWith(`["a", "b"]`))
	c, _ := New(tr, target.Target{Topic: "t"})
	got, err := Call[[]string](context.Background(), c, "list", nil)
	if err != nil || !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Fatalf("Call[[]string] = %v, %v", got, err)
	}
	_, err = Call[int](context.Background(), c, "list", nil)
	if err == nil || !strings.Contains(err.Error(), "decoding the result of list") {
		t.Fatalf("wrong result type: %v", err)
	}
}

func TestAtLeastOnceSetsMandatory(t *testing.T) {
	tr := openRecorder(t, replyWith(`"ok"`))
	ctx := context.Background()
	c, err := New(tr, target.Target{Topic: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Cast(ctx, "m", nil); err != nil || rec.sent[len(rec.sent)-1].m.Mandatory {
		t.Fatalf("default cast: mandatory %v, %v", rec.sent[len(rec.sent)-1].m.Mandatory, err)
	}
	al := c.Prepare(AtLeastOnce(true))
	if err := al.Cast(ctx, "m", nil); err != nil || !rec.sent[len(rec.sent)-1].m.Mandatory {
		t.Fatalf("AtLeastOnce cast: mandatory %v, %v", rec.sent[len(rec.sent)-1].m.Mandatory, err)
	}
	if err := al.Call(ctx, "m", nil, nil); err != nil || !rec.sent[len(rec.sent)-1].m.Mandatory {
		t.Fatalf("AtLeastOnce call: mandatory %v, %v", rec.sent[len(rec.sent)-1].m.Mandatory, err)
	}
	if err := al.Prepare(AtLeastOnce(false)).Cast(ctx, "m", nil); err != nil || rec.sent[len(rec.sent)-1].m.Mandatory {
		t.Fatal("Prepare(AtLeastOnce(false)) kept mandatory")
	}
}

func TestTimeoutNamesTheCall(t *testing.T) {
	tr := openRecorder(t, nil) // never replies
	c, err := New(tr, target.Target{Topic: "guestagent", Server: "host-1"}, Timeout(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	err = c.Call(context.Background(), "get_filesystem_stats", nil, nil)
	var te *transport.TimeoutError
	if !errors.As(err, &te) || !errors.Is(err, transport.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"call get_filesystem_stats", "exchange=openstack", "topic=guestagent", "server=host-1", te.MsgID} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err, want)
		}
	}
	if te.Op != "call" || te.Method != "get_filesystem_stats" || te.Target.Topic != "guestagent" || te.MsgID == "" {
		t.Errorf("fields %+v", te)
	}
}

func TestMiddleware(t *testing.T) {
	tr := openRecorder(t, replyWith(`{"total": 7}`))
	var trail []string
	mw := func(name string) Middleware {
		return func(next Invoker) Invoker {
			return func(ctx context.Context, inv *Invocation) error {
				trail = append(trail, name+">"+inv.CallType+":"+inv.Method+"@"+inv.Target.Exchange+"/"+inv.Target.Topic)
				// A middleware can add to the request context (tracing does).
				rc := serializer.RequestContext{name: "seen"}
				for k, v := range serializer.RequestContextFrom(ctx) {
					rc[k] = v
				}
				err := next(serializer.WithRequestContext(ctx, rc), inv)
				if inv.Reply != nil {
					trail = append(trail, fmt.Sprintf("<%s %v %v", name, *inv.Reply.(*map[string]int), err))
				} else {
					trail = append(trail, fmt.Sprintf("<%s %v", name, err))
				}
				return err
			}
		}
	}
	c, err := New(tr, target.Target{Topic: "t"}, WithMiddleware(mw("outer")), Timeout(3*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	cc := c.Prepare(WithMiddleware(mw("inner")), Server("s1"))
	var got map[string]int
	if err := cc.Call(context.Background(), "stats", nil, &got); err != nil || got["total"] != 7 {
		t.Fatalf("call: %v %v", got, err)
	}
	if rc := lastRequest(t).Context; rc["outer"] != "seen" || rc["inner"] != "seen" {
		t.Errorf("request context %v lacks what the middleware added", rc)
	}
	if err := cc.Cast(context.Background(), "note", nil); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"outer>call:stats@openstack/t", "inner>call:stats@openstack/t", "<inner map[total:7] <nil>", "<outer map[total:7] <nil>",
		"outer>cast:note@openstack/t", "inner>cast:note@openstack/t", "<inner <nil>", "<outer <nil>",
	}
	if strings.Join(trail, "|") != strings.Join(want, "|") {
		t.Fatalf("trail\n%s\nwant\n%s", strings.Join(trail, "\n"), strings.Join(want, "\n"))
	}
	// The client without Prepare's middleware has only its own.
	trail = nil
	if err := c.Cast(context.Background(), "note", nil); err != nil || len(trail) != 2 {
		t.Fatalf("cast through the original client: %v %v", trail, err)
	}
	// Invalid settings fail before the middleware.
	trail = nil
	if err := c.Prepare(Fanout(true)).Call(context.Background(), "x", nil, nil); err == nil || len(trail) != 0 {
		t.Fatalf("fanout call: %v, middleware ran %v", err, trail)
	}
}
