package objects_test

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/oslo-go/messaging/client"
	"github.com/oslo-go/messaging/dispatcher"
	_ "github.com/oslo-go/messaging/drivers/fake"
	"github.com/oslo-go/messaging/objects"
	"github.com/oslo-go/messaging/serializer"
	"github.com/oslo-go/messaging/server"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestSerializeEntity(t *testing.T) {
	ser := objects.NewSerializer(novaRegistry())
	ctx := context.Background()
	type result struct {
		Instances []*Instance        `json:"instances"`
		ByName    map[string]*Flavor `json:"by_name,omitempty"`
		Count     int                `json:"count"`
		Skip      string             `json:"-"`
		Empty     *Flavor            `json:"empty,omitempty"`
	}
	got, err := ser.SerializeEntity(ctx, result{
		Instances: []*Instance{{ID: 1}}, ByName: map[string]*Flavor{"m1": {ID: 2}}, Count: 1, Skip: "x",
	})
	if err != nil {
		t.Fatal(err)
	}
	m := got.(map[string]any)
	if len(m) != 3 || m["count"] != 1 {
		t.Fatalf("struct: %v", m)
	}
	inst := m["instances"].([]any)[0].(map[string]any)
	fl := m["by_name"].(map[string]any)["m1"].(map[string]any)
	if inst["nova_object.name"] != "Instance" || fl["nova_object.name"] != "Flavor" {
		t.Errorf("objects not converted: %v", m)
	}
	// Values without objects are left as they are.
	plain := map[string]int{"a": 1}
	if got, _ := ser.SerializeEntity(ctx, plain); !reflect.DeepEqual(got, plain) {
		t.Errorf("plain: %v", got)
	}

	// And back: primitives anywhere become objects.
	back, err := ser.DeserializeEntity(ctx, roundJSON(t, map[string]any{"x": []any{m}}))
	if err != nil {
		t.Fatal(err)
	}
	r := back.(map[string]any)["x"].([]any)[0].(map[string]any)
	if i, ok := r["instances"].([]any)[0].(*Instance); !ok || i.ID != 1 {
		t.Errorf("deserialized %#v", r)
	}
	if f, ok := r["by_name"].(map[string]any)["m1"].(*Flavor); !ok || f.ID != 2 {
		t.Errorf("deserialized %#v", r)
	}
}

func TestDeserializeVersions(t *testing.T) {
	ser := objects.NewSerializer(novaRegistry())
	ctx := context.Background()
	// A .z revision is accepted without a backport.
	o, err := ser.DeserializeEntity(ctx, wire(t, instancePrimitive("1.3.4", `{"id": 1}`)))
	if err != nil || objects.VersionOf(o.(*Instance)) != "1.3" {
		t.Fatalf("1.3.4: %v %v", o, err)
	}
	// Newer without an indirection: IncompatibleObjectVersion.
	_, err = ser.DeserializeEntity(ctx, []any{wire(t, instancePrimitive("1.4", `{}`))})
	var iov *objects.IncompatibleObjectVersionError
	if !errors.As(err, &iov) || iov.Name != "Instance" || iov.Supported != "1.3" {
		t.Fatalf("1.4: %v", err)
	}
}

type oldFlavor struct {
	objects.Base
	ID   int64  `obj:"id"`
	Name string `obj:"name"`
}

type oldInstance struct {
	objects.Base
	ID       int64      `obj:"id"`
	MemoryMB string     `obj:"memory_mb"`
	Flavor   *oldFlavor `obj:"flavor,nullable"`
}

type oldService struct{ got chan *oldInstance }

func (s *oldService) Target() target.Target { return target.Target{Version: "1.0"} }

func (s *oldService) Resize(ctx context.Context, a struct {
	Instance *oldInstance `json:"instance"`
}) (*oldInstance, error) {
	before := *a.Instance
	s.got <- &before
	a.Instance.MemoryMB = "1024"
	return a.Instance, nil
}

// TestBackportThroughConductor: a Go server that knows Instance 1.1 gets
// 1.3 from a Go client, asks a Go conductor for a backport, and answers;
// the client gets 1.1 back with the server's change.
func TestBackportThroughConductor(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tr, err := transport.Open(ctx, "fake:///"+t.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	newReg := novaRegistry()
	oldReg := objects.NewRegistry("nova_object", "nova")
	oldReg.MustRegister(&oldFlavor{}, objects.Name("Flavor"), objects.Version("1.0"))
	oldReg.MustRegister(&oldInstance{}, objects.Name("Instance"), objects.Version("1.1"),
		objects.Relationship("flavor", [2]string{"1.0", "1.0"}))

	start := func(topic string, ser serializer.Serializer, endpoints ...any) {
		srv, err := server.New(tr, target.Target{Topic: topic, Server: "s"}, endpoints, server.DispatchOptions(dispatcher.WithSerializer(ser)),
			server.WithLogger(slog.New(slog.DiscardHandler)))
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Shutdown(ctx); srv.Close() })
	}
	start("conductor", objects.NewSerializer(newReg), objects.NewConductorEndpoint(newReg))
	cc, err := client.New(tr, target.Target{Topic: "conductor", Version: "3.0"})
	if err != nil {
		t.Fatal(err)
	}
	svc := &oldService{got: make(chan *oldInstance, 1)}
	start("compute", objects.NewSerializer(oldReg, objects.WithIndirection(objects.NewConductorAPI(cc))), svc)

	c, err := client.New(tr, target.Target{Topic: "compute", Version: "1.0"}, client.WithSerializer(objects.NewSerializer(newReg)))
	if err != nil {
		t.Fatal(err)
	}
	inst := &Instance{ID: 7, MemoryMB: 512, KeyData: ptr("k"), Flavor: &Flavor{ID: 1, Name: "m1", ExtraSpecs: map[string]string{"a": "b"}}}
	objects.ResetChangesRecursive(inst)
	back, err := client.Call[*Instance](ctx, c, "resize", map[string]any{"instance": inst})
	if err != nil {
		t.Fatal(err)
	}
	got := <-svc.got
	if objects.VersionOf(got) != "1.1" || got.MemoryMB != "512" || got.Flavor.Name != "m1" || objects.VersionOf(got.Flavor) != "1.0" {
		t.Errorf("server got %+v", got)
	}
	if objects.VersionOf(back) != "1.1" || back.MemoryMB != 1024 || back.KeyData != nil ||
		!reflect.DeepEqual(objects.WhatChanged(back), []string{"memory_mb"}) {
		t.Errorf("client got %+v, changes %v", back, objects.WhatChanged(back))
	}

	// Without an indirection the server refuses, and the client can tell.
	start("compute2", objects.NewSerializer(oldReg), svc)
	c2, err := client.New(tr, target.Target{Topic: "compute2", Version: "1.0"}, client.WithSerializer(objects.NewSerializer(newReg)))
	if err != nil {
		t.Fatal(err)
	}
	_, err = client.Call[*Instance](ctx, c2, "resize", map[string]any{"instance": inst})
	if !errors.Is(err, objects.ErrIncompatibleObjectVersion) {
		t.Fatalf("got %v", err)
	}
}
