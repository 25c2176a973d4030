package trove_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/oslo-go/messaging/drivers/nats/embedded"
	"github.com/oslo-go/messaging/examples/trove/guestagent"
	"github.com/oslo-go/messaging/examples/trove/internal/cli"
	"github.com/oslo-go/messaging/examples/trove/internal/system"
	"github.com/oslo-go/messaging/examples/trove/internal/walk"
	"github.com/oslo-go/messaging/examples/trove/store"
	"github.com/oslo-go/messaging/examples/trove/taskmanager"
	"github.com/oslo-go/messaging/notify/listener"
	"github.com/oslo-go/messaging/serializer"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// agentTimeout is the guests' call timeout in these tests.
const agentTimeout = 300 * time.Millisecond

// testSystem is the four services in the process, with what the tests
// look at: their logs and the notifications they sent.
type testSystem struct {
	*system.System
	tr            *transport.Transport
	logs          *syncBuffer
	notifications *notificationRecorder
}

// startSystem starts the services on the broker of url, with a database
// and guest data in a temporary directory and short timings.
func startSystem(t *testing.T, url string) *testSystem {
	t.Helper()
	ctx := context.Background()
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("service logs:\n%s", logs)
		}
	})

	tr, err := cli.OpenTransport(ctx, url, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	dir := t.TempDir()
	st, err := store.Open(ctx, filepath.Join(dir, "trove.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })

	rec := &notificationRecorder{}
	l, err := listener.New(tr, []target.Target{{Topic: "notifications"}}, []any{rec})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Shutdown(context.Background()) })

	sys, err := system.Start(ctx, system.Config{
		Transport: tr,
		Store:     st,
		Host:      "test-host",
		Guest: guestagent.Config{
			DataDir:           filepath.Join(dir, "guests"),
			HeartbeatInterval: 200 * time.Millisecond,
			InstallTime:       100 * time.Millisecond,
		},
		GuestAPI: guestagent.APIConfig{CallTimeout: agentTimeout},
		Listen:   "127.0.0.1:0",
		Logger:   log,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := sys.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return &testSystem{System: sys, tr: tr, logs: logs, notifications: rec}
}

// TestWalkFake and TestWalkNATS take the all-in-one command's walk through
// the HTTP API, and check that the request context of the create request
// reached every service and the notifications.
func TestWalkFake(t *testing.T) { testWalk(t, "fake:///"+t.Name()) }

func TestWalkNATS(t *testing.T) {
	ns, err := embedded.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	testWalk(t, ns.URL())
}

func testWalk(t *testing.T, url string) {
	sys := startSystem(t, url)
	var out bytes.Buffer
	res, err := walk.Run(context.Background(), walk.Config{BaseURL: sys.URL, Tenant: "t1", Out: &out, Timeout: 10 * time.Second})
	t.Logf("walk:\n%s", &out)
	if err != nil {
		t.Fatal(err)
	}
	if v := res.Shown.Volume; v.Used == nil || v.Total == nil || *v.Total <= 0 || v.Size != 2 {
		t.Errorf("shown volume = %+v, want the guest's filesystem stats", v)
	}

	// The create request's id went api -> taskmanager -> guest -> conductor.
	for _, service := range []string{"trove-api", "trove-taskmanager", "trove-guestagent", "trove-conductor"} {
		if !sys.logs.has(service, res.CreateRequestID) {
			t.Errorf("%s did not log request %s", service, res.CreateRequestID)
		}
	}

	// Notifications: create.start and create.end (in either order: the
	// listener handles them concurrently), with the request context.
	got := sys.notifications.wait(t, 2)
	seen := map[string]bool{}
	for _, n := range got {
		seen[n.eventType] = true
		if n.publisherID != "trove-taskmanager.test-host" || n.requestID != res.CreateRequestID ||
			n.payload.InstanceID != res.InstanceID || n.payload.TenantID != "t1" {
			t.Errorf("notification %+v, want one from trove-taskmanager.test-host for instance %s, request %s",
				n, res.InstanceID, res.CreateRequestID)
		}
	}
	if !seen["trove.instance.create.start"] || !seen["trove.instance.create.end"] {
		t.Errorf("notifications %+v, want trove.instance.create.start and .end", got)
	}
}

// TestHTTPErrors checks the API's answers to bad requests, in Trove's
// shapes.
func TestHTTPErrors(t *testing.T) {
	sys := startSystem(t, "fake:///"+t.Name())
	c := newClient(t, sys.URL)
	id := c.createActive("t1")

	tests := []struct {
		name, method, path, body string
		status                   int
		fault, message           string
	}{
		{"malformed body", "POST", "/v1.0/t1/instances", `{"instance":`, 400, "badRequest", "Malformed request body"},
		{"no instance", "POST", "/v1.0/t1/instances", `{}`, 400, "badRequest", "'instance' is a required property"},
		{"no name", "POST", "/v1.0/t1/instances", `{"instance": {"flavorRef": "1", "volume": {"size": 1}}}`, 400, "badRequest", "'name' is a required property"},
		{"no flavor", "POST", "/v1.0/t1/instances", `{"instance": {"name": "a", "volume": {"size": 1}}}`, 400, "badRequest", "'flavorRef' is a required property"},
		{"no volume", "POST", "/v1.0/t1/instances", `{"instance": {"name": "a", "flavorRef": "1"}}`, 400, "badRequest", "'volume' is a required property"},
		{"volume too small", "POST", "/v1.0/t1/instances", `{"instance": {"name": "a", "flavorRef": "1", "volume": {"size": 0}}}`, 400, "badRequest", "volume size 0 is less than the minimum of 1"},
		{"wrong type", "POST", "/v1.0/t1/instances", `{"instance": {"name": 7}}`, 400, "badRequest", "Malformed request body"},
		{"unknown instance", "GET", "/v1.0/t1/instances/0b4fd5d2-5b8a-4f51-9d1c-5c0e4e8f2a11", "", 404, "itemNotFound", "could not be found"},
		{"another tenant's instance", "GET", "/v1.0/t2/instances/" + id, "", 404, "itemNotFound", "could not be found"},
		{"delete unknown", "DELETE", "/v1.0/t1/instances/nope", "", 404, "itemNotFound", "Instance nope could not be found."},
		{"unknown path", "GET", "/v2/whatever", "", 404, "itemNotFound", "The resource could not be found."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := c.do(tt.method, tt.path, tt.body)
			var fault map[string]struct {
				Message string
				Code    int
			}
			if err := json.Unmarshal(body, &fault); err != nil {
				t.Fatalf("body %s: %v", body, err)
			}
			f, ok := fault[tt.fault]
			if status != tt.status || !ok || f.Code != tt.status || !strings.Contains(f.Message, tt.message) {
				t.Errorf("%s %s = %d %s, want %d {%q: {code %d, message ...%s...}}",
					tt.method, tt.path, status, body, tt.status, tt.fault, tt.status, tt.message)
			}
		})
	}

	// The bad requests created nothing.
	status, body := c.do("GET", "/v1.0/t1/instances", "")
	var list struct{ Instances []walk.Instance }
	if err := json.Unmarshal(body, &list); status != 200 || err != nil || len(list.Instances) != 1 {
		t.Errorf("list = %d %s, want the one instance", status, body)
	}
}

// TestGuestNotAnswering stops the guest agent of an ACTIVE instance: show
// still works, with the volume usage marked unavailable and why. On fake://
// the request waits in the guest's queue until the call times out; NATS
// tells at once that nobody listens.
func TestGuestNotAnswering(t *testing.T) {
	t.Run("fake", func(t *testing.T) {
		testGuestNotAnswering(t, "fake:///"+t.Name(), "the guest agent did not answer within 300ms")
	})
	t.Run("nats", func(t *testing.T) {
		ns, err := embedded.Start()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(ns.Shutdown)
		testGuestNotAnswering(t, ns.URL(), "no guest agent serves the instance")
	})
}

func testGuestNotAnswering(t *testing.T, url, reason string) {
	sys := startSystem(t, url)
	c := newClient(t, sys.URL)
	id := c.createActive("t1")
	if err := sys.Guests.Deprovision(context.Background(), id); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	status, body := c.do("GET", "/v1.0/t1/instances/"+id, "")
	took := time.Since(start)
	var shown struct{ Instance walk.Instance }
	if err := json.Unmarshal(body, &shown); err != nil || status != 200 {
		t.Fatalf("show = %d %s, want 200", status, body)
	}
	v := shown.Instance.Volume
	if shown.Instance.Status != "ACTIVE" || v.Size != 2 || v.Used != nil || v.Unavailable != reason {
		t.Errorf("show = %s, want ACTIVE with the volume unavailable: %q", body, reason)
	}
	if took > agentTimeout+2*time.Second {
		t.Errorf("show took %s with a call timeout of %s", took, agentTimeout)
	}
}

// client makes requests to the API.
type client struct {
	t    *testing.T
	base string
	http *http.Client
}

func newClient(t *testing.T, base string) *client {
	c := &client{t: t, base: base, http: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{}}}
	t.Cleanup(c.http.CloseIdleConnections)
	return c
}

