package objects_test

import (
	"encoding/json"
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/oslo-go/messaging/objects"
	"github.com/oslo-go/messaging/serializer"
)

// wire decodes JSON as a received message is decoded (json.Number).
func wire(t testing.TB, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := (serializer.JSON{}).Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return m
}

// roundJSON is v encoded and decoded again, as it crosses the wire.
func roundJSON(t testing.TB, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return wire(t, string(b))
}

func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func instancePrimitive(version, data string, changes ...string) string {
	s := `{"nova_object.name": "Instance", "nova_object.namespace": "nova", "nova_object.version": "` + version +
		`", "nova_object.data": ` + data
	if len(changes) > 0 {
		s += `, "nova_object.changes": ["` + strings.Join(changes, `", "`) + `"]`
	}
	return s + "}"
}

// TestWireForm checks the primitive of an object with every field kind
// against what Python's obj_to_primitive writes for the same values.
func TestWireForm(t *testing.T) {
	reg := novaRegistry()
	at := time.Date(2024, 1, 2, 3, 4, 5, 999999000, time.FixedZone("", -(5*3600+30*60)))
	inst := &Instance{
		Timestamps: Timestamps{CreatedAt: &at},
		ID:         1, UUID: "u-1", VMState: "active", MemoryMB: 512, Locked: true, Progress: ptr(0.25),
		IPv4:     netip.MustParseAddr("192.0.2.1"),
		Metadata: map[string]string{"a": "b"}, SysMeta: map[string]*string{"n": nil, "s": ptr("v")},
		NUMA: map[int64]struct{}{3: {}, 1: {}}, Groups: []string{"b", "a", "b"},
		Flavor: &Flavor{ID: 2, Name: "m1", ExtraSpecs: map[string]string{}},
		Tags:   []*Tag{{Tag: "x"}}, Scratch: "not sent", Extra: map[string]any{"k": []any{1, "two"}},
		Naive: time.Date(2024, 1, 2, 3, 4, 5, 0, time.FixedZone("", 3600)), Net: netip.MustParsePrefix("10.0.0.1/24"),
	}
	inst.MarkChanged("host") // set to None
	objects.ResetChangesRecursive(inst)
	inst.VMState = "error"
	p, err := reg.ToPrimitive(inst)
	if err != nil {
		t.Fatal(err)
	}
	want := instancePrimitive("1.3", `{
		"created_at": "2024-01-02T03:04:05-05:30", "id": 1, "uuid": "u-1", "host": null, "vm_state": "error",
		"memory_mb": 512, "locked": true, "progress": 0.25, "access_ip_v4": "192.0.2.1",
		"metadata": {"a": "b"}, "system_metadata": {"n": null, "s": "v"}, "numa_nodes": [1, 3], "groups": ["a", "b"],
		"flavor": {"nova_object.name": "Flavor", "nova_object.namespace": "nova", "nova_object.version": "1.1",
			"nova_object.data": {"id": 2, "name": "m1", "extra_specs": {}}},
		"tags": [{"nova_object.name": "Tag", "nova_object.namespace": "nova", "nova_object.version": "1.0",
			"nova_object.data": {"tag": "x"}}],
		"extra": {"k": [1, "two"]}, "naive": "2024-01-02T03:04:05Z", "net": "10.0.0.1/24"}`, "vm_state")
	if got := roundJSON(t, p); !reflect.DeepEqual(got, wire(t, want)) {
		t.Errorf("primitive\n%s\nwant\n%s", mustJSON(t, got), mustJSON(t, wire(t, want)))
	}

	// Decoding it gives the same values back, at the version sent, with
	// the changes sent.
	o, err := reg.FromPrimitive(roundJSON(t, p))
	if err != nil {
		t.Fatal(err)
	}
	back := o.(*Instance)
	if got := objects.WhatChanged(back); !reflect.DeepEqual(got, []string{"vm_state"}) {
		t.Errorf("changes %v, want [vm_state]", got)
	}
	if back.CreatedAt.Format(time.RFC3339Nano) != "2024-01-02T03:04:05-05:30" || back.Naive.Hour() != 3 ||
		back.Naive.Location() != time.UTC || back.Host != nil || !objects.IsSet(back, "host") ||
		objects.IsSet(back, "key_data") || len(back.Groups) != 2 || back.Scratch != "" || back.Tags[0].Tag != "x" {
		t.Errorf("decoded %+v", back)
	}
	p2, err := reg.ToPrimitive(back)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(roundJSON(t, p2), wire(t, want)) {
		t.Errorf("re-encoded\n%s\nwant\n%s", mustJSON(t, p2), want)
	}
}

