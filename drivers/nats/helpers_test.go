package nats

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/oslo-go/messaging/drivers/drivertest"
	"github.com/oslo-go/messaging/drivers/nats/embedded"
)

// machineAddr is the NATS server (with JetStream) the machine runs.
const machineAddr = "127.0.0.1:4222"

// machineURL returns the URL of the machine's NATS server. When it cannot
// be reached the test fails if the environment variable CI is set, and is
// skipped with a loud message otherwise.
func machineURL(t testing.TB) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", machineAddr, 2*time.Second)
	if err != nil {
		msg := fmt.Sprintf("the machine's NATS server on %s cannot be reached: %v", machineAddr, err)
		if os.Getenv("CI") != "" {
			t.Fatalf("%s (CI is set: this test must run; start nats-server -js -a 127.0.0.1 -p 4222)", msg)
		}
		t.Skipf("\n\n*** SKIPPING %s: %s ***\n*** start nats-server -js -a 127.0.0.1 -p 4222 to run it (with CI set it fails instead) ***\n\n", t.Name(), msg)
	}
	c.Close()
	return "nats://" + machineAddr
}

// startEmbedded starts an embedded server for the test and shuts it down at the
// end of the test.
func startEmbedded(t testing.TB, opts ...embedded.Option) *embedded.Server {
	t.Helper()
	e, err := embedded.Start(opts...)
	if err != nil {
		t.Fatalf("embedded.Start: %v", err)
	}
	t.Cleanup(e.Shutdown)
	return e
}

// perTestServers hands out one embedded server per test name, shut down
// when that test ends, so that the conformance suite's goroutine-leak check
// sees none of the server's goroutines.
type perTestServers struct {
	mu      sync.Mutex
	servers map[string]*embedded.Server
}

func (p *perTestServers) url(t testing.TB) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.servers == nil {
		p.servers = map[string]*embedded.Server{}
	}
	if e := p.servers[t.Name()]; e != nil {
		return e.URL()
	}
	e := startEmbedded(t)
	p.servers[t.Name()] = e
	return e.URL()
}

var unsafeChars = regexp.MustCompile(`[^a-zA-Z0-9]+`)

// uniqueTopic returns a topic unique to this test run (the machine's server
// is shared with other test runs).
func uniqueTopic(t testing.TB) string {
	name := strings.ToLower(strings.Trim(unsafeChars.ReplaceAllString(t.Name(), "_"), "_"))
	if len(name) > 40 {
		name = name[len(name)-40:]
	}
	return fmt.Sprintf("nt_%s_%d_%08x", name, os.Getpid(), rand.Uint32())
}

// startNATS starts a nats-server in the process with options of its own
// (authentication, TLS), on the loopback interface and a random port, shut
// down when the test ends. It returns the server's port.
func startNATS(t testing.TB, configure func(*server.Options)) int {
	t.Helper()
	opts := &server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, NoLog: true, NoSigs: true}
	configure(opts)
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	return s.Addr().(*net.TCPAddr).Port
}

// logCapture is a logger that keeps every line, Debug included, and
// passes it on to the test log.
type logCapture struct {
	buf syncBuffer
	log *slog.Logger
}

func captureLogs(t testing.TB) *logCapture {
	lc := &logCapture{}
	tl := drivertest.TestLogger(t)
	lc.log = slog.New(teeHandler{slog.NewTextHandler(&lc.buf, &slog.HandlerOptions{Level: slog.LevelDebug}), tl.Handler()})
	return lc
}

func (lc *logCapture) String() string { return lc.buf.String() }

// count returns how many lines at level hold s.
func (lc *logCapture) count(level slog.Level, s string) int {
	n := 0
	for _, line := range strings.Split(lc.String(), "\n") {
		if strings.Contains(line, "level="+level.String()) && strings.Contains(line, s) {
			n++
		}
	}
	return n
}

// teeHandler sends records to two handlers.
type teeHandler struct{ a, b slog.Handler }

func (h teeHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.a.Enabled(ctx, l) || h.b.Enabled(ctx, l)
}

func (h teeHandler) Handle(ctx context.Context, r slog.Record) error {
	h.a.Handle(ctx, r.Clone())
	return h.b.Handle(ctx, r)
}

func (h teeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return teeHandler{h.a.WithAttrs(as), h.b.WithAttrs(as)}
}

func (h teeHandler) WithGroup(n string) slog.Handler {
	return teeHandler{h.a.WithGroup(n), h.b.WithGroup(n)}
}

// freePort returns a loopback port nothing listens on (now).
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// natsServerBinary is the nats-server the machine has; tests that move a
// lot of bytes run it as a process of its own, so that neither the race
// detector nor the test's heap counts the broker.
const natsServerBinary = "/usr/sbin/nats-server"

// startNATSProcess runs a private nats-server process on a free loopback
// port, killed when the test ends, and returns its URL. Without the binary
// the test fails if CI is set and is skipped loudly otherwise.
func startNATSProcess(t testing.TB, args ...string) string {
	t.Helper()
	if _, err := os.Stat(natsServerBinary); err != nil {
		msg := fmt.Sprintf("%s: %v", natsServerBinary, err)
		if os.Getenv("CI") != "" {
			t.Fatalf("%s (CI is set: this test must run; apt-get install nats-server)", msg)
		}
		t.Skipf("\n\n*** SKIPPING %s: %s ***\n*** apt-get install nats-server to run it (with CI set it fails instead) ***\n\n", t.Name(), msg)
	}
	port := freePort(t)
	cmd := exec.Command(natsServerBinary, append([]string{"-a", "127.0.0.1", "-p", itoa(port)}, args...)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	addr := net.JoinHostPort("127.0.0.1", itoa(port))
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return "nats://" + addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("nats-server on %s did not start", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
