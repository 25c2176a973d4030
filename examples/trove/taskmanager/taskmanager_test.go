package taskmanager_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/goleak"

	_ "github.com/oslo-go/messaging/drivers/fake"
	"github.com/oslo-go/messaging/examples/trove/conductor"
	"github.com/oslo-go/messaging/examples/trove/store"
	"github.com/oslo-go/messaging/examples/trove/taskmanager"
	"github.com/oslo-go/messaging/notify"
	"github.com/oslo-go/messaging/serializer"
	"github.com/oslo-go/messaging/transport"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// deadGuests is a Provisioner whose guests never come up.
type deadGuests struct{}

func (deadGuests) Provision(context.Context, string) error   { return nil }
func (deadGuests) Deprovision(context.Context, string) error { return nil }

// TestCreateGuestNeverAnswers creates an instance whose guest agent never
// comes up: after the boot timeout the instance is in error, and
// trove.instance.create.error follows create.start, with the request
// context.
func TestCreateGuestNeverAnswers(t *testing.T) {
	ctx := context.Background()
	tr, err := transport.Open(ctx, "fake:///"+t.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "trove.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var rec notify.Recorder
	notifier, err := notify.New(tr, notify.Driver("test"), notify.Record(&rec), notify.PublisherID("trove-taskmanager.test"))
	if err != nil {
		t.Fatal(err)
	}

	id := uuid.NewString()
	err = st.Create(ctx, &store.Instance{ID: id, TenantID: "t1", Name: "db", FlavorID: "1", VolumeSize: 1,
		Datastore: "mysql", DatastoreVersion: "5.7", TaskStatus: store.TaskBuilding, ServiceStatus: conductor.ServiceNew})
	if err != nil {
		t.Fatal(err)
	}
	m := taskmanager.NewManager(taskmanager.Config{
		Transport:   tr,
		Store:       st,
		Provisioner: deadGuests{},
		Notifier:    notifier,
		BootTimeout: 300 * time.Millisecond,
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	ctx = serializer.WithRequestContext(ctx, serializer.RequestContext{"request_id": "req-1", "project_id": "t1"})
	err = m.CreateInstance(ctx, taskmanager.CreateInstanceArgs{InstanceID: id, Name: "db", DatastoreManager: "mysql"})
	if err == nil || !strings.Contains(err.Error(), "did not answer within 300ms") {
		t.Errorf("CreateInstance = %v, want the guest's boot timeout", err)
	}

	inst, err := st.Get(ctx, id)
	if err != nil || inst.TaskStatus != store.TaskBuildingError {
		t.Errorf("instance = %+v, %v; want task status %s", inst, err, store.TaskBuildingError)
	}
	var events []string
	for _, n := range rec.Notifications() {
		events = append(events, n.Priority+" "+n.EventType)
		if n.PublisherID != "trove-taskmanager.test" || n.Context["request_id"] != "req-1" {
			t.Errorf("notification %s: publisher %q, context %v", n.EventType, n.PublisherID, n.Context)
		}
	}
	want := "INFO trove.instance.create.start, ERROR trove.instance.create.error"
	if got := strings.Join(events, ", "); got != want {
		t.Errorf("notifications: %s; want %s", got, want)
	}
}
