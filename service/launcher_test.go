package service_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/oslo-go/messaging/client"
	_ "github.com/oslo-go/messaging/drivers/nats"
	"github.com/oslo-go/messaging/drivers/nats/embedded"
	"github.com/oslo-go/messaging/service"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
)

// The launcher tests run the test binary again as a child process (the
// service), over an embedded NATS server, and signal it.

const childEnv = "SERVICE_TEST_CHILD"

// slowManager's Slow says on stdout that it runs, then sleeps.
type slowManager struct{}

func (slowManager) Slow(ctx context.Context, a struct {
	Ms int `json:"ms"`
}) (string, error) {
	fmt.Println("handling")
	select {
	case <-time.After(time.Duration(a.Ms) * time.Millisecond):
		return "slept", nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func childMain() int {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx := context.Background()
	tr, err := transport.Open(ctx, os.Getenv("CHILD_URL"), transport.WithLogger(log))
	if err != nil {
		log.Error("open", "error", err)
		return 2
	}
	defer tr.Close()
	svc, err := service.New(tr, "test-child", slowManager{}, service.Host("child"), service.WithLogger(log),
		service.OnReload(func(context.Context) error { fmt.Println("reset"); return nil }))
	if err != nil {
		log.Error("new", "error", err)
		return 2
	}
	grace, _ := time.ParseDuration(os.Getenv("CHILD_GRACE"))
	l := service.NewLauncher([]service.Runnable{svc}, service.GracefulShutdownTimeout(grace), service.WithLauncherLogger(log),
		service.ReloadConfig(func() error { fmt.Println("reloaded"); return nil }))
	if err := l.Run(ctx); err != nil {
		log.Error("run", "error", err)
		return 1
	}
	return 0
}

type child struct {
	cmd    *exec.Cmd
	lines  chan string
	notify *net.UnixConn
	stderr *strings.Builder
	exited chan error
}

func startChild(t *testing.T, url string, grace time.Duration) *child {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "notify.sock")
	nc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1", "CHILD_URL="+url, "CHILD_GRACE="+grace.String(), "NOTIFY_SOCKET="+sock)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, lines: make(chan string, 100), notify: nc, stderr: &strings.Builder{}, exited: make(chan error, 1)}
	cmd.Stderr = c.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
		close(c.lines)
		c.exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		if t.Failed() {
			t.Logf("child stderr:\n%s", c.stderr.String())
		}
	})
	c.expectNotify(t, "READY=1")
	return c
}

// expectNotify waits for the child to send state to the systemd socket.
func (c *child) expectNotify(t *testing.T, state string) {
	t.Helper()
	c.notify.SetReadDeadline(time.Now().Add(30 * time.Second))
	buf := make([]byte, 512)
	for {
		n, err := c.notify.Read(buf)
		if err != nil {
			t.Fatalf("waiting for %s on the notify socket: %v", state, err)
		}
		if string(buf[:n]) == state {
			return
		}
	}
}

func (c *child) expectLine(t *testing.T, want string) {
	t.Helper()
	timer := time.NewTimer(30 * time.Second)
	defer timer.Stop()
	for {
		select {
		case l, ok := <-c.lines:
			if !ok {
				t.Fatalf("child exited before printing %q", want)
			}
			if l == want {
				return
			}
		case <-timer.C:
			t.Fatalf("child did not print %q", want)
		}
	}
}

// wait returns the child's exit code and how long it took.
func (c *child) wait(t *testing.T, since time.Time) (int, time.Duration) {
	t.Helper()
	for range c.lines { // drain
	}
	select {
	case err := <-c.exited:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode(), time.Since(since)
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0, time.Since(since)
	case <-time.After(60 * time.Second):
		t.Fatal("child did not exit")
	}
	return -1, 0
}

func natsServer(t *testing.T) (string, *transport.Transport) {
	t.Helper()
	e, err := embedded.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Shutdown)
	tr, err := transport.Open(context.Background(), e.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return e.URL(), tr
}