// do sends a request and returns the status and the body of the response.
func (c *client) do(method, path, body string) (int, []byte) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp.StatusCode, data
}

// createActive creates an instance for tenant and waits until it is
// ACTIVE; it returns the instance's id.
func (c *client) createActive(tenant string) string {
	c.t.Helper()
	status, body := c.do("POST", "/v1.0/"+tenant+"/instances",
		`{"instance": {"name": "db", "flavorRef": "1", "volume": {"size": 2}}}`)
	var created struct{ Instance walk.Instance }
	if err := json.Unmarshal(body, &created); err != nil || status != http.StatusAccepted {
		c.t.Fatalf("create = %d %s, want 202", status, body)
	}
	id := created.Instance.ID
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		_, body := c.do("GET", "/v1.0/"+tenant+"/instances/"+id, "")
		var shown struct{ Instance walk.Instance }
		if err := json.Unmarshal(body, &shown); err == nil && shown.Instance.Status == "ACTIVE" {
			return id
		}
	}
	c.t.Fatalf("instance %s is not ACTIVE after 10s", id)
	return ""
}

// syncBuffer is a buffer safe for concurrent writes, holding JSON log
// records.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// has reports whether service logged a record with the request id.
func (b *syncBuffer) has(service, requestID string) bool {
	for line := range strings.Lines(b.String()) {
		var rec struct {
			Service   string `json:"service"`
			RequestID string `json:"request_id"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Service == service && rec.RequestID == requestID {
			return true
		}
	}
	return false
}

// notificationRecorder is a notification endpoint keeping what it gets.
type notificationRecorder struct {
	mu   sync.Mutex
	list []notification
}

type notification struct {
	eventType, publisherID, requestID string
	payload                           taskmanager.InstancePayload
}

// Info records an INFO notification.
func (r *notificationRecorder) Info(ctx context.Context, publisherID, eventType string, payload taskmanager.InstancePayload, md listener.Metadata) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	rc := serializer.RequestContextFrom(ctx)
	r.list = append(r.list, notification{eventType, publisherID, rc.String("request_id"), payload})
	return nil
}

// wait returns the first n notifications, failing t if they do not come.
func (r *notificationRecorder) wait(t *testing.T, n int) []notification {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		r.mu.Lock()
		if len(r.list) >= n {
			list := r.list[:n]
			r.mu.Unlock()
			return list
		}
		r.mu.Unlock()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	t.Fatalf("got notifications %+v, want %d", r.list, n)
	return nil
}
