package objects_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/oslo-go/messaging/objects"
)

func data(p map[string]any) map[string]any { return p["nova_object.data"].(map[string]any) }

func keys(m map[string]any) []string {
	var out []string
	for _, k := range []string{"id", "uuid", "memory_mb", "flavor", "tags", "key_data", "objects"} {
		if _, ok := m[k]; ok {
			out = append(out, k)
		}
	}
	return out
}

// TestMakeCompatible follows oslo's obj_make_compatible: fields added later
// are dropped, conversions applied newest first, sub-objects backported by
// relationship table or manifest.
func TestMakeCompatible(t *testing.T) {
	reg := novaRegistry()
	newInst := func() *Instance {
		return &Instance{ID: 1, UUID: "u", MemoryMB: 512, KeyData: ptr("k"),
			Flavor: &Flavor{ID: 2, ExtraSpecs: map[string]string{"a": "b"}}, Tags: []*Tag{{Tag: "t"}}}
	}
	for _, tc := range []struct {
		name     string
		opts     []objects.PrimitiveOption
		keys     []string
		memory   any
		flavorAt string // "" when there is no flavor
	}{
		{name: "own version", keys: []string{"id", "uuid", "memory_mb", "flavor", "tags", "key_data"}, memory: int64(512), flavorAt: "1.1"},
		{name: "1.2", opts: []objects.PrimitiveOption{objects.TargetVersion("1.2")},
			keys: []string{"id", "uuid", "memory_mb", "flavor", "tags"}, memory: "512", flavorAt: "1.1"},
		{name: "1.1: between relationship pairs", opts: []objects.PrimitiveOption{objects.TargetVersion("1.1")},
			keys: []string{"id", "uuid", "memory_mb", "flavor"}, memory: "512", flavorAt: "1.0"},
		{name: "manifest", opts: []objects.PrimitiveOption{objects.TargetVersion("1.3"), objects.Manifest(map[string]string{"Instance": "1.3", "Flavor": "1.0"})},
			keys: []string{"id", "uuid", "memory_mb", "flavor", "tags", "key_data"}, memory: int64(512), flavorAt: "1.0"},
		{name: "manifest without the child: left alone", opts: []objects.PrimitiveOption{objects.TargetVersion("1.1"), objects.Manifest(map[string]string{"Instance": "1.1"})},
			keys: []string{"id", "uuid", "memory_mb", "flavor"}, memory: "512", flavorAt: "1.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := reg.ToPrimitive(newInst(), tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			d := data(p)
			if got := keys(d); !reflect.DeepEqual(got, tc.keys) {
				t.Errorf("fields %v, want %v", got, tc.keys)
			}
			if d["memory_mb"] != tc.memory {
				t.Errorf("memory_mb %#v, want %#v", d["memory_mb"], tc.memory)
			}
			if fl, _ := d["flavor"].(map[string]any); fl["nova_object.version"] != tc.flavorAt {
				t.Errorf("flavor at %v, want %s", fl["nova_object.version"], tc.flavorAt)
			} else if _, has := data(fl)["extra_specs"]; has != (tc.flavorAt == "1.1") {
				t.Errorf("flavor data %v at %s", data(fl), tc.flavorAt)
			}
			// Changes name only fields still in data.
			for _, c := range p["nova_object.changes"].([]any) {
				if _, ok := d[c.(string)]; !ok {
					t.Errorf("change %s not in data", c)
				}
			}
		})
	}

	// Before the first relationship pair the sub-object did not exist.
	p, err := reg.ToPrimitive(newInst(), objects.TargetVersion("1.0"))
	if err != nil {
		t.Fatal(err)
	}
	if fl := data(p)["flavor"].(map[string]any); fl["nova_object.version"] != "1.0" {
		t.Errorf("1.0: flavor %v", fl)
	}

	if _, err := reg.ToPrimitive(newInst(), objects.TargetVersion("1.4")); !errors.Is(err, objects.ErrInvalidTargetVersion) ||
		err.Error() != "objects: Invalid target version 1.4" {
		t.Errorf("1.4: %v", err)
	}
	// No rule for an object field: oslo's ObjectActionError.
	reg2 := objects.NewRegistry("nova_object", "nova")
	type Holder struct {
		objects.Base
		Tag *Tag `obj:"tag"`
	}
	reg2.MustRegister(&Holder{}, objects.Version("1.1"))
	_, err = reg2.ToPrimitive(&Holder{Tag: &Tag{Tag: "x"}}, objects.TargetVersion("1.0"))
	if !errors.Is(err, objects.ErrObjectAction) || err.Error() != "objects: Object action obj_make_compatible failed because: No rule for tag" {
		t.Errorf("no rule: %v", err)
	}
}

// TestObjectListCompatible follows ObjectListBase: child_versions decide,
// a version before the first drops the objects.
func TestObjectListCompatible(t *testing.T) {
	reg := novaRegistry()
	list := &InstanceList{Objects: []*Instance{{UUID: "a", Tags: []*Tag{{Tag: "t"}}}, {UUID: "b"}}}
	p, err := reg.ToPrimitive(list, objects.TargetVersion("1.0"))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range data(p)["objects"].([]any) {
		op := o.(map[string]any)
		if op["nova_object.version"] != "1.1" || data(op)["tags"] != nil {
			t.Errorf("list 1.0: child %v", op)
		}
	}
	m, err := reg.VersionManifest("InstanceList")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"InstanceList": "1.1", "Instance": "1.3", "Flavor": "1.1", "Tag": "1.0"}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("manifest %v, want %v", m, want)
	}
}

// A manifest naming a newer version than a sub-object has leaves the
// sub-object at its own version (its data is in the older form).
func TestManifestDoesNotRelabelUpward(t *testing.T) {
	reg := novaRegistry()
	o, err := reg.FromPrimitive(wire(t, instancePrimitive("1.3", `{"flavor": {"nova_object.name": "Flavor",
		"nova_object.namespace": "nova", "nova_object.version": "1.0", "nova_object.data": {"id": 1}}}`)))
	if err != nil {
		t.Fatal(err)
	}
	p, err := reg.ToPrimitive(o, objects.Manifest(map[string]string{"Instance": "1.3", "Flavor": "1.1"}))
	if err != nil {
		t.Fatal(err)
	}
	if v := data(p)["flavor"].(map[string]any)["nova_object.version"]; v != "1.0" {
		t.Errorf("flavor relabelled %v", v)
	}
}
