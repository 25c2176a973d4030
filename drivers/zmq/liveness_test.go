package zmq

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/oslo-go/messaging/client"
	"github.com/oslo-go/messaging/drivers/drivertest"
	"github.com/oslo-go/messaging/internal/engine"
	"github.com/oslo-go/messaging/server"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
	"github.com/oslo-go/messaging/transport/driver"
	"go.uber.org/goleak"
)

func sep(url string) string {
	if strings.Contains(url, "?") {
		return "&"
	}
	return "?"
}

func tgt(topic, server string) target.Target {
	return target.Target{Exchange: "openstack", Topic: topic, Server: server}
}

// openConn opens a driver connection directly; replies go to the returned
// conn's test hook.
func openConn(t *testing.T, raw string) *conn {
	t.Helper()
	u, err := transport.ParseURL(raw)
	if err != nil {
		t.Fatal(err)
	}
	dc, err := Driver{}.Open(context.Background(), u, driver.Config{OnReply: func(driver.Reply) {}, Logger: drivertest.TestLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dc.Close() })
	return dc.(*conn)
}

func openTr(t *testing.T, raw string) *transport.Transport {
	t.Helper()
	tr, err := transport.Open(context.Background(), raw, transport.WithLogger(drivertest.TestLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

func noLeaks(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
}

// silentPeer accepts connections, completes the ZMTP handshake as typ,
// then neither reads nor writes: a hung process, or a host gone from the
// network without closing its connections.
func silentPeer(t *testing.T, typ zmq4.SocketType) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, nc)
			mu.Unlock()
			handshake(nc, bufio.NewReader(nc), typ, "silent", time.Second)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
		mu.Lock()
		for _, nc := range conns {
			nc.Close()
		}
		mu.Unlock()
	})
	return ln.Addr().String()
}

// TestSilentServer: a server that stops answering without closing its
// connection is declared dead after heartbeat_timeout; the call pending on
// it fails with ErrConnectionLost well before the call timeout.
func TestSilentServer(t *testing.T) {
	noLeaks(t)
	ns := t.Name()
	addr := silentPeer(t, zmq4.Router)
	register(t, memMatchmakerFor(ns), Key{Topic: "silent"}, addr, time.Minute)
	tr := openTr(t, "zmq:///"+ns+"?heartbeat_interval=100ms&heartbeat_timeout=500ms")
	c, _ := client.New(tr, target.Target{Topic: "silent"}, client.Timeout(20*time.Second))
	start := time.Now()
	err := c.Call(context.Background(), "echo", nil, nil)
	if !errors.Is(err, transport.ErrConnectionLost) || time.Since(start) > 3*time.Second {
		t.Fatalf("call to a silent server: %v after %v, want ErrConnectionLost after about 500ms", err, time.Since(start))
	}
	t.Logf("failed after %v: %v", time.Since(start).Round(time.Millisecond), err)
}

