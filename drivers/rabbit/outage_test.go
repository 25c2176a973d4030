package rabbit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/oslo-go/messaging/client"
	"github.com/oslo-go/messaging/internal/engine"
	"github.com/oslo-go/messaging/server"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
	"github.com/oslo-go/messaging/transport/driver"
)

// logLines records the lines a transport logs (and passes them to t.Log).
type logLines struct {
	t     testing.TB
	mu    sync.Mutex
	lines []logLine
	done  bool
}

type logLine struct {
	at   time.Time
	text string
}

// recordLogs returns a logger that records every line, at every level.
func recordLogs(t testing.TB) (*slog.Logger, *logLines) {
	l := &logLines{t: t}
	t.Cleanup(func() {
		l.mu.Lock()
		l.done = true
		l.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug})), l
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.done {
		text := strings.TrimRight(string(p), "\n")
		l.lines = append(l.lines, logLine{time.Now(), text})
		l.t.Log(text)
	}
	return len(p), nil
}

// matching returns the lines that hold every one of parts.
func (l *logLines) matching(parts ...string) []logLine {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []logLine
next:
	for _, ln := range l.lines {
		for _, p := range parts {
			if !strings.Contains(ln.text, p) {
				continue next
			}
		}
		out = append(out, ln)
	}
	return out
}

func (l *logLines) all() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, ln := range l.lines {
		b.WriteString(ln.text)
		b.WriteByte('\n')
	}
	return b.String()
}

// echo calls the echo method of a faultEndpoint with text, within
// timeout, and checks what comes back.
func echo(c *client.Client, timeout time.Duration, text string) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	got, err := client.Call[string](ctx, c, "echo", faultArgs{Text: text})
	if err == nil && got != text {
		err = fmt.Errorf("echo %q returned %q", text, got)
	}
	return err
}

// untilServed makes calls of timeout each until one succeeds, and returns
// how long after since it did; it fails t when none did within limit.
func untilServed(t *testing.T, c *client.Client, timeout time.Duration, since time.Time, limit time.Duration, what string) time.Duration {
	t.Helper()
	for i := 0; ; i++ {
		err := echo(c, timeout, fmt.Sprint(what, i))
		if err == nil {
			return time.Since(since)
		}
		if time.Since(since) > limit {
			t.Fatalf("calls still fail %v after %s: %v", limit, what, err)
		}
	}
}

// fastBackoff makes reconnection attempts follow each other quickly.
var fastBackoff = []transport.Option{ReconnectDelay(50 * time.Millisecond), RetryInterval(100 * time.Millisecond),
	RetryBackoff(100 * time.Millisecond), IntervalMax(300 * time.Millisecond)}

func openProxied(t *testing.T, p *tcpProxy, log *slog.Logger, opts ...transport.Option) *transport.Transport {
	t.Helper()
	url := fmt.Sprintf("rabbit://guest:guest@127.0.0.1:%d/", p.port())
	return openTransportURL(t, url, append([]transport.Option{transport.WithLogger(log)}, opts...)...)
}

