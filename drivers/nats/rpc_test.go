package nats

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oslo-go/messaging/client"
	"github.com/oslo-go/messaging/drivers/drivertest"
	"github.com/oslo-go/messaging/drivers/nats/embedded"
	"github.com/oslo-go/messaging/server"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
	"github.com/oslo-go/messaging/transport/driver"
)

// openTransport opens a transport on url, closed when the test ends.
func openTransport(t testing.TB, url string, opts ...transport.Option) *transport.Transport {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	opts = append([]transport.Option{transport.WithLogger(drivertest.TestLogger(t))}, opts...)
	tr, err := transport.Open(ctx, url, opts...)
	if err != nil {
		t.Fatalf("transport.Open: %v", err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

// replies collects what a driver Conn reports to OnReply.
type replies struct {
	ch chan driver.Reply
}

// openConn opens a driver Conn directly, with its replies in the returned
// channel.
func openConn(t testing.TB, url string, opts ...transport.Option) (driver.Conn, *replies) {
	t.Helper()
	u, err := transport.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	var dopts []any
	for _, o := range opts {
		dopts = append(dopts, unwrapOption(o))
	}
	r := &replies{ch: make(chan driver.Reply, 1024)}
	c, err := Driver{}.Open(context.Background(), u, driver.Config{
		OnReply: func(rep driver.Reply) {
			select {
			case r.ch <- rep:
			default:
			}
		},
		Logger:  drivertest.TestLogger(t),
		Options: dopts,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.(driver.Pinger).Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	return c, r
}

func (r *replies) next(t testing.TB) driver.Reply {
	t.Helper()
	select {
	case rep := <-r.ch:
		return rep
	case <-time.After(10 * time.Second):
		t.Fatal("no reply")
	}
	return driver.Reply{}
}

func startServer(t testing.TB, tr *transport.Transport, tg target.Target, endpoints ...any) *server.Server {
	t.Helper()
	return startServerOpts(t, tr, tg, endpoints)
}

// startServerOpts starts a server with options, stopped when the test ends.
func startServerOpts(t testing.TB, tr *transport.Transport, tg target.Target, endpoints []any, opts ...server.Option) *server.Server {
	t.Helper()
	srv, err := server.New(tr, tg, endpoints, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		srv.Close()
	})
	return srv
}

// echo is a small endpoint.
type echo struct {
	name  string
	casts chan string
}

type echoArgs struct {
	Text string `json:"text"`
}

type echoResult struct {
	Text   string `json:"text"`
	Server string `json:"server"`
}

func newEcho(name string) *echo { return &echo{name: name, casts: make(chan string, 1024)} }

func (e *echo) Echo(_ context.Context, a echoArgs) (echoResult, error) {
	return echoResult{Text: a.Text, Server: e.name}, nil
}

func (e *echo) Record(_ context.Context, a echoArgs) error {
	e.casts <- a.Text
	return nil
}

func ctxFor(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// TestAwkwardNames calls targets whose exchange, topic and server hold
// dots, spaces, wildcards and the escape character.
func TestAwkwardNames(t *testing.T) {
	e := startEmbedded(t)
	tr := openTransport(t, e.URL())
	base := uniqueTopic(t)
	ctx := ctxFor(t, 30*time.Second)
	for i, tg := range []target.Target{
		{Exchange: "nova", Topic: base + ".guestagent.5f2c", Server: "host.1"},
		{Exchange: "a.b c", Topic: base + " * > ~2E %", Server: "~"},
		{Exchange: "x", Topic: base + ".é", Server: "*"},
	} {
		name := fmt.Sprintf("s%d", i)
		startServer(t, openTransport(t, e.URL()), tg, newEcho(name))
		c, err := client.New(tr, target.Target{Exchange: tg.Exchange, Topic: tg.Topic})
		if err != nil {
			t.Fatal(err)
		}
		for _, cc := range []*client.Client{c, c.Prepare(client.Server(tg.Server))} {
			got, err := client.Call[echoResult](ctx, cc, "echo", echoArgs{Text: "hi"})
			if err != nil || got.Server != name {
				t.Fatalf("call to %v: %+v, %v", cc.Target(), got, err)
			}
		}
	}
}

// TestExchangeIsolation checks that exchanges separate topics and that
// fanout ignores the exchange.
func TestExchangeIsolation(t *testing.T) {
	e := startEmbedded(t)
	tr := openTransport(t, e.URL())
	tp := uniqueTopic(t)
	ep := newEcho("s1")
	startServer(t, openTransport(t, e.URL()), target.Target{Exchange: "ex1", Topic: tp, Server: "s1"}, ep)
	ctx := ctxFor(t, 20*time.Second)

	other, err := client.New(tr, target.Target{Exchange: "ex2", Topic: tp}, client.Timeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Call(ctx, "echo", nil, nil); !errors.Is(err, transport.ErrNoServers) {
		t.Fatalf("call in another exchange: err = %v, want ErrNoServers", err)
	}
	if err := other.Prepare(client.Server("s1")).Call(ctx, "echo", nil, nil); !errors.Is(err, transport.ErrNoServers) {
		t.Fatalf("direct call in another exchange: err = %v, want ErrNoServers", err)
	}
	same, _ := client.New(tr, target.Target{Exchange: "ex1", Topic: tp})
	if err := same.Call(ctx, "echo", nil, nil); err != nil {
		t.Fatalf("call in the server's exchange: %v", err)
	}
	if err := other.Prepare(client.Fanout(true)).Cast(ctx, "record", echoArgs{Text: "fan"}); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-ep.casts:
		if got != "fan" {
			t.Fatalf("got %q", got)
		}
	case <-ctx.Done():
		t.Fatal("fanout cast from another exchange did not arrive")
	}
}

// TestHeaders checks that content type and expiration travel and come back
// on the Incoming, and that a reply's content type reaches OnReply.
func TestHeaders(t *testing.T) {
	e := startEmbedded(t)
	srvConn, _ := openConn(t, e.URL())
	cliConn, rep := openConn(t, e.URL())
	ctx := ctxFor(t, 20*time.Second)
	tg := target.Target{Exchange: "openstack", Topic: uniqueTopic(t), Server: "s1"}
	l, err := srvConn.Listen(ctx, tg, driver.ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	inbox, err := cliConn.ReplyAddress(ctx)
	if err != nil {
		t.Fatal(err)
	}
	req := &driver.Message{Body: []byte("req"), ContentType: "application/msgpack", MsgID: "m.1", ReplyTo: inbox, Expiration: 1500*time.Millisecond + 1}
	if err := cliConn.Send(ctx, target.Target{Exchange: "openstack", Topic: tg.Topic}, req); err != nil {
		t.Fatal(err)
	}
	in, err := l.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m := in.Message()
	// The expiration travels in milliseconds, less the time the request
	// waited in the listener.
	if string(m.Body) != "req" || m.ContentType != "application/msgpack" || m.Expiration > 1501*time.Millisecond || m.Expiration < time.Second ||
		m.MsgID != "m.1" || m.ReplyTo != inbox {
		t.Fatalf("received %+v", m)
	}
	if err := in.Reply(ctx, &driver.Message{Body: []byte("rep"), ContentType: "application/msgpack", MsgID: m.MsgID, ReplyTo: m.ReplyTo}); err != nil {
		t.Fatal(err)
	}
	r := rep.next(t)
	if r.Err != nil || string(r.Message.Body) != "rep" || r.Message.ContentType != "application/msgpack" {
		t.Fatalf("reply %+v", r)
	}
	// A cast carries no header at all; Reply is a no-op for it.
	if err := cliConn.Send(ctx, tg, &driver.Message{Body: []byte("cast")}); err != nil {
		t.Fatal(err)
	}
	in, err = l.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if m := in.Message(); string(m.Body) != "cast" || m.ContentType != "" || m.Expiration != 0 || m.MsgID != "" {
		t.Fatalf("cast received as %+v", m)
	}
	if err := in.Reply(ctx, &driver.Message{Body: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	// No responders: a driver.Reply naming the call.
	if err := cliConn.Send(ctx, target.Target{Exchange: "openstack", Topic: tg.Topic + "_nobody"}, &driver.Message{Body: []byte("q"), MsgID: "lonely", ReplyTo: inbox}); err != nil {
		t.Fatal(err)
	}
	r = rep.next(t)
	if r.MsgID != "lonely" || !errors.Is(r.Err, driver.ErrNoServers) || !strings.HasPrefix(r.Err.Error(), "nats: ") {
		t.Fatalf("no responders reported as %+v", r)
	}
}

// TestListenerCloseHandsBack checks that messages a closing listener had
// received but not handed out go to the other server of the topic.
func TestListenerCloseHandsBack(t *testing.T) {
	e := startEmbedded(t)
	c1, _ := openConn(t, e.URL())
	c2, _ := openConn(t, e.URL())
	sender, _ := openConn(t, e.URL())
	ctx := ctxFor(t, 20*time.Second)
	tp := uniqueTopic(t)
	l1, err := c1.Listen(ctx, target.Target{Exchange: "openstack", Topic: tp, Server: "s1"}, driver.ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	l2, err := c2.Listen(ctx, target.Target{Exchange: "openstack", Topic: tp, Server: "s2"}, driver.ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	const n = 200
	for i := range n {
		if err := sender.Send(ctx, target.Target{Exchange: "openstack", Topic: tp}, &driver.Message{Body: []byte(fmt.Sprint(i))}); err != nil {
			t.Fatal(err)
		}
	}
	// Let both listeners receive their share, then close l1 unread.
	time.Sleep(200 * time.Millisecond)
	l1.Close()
	got := map[string]bool{}
	for len(got) < n {
		in, err := l2.Next(ctx)
		if err != nil {
			t.Fatalf("got %d of %d: %v", len(got), n, err)
		}
		got[string(in.Message().Body)] = true
	}
	if _, err := l1.Next(ctx); !errors.Is(err, driver.ErrClosed) {
		t.Fatalf("Next after Close: %v", err)
	}
}

type bigEcho struct {
	mu    sync.Mutex
	casts []string
	got   chan struct{}
}

func (b *bigEcho) Echo(_ context.Context, a echoArgs) (echoResult, error) {
	return echoResult{Text: a.Text + a.Text}, nil
}

func (b *bigEcho) Record(_ context.Context, a echoArgs) error {
	b.mu.Lock()
	b.casts = append(b.casts, a.Text)
	b.mu.Unlock()
	b.got <- struct{}{}
	return nil
}

// TestLargeMessages sends bodies many times the server's max_payload:
// calls (request and reply), casts, fanout casts to two servers.
func TestLargeMessages(t *testing.T) {
	e := startEmbedded(t, embedded.MaxPayload(64<<10))
	tr := openTransport(t, e.URL())
	tp := uniqueTopic(t)
	b1, b2 := &bigEcho{got: make(chan struct{}, 16)}, &bigEcho{got: make(chan struct{}, 16)}
	startServer(t, openTransport(t, e.URL()), target.Target{Topic: tp, Server: "s1"}, b1)
	startServer(t, openTransport(t, e.URL()), target.Target{Topic: tp, Server: "s2"}, b2)
	c, _ := client.New(tr, target.Target{Topic: tp})
	ctx := ctxFor(t, 30*time.Second)
	big := strings.Repeat("0123456789abcdef\"\\é", 20000) // ~400 KB, ~7 chunks

	got, err := client.Call[echoResult](ctx, c, "echo", echoArgs{Text: big})
	if err != nil {
		t.Fatal(err)
	}
	if got.Text != big+big {
		t.Fatalf("reply of %d bytes, want %d", len(got.Text), 2*len(big))
	}
	if err := c.Prepare(client.Fanout(true)).Cast(ctx, "record", echoArgs{Text: big}); err != nil {
		t.Fatal(err)
	}
	if err := c.Prepare(client.Server("s2")).Cast(ctx, "record", echoArgs{Text: big + "2"}); err != nil {
		t.Fatal(err)
	}
	wait := func(b *bigEcho, n int) {
		for range n {
			select {
			case <-b.got:
			case <-ctx.Done():
				t.Fatal("large cast did not arrive")
			}
		}
	}
	wait(b1, 1)
	wait(b2, 2)
	if len(b1.casts) != 1 || b1.casts[0] != big {
		t.Fatalf("s1 got %d casts", len(b1.casts))
	}
	sort.Strings(b2.casts)
	if len(b2.casts) != 2 || b2.casts[0] != big || b2.casts[1] != big+"2" {
		t.Fatalf("s2 got %d casts", len(b2.casts))
	}
	// A large call to nobody fails fast too.
	nobody, _ := client.New(tr, target.Target{Topic: tp + "_nobody"})
	if err := nobody.Call(ctx, "echo", echoArgs{Text: big}, nil); !errors.Is(err, transport.ErrNoServers) {
		t.Fatalf("large call to nobody: %v", err)
	}
}

// TestBlobStore checks the sender side of large messages.
func TestBlobStore(t *testing.T) {
	var s blobStore
	s.init()
	id := s.put([]byte("0123456789"), false, time.Minute)
	if b, ok := s.chunk(id, 0, 4); !ok || string(b) != "0123" {
		t.Fatalf("chunk 0 = %q, %v", b, ok)
	}
	if b, ok := s.chunk(id, 8, 4); !ok || string(b) != "89" {
		t.Fatalf("last chunk = %q, %v", b, ok)
	}
	if _, ok := s.chunk(id, 0, 4); ok {
		t.Fatal("body kept after its last chunk")
	}
	fid := s.put([]byte("abc"), true, 50*time.Millisecond)
	for range 2 { // fanout bodies are served several times
		if b, ok := s.chunk(fid, 0, 10); !ok || string(b) != "abc" {
			t.Fatalf("fanout chunk = %q, %v", b, ok)
		}
	}
	time.Sleep(200 * time.Millisecond)
	if _, ok := s.chunk(fid, 0, 10); ok {
		t.Fatal("fanout body kept after its TTL")
	}
	if _, ok := s.chunk("nope", 0, 1); ok {
		t.Fatal("unknown id served")
	}
	s.put([]byte("x"), false, time.Hour)
	s.clear()
	if len(s.blobs) != 0 {
		t.Fatal("clear left bodies")
	}
}

// TestClosedConn checks the errors after Close.
func TestClosedConn(t *testing.T) {
	e := startEmbedded(t)
	c, _ := openConn(t, e.URL())
	ctx := ctxFor(t, 10*time.Second)
	l, err := c.Listen(ctx, target.Target{Exchange: "x", Topic: uniqueTopic(t), Server: "s"}, driver.ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	tg := target.Target{Exchange: "x", Topic: "t"}
	if err := c.Send(ctx, tg, &driver.Message{Body: []byte("x")}); !errors.Is(err, driver.ErrClosed) {
		t.Errorf("Send: %v", err)
	}
	if _, err := c.ReplyAddress(ctx); !errors.Is(err, driver.ErrClosed) {
		t.Errorf("ReplyAddress: %v", err)
	}
	if _, err := c.Listen(ctx, tg, driver.ListenOptions{}); !errors.Is(err, driver.ErrClosed) {
		t.Errorf("Listen: %v", err)
	}
	if _, err := l.Next(ctx); !errors.Is(err, driver.ErrClosed) {
		t.Errorf("Next: %v", err)
	}
	n := c.(driver.Notifier)
	if err := n.Notify(ctx, tg, &driver.Message{Body: []byte("x")}); !errors.Is(err, driver.ErrClosed) {
		t.Errorf("Notify: %v", err)
	}
	if _, err := n.ListenNotifications(ctx, []target.Target{tg}, "", driver.ListenOptions{}); !errors.Is(err, driver.ErrClosed) {
		t.Errorf("ListenNotifications: %v", err)
	}
}