// TestCoercion checks received values against oslo's coercions (expected
// values and messages are Python's).
func TestCoercion(t *testing.T) {
	reg := novaRegistry()
	for _, tc := range []struct {
		field, value string
		want         any    // the Go field value
		err          string // the Python message, with its class first
	}{
		{field: "uuid", value: `1`, want: "1"},
		{field: "uuid", value: `1.5`, want: "1.5"},
		{field: "host", value: `1e16`, want: ptr("1e+16")},
		{field: "host", value: `1e-5`, want: ptr("1e-05")},
		{field: "host", value: `100.0`, want: ptr("100.0")},
		{field: "host", value: `true`, want: ptr("True")},
		{field: "host", value: `123456789012345678901234567890`, want: ptr("123456789012345678901234567890")},
		{field: "host", value: `[1]`, err: "ValueError: A string is required in field host, not a list"},
		{field: "host", value: `{}`, err: "ValueError: A string is required in field host, not a dict"},
		{field: "id", value: `"12"`, want: int64(12)},
		{field: "id", value: `" +1_000 "`, want: int64(1000)},
		{field: "id", value: `1.9`, want: int64(1)},
		{field: "id", value: `-1.9`, want: int64(-1)},
		{field: "id", value: `true`, want: int64(1)},
		{field: "id", value: `"1.5"`, err: "ValueError: invalid literal for int() with base 10: '1.5'"},
		{field: "id", value: `[1]`, err: "TypeError: int() argument must be a string, a bytes-like object or a real number, not 'list'"},
		{field: "id", value: `NaN`, err: "ValueError: cannot convert float NaN to integer"},
		{field: "id", value: `null`, err: "ValueError: Field `id' cannot be None"},
		{field: "progress", value: `"1.5"`, want: ptr(1.5)},
		{field: "progress", value: `" 1_0.5 "`, want: ptr(10.5)},
		{field: "progress", value: `2`, want: ptr(2.0)},
		{field: "progress", value: `true`, want: ptr(1.0)},
		{field: "progress", value: `null`, want: (*float64)(nil)},
		{field: "progress", value: `"abc"`, err: "ValueError: could not convert string to float: 'abc'"},
		{field: "progress", value: `"0x10"`, err: "ValueError: could not convert string to float: '0x10'"},
		{field: "locked", value: `"false"`, want: true},
		{field: "locked", value: `""`, want: false},
		{field: "locked", value: `0.0`, want: false},
		{field: "locked", value: `[]`, want: false},
		{field: "locked", value: `{"a": 1}`, want: true},
		{field: "created_at", value: `"2020-01-02T03:04:05.999999-05:30"`, want: "2020-01-02T03:04:05.999999-05:30"},
		{field: "created_at", value: `"2020-01-02"`, want: "2020-01-02T00:00:00Z"},
		{field: "created_at", value: `"20200102T030405Z"`, want: "2020-01-02T03:04:05Z"},
		{field: "created_at", value: `"2020-01-02 03:04"`, want: "2020-01-02T03:04:00Z"},
		{field: "created_at", value: `"2020-01-02T03:04:05+00:00"`, want: "2020-01-02T03:04:05Z"},
		{field: "created_at", value: `"202001"`, err: "ValueError: Unable to parse date string '202001'"},
		{field: "created_at", value: `"2020-02-30"`, err: "ValueError: Unable to parse date string '2020-02-30'"},
		{field: "created_at", value: `5`, err: "ValueError: expected string or bytes-like object, got 'int'"},
		{field: "vm_state", value: `"active"`, want: "active"},
		{field: "vm_state", value: `"c"`, err: "ValueError: Field value c is invalid"},
		{field: "vm_state", value: `1`, err: "ValueError: Field value 1 is invalid"},
		{field: "vm_state", value: `null`, want: "building"}, // the default replaces None
		{field: "access_ip_v4", value: `16909060`, want: netip.MustParseAddr("1.2.3.4")},
		{field: "access_ip_v4", value: `"x"`, err: "ValueError: failed to detect a valid IP address from 'x'"},
		{field: "access_ip_v4", value: `"::1"`, err: `ValueError: Network "::1" is not valid in field access_ip_v4`},
		{field: "net", value: `"10.1.2.3"`, want: netip.MustParsePrefix("10.1.2.3/32")},
		{field: "metadata", value: `{"a": 1}`, want: map[string]string{"a": "1"}},
		{field: "metadata", value: `[]`, err: "ValueError: A dict is required in field metadata, not a list"},
		{field: "metadata", value: `{"a": null}`, err: "ValueError: Field `metadata[a]' cannot be None"},
		{field: "system_metadata", value: `{"a": null}`, want: map[string]*string{"a": nil}},
		{field: "numa_nodes", value: `[1, "2", 1]`, want: map[int64]struct{}{1: {}, 2: {}}},
		{field: "numa_nodes", value: `"12"`, err: "ValueError: A set is required in field numa_nodes, not a str"},
		{field: "groups", value: `["a", "a", "b"]`, want: []string{"a", "b"}},
		{field: "tags", value: `{}`, err: "ValueError: A list is required in field tags, not a dict"},
		{field: "tags", value: `[1]`, err: "ValueError: An object of type Tag is required in field tags[0], not a int"},
		{field: "flavor", value: `{"nova_object.name": "Tag", "nova_object.namespace": "nova", "nova_object.version": "1.0", "nova_object.data": {}}`,
			err: "ValueError: An object of type Flavor is required in field flavor, not a Tag"},
	} {
		t.Run(tc.field+"="+tc.value, func(t *testing.T) {
			o, err := reg.FromPrimitive(wire(t, instancePrimitive("1.3", `{"`+tc.field+`": `+tc.value+`}`)))
			if tc.err != "" {
				var fe *objects.FieldError
				if !errors.As(err, &fe) {
					t.Fatalf("got %v, want %s", err, tc.err)
				}
				if mod, class, msg := fe.WireError(); mod != "builtins" || class+": "+msg != tc.err {
					t.Fatalf("got %s.%s: %s, want %s", mod, class, msg, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := reflect.ValueOf(o).Elem().FieldByIndex(fieldIndex(t, tc.field)).Interface()
			if tm, ok := got.(*time.Time); ok {
				got = tm.Format("2006-01-02T15:04:05.999999Z07:00")
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}

func fieldIndex(t *testing.T, name string) []int {
	for _, f := range reflect.VisibleFields(reflect.TypeFor[Instance]()) {
		if n, _, _ := strings.Cut(f.Tag.Get("obj"), ","); n == name {
			return f.Index
		}
	}
	t.Fatalf("no field %s", name)
	return nil
}

// TestChangeTracking follows oslo's obj_what_changed and obj_reset_changes.
func TestChangeTracking(t *testing.T) {
	inst := &Instance{UUID: "u", Flavor: &Flavor{Name: "m1"}, Tags: []*Tag{{Tag: "a"}}}
	check := func(want ...string) {
		t.Helper()
		if got := objects.WhatChanged(inst); !reflect.DeepEqual(got, want) {
			t.Errorf("changed %v, want %v", got, want)
		}
	}
	check("uuid", "flavor", "tags") // a new object: what is set
	objects.ResetChanges(inst)
	check("flavor") // the flavor has changes of its own; the tags' objects do not count
	objects.ResetChangesRecursive(inst)
	check()

	inst.Flavor.Name = "m2" // a nested change shows on the parent
	check("flavor")
	objects.ResetChangesRecursive(inst)
	inst.Tags[0].Tag = "b" // but not through a list
	check()
	inst.Tags = append(inst.Tags, &Tag{Tag: "c"}) // a new list does
	check("tags")
	objects.ResetChanges(inst, "tags")
	inst.Flavor = &Flavor{Name: "m2"} // another object, even an equal one
	check("flavor")
	objects.ResetChangesRecursive(inst)

	inst.UUID = "u" // the same value: not a change...
	check()
	inst.MarkChanged("uuid") // ...unless marked, as oslo marks any assignment
	check("uuid")
	objects.ResetChanges(inst)
	inst.Host = nil
	check()
	inst.MarkChanged("host") // set to None
	check("host")
	objects.ResetChanges(inst)
	inst.UUID = "" // a set field set to its zero value stays set
	check("uuid")
	if !objects.IsSet(inst, "uuid") {
		t.Error("uuid not set")
	}
	objects.Unset(inst, "uuid")
	check()
	if objects.IsSet(inst, "uuid") || objects.IsSet(inst, "host") != true {
		t.Error("Unset")
	}

	// The state survives encoding/json, as between serializer hooks and
	// handler parameters.
	inst.Locked = true
	b, err := json.Marshal(inst)
	if err != nil {
		t.Fatal(err)
	}
	var back Instance
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if got := objects.WhatChanged(&back); !reflect.DeepEqual(got, []string{"locked"}) {
		t.Errorf("after a JSON round trip: changed %v, want [locked]", got)
	}

	// The list object counts its objects' changes.
	list := &InstanceList{Objects: []*Instance{{UUID: "a"}}}
	objects.ResetChanges(list)
	if got := objects.WhatChanged(list); !reflect.DeepEqual(got, []string{"objects"}) {
		t.Errorf("list: changed %v, want [objects]", got)
	}
	objects.ResetChangesRecursive(list)
	if got := objects.WhatChanged(list); len(got) != 0 {
		t.Errorf("list after a recursive reset: changed %v", got)
	}
}

func TestSetDefaults(t *testing.T) {
	inst := &Instance{PowerState: "off"}
	if err := objects.SetDefaults(inst); err != nil {
		t.Fatal(err)
	}
	if inst.VMState != "building" || inst.PowerState != "off" {
		t.Errorf("defaults: vm_state %q power_state %q", inst.VMState, inst.PowerState)
	}
	if got := objects.WhatChanged(inst); !reflect.DeepEqual(got, []string{"vm_state", "power_state"}) {
		t.Errorf("changed %v", got)
	}
	var oae *objects.ObjectActionError
	if err := objects.SetDefaults(inst, "uuid"); !errors.As(err, &oae) || oae.Error() != "objects: Object action set_defaults failed because: No default set for field uuid" {
		t.Errorf("got %v", err)
	}
}
