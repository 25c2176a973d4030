package nats

import (
	"context"
	"errors"
	"fmt"
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
	type outcome struct {
		err   error
		took  time.Duration
		start time.Time
	}
	var (
		mu       sync.Mutex
		outcomes []outcome
		wg       sync.WaitGroup
	)
	stop := make(chan struct{})
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				start := time.Now()
				err := c.Call(context.Background(), "echo", echoArgs{Text: fmt.Sprint(g, i)}, nil)
				mu.Lock()
				outcomes = append(outcomes, outcome{err, time.Since(start), start})
				mu.Unlock()
				if err != nil {
					time.Sleep(10 * time.Millisecond)
				}
			}
		}()
	}
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
	close(stop)
	wg.Wait()

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
