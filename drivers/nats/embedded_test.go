package nats

import (
	"bytes"
	"log/slog"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oslo-go/messaging/client"
	"github.com/oslo-go/messaging/drivers/nats/embedded"
	"github.com/oslo-go/messaging/target"
)

func TestEmbeddedDefaults(t *testing.T) {
	e, err := embedded.Start()
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^nats://127\.0\.0\.1:[0-9]+$`).MatchString(e.URL()) || e.Port() <= 0 || !strings.HasSuffix(e.URL(), ":"+itoa(e.Port())) {
		t.Fatalf("URL %q, port %d", e.URL(), e.Port())
	}
	dir := e.StoreDir()
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		t.Fatalf("store dir %q: %v", dir, err)
	}
	if e.NATSServer() == nil || !e.NATSServer().JetStreamEnabled() {
		t.Fatal("JetStream is off")
	}
	// Usable at once: a round trip through the whole stack.
	tr := openTransport(t, e.URL())
	tp := uniqueTopic(t)
	startServer(t, openTransport(t, e.URL()), target.Target{Topic: tp, Server: "s"}, newEcho("s"))
	c, _ := client.New(tr, target.Target{Topic: tp})
	if _, err := client.Call[echoResult](ctxFor(t, 10*time.Second), c, "echo", echoArgs{Text: "x"}); err != nil {
		t.Fatal(err)
	}
	tr.Close()
	e.Shutdown()
	e.Shutdown() // idempotent
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("temporary store dir left behind: %v", err)
	}
	if c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", itoa(e.Port())), time.Second); err == nil {
		c.Close()
		t.Fatal("server still listening after Shutdown")
	}
}

func TestEmbeddedPortAndStoreDir(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir := t.TempDir()
	e := startEmbedded(t, embedded.Port(port), embedded.StoreDir(dir))
	if e.Port() != port || e.URL() != "nats://127.0.0.1:"+itoa(port) || e.StoreDir() != dir {
		t.Fatalf("port %d URL %q dir %q", e.Port(), e.URL(), e.StoreDir())
	}
	if _, err := embedded.Start(embedded.Port(port)); err == nil {
		t.Fatal("a second server on the same port started")
	}
	e.Shutdown()
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("given store dir removed: %v", err)
	}
	e2 := startEmbedded(t, embedded.Port(port), embedded.StoreDir(dir))
	if e2.URL() != e.URL() {
		t.Fatalf("restarted on %q, want %q", e2.URL(), e.URL())
	}
}

func TestEmbeddedWithoutJetStream(t *testing.T) {
	e := startEmbedded(t, embedded.JetStream(false), embedded.MaxPayload(2<<20))
	if e.StoreDir() != "" || e.NATSServer().JetStreamEnabled() {
		t.Fatalf("store dir %q, JetStream %v", e.StoreDir(), e.NATSServer().JetStreamEnabled())
	}
	c, _ := openConn(t, e.URL())
	if got := c.(*conn).nc.MaxPayload(); got != 2<<20 {
		t.Fatalf("max_payload %d", got)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestEmbeddedLogger(t *testing.T) {
	var buf syncBuffer
	e := startEmbedded(t, embedded.WithLogger(slog.New(slog.NewTextHandler(&buf, nil))))
	e.Shutdown()
	out := buf.String()
	if !strings.Contains(out, "component=nats-server") || !strings.Contains(out, "level=INFO") {
		t.Fatalf("server log:\n%s", out)
	}
	if strings.Contains(out, "level=DEBUG") {
		t.Fatal("debug lines with an Info logger")
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
