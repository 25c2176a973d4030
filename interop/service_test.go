package interop

import (
	"context"
	"errors"
	"math"
	"math/big"
	"testing"
	"time"

	"github.com/oslo-go/messaging/dispatcher"
	"github.com/oslo-go/messaging/serializer"
	"github.com/oslo-go/messaging/server"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
)

// The Go side of the interop service described in python/rpc_server.py:
// the same methods, namespace and versions, so that either a Go or a
// Python server answers a Go or a Python client. (echo_types and specials
// are Python only: they show what Python sends.)

// errVolumeNotFound stands for the Python class
// interop_errors.VolumeNotFound (python/interop_errors.py).
var errVolumeNotFound = transport.NewKind("interop_errors", "VolumeNotFound", "interop: volume not found")

// volumeNotFoundError is the Go error for VolumeNotFound. It travels with
// the class of errVolumeNotFound and its own message.
type volumeNotFoundError struct {
	VolumeID string
	Remote   *transport.RemoteError // set when rebuilt from a remote failure
}

func (e *volumeNotFoundError) Error() string {
	return "Volume " + e.VolumeID + " could not be found."
}

func (e *volumeNotFoundError) Unwrap() []error {
	if e.Remote != nil {
		return []error{errVolumeNotFound, e.Remote}
	}
	return []error{errVolumeNotFound}
}

// valueError travels as Python's builtins.ValueError, which Python callers
// re-raise as ValueError.
type valueError struct{ msg string }

func (e *valueError) Error() string { return e.msg }

func (e *valueError) WireError() (module, class, message string) {
	return "builtins", "ValueError", e.msg
}

// castEvent is a cast of "record" that a Go server received.
type castEvent struct{ Server, Text, User string }

// volume is the argument of describe_volume (python/rpc_client.py's
// VOLUME), as a Go service would declare it.
type volume struct {
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	SizeGB      int               `json:"size_gb"`
	Bytes       *big.Int          `json:"bytes"`
	Bootable    bool              `json:"bootable"`
	Ratio       float64           `json:"ratio"`
	Owner       *string           `json:"owner"`
	Tags        map[string]string `json:"tags"`
	Attachments []attachment      `json:"attachments"`
	Metadata    map[string]any    `json:"metadata"`
}

type attachment struct {
	Server   string         `json:"server"`
	Device   string         `json:"device"`
	ReadOnly bool           `json:"read_only"`
	Options  map[string]any `json:"options"`
}

// interopV1 is the service's namespace "interop", version 1.2.
type interopV1 struct {
	name  string
	casts chan<- castEvent
}

func (*interopV1) Target() target.Target { return target.Target{Namespace: "interop", Version: "1.2"} }

func (*interopV1) Echo(_ context.Context, args map[string]any) (map[string]any, error) {
	return args, nil
}

func (*interopV1) EchoContext(ctx context.Context) (serializer.RequestContext, error) {
	return serializer.RequestContextFrom(ctx), nil
}

func (*interopV1) DescribeVolume(_ context.Context, a struct {
	Volume volume `json:"volume"`
}) (volume, error) {
	return a.Volume, nil
}

func (*interopV1) ClassifyFloats(_ context.Context, a struct {
	Values []float64 `json:"values"`
}) ([]string, error) {
	out := make([]string, len(a.Values))
	for i, v := range a.Values {
		switch {
		case math.IsNaN(v):
			out[i] = "nan"
		case math.IsInf(v, 1):
			out[i] = "+inf"
		case math.IsInf(v, -1):
			out[i] = "-inf"
		default:
			out[i] = "finite"
		}
	}
	return out, nil
}

type messageArgs struct {
	Message string `json:"message"`
}

func (*interopV1) FailGeneric(_ context.Context, a messageArgs) error { return errors.New(a.Message) }

func (*interopV1) FailValue(_ context.Context, a messageArgs) error { return &valueError{a.Message} }

func (*interopV1) FailCustom(_ context.Context, a struct {
	VolumeID string `json:"volume_id" rpc:"required"`
}) error {
	return &volumeNotFoundError{VolumeID: a.VolumeID}
}

func (*interopV1) Sleep(ctx context.Context, a struct {
	Seconds float64 `json:"seconds"`
}) (string, error) {
	timer := time.NewTimer(time.Duration(a.Seconds * float64(time.Second)))
	defer timer.Stop()
	select {
	case <-timer.C:
		return "slept", nil
	case <-ctx.Done(): // the caller's deadline, from the request's expiration
		return "", ctx.Err()
	}
}

func (e *interopV1) Record(ctx context.Context, a struct {
	Text string `json:"text"`
}) error {
	e.casts <- castEvent{Server: e.name, Text: a.Text, User: serializer.RequestContextFrom(ctx).String("user")}
	return nil
}

func (e *interopV1) Whoami(context.Context) (string, error) { return e.name, nil }

// interopV2 is the service's namespace "interop", version 2.0.
type interopV2 struct{}

func (interopV2) Target() target.Target { return target.Target{Namespace: "interop", Version: "2.0"} }

func (interopV2) Echo(_ context.Context, args map[string]any) (map[string]any, error) {
	return map[string]any{"version": "2.0", "args": args}, nil
}

// startGoServer starts a Go server of the interop service for
// (topic, name), with ping enabled; it records casts on casts. The
// server is shut down when t ends.
func startGoServer(t testing.TB, tr *transport.Transport, topic, name string, casts chan<- castEvent) *server.Server {
	t.Helper()
	srv, err := server.New(tr, target.Target{Topic: topic, Server: name},
		[]any{&interopV1{name: name, casts: casts}, interopV2{}}, server.DispatchOptions(dispatcher.Ping(true)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Start(ctx); err != nil {
		t.Fatalf("starting Go server %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutting down Go server %s: %v", name, err)
		}
		srv.Close()
	})
	return srv
}

// startPythonServers starts python/rpc_server.py for each name on topic,
// all at once, and waits until every one serves.
func startPythonServers(t testing.TB, topic string, names ...string) []*peer {
	t.Helper()
	peers := make([]*peer, len(names))
	for i, n := range names {
		peers[i] = startPeer(t, n, "rpc_server.py", "--url", brokerURL, "--topic", topic, "--server", n)
	}
	awaitReady(t, peers...)
	for _, n := range names {
		awaitConsumers(t, topic+"."+n, 1)
	}
	return peers
}

// serverQueues names the queues of an RPC topic and its servers.
func serverQueues(topic string, servers ...string) []string {
	q := []string{topic}
	for _, s := range servers {
		q = append(q, topic+"."+s)
	}
	return q
}
