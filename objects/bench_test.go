package objects_test

import (
	"testing"

	"github.com/oslo-go/messaging/objects"
)

func benchInstance() *Instance {
	inst := &Instance{ID: 1, UUID: "u", Host: ptr("h"), VMState: "active", MemoryMB: 512, Progress: ptr(0.5),
		Metadata: map[string]string{"a": "b", "c": "d"}, NUMA: map[int64]struct{}{1: {}, 2: {}},
		Flavor: &Flavor{ID: 1, Name: "m1", ExtraSpecs: map[string]string{"k": "v"}}, Tags: []*Tag{{Tag: "a"}, {Tag: "b"}}}
	objects.ResetChangesRecursive(inst)
	inst.VMState = "error"
	return inst
}

func BenchmarkToPrimitive(b *testing.B) {
	reg := novaRegistry()
	inst := benchInstance()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := reg.ToPrimitive(inst); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFromPrimitive(b *testing.B) {
	reg := novaRegistry()
	p := roundJSON(b, must(reg.ToPrimitive(benchInstance())))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := reg.FromPrimitive(p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWhatChanged(b *testing.B) {
	novaRegistry()
	inst := benchInstance()
	b.ReportAllocs()
	for b.Loop() {
		objects.WhatChanged(inst)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
