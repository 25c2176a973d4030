package option

import (
	"errors"
	"strings"
	"testing"
	"time"
)

type conf struct {
	on    bool
	n     int
	big   int64
	wait  time.Duration
	pause time.Duration
	mode  string
	url   string
}

var table = Table[conf]{Driver: "test", Specs: []Spec[conf]{
	{Name: "on", Aliases: []string{"old_on"}, Default: "true", Set: BoolField(func(c *conf) *bool { return &c.on })},
	{Name: "n", Default: "3", Set: IntField(1, 10, func(c *conf) *int { return &c.n })},
	{Name: "big", Set: Int64Field(-1, 100, func(c *conf) *int64 { return &c.big })},
	{Name: "wait", Set: SecondsField(0, 60, func(c *conf) *time.Duration { return &c.wait })},
	{Name: "pause", Set: DurationField(true, func(c *conf) *time.Duration { return &c.pause })},
	{Name: "mode", Set: StringField(func(c *conf) *string { return &c.mode }, "a", "b")},
	{Name: "url", Secret: true, Set: func(c *conf, v string) error {
		if !strings.HasPrefix(v, "redis://") {
			return errors.New("not a redis URL")
		}
		c.url = v
		return nil
	}},
}}

func TestQuery(t *testing.T) {
	var c conf
	if err := table.Defaults(&c); err != nil || !c.on || c.n != 3 {
		t.Fatalf("defaults: %+v %v", c, err)
	}
	err := table.Query(&c, map[string]string{"old_on": "off", "n": "99", "big": "-1", "wait": "1.5", "pause": "250ms", "mode": "b"})
	if err != nil {
		t.Fatal(err)
	}
	want := conf{on: false, n: 10, big: -1, wait: 1500 * time.Millisecond, pause: 250 * time.Millisecond, mode: "b"}
	if c != want {
		t.Fatalf("got %+v, want %+v", c, want)
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		query map[string]string
		want  string
	}{
		{map[string]string{"zz": "1", "aa": "2", "n": "1"}, "test: unknown URL query parameter(s) aa, zz; known: big, mode, n, on, pause, url, wait"},
		{map[string]string{"on": "maybe"}, `test: option on="maybe": not a boolean`},
		{map[string]string{"n": "0"}, `test: option n="0": 0 is below the minimum 1`},
		{map[string]string{"n": "x"}, `test: option n="x": not an integer`},
		{map[string]string{"wait": "61"}, `test: option wait="61": 61 is outside 0..60`},
		{map[string]string{"wait": "NaN"}, `not a number of seconds`},
		{map[string]string{"pause": "-1s"}, `test: option pause="-1s": not a positive duration`},
		{map[string]string{"pause": "soon"}, `not a duration`},
		{map[string]string{"mode": "c"}, `test: option mode="c": not one of a, b`},
		{map[string]string{"url": "http://u:secret@h"}, `test: option url: invalid value: not a redis URL`},
	}
	for _, tt := range tests {
		var c conf
		err := table.Query(&c, tt.query)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: err = %v, want %q", tt.query, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("%v: secret in %q", tt.query, err)
		}
	}
}

func TestDuration(t *testing.T) {
	for v, want := range map[string]time.Duration{"2": 2 * time.Second, "0.5": 500 * time.Millisecond, "3m": 3 * time.Minute, "0": 0} {
		if d, err := Duration(v, true); err != nil || d != want {
			t.Errorf("Duration(%q) = %v, %v", v, d, err)
		}
	}
	for _, v := range []string{"0", "1e300", "Inf", "-2"} {
		if _, err := Duration(v, false); err == nil {
			t.Errorf("Duration(%q) accepted", v)
		}
	}
}

func TestFuncs(t *testing.T) {
	var c conf
	ok := Func[conf]{Name: "N", Apply: func(c *conf) error { c.n = 7; return nil }}
	bare := Func[conf]{Name: "Bare", Apply: func(*conf) error { return errors.New("want n >= 1") }}
	named := Func[conf]{Name: "Named", Apply: func(*conf) error { return errors.New("test: option n=\"0\": too small") }}
	if err := Funcs("test", &c, []any{ok}); err != nil || c.n != 7 {
		t.Fatalf("ok: %v %+v", err, c)
	}
	if err := Funcs("test", &c, []any{bare}); err == nil || err.Error() != "test: option Bare: want n >= 1" {
		t.Errorf("bare: %v", err)
	}
	if err := Funcs("test", &c, []any{named}); err == nil || err.Error() != `test: option n="0": too small` {
		t.Errorf("named: %v", err)
	}
	if err := Funcs("test", &c, []any{Func[struct{}]{}}); err == nil || !strings.Contains(err.Error(), "another driver") {
		t.Errorf("foreign: %v", err)
	}
}