// TestLazyOpen opens a transport while no broker listens: Open returns at
// once, Ping and calls fail when their ctx ends with the connection
// error, the warnings about it are not repeated per attempt; once the
// broker listens, Ping returns, a server starts and calls succeed.
func TestLazyOpen(t *testing.T) {
	needBroker(t)
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	proxy := newTCPProxy(t, "127.0.0.1:5672")
	proxy.stop()
	log, logs := recordLogs(t)

	start := time.Now()
	tr := openProxied(t, proxy, log, fastBackoff...)
	if el := time.Since(start); el > 500*time.Millisecond {
		t.Fatalf("Open with the broker down took %v", el)
	}
	ping := func(d time.Duration) error {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		return tr.Ping(ctx)
	}
	err := ping(500 * time.Millisecond)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("Ping with the broker down: %v, want the deadline and the dial error", err)
	}
	t.Logf("Ping with the broker down: %v", err)

	// Calls and casts fail when their ctx ends, saying why.
	topic := uniqueName("lazy")
	c, _ := client.New(tr, target.Target{Topic: topic}, client.Timeout(time.Second))
	start = time.Now()
	err = c.Call(context.Background(), "echo", faultArgs{Text: "x"}, nil)
	if !errors.Is(err, transport.ErrTimeout) || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("call with the broker down: %v, want a timeout that names the dial error", err)
	}
	t.Logf("call with the broker down failed after %v: %v", time.Since(start).Round(time.Millisecond), err)
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			if err := c.Cast(ctx, "record", faultArgs{}); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "connection refused") {
				t.Errorf("cast with the broker down: %v", err)
			}
		}()
	}
	wg.Wait()
	// The connector tried about every 0.3 s for 2.5 s; the warning
	// appeared once.
	if n := len(logs.matching("level=WARN", "AMQP server is unreachable")); n != 1 {
		t.Errorf("%d warnings that the broker is unreachable, want 1 (rate-limited)", n)
	}
	if n := len(logs.matching("AMQP server is unreachable")); n < 5 {
		t.Errorf("only %d connection attempts logged (at any level) in 2.5 s", n)
	}
	srv, err := server.New(tr, target.Target{Topic: topic, Server: "s1"}, []any{&faultEndpoint{casts: make(chan string, 64)}})
	if err != nil {
		t.Fatal(err)
	}
	sctx, scancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	err = srv.Start(sctx)
	scancel()
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("server Start with the broker down: %v", err)
	}

	// The broker comes up.
	proxy.start()
	up := time.Now()
	if err := ping(10 * time.Second); err != nil {
		t.Fatalf("Ping after the broker came up: %v", err)
	}
	t.Logf("Ping returned %v after the broker came up", time.Since(up).Round(time.Millisecond))
	sctx, scancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	if err := srv.Start(sctx); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if got, err := client.Call[string](sctx, c, "echo", faultArgs{Text: "up"}); err != nil || got != "up" {
		t.Fatalf("call after the broker came up: %q, %v", got, err)
	}
	t.Logf("first call answered %v after the broker came up", time.Since(up).Round(time.Millisecond))
	shutdown(t, srv)
}

func shutdown(t *testing.T, srv *server.Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	srv.Close()
}

// TestPromptReconnect takes the broker away for 8 s with the default
// backoff (by then it waits 6 s between attempts): once the broker
// listens again, the server and the client are back within a second,
// not at their next attempt.
func TestPromptReconnect(t *testing.T) {
	needBroker(t)
	proxy := newTCPProxy(t, "127.0.0.1:5672")
	log, _ := recordLogs(t)
	srvTr := openProxied(t, proxy, log)
	cliTr := openProxied(t, proxy, log)
	topic := uniqueName("prompt")
	startEcho(t, srvTr, topic)
	c, _ := client.New(cliTr, target.Target{Topic: topic})
	if err := echo(c, 10*time.Second, "before"); err != nil {
		t.Fatal(err)
	}
	proxy.stop()
	time.Sleep(8 * time.Second)
	proxy.start()
	back := untilServed(t, c, time.Second, time.Now(), 15*time.Second, "the broker came back")
	t.Logf("calls succeed again %v after the broker came back (8 s outage, default backoff)", back.Round(time.Millisecond))
	if back > 2*time.Second {
		t.Errorf("calls took %v to succeed after the broker came back, want under 2 s", back)
	}
}

