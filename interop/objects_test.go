package interop

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oslo-go/messaging/client"
	"github.com/oslo-go/messaging/dispatcher"
	"github.com/oslo-go/messaging/objects"
	"github.com/oslo-go/messaging/serializer"
	"github.com/oslo-go/messaging/server"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
)

// The Nova-like objects of python/objects_peer.py, new versions: Flavor
// 1.1, Tag 1.0, Instance 1.3.
type ioFlavor struct {
	objects.Base
	ID         int64             `obj:"id"`
	Name       string            `obj:"name"`
	MemoryMB   int64             `obj:"memory_mb"`
	ExtraSpecs map[string]string `obj:"extra_specs,since=1.1"`
}

type ioTag struct {
	objects.Base
	Tag        string `obj:"tag"`
	ResourceID string `obj:"resource_id"`
}

// ioInstanceFields are the fields Instance 1.1 and 1.3 share, embedded in
// both (fields of embedded structs are object fields too).
type ioInstanceFields struct {
	ID             int64              `obj:"id"`
	UUID           string             `obj:"uuid,uuid"`
	Host           *string            `obj:"host,nullable"`
	VMState        string             `obj:"vm_state,enum=active|building|stopped|error,default=building"`
	LaunchedAt     *time.Time         `obj:"launched_at,nullable"`
	Locked         bool               `obj:"locked"`
	Progress       *float64           `obj:"progress,nullable"`
	AccessIPv4     *netip.Addr        `obj:"access_ip_v4,nullable,ipv4"`
	AccessIPv6     *netip.Addr        `obj:"access_ip_v6,nullable,ipv6"`
	Metadata       map[string]string  `obj:"metadata"`
	SystemMetadata map[string]*string `obj:"system_metadata"`
	NUMANodes      map[int64]struct{} `obj:"numa_nodes"`
}

type ioInstance struct {
	objects.Base
	ioInstanceFields
	MemoryMB int64     `obj:"memory_mb"`
	Flavor   *ioFlavor `obj:"flavor,nullable"`
	Tags     []*ioTag  `obj:"tags,since=1.2"`
	KeyData  *string   `obj:"key_data,nullable,since=1.3"`
}

// The old versions a peer that was not upgraded knows: Flavor 1.0,
// Instance 1.1 (memory_mb was a string).
type ioOldFlavor struct {
	objects.Base
	ID       int64  `obj:"id"`
	Name     string `obj:"name"`
	MemoryMB int64  `obj:"memory_mb"`
}

type ioOldInstance struct {
	objects.Base
	ioInstanceFields
	MemoryMB string       `obj:"memory_mb"`
	Flavor   *ioOldFlavor `obj:"flavor,nullable"`
}

