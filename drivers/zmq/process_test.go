package zmq_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/oslo-go/messaging/client"
	"github.com/oslo-go/messaging/drivers/zmq"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
)

// buildTestServer builds internal/testserver into a temporary directory.
func buildTestServer(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go") // go test puts GOROOT/bin first in PATH
	if err != nil {
		t.Fatalf("no go tool to build the test server: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "testserver")
	cmd := exec.Command(goTool, "build", "-o", bin, "github.com/oslo-go/messaging/drivers/zmq/internal/testserver")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the test server: %v\n%s", err, out)
	}
	return bin
}

// proc is a running test server process.
type proc struct {
	name  string
	cmd   *exec.Cmd
	lines chan string // its stdout
	done  chan struct{}
	err   error // after done
}

func startProc(t *testing.T, bin, url, topic, name string) *proc {
	t.Helper()
	cmd := exec.Command(bin, "-url", url, "-topic", topic, "-server", name)
	cmd.Stderr = &testWriter{t: t, prefix: name + ": "}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{name: name, cmd: cmd, lines: make(chan string, 64), done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		io.Copy(io.Discard, out)
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
	})
	p.expect(t, "READY", 30*time.Second)
	return p
}

func (p *proc) expect(t *testing.T, line string, d time.Duration) {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case l := <-p.lines:
			if l == line {
				return
			}
		case <-p.done:
			t.Fatalf("%s exited (%v) before printing %s", p.name, p.err, line)
		case <-timer.C:
			t.Fatalf("%s did not print %s within %v", p.name, line, d)
		}
	}
}

type testWriter struct {
	t      *testing.T
	prefix string
}

func (w *testWriter) Write(b []byte) (int, error) {
	for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		w.t.Log(w.prefix + l)
	}
	return len(b), nil
}

// TestTwoServerProcesses runs two server processes over the Redis
// matchmaker, calls and casts to them, SIGKILLs one in the middle of a
// call, and checks that the call fails at once, that later calls go to
// the survivor, and that the dead server's registration expires.
func TestTwoServerProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a helper binary")
	}
	noLeaks(t)
	addr, prefix := zmq.NeedRedis(t)
	bin := buildTestServer(t)
	const ttl = 2 * time.Second
	url := fmt.Sprintf("zmq+redis://%s/0?redis_prefix=%s&target_expire=%v&target_update=500ms", addr, prefix, ttl)
	topic := fmt.Sprintf("procs_%d", time.Now().UnixNano())
	p1 := startProc(t, bin, url, topic, "p1")
	p2 := startProc(t, bin, url, topic, "p2")
	tr := openT(t, url)
	c, err := client.New(tr, target.Target{Topic: topic}, client.Timeout(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	who := map[string]int{}
	for range 20 {
		got, err := client.Call[string](ctx, c, "who", nil)
		if err != nil {
			t.Fatal(err)
		}
		who[got]++
	}
	if who["p1"] == 0 || who["p2"] == 0 {
		t.Fatalf("calls per server = %v, want both used", who)
	}
	for _, s := range []string{"p1", "p2"} {
		got, err := client.Call[string](ctx, c.Prepare(client.Server(s)), "who", nil)
		if err != nil || got != s {
			t.Fatalf("direct call to %s: %q, %v", s, got, err)
		}
	}
	const casts = 20
	for i := range casts {
		if err := c.Cast(ctx, "record", WhoArgs{Text: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Prepare(client.Fanout(true)).Cast(ctx, "record", WhoArgs{Text: "all"}); err != nil {
		t.Fatal(err)
	}
	counts := func() (int, int) {
		n1, err1 := client.Call[int](ctx, c.Prepare(client.Server("p1")), "count", nil)
		n2, err2 := client.Call[int](ctx, c.Prepare(client.Server("p2")), "count", nil)
		if err := errors.Join(err1, err2); err != nil {
			t.Fatal(err)
		}
		return n1, n2
	}
	waitFor(t, 5*time.Second, func() bool { n1, n2 := counts(); return n1+n2 == casts+2 }, func() string {
		n1, n2 := counts()
		return fmt.Sprintf("casts handled: p1 %d, p2 %d; want %d in all", n1, n2, casts+2)
	})
	if n1, n2 := counts(); n1 < 2 || n2 < 2 {
		t.Fatalf("casts not shared (fanout included): p1 %d, p2 %d", n1, n2)
	}
	addr1 := addrOf(t, tr, topic, "p1")

	// SIGKILL p1 in the middle of a call.
	errc := make(chan error, 1)
	go func() {
		_, err := client.Call[string](ctx, c.Prepare(client.Server("p1")), "block", nil)
		errc <- err
	}()
	p1.expect(t, "INCALL", 10*time.Second)
	start := time.Now()
	p1.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case err := <-errc:
		if !errors.Is(err, transport.ErrConnectionLost) {
			t.Fatalf("call pending on the killed process: err = %v, want ErrConnectionLost", err)
		}
		t.Logf("pending call failed %v after SIGKILL: %v", time.Since(start).Round(time.Millisecond), err)
	case <-time.After(10 * time.Second):
		t.Fatal("call pending on the killed process hangs")
	}
	<-p1.done
	for i := range 10 {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		got, err := client.Call[string](cctx, c, "who", nil)
		cancel()
		if err != nil || got != "p2" {
			t.Fatalf("call %d after the kill: %q, %v", i, got, err)
		}
	}
	c2, _ := client.New(openT(t, url), target.Target{Topic: topic}, client.Timeout(5*time.Second))
	for i := range 10 {
		got, err := client.Call[string](ctx, c2, "who", nil)
		if err != nil || got != "p2" {
			t.Fatalf("new client, call %d after the kill: %q, %v", i, got, err)
		}
	}
	for i := range 10 {
		if err := c2.Cast(ctx, "record", WhoArgs{Text: fmt.Sprint("after", i)}); err != nil {
			t.Fatalf("cast %d after the kill: %v", i, err)
		}
	}
	// The killed server's registration expires; the survivor's does not.
	waitFor(t, 3*ttl, func() bool {
		addrs, err := zmq.Lookup(tr, zmq.Key{Topic: topic})
		return err == nil && len(addrs) == 1 && addrs[0] != addr1
	}, func() string {
		addrs, err := zmq.Lookup(tr, zmq.Key{Topic: topic})
		return fmt.Sprintf("registrations of %s after %v: %v, %v (killed: %s)", topic, 3*ttl, addrs, err, addr1)
	})
	t.Logf("killed server's registration expired %v after SIGKILL", time.Since(start).Round(time.Millisecond))

	// A graceful stop unregisters at once: then calls fail with ErrNoServers.
	p2.cmd.Process.Signal(syscall.SIGTERM)
	<-p2.done
	if p2.err != nil {
		t.Fatalf("p2 exit after SIGTERM: %v", p2.err)
	}
	start = time.Now()
	_, err = client.Call[string](ctx, c2, "who", nil)
	if !errors.Is(err, transport.ErrNoServers) || time.Since(start) > time.Second {
		t.Fatalf("call after both servers are gone: %v after %v, want ErrNoServers at once", err, time.Since(start))
	}
}

// addrOf returns the registered address of topic.server.
func addrOf(t *testing.T, tr *transport.Transport, topic, server string) string {
	t.Helper()
	addrs, err := zmq.Lookup(tr, zmq.Key{Topic: topic, Server: server})
	if err != nil || len(addrs) != 1 {
		t.Fatalf("registration of %s.%s: %v, %v", topic, server, addrs, err)
	}
	return addrs[0]
}
