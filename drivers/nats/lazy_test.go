package nats

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/oslo-go/messaging/client"
	"github.com/oslo-go/messaging/drivers/drivertest"
	"github.com/oslo-go/messaging/drivers/nats/embedded"
	"github.com/oslo-go/messaging/server"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
)

// TestLazyOpen opens transports while the server is down, as a service
// started before its broker does: Open returns at once, Ping and
// operations report the connection error when their ctx ends, and once the
// server starts the transports connect by themselves and a call goes
// through.
func TestLazyOpen(t *testing.T) {
	port := freePort(t)
	url := "nats://127.0.0.1:" + itoa(port)
	fast := ReconnectWait(50 * time.Millisecond)
	start := time.Now()
	cliTr := openTransport(t, url, fast)
	srvTr := openTransport(t, url, fast)
	if el := time.Since(start); el > time.Second {
		t.Fatalf("Open took %v with the server down", el)
	}

	// Before: Ping, a call and a server start fail when their ctx ends,
	// naming the connection error.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	err := cliTr.Ping(ctx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("Ping with the server down: %v, want the deadline and the dial error", err)
	}
	tp := uniqueTopic(t)
	c, _ := client.New(cliTr, target.Target{Topic: tp}, client.Timeout(300*time.Millisecond))
	err = c.Call(context.Background(), "echo", echoArgs{Text: "early"}, nil)
	if !errors.Is(err, transport.ErrTimeout) || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("call with the server down: %v, want a timeout naming the dial error", err)
	}
	srv, err := server.New(srvTr, target.Target{Topic: tp, Server: "s"}, []any{newEcho("s")})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 300*time.Millisecond)
	err = srv.Start(ctx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("server start with the server down: %v", err)
	}

	// The server comes up: the transports connect by themselves.
	e := startEmbedded(t, embedded.Port(port))
	up := time.Now()
	ctx = ctxFor(t, 10*time.Second)
	if err := cliTr.Ping(ctx); err != nil {
		t.Fatalf("Ping once the server is up: %v", err)
	}
	t.Logf("connected %v after the server started", time.Since(up))
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	got, err := client.Call[echoResult](ctx, c.Prepare(client.Timeout(5*time.Second)), "echo", echoArgs{Text: "late"})
	if err != nil || got.Text != "late" {
		t.Fatalf("call once the server is up: %+v, %v", got, err)
	}
	// Ping sees the server going away again.
	e.Shutdown()
	ctx, cancel = context.WithTimeout(context.Background(), 300*time.Millisecond)
	err = cliTr.Ping(ctx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Ping after the server stopped: %v", err)
	}
	// A call during the outage waits for the connection and, at its
	// timeout, says that it could not connect.
	err = c.Call(context.Background(), "echo", echoArgs{Text: "outage"}, nil)
	if !errors.Is(err, transport.ErrTimeout) || !strings.Contains(err.Error(), "nats: not connected") || !strings.Contains(err.Error(), "last error") {
		t.Fatalf("call during the outage: %v, want a timeout naming the connection error", err)
	}
}

// TestCloseWhileConnecting closes a transport whose server accepts the
// connection but never speaks: Close returns promptly and leaves no
// goroutine (TestMain checks), instead of waiting for connect_timeout.
func TestCloseWhileConnecting(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0") // never accepts: the kernel completes the handshake
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// Open tries the server once, within its ctx.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	tr, err := transport.Open(ctx, "nats://"+l.Addr().String(), ConnectTimeout(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > time.Second {
		t.Fatalf("Open took %v, past its ctx", el)
	}
	start = time.Now()
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > time.Second {
		t.Fatalf("Close took %v while dialing", el)
	}
	if err := tr.Ping(context.Background()); !errors.Is(err, transport.ErrClosed) {
		t.Fatalf("Ping after Close: %v", err)
	}
}

// TestGraceOnlyAfterFailedTries: nats.go runs the connected callback for
// a first connection made at once too, possibly before Connect returns;
// only one made after failed tries opens the reconnect grace (in which a
// call to nobody is sent again instead of failing at once).
func TestGraceOnlyAfterFailedTries(t *testing.T) {
	e := startEmbedded(t)
	nc, err := natsgo.Connect(e.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	newConn := func() *conn {
		return &conn{connected: make(chan struct{}), log: drivertest.TestLogger(t)}
	}
	direct := newConn()
	direct.onConnect(nc)
	if direct.reconnectedAt.Load() != 0 || direct.inGrace(time.Now()) {
		t.Error("a first connection made at once opened the reconnect grace")
	}
	retried := newConn()
	retried.cfg.reconnectGrace = time.Second
	retried.onReconnectError(nc, errors.New("connection refused"))
	retried.onConnect(nc)
	if !retried.inGrace(time.Now()) {
		t.Error("a first connection made after a failed try did not open the reconnect grace")
	}
}
