package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"

	"github.com/oslo-go/messaging/examples/trove/store"
)

func open(t *testing.T, path string) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newInstance(id, tenant string) *store.Instance {
	return &store.Instance{
		ID: id, TenantID: tenant, Name: "db-" + id, FlavorID: "1", VolumeSize: 2,
		Datastore: "mysql", DatastoreVersion: "5.7",
		TaskStatus: store.TaskBuilding, ServiceStatus: "new",
	}
}

func TestInstanceLifecycle(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "trove.db"))

	if err := s.Create(ctx, newInstance("a", "t1")); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, newInstance("b", "t1")); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, newInstance("c", "t2")); err != nil {
		t.Fatal(err)
	}

	got, err := s.Get(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "db-a" || got.VolumeSize != 2 || got.ServiceStatus != "new" || got.Created.IsZero() {
		t.Errorf("Get(a) = %+v", got)
	}
	list, err := s.List(ctx, "t1")
	if err != nil || len(list) != 2 || list[0].ID != "a" || list[1].ID != "b" {
		t.Fatalf("List(t1) = %v, %v; want a, b", list, err)
	}

	// Heartbeats: a newer one applies, an older one is ignored.
	if ok, err := s.UpdateServiceStatus(ctx, "a", "healthy", 200); !ok || err != nil {
		t.Fatalf("UpdateServiceStatus(200) = %v, %v", ok, err)
	}
	if ok, err := s.UpdateServiceStatus(ctx, "a", "building", 100); ok || err != nil {
		t.Fatalf("UpdateServiceStatus(100) after 200 = %v, %v; want false, nil", ok, err)
	}
	if got, _ := s.Get(ctx, "a"); got.ServiceStatus != "healthy" {
		t.Errorf("service status after heartbeats = %s, want healthy", got.ServiceStatus)
	}
	if _, err := s.UpdateServiceStatus(ctx, "nope", "healthy", 1); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateServiceStatus(unknown) = %v, want ErrNotFound", err)
	}

	if err := s.SetTaskStatus(ctx, "a", store.TaskDeleting); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Get(ctx, "a"); got.TaskStatus != store.TaskDeleting {
		t.Errorf("task status = %s, want %s", got.TaskStatus, store.TaskDeleting)
	}

	if err := s.Delete(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "a"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get after Delete = %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, "a"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second Delete = %v, want ErrNotFound", err)
	}
}

// TestSharedFile writes through two Stores on one file at once, as the
// services of a multi-process deployment do.
func TestSharedFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "trove.db")
	s1, s2 := open(t, path), open(t, path)
	if err := s1.Create(ctx, newInstance("x", "t")); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i, s := range []*store.Store{s1, s2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range 50 {
				if _, err := s.UpdateServiceStatus(ctx, "x", "healthy", float64(2*n+i)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if got, err := s2.Get(ctx, "x"); err != nil || got.ServiceStatus != "healthy" {
		t.Fatalf("Get = %+v, %v", got, err)
	}
}
