package guestagent_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/goleak"

	"github.com/oslo-go/messaging/dispatcher"
	_ "github.com/oslo-go/messaging/drivers/fake"
	"github.com/oslo-go/messaging/examples/trove/guestagent"
	"github.com/oslo-go/messaging/serializer"
	"github.com/oslo-go/messaging/server"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func openTransport(t *testing.T) *transport.Transport {
	t.Helper()
	tr, err := transport.Open(context.Background(), "fake:///"+t.Name())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

// TestPrepareVersionCap checks what API.Prepare sends under each version
// cap: version 1.1 with ds_version when the cap allows it, else 1.0
// without it, which a guest of the previous release understands.
func TestPrepareVersionCap(t *testing.T) {
	tests := []struct {
		cap           string
		wantVersion   string
		wantDsVersion bool
	}{
		{"", "1.1", true}, // no cap given: LatestVersion
		{"1.1", "1.1", true},
		{"1.0", "1.0", false},
	}
	for _, tt := range tests {
		t.Run("cap "+tt.cap, func(t *testing.T) {
			tr := openTransport(t)
			id := uuid.NewString()
			requests := startRecordingGuest(t, tr, id)

			guest, err := guestagent.NewAPI(tr, id, guestagent.APIConfig{VersionCap: tt.cap})
			if err != nil {
				t.Fatal(err)
			}
			err = guest.Prepare(context.Background(), guestagent.PrepareArgs{DatastoreManager: "mysql", DsVersion: "5.7"})
			if err != nil {
				t.Fatal(err)
			}
			req := <-requests
			var args map[string]any
			if err := req.Args.Decode(&args); err != nil {
				t.Fatal(err)
			}
			_, hasDsVersion := args["ds_version"]
			if req.Method != "prepare" || req.Version != tt.wantVersion || hasDsVersion != tt.wantDsVersion || args["datastore_manager"] != "mysql" {
				t.Errorf("sent %s version %s with %v; want prepare version %s, ds_version sent: %v",
					req.Method, req.Version, args, tt.wantVersion, tt.wantDsVersion)
			}
		})
	}
}

// TestCapBelowBase checks that a cap below the base version forbids every
// call, before anything is sent.
func TestCapBelowBase(t *testing.T) {
	tr := openTransport(t)
	guest, err := guestagent.NewAPI(tr, uuid.NewString(), guestagent.APIConfig{VersionCap: "0.9"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := guest.GetFilesystemStats(context.Background()); err == nil {
		t.Fatal("GetFilesystemStats under cap 0.9 succeeded")
	}
}

// startRecordingGuest serves the topic of instance id with a guest that
// accepts prepare (at version 1.1) and hands each request it receives to
// the returned channel.
func startRecordingGuest(t *testing.T, tr *transport.Transport, id string) <-chan dispatcher.Request {
	t.Helper()
	requests := make(chan dispatcher.Request, 1)
	record := func(next dispatcher.Handler) dispatcher.Handler {
		return func(ctx context.Context, req *dispatcher.Request) (any, error) {
			requests <- *req
			return next(ctx, req)
		}
	}
	guest := dispatcher.Funcs{
		"prepare": func(ctx context.Context, args serializer.Raw) (any, error) { return nil, nil },
	}
	srv, err := server.New(tr, target.Target{Topic: guestagent.Topic(id), Server: id},
		[]any{dispatcher.Endpoint(guest, dispatcher.Version("1.1"))}, server.DispatchOptions(dispatcher.WithMiddleware(record)))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	return requests
}

// TestAgent runs a real guest agent: it answers ping, fails
// get_filesystem_stats until prepared, then reports real numbers.
func TestAgent(t *testing.T) {
	ctx := context.Background()
	tr := openTransport(t)
	id := uuid.NewString()
	agent, err := guestagent.Start(ctx, tr, guestagent.Config{
		InstanceID:  id,
		DataDir:     t.TempDir(),
		InstallTime: time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { agent.Shutdown(ctx) })
	guest, err := guestagent.NewAPI(tr, id, guestagent.APIConfig{CallTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}

	if err := guest.Ping(ctx, time.Second); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	var remote *transport.RemoteError
	if _, err := guest.GetFilesystemStats(ctx); !errors.As(err, &remote) {
		t.Fatalf("GetFilesystemStats before prepare = %v, want a remote error", err)
	}

	if err := guest.Prepare(ctx, guestagent.PrepareArgs{DatastoreManager: "mysql", DsVersion: "5.7"}); err != nil {
		t.Fatal(err)
	}
	var stats guestagent.FSStats
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if stats, err = guest.GetFilesystemStats(ctx); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("GetFilesystemStats after prepare: %v", err)
	}
	if stats.Total <= 0 || stats.TotalBlocks == 0 || stats.BlockSize == 0 || stats.Used+stats.Free > stats.Total+0.02 {
		b, _ := json.Marshal(stats)
		t.Errorf("stats = %s, want real numbers", b)
	}
}

func TestStartRejectsBadIDs(t *testing.T) {
	tr := openTransport(t)
	for _, id := range []string{"", "../../etc", "urn:uuid:0b4fd5d2-5b8a-4f51-9d1c-5c0e4e8f2a11"} {
		if a, err := guestagent.Start(context.Background(), tr, guestagent.Config{InstanceID: id, DataDir: t.TempDir()}); err == nil {
			a.Shutdown(context.Background())
			t.Errorf("Start with instance id %q succeeded", id)
		}
	}
}