func slowCall(tr *transport.Transport, ms int, timeout time.Duration) chan error {
	errc := make(chan error, 1)
	go func() {
		c, _ := client.New(tr, target.Target{Topic: "child"}, client.Timeout(timeout))
		got, err := client.Call[string](context.Background(), c, "slow", map[string]any{"ms": ms})
		if err == nil && got != "slept" {
			err = fmt.Errorf("got %q", got)
		}
		errc <- err
	}()
	return errc
}

// TestSIGTERMDrains: SIGTERM mid-call; the call completes and the process
// exits 0 within the grace period, logging what it drained.
func TestSIGTERMDrains(t *testing.T) {
	url, tr := natsServer(t)
	c := startChild(t, url, 10*time.Second)
	errc := slowCall(tr, 1500, 20*time.Second)
	c.expectLine(t, "handling")
	sent := time.Now()
	c.cmd.Process.Signal(syscall.SIGTERM)
	if err := <-errc; err != nil {
		t.Fatalf("the call in flight at SIGTERM: %v", err)
	}
	code, took := c.wait(t, sent)
	if code != 0 || took > 10*time.Second {
		t.Fatalf("exit %d after %v", code, took)
	}
	if logs := c.stderr.String(); !strings.Contains(logs, "caught signal") || !strings.Contains(logs, "service: drained") || !strings.Contains(logs, "requests=1") {
		t.Fatalf("logs:\n%s", logs)
	}
}

// TestGraceExpires: a handler longer than the grace period: the process
// still exits 0, at the end of the grace period.
func TestGraceExpires(t *testing.T) {
	url, tr := natsServer(t)
	c := startChild(t, url, 500*time.Millisecond)
	errc := slowCall(tr, 10_000, 3*time.Second)
	c.expectLine(t, "handling")
	sent := time.Now()
	c.cmd.Process.Signal(syscall.SIGTERM)
	code, took := c.wait(t, sent)
	if code != 0 || took < 400*time.Millisecond || took > 5*time.Second {
		t.Fatalf("exit %d after %v, want 0 after the 500 ms grace period", code, took)
	}
	if err := <-errc; err == nil {
		t.Fatal("a call cut off by the end of the grace period succeeded")
	}
	if logs := c.stderr.String(); !strings.Contains(logs, "graceful shutdown incomplete") {
		t.Fatalf("logs:\n%s", logs)
	}
}

// TestSecondSignalExitsAtOnce: SIGTERM then SIGINT during the drain.
func TestSecondSignalExitsAtOnce(t *testing.T) {
	url, tr := natsServer(t)
	c := startChild(t, url, 30*time.Second)
	slowCall(tr, 20_000, 30*time.Second)
	c.expectLine(t, "handling")
	c.cmd.Process.Signal(syscall.SIGTERM)
	time.Sleep(200 * time.Millisecond)
	sent := time.Now()
	c.cmd.Process.Signal(syscall.SIGINT)
	code, took := c.wait(t, sent)
	if code != 1 || took > 5*time.Second {
		t.Fatalf("exit %d after %v, want 1 at once", code, took)
	}
}

// TestSIGHUPReloads: SIGHUP reloads the configuration, resets the
// services, tells systemd, and the service keeps serving.
func TestSIGHUPReloads(t *testing.T) {
	url, tr := natsServer(t)
	c := startChild(t, url, 10*time.Second)
	c.cmd.Process.Signal(syscall.SIGHUP)
	c.expectLine(t, "reloaded")
	c.expectLine(t, "reset")
	c.expectNotify(t, "RELOADING=1")
	c.expectNotify(t, "READY=1")
	if err := <-slowCall(tr, 1, 10*time.Second); err != nil {
		t.Fatalf("call after SIGHUP: %v", err)
	}
	sent := time.Now()
	c.cmd.Process.Signal(syscall.SIGINT) // graceful too
	if code, _ := c.wait(t, sent); code != 0 {
		t.Fatalf("exit %d after SIGINT", code)
	}
}
