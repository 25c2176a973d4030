package conductor_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/oslo-go/messaging/dispatcher"
	_ "github.com/oslo-go/messaging/drivers/fake"
	"github.com/oslo-go/messaging/examples/trove/conductor"
	"github.com/oslo-go/messaging/examples/trove/store"
	"github.com/oslo-go/messaging/server"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func openStore(t *testing.T) *store.Store {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "trove.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	err = st.Create(ctx, &store.Instance{ID: "i1", TenantID: "t", Name: "db", FlavorID: "1", VolumeSize: 1,
		Datastore: "mysql", DatastoreVersion: "5.7", TaskStatus: store.TaskBuilding, ServiceStatus: conductor.ServiceNew})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestHeartbeat casts heartbeats through the API to a conductor and
// watches the service status change in the database.
func TestHeartbeat(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	tr, err := transport.Open(ctx, "fake:///"+t.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	srv, err := server.New(tr, target.Target{Topic: conductor.DefaultTopic, Server: "host"},
		[]any{conductor.NewManager(st, quiet)}, server.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(ctx)
	api, err := conductor.NewAPI(tr, conductor.APIConfig{})
	if err != nil {
		t.Fatal(err)
	}

	for _, status := range []string{conductor.ServiceBuilding, conductor.ServiceHealthy} {
		if err := api.Heartbeat(ctx, "i1", status); err != nil {
			t.Fatal(err)
		}
		waitForStatus(t, st, status)
	}
}

func waitForStatus(t *testing.T, st *store.Store, status string) {
	t.Helper()
	var inst *store.Instance
	var err error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if inst, err = st.Get(context.Background(), "i1"); err == nil && inst.ServiceStatus == status {
			return
		}
	}
	t.Fatalf("service status = %+v, %v; want %s", inst, err, status)
}

// TestHeartbeatRules calls the endpoint directly: old heartbeats are
// ignored, unknown statuses refused, unknown instances an expected error.
func TestHeartbeatRules(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	m := conductor.NewManager(st, quiet)
	beat := func(id, status string, sent float64) error {
		return m.Heartbeat(ctx, conductor.HeartbeatArgs{InstanceID: id, Payload: conductor.Payload{ServiceStatus: status}, Sent: sent})
	}

	if err := beat("i1", conductor.ServiceHealthy, 20); err != nil {
		t.Fatal(err)
	}
	if err := beat("i1", conductor.ServiceBuilding, 10); err != nil { // sent before the last one
		t.Fatal(err)
	}
	if inst, _ := st.Get(ctx, "i1"); inst.ServiceStatus != conductor.ServiceHealthy {
		t.Errorf("an older heartbeat changed the status to %s", inst.ServiceStatus)
	}
	if err := beat("i1", "sleepy", 30); err == nil {
		t.Error("an unknown service status was accepted")
	}
	if err := beat("nope", conductor.ServiceHealthy, 30); !errors.Is(err, store.ErrNotFound) || !dispatcher.IsExpected(err) {
		t.Errorf("heartbeat of an unknown instance = %v, want an expected ErrNotFound", err)
	}
}

// TestStaleHeartbeats: the periodic check marks a healthy instance whose
// heartbeats stopped "shutdown"; a new heartbeat makes it healthy again;
// other statuses are left alone.
func TestStaleHeartbeats(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	m := conductor.NewManager(st, quiet, conductor.HeartbeatExpiry(time.Minute))
	if tasks := m.PeriodicTasks(); len(tasks) != 1 || tasks[0].Name != "check_stale_heartbeats" || tasks[0].Spacing != 6*time.Second {
		t.Fatalf("periodic tasks %+v", tasks)
	}
	now := float64(time.Now().Unix())
	beat := func(status string, sent float64) {
		t.Helper()
		if err := m.Heartbeat(ctx, conductor.HeartbeatArgs{InstanceID: "i1", Payload: conductor.Payload{ServiceStatus: status}, Sent: sent}); err != nil {
			t.Fatal(err)
		}
	}
	status := func() string {
		inst, err := st.Get(ctx, "i1")
		if err != nil {
			t.Fatal(err)
		}
		return inst.ServiceStatus
	}
	beat(conductor.ServiceHealthy, now-30)
	if err := m.CheckStaleHeartbeats(ctx); err != nil || status() != conductor.ServiceHealthy {
		t.Fatalf("a 30 s old heartbeat: %s, %v", status(), err)
	}
	beat(conductor.ServiceHealthy, now-90) // ignored: older than the last
	beat(conductor.ServiceFailed, now-20)
	beat(conductor.ServiceHealthy, now-19)
	if err := m.CheckStaleHeartbeats(ctx); err != nil || status() != conductor.ServiceHealthy {
		t.Fatalf("recent heartbeat: %s, %v", status(), err)
	}
	// Two minutes without a heartbeat.
	late := conductor.NewManager(st, quiet, conductor.HeartbeatExpiry(10*time.Second))
	if err := late.CheckStaleHeartbeats(ctx); err != nil || status() != conductor.ServiceShutdown {
		t.Fatalf("stale heartbeat: %s, %v", status(), err)
	}
	beat(conductor.ServiceHealthy, now)
	if status() != conductor.ServiceHealthy {
		t.Fatalf("after a new heartbeat: %s", status())
	}
}
