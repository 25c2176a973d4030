package nats

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/oslo-go/messaging/client"
	"github.com/oslo-go/messaging/drivers/nats/embedded"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
	"github.com/oslo-go/messaging/transport/driver"
)

// TestServerRestart kills the embedded server in the middle of call
// traffic and starts it again on the same port with the same JetStream
// store: calls in flight fail clearly (connection lost, no servers) or
// succeed, none hangs until its timeout; the RPC server resumes by itself;
// notifications sent before the restart are delivered after it, to a
// listener that ran across the restart and to one started after it.
func TestServerRestart(t *testing.T) {
	dir := t.TempDir()
	e1, err := embedded.Start(embedded.StoreDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer e1.Shutdown()
	url := e1.URL()
	fast := ReconnectWait(50 * time.Millisecond)
	srvTr, cliTr := openTransport(t, url, fast), openTransport(t, url, fast)
	tp := uniqueTopic(t)
	startServer(t, srvTr, target.Target{Topic: tp, Server: "s1"}, newEcho("s1"))
	const timeout = 10 * time.Second
	c, err := client.New(cliTr, target.Target{Topic: tp}, client.Timeout(timeout))
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxFor(t, time.Minute)
	if err := c.Call(ctx, "echo", echoArgs{Text: "warm"}, nil); err != nil {
		t.Fatal(err)
	}

	// Notifications: a pool listening across the restart, and messages
	// for the default pool, which has no listener yet.
	ntfConn, _ := openConn(t, url, fast)
	n := ntfConn.(driver.Notifier)
	ntg := target.Target{Exchange: "openstack", Topic: tp + ".info"}
	live, err := n.ListenNotifications(ctx, []target.Target{ntg}, "live", driver.ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	notifyN(t, n, ntg, "before", 5)

	// Call traffic from several goroutines.
	stop := callTraffic(c, 8)
	time.Sleep(300 * time.Millisecond)
	killed := time.Now()
	e1.Shutdown()
	time.Sleep(300 * time.Millisecond)
	e2, err := embedded.Start(embedded.Port(e1.Port()), embedded.StoreDir(dir))
	if err != nil {
		t.Fatalf("restart on port %d: %v", e1.Port(), err)
	}
	defer e2.Shutdown()
	restarted := time.Now()

	// The RPC server resumes by itself: calls succeed again.
	for {
		err := c.Call(ctxFor(t, 2*time.Second), "echo", echoArgs{Text: "probe"}, nil)
		if err == nil {
			break
		}
		if time.Since(restarted) > 15*time.Second {
			t.Fatalf("calls still fail %v after the restart: %v", time.Since(restarted), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("calls succeed again %v after the restart", time.Since(restarted))
	time.Sleep(300 * time.Millisecond)
	outcomes := stop()

	var ok, lost, noServers, afterRestart int
	for _, o := range outcomes {
		switch {
		case o.err == nil:
			ok++
			if o.start.After(restarted) {
				afterRestart++
			}
		case errors.Is(o.err, transport.ErrConnectionLost):
			lost++
		case errors.Is(o.err, transport.ErrNoServers):
			noServers++
		default:
			t.Errorf("call failed unclearly after %v: %v", o.took, o.err)
		}
		if o.took > timeout/2 {
			t.Errorf("call took %v (timeout %v): it hung instead of failing", o.took, timeout)
		}
	}
	t.Logf("%d calls: %d ok (%d started after the restart), %d connection lost, %d no servers; server down %v",
		len(outcomes), ok, afterRestart, lost, noServers, restarted.Sub(killed))
	if afterRestart == 0 {
		t.Error("no call started after the restart succeeded")
	}
	if lost+noServers == 0 {
		t.Log("no call was in flight at the kill (all succeeded)")
	}

	// Notifications sent before the restart are still there.
	notifyN(t, n, ntg, "after", 1)
	want := "after-0,before-0,before-1,before-2,before-3,before-4"
	if got := sorted(receive(t, live, 6)); got != want {
		t.Fatalf("live pool got %s, want %s", got, want)
	}
	def, err := notifier(t, e2.URL()).ListenNotifications(ctx, []target.Target{ntg}, "", driver.ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer def.Close()
	if got := sorted(receive(t, def, 6)); got != want {
		t.Fatalf("default pool got %s, want %s", got, want)
	}
}

func sorted(s []string) string {
	s = append([]string(nil), s...)
	sort.Strings(s)
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ","
		}
		out += x
	}
	return out
}

// TestDeadConnection: a connection that gives up reconnecting fails the
// calls in flight and its listeners with ErrConnectionLost.
func TestDeadConnection(t *testing.T) {
	e, err := embedded.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown()
	opts := []transport.Option{MaxReconnects(1), ReconnectWait(10 * time.Millisecond)}
	srvConn, _ := openConn(t, e.URL(), opts...)
	cliConn, rep := openConn(t, e.URL(), opts...)
	ctx := ctxFor(t, 20*time.Second)
	tg := target.Target{Exchange: "x", Topic: uniqueTopic(t), Server: "s"}
	l, err := srvConn.Listen(ctx, tg, driver.ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	inbox, _ := cliConn.ReplyAddress(ctx)
	if err := cliConn.Send(ctx, tg, &driver.Message{Body: []byte("q"), MsgID: "m1", ReplyTo: inbox}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Next(ctx); err != nil { // taken, never answered
		t.Fatal(err)
	}
	e.Shutdown()
	// First the disconnection, then the end of reconnecting: both fail
	// every call (MsgID "").
	for range 2 {
		r := rep.next(t)
		if r.MsgID != "" || !errors.Is(r.Err, driver.ErrConnectionLost) {
			t.Fatalf("reply %+v, want ErrConnectionLost for all calls", r)
		}
	}
	if _, err := l.Next(ctx); !errors.Is(err, driver.ErrConnectionLost) {
		t.Fatalf("Next on a dead connection: %v", err)
	}
	if err := cliConn.Send(ctx, tg, &driver.Message{Body: []byte("q")}); !errors.Is(err, driver.ErrConnectionLost) {
		t.Fatalf("Send on a dead connection: %v", err)
	}
	if err := cliConn.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Next(ctx); !errors.Is(err, driver.ErrConnectionLost) && !errors.Is(err, driver.ErrClosed) {
		t.Fatalf("Next: %v", err)
	}
}

// TestNoFalseNoServersAfterReconnect restarts the server while calls run,
// with the caller reconnecting at once and the RPC server a second later
// (its reconnect_wait): in between, the caller's requests find "no
// responders". Within the reconnect grace they are sent again until the
// RPC server is back, so no call fails with ErrNoServers; the resends are
// logged once, not per call. A call to a target nobody serves still fails
// with ErrNoServers, at the latest when the grace ends.
func TestNoFalseNoServersAfterReconnect(t *testing.T) {
	dir := t.TempDir()
	e1, err := embedded.Start(embedded.StoreDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer e1.Shutdown()
	logs := captureLogs(t)
	const grace = 4 * time.Second
	srvTr := openTransport(t, e1.URL(), ReconnectWait(time.Second))
	cliTr := openTransport(t, e1.URL(), ReconnectWait(20*time.Millisecond), ReconnectGrace(grace), transport.WithLogger(logs.log))
	tp := uniqueTopic(t)
	startServer(t, srvTr, target.Target{Topic: tp, Server: "s1"}, newEcho("s1"))
	c, err := client.New(cliTr, target.Target{Topic: tp}, client.Timeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Call(ctxFor(t, 10*time.Second), "echo", echoArgs{Text: "warm"}, nil); err != nil {
		t.Fatal(err)
	}

	stop := callTraffic(c, 8)
	time.Sleep(200 * time.Millisecond)
	e1.Shutdown()
	time.Sleep(200 * time.Millisecond)
	e2, err := embedded.Start(embedded.Port(e1.Port()), embedded.StoreDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Shutdown()
	restarted := time.Now()
	// The RPC server reconnects about a second after the caller.
	time.Sleep(2 * time.Second)
	nobody, _ := client.New(cliTr, target.Target{Topic: tp + "_nobody"})
	start := time.Now()
	err = nobody.Call(ctxFor(t, 20*time.Second), "echo", nil, nil)
	if !errors.Is(err, transport.ErrNoServers) {
		t.Errorf("call to nobody during the grace: %v, want ErrNoServers", err)
	}
	if el := time.Since(start); el > grace {
		t.Errorf("call to nobody took %v, more than the grace (%v)", el, grace)
	}
	results := map[string]int{}
	var failures []callOutcome
	for _, o := range stop() {
		switch {
		case o.err == nil:
			results["ok"]++
		case errors.Is(o.err, transport.ErrConnectionLost):
			results["connection lost"]++ // in flight at the kill
		default:
			results["other"]++
			failures = append(failures, o)
		}
	}
	t.Logf("calls across the restart: %v; call to nobody failed after %v (%v after the restart)", results, time.Since(start), time.Since(restarted))
	for _, o := range failures[:min(len(failures), 5)] {
		t.Errorf("call started %s (%v from the restart) failed after %v: %v", o.start.Format("15:04:05.000"), o.start.Sub(restarted), o.took, o.err)
	}
	if results["ok"] == 0 {
		t.Error("no call succeeded")
	}
	if n := logs.count(slog.LevelInfo, "sending it again"); n > 2 {
		t.Errorf("%d log lines about resent calls, want them rate-limited", n)
	}
	// Once the grace is over, a call to nobody fails at once again.
	time.Sleep(time.Until(restarted.Add(grace + 100*time.Millisecond)))
	start = time.Now()
	if err := nobody.Call(ctxFor(t, 20*time.Second), "echo", nil, nil); !errors.Is(err, transport.ErrNoServers) || time.Since(start) > time.Second {
		t.Errorf("call to nobody after the grace: %v after %v, want ErrNoServers at once", err, time.Since(start))
	}
}

// callOutcome is the result of one call made by callTraffic.
type callOutcome struct {
	err   error
	took  time.Duration
	start time.Time
}

// callTraffic makes echo calls on c from n goroutines, one after the
// other, until the returned function is called; it returns the outcomes.
func callTraffic(c *client.Client, n int) (stop func() []callOutcome) {
	var (
		mu       sync.Mutex
		outcomes []callOutcome
		wg       sync.WaitGroup
	)
	done := make(chan struct{})
	for g := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				start := time.Now()
				err := c.Call(context.Background(), "echo", echoArgs{Text: fmt.Sprint(g, i)}, nil)
				mu.Lock()
				outcomes = append(outcomes, callOutcome{err, time.Since(start), start})
				mu.Unlock()
				if err != nil {
					time.Sleep(10 * time.Millisecond)
				}
			}
		}()
	}
	return func() []callOutcome {
		close(done)
		wg.Wait()
		return outcomes
	}
}