func newObjectsRegistry(t testing.TB) *objects.Registry {
	t.Helper()
	reg := objects.NewRegistry("nova_object", "nova")
	for _, err := range []error{
		reg.Register(&ioFlavor{}, objects.Name("Flavor"), objects.Version("1.1")),
		reg.Register(&ioTag{}, objects.Name("Tag"), objects.Version("1.0")),
		reg.Register(&ioInstance{}, objects.Name("Instance"), objects.Version("1.3"),
			objects.Relationship("flavor", [2]string{"1.0", "1.0"}, [2]string{"1.2", "1.1"}),
			objects.Relationship("tags", [2]string{"1.2", "1.0"}),
			objects.Downgrade("1.3", func(data map[string]any) error {
				if v, ok := data["memory_mb"].(int64); ok {
					data["memory_mb"] = strconv.FormatInt(v, 10)
				}
				return nil
			})),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return reg
}

func oldObjectsRegistry(t testing.TB) *objects.Registry {
	t.Helper()
	reg := objects.NewRegistry("nova_object", "nova")
	if err := errors.Join(
		reg.Register(&ioOldFlavor{}, objects.Name("Flavor"), objects.Version("1.0")),
		reg.Register(&ioOldInstance{}, objects.Name("Instance"), objects.Version("1.1"),
			objects.Relationship("flavor", [2]string{"1.0", "1.0"}, [2]string{"1.1", "1.0"})),
	); err != nil {
		t.Fatal(err)
	}
	return reg
}

// goInstance is python/objects_peer.py's full_instance() in Go: every
// field type set, changes reset, then vm_state changed.
func goInstance() *ioInstance {
	owner := (*string)(nil)
	os := "debian"
	v4, v6 := netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("2001:db8::10")
	at := time.Date(2024, 1, 2, 3, 4, 5, 0, time.FixedZone("+02:00", 2*3600))
	inst := &ioInstance{
		ioInstanceFields: ioInstanceFields{
			ID: 42, UUID: "d4e5f6a7-0000-4000-8000-000000000042", VMState: "building", LaunchedAt: &at,
			Locked: true, AccessIPv4: &v4, AccessIPv6: &v6,
			Metadata:       map[string]string{"role": "db", "tier": "1"},
			SystemMetadata: map[string]*string{"image_os": &os, "owner": owner},
			NUMANodes:      map[int64]struct{}{0: {}, 1: {}, 3: {}},
		},
		MemoryMB: 2048,
		Flavor:   &ioFlavor{ID: 7, Name: "m1.small", MemoryMB: 2048, ExtraSpecs: map[string]string{"hw:cpu_policy": "dedicated"}},
		Tags:     []*ioTag{{Tag: "prod", ResourceID: "r1"}, {Tag: "eu", ResourceID: "r1"}},
	}
	inst.MarkChanged("host", "progress", "key_data") // set, to None
	objects.ResetChangesRecursive(inst)
	inst.VMState = "active"
	return inst
}

type instanceArg struct {
	Instance *ioInstance `json:"instance"`
}

type oldInstanceArg struct {
	Instance *ioOldInstance `json:"instance"`
}

// seen is what a Go handler received.
type seen struct {
	version string
	changed []string
	inst    any
}

// goObjectsService is python/objects_peer.py's ObjectsEndpoint in Go.
type goObjectsService struct{ seen chan seen }

func (s *goObjectsService) Target() target.Target { return target.Target{Version: "1.0"} }

func (s *goObjectsService) EchoInstance(ctx context.Context, a instanceArg) (*ioInstance, error) {
	s.seen <- seen{objects.VersionOf(a.Instance), objects.WhatChanged(a.Instance), a.Instance}
	return a.Instance, nil
}

func (s *goObjectsService) UpdateInstance(ctx context.Context, a instanceArg) (*ioInstance, error) {
	before := *a.Instance // the fields below are replaced, not modified
	s.seen <- seen{objects.VersionOf(a.Instance), objects.WhatChanged(a.Instance), &before}
	h, p := "go-host", 0.5
	at := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	a.Instance.Host, a.Instance.Progress, a.Instance.LaunchedAt = &h, &p, &at
	return a.Instance, nil
}

// goOldObjectsService serves echo_instance with the old Instance.
type goOldObjectsService struct{ seen chan seen }

func (s *goOldObjectsService) Target() target.Target { return target.Target{Version: "1.0"} }

func (s *goOldObjectsService) EchoInstance(ctx context.Context, a oldInstanceArg) (*ioOldInstance, error) {
	s.seen <- seen{objects.VersionOf(a.Instance), objects.WhatChanged(a.Instance), a.Instance}
	return a.Instance, nil
}

var (
	ovoOnce sync.Once
	ovoErr  error
)

// needObjectsPython is needPython for oslo.versionedobjects as well.
func needObjectsPython(t testing.TB) {
	t.Helper()
	needPython(t)
	ovoOnce.Do(func() {
		if out, err := exec.Command(python, "-c", "import oslo_versionedobjects").CombinedOutput(); err != nil {
			ovoErr = fmt.Errorf("%v: %s", err, out)
		}
	})
	if ovoErr == nil {
		return
	}
	msg := fmt.Sprintf("Python oslo.versionedobjects is not importable by %s (apt-get install python3-oslo.versionedobjects): %v", python, ovoErr)
	if os.Getenv("CI") != "" {
		t.Fatal(msg + "; CI is set")
	}
	t.Skipf("\n\n*** SKIPPING %s: %s ***\n", t.Name(), msg)
}

// startObjectsServer starts a Go server of endpoints on topic with the
// objects serializer ser.
func startObjectsServer(t testing.TB, tr *transport.Transport, topic, name string, ser serializer.Serializer, endpoints ...any) {
	t.Helper()
	deleteQueues(t, serverQueues(topic, name)...)
	srv, err := server.New(tr, target.Target{Topic: topic, Server: name}, endpoints, server.DispatchOptions(dispatcher.WithSerializer(ser)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutting down %s: %v", name, err)
		}
		srv.Close()
	})
}

