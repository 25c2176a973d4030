package rabbit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/oslo-go/messaging/client"
	"github.com/oslo-go/messaging/drivers/drivertest"
	"github.com/oslo-go/messaging/internal/engine"
	"github.com/oslo-go/messaging/server"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
	"github.com/oslo-go/messaging/transport/driver"
)

// tcpProxy forwards 127.0.0.1:<port> to the shared broker. Cutting it
// drops every connection through it at the TCP level (no AMQP close), as
// a network failure or a killed broker would, without touching the other
// connections of the shared broker. While it is down it refuses new
// connections.
type tcpProxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	down  bool
	wg    sync.WaitGroup
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *tcpProxy) port() int { return p.ln.Addr().(*net.TCPAddr).Port }

func (p *tcpProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c], p.conns[up] = struct{}{}, struct{}{}
		p.wg.Add(2)
		p.mu.Unlock()
		pipe := func(dst, src net.Conn) {
			defer p.wg.Done()
			io.Copy(dst, src)
			dst.Close()
			src.Close()
		}
		go pipe(up, c)
		go pipe(c, up)
	}
}

// cut drops every connection; with down, new ones are refused until up.
func (p *tcpProxy) cut(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

func (p *tcpProxy) up() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

func (p *tcpProxy) close() {
	p.ln.Close()
	p.cut(true)
	p.wg.Wait()
}

// deadPort returns a local port nothing listens on.
func deadPort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

// TestFailoverToSecondHost lists a dead broker before a live one.
func TestFailoverToSecondHost(t *testing.T) {
	needBroker(t)
	dead := deadPort(t)
	for _, strategy := range []string{"round-robin", "shuffle"} {
		t.Run(strategy, func(t *testing.T) {
			url := fmt.Sprintf("rabbit://guest:guest@127.0.0.1:%d,guest:guest@127.0.0.1:5672/?kombu_failover_strategy=%s", dead, strategy)
			tr := openTransportURL(t, url)
			topic := uniqueName("failover")
			startEcho(t, tr, topic)
			c, _ := client.New(tr, target.Target{Topic: topic}, client.Timeout(10*time.Second))
			for i := range 5 {
				if got, err := client.Call[string](context.Background(), c, "echo", faultArgs{Text: fmt.Sprint(i)}); err != nil || got != fmt.Sprint(i) {
					t.Fatalf("call %d over the second host: %q, %v", i, got, err)
				}
			}
		})
	}
	// No broker at all: Open fails, naming every host.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := transport.Open(ctx, fmt.Sprintf("rabbit://127.0.0.1:%d,localhost:%d/", dead, dead))
	if err == nil || !strings.Contains(err.Error(), "rabbit: connecting: ") || !strings.Contains(err.Error(), fmt.Sprintf("localhost:%d", dead)) {
		t.Fatalf("Open with no broker: %v", err)
	}
}

func openTransportURL(t *testing.T, url string, opts ...transport.Option) *transport.Transport {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	opts = append([]transport.Option{transport.WithLogger(drivertest.TestLogger(t))}, opts...)
	tr, err := transport.Open(ctx, url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

func startEcho(t *testing.T, tr *transport.Transport, topic string) *faultEndpoint {
	t.Helper()
	ep := &faultEndpoint{entered: make(chan struct{}, 8), release: make(chan struct{}), casts: make(chan string, 64)}
	srv, err := server.New(tr, target.Target{Topic: topic, Server: "s1"}, []any{ep})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		close(ep.release)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		srv.Close()
	})
	return ep
}

// TestNetworkCut cuts the TCP connections of a client and a server (the
// broker and its queues stay): a call in flight fails at once with
// ErrConnectionLost, both sides reconnect by themselves, and sends honour
// Retry while the broker is unreachable.
func TestNetworkCut(t *testing.T) {
	needBroker(t)
	ignore := goleak.IgnoreCurrent()
	// Registered first, so it runs after every other cleanup.
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	proxy := newTCPProxy(t, "127.0.0.1:5672")
	url := fmt.Sprintf("rabbit://guest:guest@127.0.0.1:%d/", proxy.port())
	opts := []transport.Option{ReconnectDelay(50 * time.Millisecond), RetryInterval(100 * time.Millisecond),
		RetryBackoff(100 * time.Millisecond), IntervalMax(300 * time.Millisecond)}
	srvTr := openTransportURL(t, url, opts...)
	cliTr := openTransportURL(t, url, opts...)
	topic := uniqueName("cut")
	ep := startEcho(t, srvTr, topic)
	c, _ := client.New(cliTr, target.Target{Topic: topic}, client.Timeout(20*time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	echo := func(text string, timeout time.Duration) error {
		cctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		got, err := client.Call[string](cctx, c, "echo", faultArgs{Text: text})
		if err == nil && got != text {
			err = fmt.Errorf("got %q", got)
		}
		return err
	}
	if err := echo("before", 10*time.Second); err != nil {
		t.Fatal(err)
	}

	// A call in flight fails as soon as the reply connection is cut.
	res := make(chan error, 1)
	go func() { _, err := client.Call[string](ctx, c, "slow", faultArgs{}); res <- err }()
	<-ep.entered
	cut := time.Now()
	proxy.cut(false)
	select {
	case err := <-res:
		if !errors.Is(err, transport.ErrConnectionLost) {
			t.Fatalf("call in flight: %v, want ErrConnectionLost", err)
		}
		t.Logf("call in flight failed %v after the cut", time.Since(cut).Round(time.Millisecond))
	case <-time.After(5 * time.Second):
		t.Fatal("call in flight still hangs 5 s after the cut")
	}
	// Both sides come back by themselves.
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := echo("after", time.Second)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("calls still fail after the cut: %v", err)
		}
	}
	t.Logf("calls succeed %v after the cut", time.Since(cut).Round(time.Millisecond))

	// While the broker is unreachable, Retry bounds the attempts.
	proxy.cut(true)
	dc := engine.Of(cliTr).Driver()
	msg := func(retry int) *driver.Message { return &driver.Message{Body: []byte(`{}`), Retry: retry} }
	tg := engine.Of(cliTr).ResolveTarget(target.Target{Topic: topic})
	start := time.Now()
	if err := dc.Send(ctx, tg, msg(0)); err == nil {
		t.Fatal("send with retry 0 while the broker is unreachable succeeded")
	} else {
		t.Logf("retry 0: %v after %v", err, time.Since(start).Round(time.Millisecond))
	}
	start = time.Now()
	if err := dc.Send(ctx, tg, msg(2)); err == nil {
		t.Fatal("send with retry 2 while the broker is unreachable succeeded")
	} else if e := time.Since(start); e < 100*time.Millisecond {
		t.Fatalf("send with retry 2 gave up after %v without backing off: %v", e, err)
	}
	sctx, scancel := context.WithTimeout(ctx, 500*time.Millisecond)
	if err := dc.Send(sctx, tg, msg(-1)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("send with retry -1: %v, want the ctx deadline", err)
	}
	scancel()
	// A send that retries forever goes out once the broker is back.
	sent := make(chan error, 1)
	go func() { sent <- c.Cast(ctx, "record", faultArgs{Text: "queued"}) }()
	time.Sleep(300 * time.Millisecond)
	proxy.up()
	if err := <-sent; err != nil {
		t.Fatalf("cast retried until the broker came back: %v", err)
	}
	for got := ""; got != "queued"; {
		select {
		case got = <-ep.casts:
		case <-time.After(10 * time.Second):
			t.Fatal("the cast sent during the outage did not arrive")
		}
	}
}

// TestFanoutExchangeGone: the fanout exchange is auto-delete, so it goes
// away with the last server of the topic. A sender that declared it
// earlier gets NOT_FOUND on its next fanout cast; it declares it again
// and the cast goes through.
func TestFanoutExchangeGone(t *testing.T) {
	needBroker(t)
	tr := openTransport(t)
	topic := uniqueName("fanout_gone")
	str := openTransport(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	l, err := engine.Of(str).Driver().Listen(ctx, engine.Of(str).ResolveTarget(target.Target{Topic: topic, Server: "s1"}), driver.ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fan := target.Target{Topic: topic, Fanout: true}
	send := func() error {
		return engine.Of(tr).Driver().Send(ctx, engine.Of(tr).ResolveTarget(fan), &driver.Message{Body: []byte(`{}`)})
	}
	if err := send(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Next(ctx); err != nil {
		t.Fatal(err)
	}
	l.Close() // deletes the fanout queue: the exchange auto-deletes
	_, ch := rawChannel(t)
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, _ := rawChannel(t)
		pch, _ := c.Channel()
		if err := pch.ExchangeDeclarePassive(topic+"_fanout", "fanout", false, true, false, false, nil); err != nil {
			break // gone
		}
		if time.Now().After(deadline) {
			t.Fatal("fanout exchange not auto-deleted")
		}
		time.Sleep(50 * time.Millisecond)
	}
	for i := range 3 {
		if err := send(); err != nil {
			t.Fatalf("fanout cast %d after the exchange went away: %v", i, err)
		}
	}
	if err := ch.ExchangeDeclarePassive(topic+"_fanout", "fanout", false, true, false, false, nil); err != nil {
		t.Fatalf("the sender did not declare the fanout exchange again: %v", err)
	}
	ch.ExchangeDelete(topic+"_fanout", false, false)
	ch.QueueDelete(topic, false, false, false)
	ch.QueueDelete(topic+".s1", false, false, false)
}

// TestConsumerCancelled deletes a server's queue under it: the broker
// cancels the consumer, and the listener declares everything again and
// goes on consuming.
func TestConsumerCancelled(t *testing.T) {
	needBroker(t)
	topic := uniqueName("cancel")
	_, ch := rawChannel(t)
	t.Cleanup(func() {
		ch.QueueDelete(topic, false, false, false)
		ch.QueueDelete(topic+".s1", false, false, false)
	})
	tr := openTransport(t, ReconnectDelay(50*time.Millisecond))
	startEcho(t, tr, topic)
	c, _ := client.New(tr, target.Target{Topic: topic, Server: "s1"}, client.Timeout(2*time.Second))
	ctx := context.Background()
	if err := c.Call(ctx, "echo", faultArgs{Text: "x"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ch.QueueDelete(topic+".s1", false, false, false); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := c.Call(ctx, "echo", faultArgs{Text: "y"}, nil)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not come back after its queue was deleted: %v", err)
		}
	}
}
