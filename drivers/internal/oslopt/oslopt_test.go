package oslopt

import (
	"strings"
	"testing"
)

type opts struct {
	on   bool
	n    int
	mode string
}

var table = &Table[opts]{Prefix: "x", Specs: []Spec[opts]{
	{Name: "on", Default: "false", Set: Bool(func(o *opts) *bool { return &o.on })},
	{Name: "n", Default: "3", Set: Int(1, func(o *opts, n int) { o.n = n })},
	{Name: "mode", Default: "a", Set: String(func(o *opts) *string { return &o.mode }, "a", "b")},
}}

func TestTable(t *testing.T) {
	var o opts
	table.Defaults(&o)
	if o.on || o.n != 3 || o.mode != "a" {
		t.Fatalf("defaults: %+v", o)
	}
	if err := table.SetAll(&o, map[string]string{"on": "Yes", "n": " 7 ", "mode": "b"}); err != nil || !o.on || o.n != 7 || o.mode != "b" {
		t.Fatalf("set: %+v, %v", o, err)
	}
	for _, tt := range []struct{ name, value, want string }{
		{"on", "maybe", `x: option on: "maybe" is not a boolean`},
		{"n", "0", "x: option n: 0 is below the minimum 1"},
		{"n", "1.5", `x: option n: "1.5" is not an integer`},
		{"mode", "c", `x: option mode: "c" is not one of a, b`},
		{"other", "1", `x: unknown option "other"; known options: mode, n, on`},
	} {
		if err := table.Set(&o, tt.name, tt.value); err == nil || err.Error() != tt.want {
			t.Errorf("Set(%s, %s) = %v, want %s", tt.name, tt.value, err, tt.want)
		}
	}
}

func TestParseBool(t *testing.T) {
	for _, v := range []string{"true", "1", "YES", "on", "y", "t"} {
		if b, err := ParseBool(v); !b || err != nil {
			t.Errorf("%s: %v, %v", v, b, err)
		}
	}
	for _, v := range []string{"false", "0", "No", "off", "n", " f "} {
		if b, err := ParseBool(v); b || err != nil {
			t.Errorf("%s: %v, %v", v, b, err)
		}
	}
	if _, err := ParseBool("2"); err == nil || !strings.Contains(err.Error(), "not a boolean") {
		t.Errorf("2: %v", err)
	}
}
