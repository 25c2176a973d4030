package objects_test

import (
	"errors"
	"testing"

	"github.com/oslo-go/messaging/objects"
	"github.com/oslo-go/messaging/transport"
)

func TestFromPrimitiveErrors(t *testing.T) {
	reg := novaRegistry()
	for _, tc := range []struct {
		name, prim string
		is         error
		msg        string
	}{
		{"newer minor", instancePrimitive("1.4", `{}`), objects.ErrIncompatibleObjectVersion,
			"objects: Version 1.4 of Instance is not supported, supported version is 1.3"},
		{"other major", instancePrimitive("2.0", `{}`), objects.ErrIncompatibleObjectVersion,
			"objects: Version 2.0 of Instance is not supported, supported version is 1.3"},
		{"nested newer", instancePrimitive("1.3", `{"flavor": {"nova_object.name": "Flavor", "nova_object.namespace": "nova", "nova_object.version": "1.2", "nova_object.data": {}}}`),
			objects.ErrIncompatibleObjectVersion, "objects: Version 1.2 of Flavor is not supported, supported version is 1.1"},
		{"unknown name", `{"nova_object.name": "Server", "nova_object.namespace": "nova", "nova_object.version": "1.0", "nova_object.data": {}}`,
			objects.ErrUnsupportedObject, "objects: Unsupported object type Server"},
		{"other namespace", `{"nova_object.name": "Instance", "nova_object.namespace": "cinder", "nova_object.version": "1.0", "nova_object.data": {}}`,
			objects.ErrUnsupportedObject, "objects: Unsupported object type cinder.Instance"},
		{"no data", `{"nova_object.name": "Instance", "nova_object.namespace": "nova", "nova_object.version": "1.0"}`,
			nil, "objects: Instance: 'nova_object.data'"},
		{"bad version", instancePrimitive("1.x", `{}`), nil, `objects: invalid version "1.x"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := reg.FromPrimitive(wire(t, tc.prim))
			if err == nil || err.Error() != tc.msg || (tc.is != nil && !errors.Is(err, tc.is)) {
				t.Fatalf("got %v, want %q", err, tc.msg)
			}
		})
	}

	// An older minor is taken, and kept.
	o, err := reg.FromPrimitive(wire(t, instancePrimitive("1.1", `{"id": 1}`)))
	if err != nil || objects.VersionOf(o) != "1.1" {
		t.Fatalf("1.1: %v %v", o, err)
	}

	// How the errors travel: oslo's classes and messages.
	f := transport.FailureOf(&objects.IncompatibleObjectVersionError{Name: "Instance", Version: "1.4", Supported: "1.3"})
	if f.Module != "oslo_versionedobjects.exception" || f.Class != "IncompatibleObjectVersion" ||
		f.Message != "Version 1.4 of Instance is not supported, supported version is 1.3" {
		t.Errorf("failure %+v", f)
	}
	re := &transport.RemoteError{Module: "oslo_versionedobjects.exception", Class: "IncompatibleObjectVersion"}
	if !errors.Is(re, objects.ErrIncompatibleObjectVersion) {
		t.Error("a remote IncompatibleObjectVersion does not match the sentinel")
	}
}

func TestRegisterErrors(t *testing.T) {
	type BadNullable struct {
		objects.Base
		N int `obj:"n,nullable"`
	}
	type BadSince struct {
		objects.Base
		N int `obj:"n,since=1.5"`
	}
	type BadOption struct {
		objects.Base
		N int `obj:"n,frobnicate"`
	}
	type BadType struct {
		objects.Base
		C chan int `obj:"c"`
	}
	type BadDefault struct {
		objects.Base
		N int `obj:"n,default=abc"`
	}
	type Dup struct {
		objects.Base
		A int `obj:"a"`
		B int `obj:"a"`
	}
	type Other struct {
		objects.Base
	}
	for _, tc := range []struct {
		proto objects.Object
		opts  []objects.Option
		msg   string
	}{
		{&BadNullable{}, nil, "objects: BadNullable: field N: nullable, but int cannot hold None: use a pointer"},
		{&BadSince{}, []objects.Option{objects.Version("1.2")}, "objects: BadSince: field n is since 1.5, after the object's version 1.2"},
		{&BadOption{}, nil, `objects: BadOption: field N: unknown tag option "frobnicate"`},
		{&BadType{}, nil, "objects: BadType: field C: unsupported Go type chan int"},
		{&BadDefault{}, nil, "objects: BadDefault: field N: default: objects: default.n: invalid literal for int() with base 10: 'abc'"},
		{&Dup{}, nil, `objects: Dup: two fields named "a"`},
		{&Other{}, []objects.Option{objects.Relationship("x", [2]string{"1.0", "1.0"})}, `objects: Other: relationship for "x", which is not an object field`},
		{&Other{}, []objects.Option{objects.Version("one")}, `objects: Other: objects: invalid version "one"`},
		{&Tag{}, []objects.Option{objects.Version("2.0")}, "objects: *objects_test.Tag is already declared as Tag 1.0, not Tag 2.0"},
		{&Other{}, []objects.Option{objects.Name("Tag")}, "objects: Tag is already registered as *objects_test.Tag, not *objects_test.Other"},
	} {
		reg := novaRegistry()
		if err := reg.Register(tc.proto, tc.opts...); err == nil || err.Error() != tc.msg {
			t.Errorf("%T: got %v, want %q", tc.proto, err, tc.msg)
		}
	}
}