// startObjectsPeer starts python/objects_peer.py server and waits until it
// consumes.
func startObjectsPeer(t testing.TB, topic, name string, args ...string) *peer {
	t.Helper()
	deleteQueues(t, serverQueues(topic, name)...)
	p := startPeer(t, name, "objects_peer.py", append([]string{"server", "--url", brokerURL, "--topic", topic, "--server", name}, args...)...)
	awaitReady(t, p)
	awaitConsumers(t, topic+"."+name, 1)
	return p
}

func receive(t *testing.T, ch chan seen) seen {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case <-time.After(30 * time.Second):
		t.Fatal("the Go handler got no call")
	}
	return seen{}
}

func strs(v any) []string {
	l, _ := v.([]any)
	out := []string{}
	for _, e := range l {
		s, _ := e.(string)
		out = append(out, s)
	}
	return out
}

// TestObjectsPythonClientGoServer: Python's RPCClient with oslo's
// VersionedObjectSerializer sends a Nova-like Instance (every field type:
// UUID, nullable String, Enum, DateTime with an offset, Integer, Boolean,
// nullable Float, IPv4 and IPv6 addresses, Dict of strings and of nullable
// strings, Set of integers, nested Object, List of objects) to a Go
// server. Echoed, it comes back with the same primitive and changes; changed
// by the Go handler, Python's obj_what_changed shows the Go changes on top
// of its own.
func TestObjectsPythonClientGoServer(t *testing.T) {
	needObjectsPython(t)
	tr := openTransport(t)
	reg := newObjectsRegistry(t)
	topic := uniqueTopic("objects_goserver")
	svc := &goObjectsService{seen: make(chan seen, 8)}
	startObjectsServer(t, tr, topic, "go-objects", objects.NewSerializer(reg), svc)

	res := byScenario(runScript(t, 90*time.Second, "objects_peer.py", "client", "--url", brokerURL, "--topic", topic,
		"echo", "update", "echo_nested_containers"))

	// What the Go handler got: values exact, the sender's changes.
	want := goInstance()
	for i, name := range []string{"echo", "update", "echo_nested_containers"} {
		got := receive(t, svc.seen)
		if got.version != "1.3" || !reflect.DeepEqual(got.changed, []string{"vm_state"}) {
			t.Errorf("call %d (%s): handler saw version %s, changes %v; want 1.3, [vm_state]", i, name, got.version, got.changed)
		}
		inst := got.inst.(*ioInstance)
		if !sameInstance(inst, want) {
			t.Errorf("call %d (%s): handler saw\n%s\nwant\n%s", i, name, js(inst), js(want))
		}
		if off := zoneOffset(inst.LaunchedAt); off != 2*3600 {
			t.Errorf("launched_at offset %d, want +02:00", off)
		}
	}

	echo := res["echo"]
	if e := echo.obj("error"); e != nil {
		t.Fatalf("echo raised %v", e)
	}
	if echo["same"] != true {
		t.Errorf("echoed primitive differs:\nsent %s\ngot  %s", js(echo["sent"]), js(echo.obj("object")["primitive"]))
	}
	obj := echo.obj("object")
	if obj["version"] != "1.3" || !reflect.DeepEqual(strs(obj["changed"]), []string{"vm_state"}) {
		t.Errorf("echo: Python got version %v, changes %v", obj["version"], obj["changed"])
	}
	wantTypes := map[string]any{
		"access_ip_v4": "IPAddress", "access_ip_v6": "IPAddress", "flavor": "Flavor", "host": "NoneType",
		"id": "int", "key_data": "NoneType", "launched_at": "datetime/2:00:00", "locked": "bool",
		"memory_mb": "int", "metadata": "CoercedDict", "numa_nodes": "CoercedSet", "progress": "NoneType",
		"system_metadata": "CoercedDict", "tags": "CoercedList", "uuid": "str", "vm_state": "str",
	}
	if !sameJSON(t, obj["types"], wantTypes) {
		t.Errorf("echo: Python field types %s, want %s", js(obj["types"]), js(wantTypes))
	}

	upd := res["update"]
	if e := upd.obj("error"); e != nil {
		t.Fatalf("update raised %v", e)
	}
	uobj := upd.obj("object")
	if got, want := strs(uobj["changed"]), []string{"host", "launched_at", "progress", "vm_state"}; !reflect.DeepEqual(got, want) {
		t.Errorf("update: Python's obj_what_changed %v, want %v", got, want)
	}
	if upd["host"] != "go-host" || upd["launched_at"] != "2024-05-06T07:08:09+00:00" || fmt.Sprint(upd["progress"]) != "0.5" {
		t.Errorf("update: Python got host %v, launched_at %v, progress %v", upd["host"], upd["launched_at"], upd["progress"])
	}
	nested := res["echo_nested_containers"]
	if nested["flavor_name"] != "m1.small" || !reflect.DeepEqual(strs(nested["tags"]), []string{"prod", "eu"}) ||
		!sameJSON(t, nested["flavor_extra"], map[string]any{"hw:cpu_policy": "dedicated"}) {
		t.Errorf("nested objects: %s", js(nested))
	}
}

