// Package notifytest holds what the tests of notify and notify/listener
// share: a private in-memory broker per test, unique topics for shared
// brokers, consumers of raw notification bodies, a slog handler that keeps
// its records, the Python wire captures and the Python peer.
package notifytest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oslo-go/messaging/drivers/fake"
	"github.com/oslo-go/messaging/internal/engine"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
	"github.com/oslo-go/messaging/transport/driver"
)

// Quiet is a logger that drops everything.
var Quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// UUIDRE matches a dashed UUID4 (a message_id); TimestampRE matches an
// oslo notification timestamp.
var (
	UUIDRE      = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	TimestampRE = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})?$`)
)

var fakeURLs sync.Map // testing.TB -> string

// FakeURL gives each test its own in-memory broker; calls with the same t
// return the same URL, so transports opened in one test reach each other.
func FakeURL(t testing.TB) string {
	vhost := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()) + fmt.Sprintf("-%016x", rand.Uint64())
	if u, loaded := fakeURLs.LoadOrStore(t, "fake:///"+vhost); loaded {
		return u.(string)
	}
	t.Cleanup(func() {
		fakeURLs.Delete(t)
		fake.Reset(vhost)
	})
	return "fake:///" + vhost
}

// Open opens a quiet transport on url, closed when t ends.
func Open(t testing.TB, url string) *transport.Transport {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tr, err := transport.Open(ctx, url, transport.WithLogger(Quiet))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

// UniqueTopic returns a topic no other test uses, for shared brokers. The
// "nt-" prefix lets a test remove the queues afterwards.
func UniqueTopic(prefix string) string {
	return fmt.Sprintf("nt-%s-%016x", prefix, rand.Uint64())
}

// Ctx returns a context that ends after 30 seconds or with t.
func Ctx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// RawListener consumes the raw bodies sent to a topic at the driver level.
type RawListener struct {
	l driver.Listener
}

// ListenRaw consumes what is sent to topic (already suffixed with the
// priority), until t ends.
func ListenRaw(t testing.TB, tr *transport.Transport, topic string) *RawListener {
	t.Helper()
	n, ok := engine.Of(tr).Driver().(driver.Notifier)
	if !ok {
		t.Fatal("driver does not carry notifications")
	}
	l, err := n.ListenNotifications(Ctx(t), []target.Target{engine.Of(tr).ResolveTarget(target.Target{Topic: topic})}, "", driver.ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return &RawListener{l: l}
}

// Next acknowledges and returns the next message; it fails t when none
// arrives within 10 seconds.
func (r *RawListener) Next(t testing.TB) *driver.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	in, err := r.l.Next(ctx)
	if err != nil {
		t.Fatalf("no notification: %v", err)
	}
	in.Ack()
	return in.Message()
}

// None fails t if a message arrives within d.
func (r *RawListener) None(t testing.TB, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if in, err := r.l.Next(ctx); err == nil {
		t.Fatalf("unexpected notification %s", in.Message().Body)
	}
}

// Capture is one of the Python wire captures in testdata/oslo-wire.
type Capture struct {
	Exchange   string `json:"exchange"`
	RoutingKey string `json:"routing_key"`
	Body       string `json:"body"`
}

// LoadCapture reads the capture testdata/oslo-wire/<name>.json.
func LoadCapture(t testing.TB, name string) Capture {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	data, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", "..", "testdata", "oslo-wire", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var c Capture
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// NeedPython returns /usr/bin/python3 when Python oslo.messaging is
// installed; otherwise it skips t, or fails it when CI is set.
func NeedPython(t testing.TB) string {
	t.Helper()
	const py = "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import oslo_messaging").Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("Python oslo.messaging is missing (%v): run .ci/services.sh", err)
		}
		t.Skipf("Python oslo.messaging is not installed: %v", err)
	}
	return py
}

// Logs is a slog.Handler that keeps the records it gets, at every level.
type Logs struct {
	mu   sync.Mutex
	recs []slog.Record
}

// Enabled implements slog.Handler.
func (h *Logs) Enabled(context.Context, slog.Level) bool { return true }

// Handle implements slog.Handler.
func (h *Logs) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.recs = append(h.recs, r.Clone())
	h.mu.Unlock()
	return nil
}

// WithAttrs implements slog.Handler; the attributes are dropped.
func (h *Logs) WithAttrs([]slog.Attr) slog.Handler { return h }

// WithGroup implements slog.Handler; the group is dropped.
func (h *Logs) WithGroup(string) slog.Handler { return h }

// Records returns the records kept so far.
func (h *Logs) Records() []slog.Record {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.recs)
}

// Attr returns the value of r's attribute key as a string ("" if absent).
func Attr(r slog.Record, key string) string {
	var v string
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == key {
			v = a.Value.String()
			return false
		}
		return true
	})
	return v
}