// TestSilentClient: a server closes a client connection that sends
// nothing (not even the PINGs live clients send) for heartbeat_timeout;
// until then it sends keepalive PONGs.
func TestSilentClient(t *testing.T) {
	noLeaks(t)
	c := openConn(t, "zmq:///"+t.Name()+"?heartbeat_interval=100ms&heartbeat_timeout=500ms")
	l, err := c.Listen(context.Background(), tgt("t", "s"), driver.ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	addrs := lookup(t, c.mm, Key{Topic: "t"})
	nc, err := net.Dial("tcp", addrs[0])
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	br := bufio.NewReader(nc)
	if err := handshake(nc, br, zmq4.Dealer, "client", time.Second); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	fr := newFrameReader(br, 1<<20)
	pongs := 0
	for {
		frames, _, err := fr.next()
		if err != nil {
			break
		}
		if f, err := decodeFrames(frames); err != nil || f.kind != kindPong {
			t.Fatalf("silent client got %v, %v; want only keepalive PONGs", f.kind, err)
		}
		pongs++
	}
	if el := time.Since(start); el < 400*time.Millisecond || el > 3*time.Second {
		t.Fatalf("silent client connection closed after %v, want about 500ms", el)
	}
	if pongs == 0 {
		t.Fatal("the server sent no keepalive PONG to its client")
	}
}

// TestRejectResend: calls queued in a listener that closes before taking
// them are handed back (REJECT) and the caller sends them to another
// server of the topic.
func TestRejectResend(t *testing.T) {
	noLeaks(t)
	url := "zmq:///" + t.Name()
	trC, trA, trB := openTr(t, url), openTr(t, url), openTr(t, url)
	// A listens but never takes a request; B is a real server.
	la, err := engine.Of(trA).Listen(context.Background(), target.Target{Topic: "rr", Server: "a"}, driver.ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := server.New(trB, target.Target{Topic: "rr", Server: "b"}, []any{&drivertest.Echo{}})
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c, _ := client.New(trC, target.Target{Topic: "rr"}, client.Timeout(10*time.Second))
	const n = 10
	var done atomic.Int32
	errs := make(chan error, n)
	for range n {
		go func() {
			err := c.Call(context.Background(), "echo", nil, nil)
			done.Add(1)
			errs <- err
		}()
	}
	time.Sleep(300 * time.Millisecond)
	queued := n - int(done.Load())
	if queued == 0 {
		t.Fatal("no call went to the listener that does not take them")
	}
	la.Close()
	for range n {
		select {
		case err := <-errs:
			if err != nil {
				t.Fatalf("call: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("calls queued on the closed listener were not resent (%d done)", done.Load())
		}
	}
	t.Logf("%d calls queued in the closed listener were served by the other server", queued)
}

// TestMessageTooLarge: a send over max_message_size fails at once with a
// clear error; a peer that sends one anyway is disconnected.
func TestMessageTooLarge(t *testing.T) {
	noLeaks(t)
	url := "zmq:///" + t.Name() + "?max_message_size=4096"
	tr := openTr(t, url)
	srv, _ := server.New(openTr(t, url), target.Target{Topic: "big", Server: "s"}, []any{&drivertest.Echo{}})
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c, _ := client.New(tr, target.Target{Topic: "big"}, client.Timeout(5*time.Second))
	for _, op := range []string{"call", "cast"} {
		start := time.Now()
		var err error
		if op == "call" {
			err = c.Call(context.Background(), "echo", drivertest.EchoArgs{Text: strings.Repeat("x", 8000)}, nil)
		} else {
			err = c.Cast(context.Background(), "echo", drivertest.EchoArgs{Text: strings.Repeat("x", 8000)})
		}
		if !errors.Is(err, transport.ErrMessageTooLarge) || !strings.Contains(err.Error(), "max_message_size") || time.Since(start) > time.Second {
			t.Fatalf("oversized %s: %v after %v, want ErrMessageTooLarge at once", op, err, time.Since(start))
		}
	}
	if err := c.Call(context.Background(), "echo", drivertest.EchoArgs{Text: "small"}, nil); err != nil {
		t.Fatalf("call after the oversized one: %v", err)
	}
	// A client with a larger limit gets disconnected by the server.
	big, _ := client.New(openTr(t, "zmq:///"+t.Name()+"?max_message_size=1048576"), target.Target{Topic: "big"}, client.Timeout(5*time.Second))
	err := big.Call(context.Background(), "echo", drivertest.EchoArgs{Text: strings.Repeat("x", 8000)}, nil)
	if !errors.Is(err, transport.ErrConnectionLost) {
		t.Fatalf("oversized call to a server with a smaller limit: %v, want ErrConnectionLost", err)
	}
	if err := c.Call(context.Background(), "echo", nil, nil); err != nil {
		t.Fatalf("server stopped serving: %v", err)
	}
}

// TestPortRange: servers bind ports of the range and fail clearly when it
// is used up.
func TestPortRange(t *testing.T) {
	noLeaks(t)
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := probe.Addr().(*net.TCPAddr).Port
	probe.Close()
	c := openConn(t, fmt.Sprintf("zmq:///%s?min_port=%d&max_port=%d", t.Name(), port, port))
	l, err := c.Listen(context.Background(), tgt("pr", "s1"), driver.ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if got := lookup(t, c.mm, Key{Topic: "pr", Server: "s1"}); len(got) != 1 || got[0] != fmt.Sprintf("127.0.0.1:%d", port) {
		t.Fatalf("registered %v, want port %d", got, port)
	}
	if _, err := c.Listen(context.Background(), tgt("pr", "s2"), driver.ListenOptions{}); err == nil || !strings.Contains(err.Error(), "no free port") {
		t.Fatalf("second listener on a one-port range: %v", err)
	}
}

// TestStaticEndToEnd: a server bound to the port a static table lists is
// reached through it; keys the table does not list have no servers.
func TestStaticEndToEnd(t *testing.T) {
	noLeaks(t)
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := probe.Addr().(*net.TCPAddr).Port
	probe.Close()
	url := fmt.Sprintf("zmq://?static_targets=st=127.0.0.1:%d,st.s1=127.0.0.1:%d&min_port=%d&max_port=%d", port, port, port, port)
	srv, _ := server.New(openTr(t, url), target.Target{Topic: "st", Server: "s1"}, []any{&drivertest.Echo{}})
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c, _ := client.New(openTr(t, url), target.Target{Topic: "st"}, client.Timeout(5*time.Second))
	if err := c.Call(context.Background(), "echo", nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Prepare(client.Server("s1")).Call(context.Background(), "echo", nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Prepare(client.Server("s2")).Call(context.Background(), "echo", nil, nil); !errors.Is(err, transport.ErrNoServers) {
		t.Fatalf("call to an unlisted server: %v", err)
	}
}

// TestHeartbeatKeepsCallTracked: a monitored call whose server dies after
// sending heartbeats fails at once with ErrConnectionLost, not by the call
// monitor's timeout.
func TestHeartbeatKeepsCallTracked(t *testing.T) {
	noLeaks(t)
	url := "zmq:///" + t.Name()
	trC, trS := openTr(t, url), openTr(t, url)
	l, err := engine.Of(trS).Listen(context.Background(), target.Target{Topic: "beats", Server: "s"}, driver.ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := client.New(trC, target.Target{Topic: "beats"},
		client.Timeout(30*time.Second), client.CallMonitorTimeout(20*time.Second))
	errc := make(chan error, 1)
	go func() { errc <- c.Call(context.Background(), "slow", nil, nil) }()
	d, err := l.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := d.Heartbeat(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(100 * time.Millisecond) // the heartbeats reach the client
	start := time.Now()
	trS.Close() // the server dies: its connections close
	select {
	case err := <-errc:
		if !errors.Is(err, transport.ErrConnectionLost) {
			t.Fatalf("err = %v, want ErrConnectionLost", err)
		}
		if e := time.Since(start); e > 5*time.Second {
			t.Fatalf("failed after %v", e)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("call not failed when its server died after heartbeating")
	}
}

// bigReply returns results of the size asked for.
type bigReply struct{}

type sizeArgs struct {
	N int `json:"n"`
}

func (bigReply) Big(_ context.Context, a sizeArgs) (string, error) {
	return strings.Repeat("x", a.N), nil
}

// TestReplyTooLarge: a result over the server's max_message_size fails the
// call at once with ErrMessageTooLarge, not by the call's timeout, and the
// connection goes on serving.
func TestReplyTooLarge(t *testing.T) {
	noLeaks(t)
	url := "zmq:///" + t.Name() + "?max_message_size=65536"
	srv, _ := server.New(openTr(t, url), target.Target{Topic: "big", Server: "s"}, []any{bigReply{}})
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c, _ := client.New(openTr(t, url), target.Target{Topic: "big"}, client.Timeout(20*time.Second))
	start := time.Now()
	err := c.Call(context.Background(), "big", sizeArgs{N: 100000}, nil)
	if !errors.Is(err, transport.ErrMessageTooLarge) || time.Since(start) > 5*time.Second {
		t.Fatalf("call with a reply over max_message_size: %v after %v, want ErrMessageTooLarge at once", err, time.Since(start))
	}
	t.Logf("after %v: %v", time.Since(start).Round(time.Millisecond), err)
	var s string
	if err := c.Call(context.Background(), "big", sizeArgs{N: 1000}, &s); err != nil || len(s) != 1000 {
		t.Fatalf("call after the oversized reply: %d bytes, %v", len(s), err)
	}
}

// TestMandatory: with AtLeastOnce, a cast, call or fanout cast that no
// server takes fails with ErrUndeliverable; without it, only sends to one
// server fail (ErrNoServers) and a fanout to nobody is dropped.
func TestMandatory(t *testing.T) {
	noLeaks(t)
	url := "zmq:///" + t.Name()
	tr := openTr(t, url)
	ctx := context.Background()
	for _, tc := range []struct {
		mandatory, fanout, call  bool
		undeliverable, noServers bool
	}{
		{mandatory: true, undeliverable: true, noServers: true},
		{mandatory: true, call: true, undeliverable: true, noServers: true},
		{mandatory: true, fanout: true, undeliverable: true},
		{noServers: true},
		{call: true, noServers: true},
		{fanout: true},
	} {
		c, _ := client.New(tr, target.Target{Topic: "nobody", Fanout: tc.fanout}, client.AtLeastOnce(tc.mandatory), client.Timeout(2*time.Second))
		var err error
		if tc.call {
			err = c.Call(ctx, "echo", nil, nil)
		} else {
			err = c.Cast(ctx, "echo", nil)
		}
		if errors.Is(err, transport.ErrUndeliverable) != tc.undeliverable || errors.Is(err, transport.ErrNoServers) != tc.noServers || (err == nil) == (tc.undeliverable || tc.noServers) {
			t.Errorf("%+v: %v", tc, err)
		}
	}
	e := &drivertest.Echo{}
	srv, _ := server.New(openTr(t, url), target.Target{Topic: "somebody", Server: "s"}, []any{e})
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	for _, fanout := range []bool{false, true} {
		c, _ := client.New(tr, target.Target{Topic: "somebody", Fanout: fanout}, client.AtLeastOnce(true))
		if err := c.Cast(ctx, "echo", drivertest.EchoArgs{Text: "x"}); err != nil {
			t.Fatalf("mandatory cast (fanout %v) to a live server: %v", fanout, err)
		}
	}
}

// TestWarningsRateLimited: a client that sends a hundred malformed
// messages gets one warning logged, not a hundred (the others go to
// Debug), and the server goes on serving.
func TestWarningsRateLimited(t *testing.T) {
	noLeaks(t)
	url := "zmq:///" + t.Name()
	str, logs, err := openLogged(t, url)
	if err != nil {
		t.Fatal(err)
	}
	if err := serveEcho(t, context.Background(), str, target.Target{Topic: "noisy", Server: "s"}); err != nil {
		t.Fatal(err)
	}
	tr := openTr(t, url)
	addrs, err := Lookup(tr, Key{Topic: "noisy"})
	if err != nil || len(addrs) != 1 {
		t.Fatalf("lookup: %v, %v", addrs, err)
	}
	nc, err := net.Dial("tcp", addrs[0])
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := handshake(nc, bufio.NewReader(nc), zmq4.Dealer, "noisy", time.Second); err != nil {
		t.Fatal(err)
	}
	var msgs []byte
	for range 100 {
		msgs = appendZMTPFrame(msgs, []byte{9, byte(kindCast)}, false) // wire version 9
	}
	if _, err := nc.Write(msgs); err != nil {
		t.Fatal(err)
	}
	if err := echo(t, tr, "noisy"); err != nil {
		t.Fatalf("call after the malformed messages: %v", err)
	}
	var warns, debugs int
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		text := logs.String()
		warns = strings.Count(text, `level=WARN msg="zmq: dropping malformed message from client"`)
		debugs = strings.Count(text, `level=DEBUG msg="zmq: dropping malformed message from client"`)
		if warns+debugs >= 100 {
			break
		}
	}
	if warns != 1 || warns+debugs != 100 {
		t.Fatalf("%d warnings and %d debug lines for 100 malformed messages", warns, debugs)
	}
}

// pingingMatchmaker is an in-process matchmaker with a Ping method.
type pingingMatchmaker struct {
	*memMatchmaker
	err error
}

func (m pingingMatchmaker) Ping(context.Context) error { return m.err }

// TestPing: the in-process and static matchmakers always answer, a
// matchmaker of WithMatchmaker is asked when it has a Ping method; a
// closed transport does not answer.
func TestPing(t *testing.T) {
	noLeaks(t)
	down := errors.New("matchmaker down")
	tr, _, err := openLogged(t, "zmq://", WithMatchmaker(pingingMatchmaker{memMatchmakerFor(t.Name()), down}))
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Ping(ctxFor(t, time.Second)); !errors.Is(err, down) {
		t.Errorf("Ping with a custom matchmaker: %v, want its Ping's error", err)
	}
	for _, url := range []string{"zmq:///" + t.Name(), "zmq://?static_targets=t=127.0.0.1:1"} {
		tr, err := transport.Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		if err := tr.Ping(ctxFor(t, time.Second)); err != nil {
			t.Errorf("%s: Ping: %v", url, err)
		}
		tr.Close()
		if err := tr.Ping(ctxFor(t, time.Second)); !errors.Is(err, transport.ErrClosed) {
			t.Errorf("%s: Ping after Close: %v", url, err)
		}
	}
}