// TestBlackhole black-holes the network under a server and a client whose
// heartbeat timeout is 4 s: the loss is detected and logged within the
// heartbeat timeout (amqp091 alone waits 1.5 times as long and logs
// nothing), and both sides come back when the network does.
func TestBlackhole(t *testing.T) {
	needBroker(t)
	const heartbeat = 4 * time.Second
	proxy := newTCPProxy(t, "127.0.0.1:5672")
	log, logs := recordLogs(t)
	opts := append([]transport.Option{HeartbeatTimeout(heartbeat)}, fastBackoff...)
	srvTr := openProxied(t, proxy, log, opts...)
	cliTr := openProxied(t, proxy, log, opts...)
	topic := uniqueName("blackhole")
	startEcho(t, srvTr, topic)
	c, _ := client.New(cliTr, target.Target{Topic: topic})
	// Traffic right before the hole: the last frames arrive just before
	// it, the worst case for detection.
	for i := range 5 {
		if err := echo(c, 10*time.Second, fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	proxy.blackhole(true)
	hole := time.Now()
	deadline := hole.Add(heartbeat + 2*time.Second)
	var detected []logLine
	for time.Now().Before(deadline) {
		if detected = logs.matching("level=WARN", "no heartbeat or data from the broker"); len(detected) > 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(detected) == 0 {
		t.Fatalf("the black hole was not logged within %v", time.Since(hole).Round(time.Millisecond))
	}
	took := detected[0].at.Sub(hole)
	t.Logf("black hole detected and logged %v after it began (heartbeat timeout %v)", took.Round(time.Millisecond), heartbeat)
	if took > heartbeat+500*time.Millisecond {
		t.Errorf("black hole detected after %v, want within the heartbeat timeout %v", took, heartbeat)
	}
	proxy.blackhole(false)
	back := untilServed(t, c, 2*time.Second, time.Now(), 20*time.Second, "the black hole ended")
	t.Logf("calls succeed again %v after the black hole ended", back.Round(time.Millisecond))
}

// TestReplyDuringOutage: a reply that cannot be sent because the broker
// is unreachable returns when its ctx ends, with the connection error.
func TestReplyDuringOutage(t *testing.T) {
	needBroker(t)
	proxy := newTCPProxy(t, "127.0.0.1:5672")
	log, _ := recordLogs(t)
	srvTr := openProxied(t, proxy, log, fastBackoff...)
	cliTr := openTransport(t)
	topic := uniqueName("reply_outage")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	se := engine.Of(srvTr)
	l, err := se.Driver().Listen(ctx, se.ResolveTarget(target.Target{Topic: topic, Server: "s1"}), driver.ListenOptions{Capacity: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, ch := rawChannel(t)
	t.Cleanup(func() {
		ch.QueueDelete(topic, false, false, false)
		ch.QueueDelete(topic+".s1", false, false, false)
	})
	ce := engine.Of(cliTr)
	replyTo, err := ce.Driver().ReplyAddress(ctx)
	if err != nil {
		t.Fatal(err)
	}
	req := &driver.Message{Body: []byte(`{}`), MsgID: "m1", ReplyTo: replyTo, Expiration: time.Minute}
	if err := ce.Driver().Send(ctx, ce.ResolveTarget(target.Target{Topic: topic}), req); err != nil {
		t.Fatal(err)
	}
	in, err := l.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	proxy.stop()
	rctx, rcancel := context.WithTimeout(ctx, 700*time.Millisecond)
	defer rcancel()
	start := time.Now()
	err = in.Reply(rctx, &driver.Message{Body: []byte(`{}`), MsgID: "m1", ReplyTo: replyTo})
	el := time.Since(start)
	if err == nil {
		// The frames were written before the loss was seen, and Reply
		// does not wait for the confirm: the failed confirm hands the
		// reply to the retrier.
		c := se.Driver().(*conn)
		for ctx.Err() == nil {
			c.retrier.mu.Lock()
			n := len(c.retrier.pending)
			c.retrier.mu.Unlock()
			if n == 1 {
				t.Logf("reply returned nil after %v; the retrier holds it", el.Round(time.Millisecond))
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatal("the reply written before the loss was not handed to the retrier")
	}
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("reply while the broker is unreachable: %v, want the deadline and the connection error", err)
	}
	if el > time.Second {
		t.Fatalf("reply returned %v after its ctx's 0.7 s", el)
	}
	t.Logf("reply returned %v after it began, at its ctx's deadline: %v", el.Round(time.Millisecond), err)
}

// TestPauseEndsWhenBrokerListens: a pause after an attempt no broker
// answered ends once one accepts TCP connections; after any other
// failure it lasts its whole time.
func TestPauseEndsWhenBrokerListens(t *testing.T) {
	port := deadPort(t)
	tr := openTransportURL(t, fmt.Sprintf("rabbit://127.0.0.1:%d/", port))
	c := engine.Of(tr).Driver().(*conn)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := c.dial(ctx, "test")
	if !notListening(err) {
		t.Fatalf("dial to a closed port: %v, want a TCP-level failure", err)
	}
	go func() {
		time.Sleep(300 * time.Millisecond)
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Error(err)
			return
		}
		<-ctx.Done()
		ln.Close()
	}()
	start := time.Now()
	if err := c.pause(ctx, 10*time.Second, err); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 250*time.Millisecond || el > 2*time.Second {
		t.Fatalf("pause of 10 s ended after %v, want soon after the port opened at 0.3 s", el)
	}
	start = time.Now()
	if err := c.pause(ctx, 700*time.Millisecond, &dialError{err: errors.New("refused")}); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 700*time.Millisecond {
		t.Fatalf("pause after another failure ended after %v, want 0.7 s", el)
	}
}
