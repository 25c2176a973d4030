package service_test

import (
	"context"
	"errors"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/oslo-go/messaging/client"
	_ "github.com/oslo-go/messaging/drivers/fake"
	"github.com/oslo-go/messaging/service"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(childMain())
	}
	goleak.VerifyTestMain(m)
}

func TestTopicOf(t *testing.T) {
	for binary, want := range map[string]string{
		"karbor-operationengine": "operationengine", "nova-compute": "compute", "trove-conductor": "conductor",
		"trove-guestagent": "guestagent", "standalone": "standalone", "odd-": "odd-",
	} {
		if got := service.TopicOf(binary); got != want {
			t.Errorf("TopicOf(%q) = %q, want %q", binary, got, want)
		}
	}
}

// Manager is a manager with an RPC method and a periodic task.
type Manager struct {
	ticks atomic.Int32
}

type PingArgs struct {
	Text string `json:"text"`
}

func (m *Manager) Echo(_ context.Context, a PingArgs) (string, error) { return a.Text, nil }

func (m *Manager) PeriodicTasks() []service.Task {
	return []service.Task{{Name: "tick", Spacing: 10 * time.Millisecond, RunImmediately: true,
		Run: func(context.Context) error { m.ticks.Add(1); return nil }}}
}

// Extra is an additional endpoint.
type Extra struct{}

func (Extra) Version(context.Context) (string, error) { return "1.0", nil }

func open(t *testing.T) *transport.Transport {
	t.Helper()
	tr, err := transport.Open(context.Background(), "fake:///"+t.Name())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

func TestService(t *testing.T) {
	tr := open(t)
	m := &Manager{}
	var started, stopped, reloaded atomic.Int32
	svc, err := service.New(tr, "trove-conductor", m, service.Host("host-1"), service.Endpoints(Extra{}),
		service.OnStart(func(context.Context) error { started.Add(1); return nil }),
		service.OnStop(func(context.Context) error { stopped.Add(1); return nil }),
		service.OnReload(func(context.Context) error { reloaded.Add(1); return nil }))
	if err != nil {
		t.Fatal(err)
	}
	if got := svc.Target(); got.Topic != "conductor" || got.Server != "host-1" {
		t.Fatalf("target %v", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := svc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(ctx); err == nil {
		t.Fatal("second Start succeeded")
	}
	c, _ := client.New(tr, target.Target{Topic: "conductor"})
	if got, err := client.Call[string](ctx, c, "echo", PingArgs{Text: "hi"}); err != nil || got != "hi" {
		t.Fatalf("echo: %q %v", got, err)
	}
	if got, err := client.Call[string](ctx, c.Prepare(client.Server("host-1")), "version", nil); err != nil || got != "1.0" {
		t.Fatalf("additional endpoint: %q %v", got, err)
	}
	for m.ticks.Load() < 3 {
		time.Sleep(5 * time.Millisecond)
	}
	if err := svc.Reload(ctx); err != nil || reloaded.Load() != 1 {
		t.Fatalf("Reload: %v, %d", err, reloaded.Load())
	}
	if err := svc.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	ticks := m.ticks.Load()
	time.Sleep(50 * time.Millisecond)
	if m.ticks.Load() != ticks {
		t.Fatal("periodic tasks go on after Shutdown")
	}
	if started.Load() != 1 || stopped.Load() != 1 {
		t.Fatalf("OnStart ran %d times, OnStop %d", started.Load(), stopped.Load())
	}
}

func TestServiceOptions(t *testing.T) {
	tr := open(t)
	boom := errors.New("boom")
	svc, err := service.New(tr, "nova-compute", &Manager{}, service.OnStart(func(context.Context) error { return boom }))
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(context.Background()); !errors.Is(err, boom) {
		t.Fatalf("Start with a failing OnStart: %v", err)
	}
	svc.Close()
	host, _ := os.Hostname()
	svc, err = service.New(tr, "nova-compute", &Manager{}, service.Topic("compute-x"), service.PeriodicEnable(false))
	if err != nil {
		t.Fatal(err)
	}
	if got := svc.Target(); got.Topic != "compute-x" || got.Server != host {
		t.Fatalf("target %v, want topic compute-x on %s", got, host)
	}
	for _, bad := range []struct {
		tr     *transport.Transport
		binary string
		m      any
	}{{nil, "b", &Manager{}}, {tr, "", &Manager{}}, {tr, "b", nil}, {tr, "b", struct{}{}}} {
		if _, err := service.New(bad.tr, bad.binary, bad.m); err == nil {
			t.Errorf("New(%v, %q, %T) succeeded", bad.tr, bad.binary, bad.m)
		}
	}
}
