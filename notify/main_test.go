package notify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/oslo-go/messaging/drivers/fake"
	"github.com/oslo-go/messaging/internal/engine"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
	"github.com/oslo-go/messaging/transport/driver"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

var fakeURLs sync.Map // testing.TB -> string

// fakeURL gives each test its own in-memory broker; calls with the same t
// return the same URL, so transports opened in one test reach each other.
func fakeURL(t testing.TB) string {
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

func open(t testing.TB, url string) *transport.Transport {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tr, err := transport.Open(ctx, url, transport.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

// uniqueTopic returns a topic no other test uses, for shared brokers. The
// "nt-" prefix lets TestListenerRabbit remove the queues afterwards.
func uniqueTopic(prefix string) string {
	return fmt.Sprintf("nt-%s-%016x", prefix, rand.Uint64())
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// rawListener consumes the raw bodies sent to topic (already suffixed with
// the priority) at the driver level.
type rawListener struct {
	l driver.Listener
}

func listenRaw(t testing.TB, tr *transport.Transport, topic string) *rawListener {
	t.Helper()
	n, ok := engine.Of(tr).Driver().(driver.Notifier)
	if !ok {
		t.Fatal("driver does not carry notifications")
	}
	l, err := n.ListenNotifications(testCtx(t), []target.Target{engine.Of(tr).ResolveTarget(target.Target{Topic: topic})}, "", driver.ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return &rawListener{l: l}
}

func (r *rawListener) next(t testing.TB) *driver.Message {
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

// none fails if a message arrives within d.
func (r *rawListener) none(t testing.TB, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if in, err := r.l.Next(ctx); err == nil {
		t.Fatalf("unexpected notification %s", in.Message().Body)
	}
}

// capture is one of the Python wire captures in testdata/oslo-wire.
type capture struct {
	Exchange   string `json:"exchange"`
	RoutingKey string `json:"routing_key"`
	Body       string `json:"body"`
}

func loadCapture(t testing.TB, name string) capture {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "testdata", "oslo-wire", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var c capture
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	return c
}