// TestObjectsGoClientPythonServer: a Go client sends Instance 1.3 to Python
// servers that know only Instance 1.1 and Flavor 1.0: capped by the
// serializer (VersionCaps) or per call (AtVersion after CanSendVersion), the
// Python server takes it as 1.1 and its changes come back to Go; uncapped,
// the call fails with IncompatibleObjectVersion (errors.Is, and errors.As
// with RemoteErrors); uncapped to a Python server with an indirection API,
// Python asks the Go conductor endpoint for a backport.
func TestObjectsGoClientPythonServer(t *testing.T) {
	needObjectsPython(t)
	tr := openTransport(t, objects.RemoteErrors()...)
	reg := newObjectsRegistry(t)
	plainTopic, indTopic, condTopic := uniqueTopic("objects_pyold"), uniqueTopic("objects_pyind"), uniqueTopic("objects_cond")
	startObjectsServer(t, tr, condTopic, "go-conductor", objects.NewSerializer(reg), objects.NewConductorEndpoint(reg))
	newTopic := uniqueTopic("objects_pynew")
	pyNew := startObjectsPeer(t, newTopic, "py-new", "--versions", "new")
	plain := startObjectsPeer(t, plainTopic, "py-old", "--versions", "old")
	ind := startObjectsPeer(t, indTopic, "py-old-ind", "--versions", "old", "--indirection-topic", condTopic)

	ctx := serializer.WithRequestContext(context.Background(), serializer.RequestContext{"request_id": "req-go", "user": "u1"})
	newClient := func(topic string, opts ...client.Option) *client.Client {
		c, err := client.New(tr, target.Target{Topic: topic, Version: "1.0"}, append([]client.Option{client.Timeout(30 * time.Second)}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	// checkOld checks what the old Python server printed it received.
	checkOld := func(t *testing.T, p *peer, n int) {
		t.Helper()
		got := awaitEvents(t, n, "received", "method", "update_instance", p)[n-1].obj("object")
		if got["version"] != "1.1" || !reflect.DeepEqual(strs(got["changed"]), []string{"vm_state"}) {
			t.Errorf("Python received version %v, changes %v; want 1.1, [vm_state]", got["version"], got["changed"])
		}
		data := line(got.obj("primitive")).obj("nova_object.data")
		if data["memory_mb"] != "2048" || data["tags"] != nil || data["key_data"] != nil {
			t.Errorf("Python received data %s: want memory_mb \"2048\", no tags, no key_data", js(data))
		}
		if fl := got.obj("flavor"); fl["version"] != "1.0" {
			t.Errorf("Python received flavor %s, want version 1.0", js(fl))
		}
	}
	// checkBack checks the updated object Go got back, at version 1.1.
	checkBack := func(t *testing.T, back *ioInstance) {
		t.Helper()
		if v := objects.VersionOf(back); v != "1.1" {
			t.Errorf("result at version %s, want 1.1", v)
		}
		if got, want := objects.WhatChanged(back), []string{"host", "vm_state", "launched_at", "progress"}; !reflect.DeepEqual(got, want) {
			t.Errorf("result changes %v, want %v", got, want)
		}
		if back.Host == nil || *back.Host != "py-host" || back.MemoryMB != 2048 || back.Flavor == nil || back.Flavor.ExtraSpecs != nil ||
			back.LaunchedAt == nil || !back.LaunchedAt.Equal(time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)) {
			t.Errorf("result %s", js(back))
		}
	}

	t.Run("SameVersionEcho", func(t *testing.T) {
		// A Python server of the same versions reads exactly what Go
		// wrote, and sends it back unchanged.
		c := newClient(newTopic, client.WithSerializer(objects.NewSerializer(reg)))
		sent := goInstance()
		want, err := reg.ToPrimitive(sent)
		if err != nil {
			t.Fatal(err)
		}
		back, err := client.Call[*ioInstance](ctx, c, "echo_instance", instanceArg{sent})
		if err != nil {
			t.Fatal(err)
		}
		got := awaitEvents(t, 1, "received", "method", "echo_instance", pyNew)[0].obj("object")
		if !sameJSON(t, canonPrimitive(t, got["primitive"]), canonPrimitive(t, want)) {
			t.Errorf("Python re-encoded\n%s\nGo sent\n%s", js(got["primitive"]), js(want))
		}
		if got["version"] != "1.3" || !reflect.DeepEqual(strs(got["changed"]), []string{"vm_state"}) {
			t.Errorf("Python got version %v, changes %v", got["version"], got["changed"])
		}
		if !sameInstance(back, sent) || !reflect.DeepEqual(objects.WhatChanged(back), []string{"vm_state"}) {
			t.Errorf("echoed back %s, changes %v", js(back), objects.WhatChanged(back))
		}
	})
	t.Run("VersionCaps", func(t *testing.T) {
		c := newClient(plainTopic, client.WithSerializer(objects.NewSerializer(reg,
			objects.VersionCaps(map[string]string{"Instance": "1.1", "Flavor": "1.0"}))))
		var back *ioInstance
		if err := c.Call(ctx, "update_instance", instanceArg{goInstance()}, &back); err != nil {
			t.Fatal(err)
		}
		checkOld(t, plain, 1)
		checkBack(t, back)
	})
	t.Run("AtVersion", func(t *testing.T) {
		c := newClient(plainTopic, client.WithSerializer(objects.NewSerializer(reg)), client.VersionCap("1.0"))
		var arg any = goInstance()
		if !c.CanSendVersion("1.5") { // as Nova: an older peer gets an older object
			arg = objects.AtVersion(goInstance(), "1.1")
		}
		back, err := client.Call[*ioInstance](ctx, c, "update_instance", map[string]any{"instance": arg})
		if err != nil {
			t.Fatal(err)
		}
		checkOld(t, plain, 2)
		checkBack(t, back)
	})
	t.Run("Incompatible", func(t *testing.T) {
		c := newClient(plainTopic, client.WithSerializer(objects.NewSerializer(reg)))
		_, err := client.Call[*ioInstance](ctx, c, "update_instance", instanceArg{goInstance()})
		if !errors.Is(err, objects.ErrIncompatibleObjectVersion) {
			t.Fatalf("got %v, want IncompatibleObjectVersion", err)
		}
		var iov *objects.IncompatibleObjectVersionError
		if !errors.As(err, &iov) || iov.Name != "Instance" || iov.Version != "1.3" || iov.Supported != "1.1" || iov.Remote == nil {
			t.Fatalf("errors.As: %#v", iov)
		}
	})
	t.Run("BackportThroughGoConductor", func(t *testing.T) {
		c := newClient(indTopic, client.WithSerializer(objects.NewSerializer(reg)))
		var back *ioInstance
		if err := c.Call(ctx, "update_instance", instanceArg{goInstance()}, &back); err != nil {
			t.Fatal(err)
		}
		req := awaitEvents(t, 1, "backport_request", "event", "backport_request", ind)[0]
		if !sameJSON(t, req["object_versions"], map[string]any{"Instance": "1.1", "Flavor": "1.0"}) {
			t.Errorf("backport asked for %s", js(req["object_versions"]))
		}
		checkOld(t, ind, 1)
		checkBack(t, back)
	})
}

// TestObjectsGoServerBackportsThroughPythonConductor: a Python client sends
// Instance 1.3 to a Go server that knows only 1.1; the Go serializer asks a
// Python conductor (object_backport_versions, as oslo's
// VersionedObjectSerializer does) and the handler gets 1.1.
func TestObjectsGoServerBackportsThroughPythonConductor(t *testing.T) {
	needObjectsPython(t)
	tr := openTransport(t)
	oldReg := oldObjectsRegistry(t)
	topic, condTopic := uniqueTopic("objects_goold"), uniqueTopic("objects_pycond")
	cond := startObjectsPeer(t, condTopic, "py-conductor", "--versions", "new", "--conductor")
	cc, err := client.New(tr, target.Target{Topic: condTopic, Version: "3.0"}, client.Timeout(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	svc := &goOldObjectsService{seen: make(chan seen, 4)}
	startObjectsServer(t, tr, topic, "go-old", objects.NewSerializer(oldReg, objects.WithIndirection(objects.NewConductorAPI(cc))), svc)

	res := byScenario(runScript(t, 90*time.Second, "objects_peer.py", "client", "--url", brokerURL, "--topic", topic, "echo"))
	got := receive(t, svc.seen)
	inst := got.inst.(*ioOldInstance)
	if got.version != "1.1" || !reflect.DeepEqual(got.changed, []string{"vm_state"}) || inst.MemoryMB != "2048" ||
		inst.Flavor == nil || inst.Flavor.Name != "m1.small" || objects.VersionOf(inst.Flavor) != "1.0" {
		t.Errorf("Go handler got version %s, changes %v: %s", got.version, got.changed, js(inst))
	}
	b := awaitEvents(t, 1, "backport", "name", "Instance", cond)[0]
	if b["version"] != "1.3" || !sameJSON(t, b["object_versions"], map[string]any{"Instance": "1.1", "Flavor": "1.0"}) {
		t.Errorf("Python conductor backported %s", js(b))
	}
	echo := res["echo"]
	if e := echo.obj("error"); e != nil {
		t.Fatalf("echo raised %v", e)
	}
	if obj := echo.obj("object"); obj["version"] != "1.1" || !reflect.DeepEqual(strs(obj["changed"]), []string{"vm_state"}) {
		t.Errorf("Python got back version %v, changes %v", obj["version"], obj["changed"])
	}
}

// canonPrimitive sorts what oslo writes in no particular order: changes
// lists (from a set) and the numa_nodes set.
func canonPrimitive(t testing.TB, v any) any {
	v = canon(t, v)
	var walk func(v any) any
	walk = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				if l, ok := e.([]any); ok && (strings.HasSuffix(k, ".changes") || k == "numa_nodes") {
					slices.SortFunc(l, func(a, b any) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
				}
				x[k] = walk(e)
			}
		case []any:
			for i := range x {
				x[i] = walk(x[i])
			}
		}
		return v
	}
	return walk(v)
}

func zoneOffset(t *time.Time) int {
	if t == nil {
		return -1
	}
	_, off := t.Zone()
	return off
}

// sameInstance compares the field values of two Instances (not their
// tracking state).
func sameInstance(a, b *ioInstance) bool {
	ca, cb := *a, *b
	ca.Base, cb.Base = objects.Base{}, objects.Base{}
	if ca.LaunchedAt != nil && cb.LaunchedAt != nil && ca.LaunchedAt.Equal(*cb.LaunchedAt) {
		ca.LaunchedAt = cb.LaunchedAt
	}
	if (ca.Flavor == nil) != (cb.Flavor == nil) || len(ca.Tags) != len(cb.Tags) {
		return false
	}
	if ca.Flavor != nil {
		fa, fb := *ca.Flavor, *cb.Flavor
		fa.Base, fb.Base = objects.Base{}, objects.Base{}
		if !reflect.DeepEqual(fa, fb) {
			return false
		}
		ca.Flavor, cb.Flavor = nil, nil
	}
	for i := range ca.Tags {
		if ca.Tags[i].Tag != cb.Tags[i].Tag || ca.Tags[i].ResourceID != cb.Tags[i].ResourceID {
			return false
		}
	}
	ca.Tags, cb.Tags = nil, nil
	return reflect.DeepEqual(ca, cb)
}
