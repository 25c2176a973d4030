package rabbit

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/oslo-go/messaging/client"
	"github.com/oslo-go/messaging/drivers/drivertest"
	"github.com/oslo-go/messaging/internal/engine"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
	"github.com/oslo-go/messaging/transport/driver"
)

// tcpProxy forwards 127.0.0.1:<port> to a broker. Cutting it drops every
// connection through it at the TCP level (no AMQP close), as a network
// failure or a killed broker would, without touching the other
// connections of the broker. It can also refuse connections (stop: the
// port is closed, as a broker that is down), accept and drop them (cut
// with down), or black-hole them (the connections stay open and nothing
// gets through, as when a network path drops packets).
type tcpProxy struct {
	t      *testing.T
	addr   string
	target string

	mu         sync.Mutex
	ln         net.Listener // nil while stopped
	conns      map[net.Conn]struct{}
	down       bool
	blackholed atomic.Bool
	wg         sync.WaitGroup
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{t: t, addr: ln.Addr().String(), target: target, conns: map[net.Conn]struct{}{}}
	p.serve(ln)
	t.Cleanup(p.close)
	return p
}

func (p *tcpProxy) port() int {
	_, port, _ := net.SplitHostPort(p.addr)
	n, _ := strconv.Atoi(port)
	return n
}

func (p *tcpProxy) serve(ln net.Listener) {
	p.ln = ln
	p.wg.Add(1)
	go p.accept(ln)
}

func (p *tcpProxy) accept(ln net.Listener) {
	defer p.wg.Done()
	for {
		c, err := ln.Accept()
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
		go p.pipe(up, c)
		go p.pipe(c, up)
	}
}

// pipe copies src to dst, or discards what src sends while the proxy is
// black-holed.
func (p *tcpProxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.blackholed.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	dst.Close()
	src.Close()
}

// cut drops every connection; with down, new ones are dropped too (the
// proxy accepts and closes them) until up.
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

// stop closes the port (connections are refused, as by a host where the
// broker is down) and drops every connection; start opens it again.
func (p *tcpProxy) stop() {
	p.mu.Lock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	p.mu.Unlock()
	p.cut(false)
}

func (p *tcpProxy) start() {
	p.t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatalf("proxy: listening on %s again: %v", p.addr, err)
	}
	p.mu.Lock()
	p.serve(ln)
	p.mu.Unlock()
}

// blackhole starts or ends a black hole: while it lasts connections stay
// open and nothing gets through; when it ends, the connections are
// dropped (what went into the hole is lost, the AMQP streams are broken).
func (p *tcpProxy) blackhole(on bool) {
	p.blackholed.Store(on)
	if !on {
		p.cut(false)
	}
}

func (p *tcpProxy) close() {
	p.stop()
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
	// No broker at all: Open returns, and Ping fails naming every host.
	tr := openTransportURL(t, fmt.Sprintf("rabbit://127.0.0.1:%d,localhost:%d/", dead, dead))
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err := tr.Ping(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "rabbit: connecting: ") ||
		!strings.Contains(err.Error(), fmt.Sprintf("localhost:%d", dead)) || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("Ping with no broker: %v", err)
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
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv := startServer(ctx, t, tr, topic, ep)
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
// broker and its queues stay): a call in flight survives (its reply queue
// does, and the client consumes it again), both sides reconnect by
// themselves, and sends honour Retry while the broker is unreachable.
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
	if err := echo(c, 10*time.Second, "before"); err != nil {
		t.Fatal(err)
	}

	// A call in flight when the connections are cut gets its reply once
	// both sides have reconnected.
	res := make(chan error, 1)
	go func() {
		got, err := client.Call[string](ctx, c, "slow", faultArgs{})
		if err == nil && got != "slow done" {
			err = fmt.Errorf("got %q", got)
		}
		res <- err
	}()
	<-ep.entered
	cut := time.Now()
	proxy.cut(false)
	ep.release <- struct{}{} // the handler returns now, while the reply connection is down
	select {
	case err := <-res:
		if err != nil {
			t.Fatalf("call in flight across the cut: %v", err)
		}
		t.Logf("call in flight answered %v after the cut", time.Since(cut).Round(time.Millisecond))
	case <-time.After(15 * time.Second):
		t.Fatal("call in flight still waits 15 s after the cut")
	}
	// Both sides come back by themselves.
	back := untilServed(t, c, time.Second, cut, 20*time.Second, "the cut")
	t.Logf("calls succeed %v after the cut", back.Round(time.Millisecond))

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
