package objects_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/oslo-go/messaging/objects"
	"github.com/oslo-go/messaging/serializer"
)

// FuzzFromPrimitive feeds arbitrary JSON to the primitive decoder and the
// serializer's receiving hook: no panic, and what decodes re-encodes to a
// primitive that decodes to the same object again.
func FuzzFromPrimitive(f *testing.F) {
	f.Add([]byte(instancePrimitive("1.3", `{"id": 1, "uuid": "u", "host": null, "vm_state": "active",
		"created_at": "2024-01-02T03:04:05+02:00", "numa_nodes": [1, 2], "system_metadata": {"a": null},
		"flavor": {"nova_object.name": "Flavor", "nova_object.namespace": "nova", "nova_object.version": "1.0", "nova_object.data": {"id": 1}},
		"tags": [{"nova_object.name": "Tag", "nova_object.namespace": "nova", "nova_object.version": "1.0", "nova_object.data": {"tag": "x"}}]}`, "id")))
	f.Add([]byte(`{"nova_object.name": "InstanceList", "nova_object.namespace": "nova", "nova_object.version": "1.1", "nova_object.data": {"objects": []}}`))
	f.Add([]byte(instancePrimitive("1.3.1", `{"id": "12", "progress": "NaN", "locked": "false", "access_ip_v4": 16909060}`)))
	reg := novaRegistry()
	ser := objects.NewSerializer(reg)
	f.Fuzz(func(t *testing.T, data []byte) {
		var v any
		if err := (serializer.JSON{}).Unmarshal(data, &v); err != nil {
			return
		}
		if _, err := ser.DeserializeEntity(context.Background(), v); err != nil {
			_ = err.Error()
		}
		var m map[string]any
		if (serializer.JSON{}).Unmarshal(data, &m) != nil || m == nil {
			return
		}
		o, err := reg.FromPrimitive(m)
		if err != nil {
			return
		}
		p2, err := reg.ToPrimitive(o)
		if err != nil {
			t.Fatalf("a decoded object does not encode: %v", err)
		}
		o3, err := reg.FromPrimitive(p2)
		if err != nil {
			t.Fatalf("a re-encoded primitive does not decode: %v\n%v", err, p2)
		}
		p3, err := reg.ToPrimitive(o3)
		if err != nil {
			t.Fatal(err)
		}
		if a, b := fmt.Sprint(p2), fmt.Sprint(p3); a != b {
			t.Fatalf("not stable:\n%s\n%s", a, b)
		}
	})
}
