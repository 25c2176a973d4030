package notify

import (
	"reflect"
	"testing"

	"github.com/oslo-go/messaging/serializer"
)

// TestFnmatch compares compileFnmatch with Python's fnmatch.fnmatchcase;
// the expected values were produced by CPython 3.
func TestFnmatch(t *testing.T) {
	for _, c := range []struct {
		pat, s string
		want   bool
	}{
		{"compute.instance.*", "compute.instance.create.end", true},
		{"compute.instance.*", "compute.instance", false},
		{"compute.*.error", "compute.instance.error", true},
		{"compute.*.error", "compute.error", false},
		{"*", "anything/with/slash", true},
		{"info", "info", true},
		{"inf?", "info", true},
		{"inf?", "inf", false},
		{"[ie]nfo", "info", true},
		{"[!ie]nfo", "info", false},
		{"[!ie]nfo", "xnfo", true},
		{"[a-c]x", "bx", true},
		{"[a-c]x", "dx", false},
		{"[", "[", true},
		{"[]", "[]", true},
		{"[]]", "]", true},
		{"[!]]", "a", true},
		{"[!]]", "]", false},
		{"a.b", "aXb", false},
		{"a+b", "a+b", true},
		{"(x)", "(x)", true},
		{"*.end", "x.end\n", false},
		{`x\y`, `x\y`, true},
		{`[\]`, `\`, true},
		{"[^a]", "^", true},
		{"[^a]", "b", false},
		{"volume.*", "volume.", true},
		{"*error*", "compute.error.x", true},
		{"[.]", ".", true},
		{"**", "", true},
	} {
		re, err := compileFnmatch(c.pat)
		if err != nil {
			t.Errorf("compileFnmatch(%q): %v", c.pat, err)
			continue
		}
		if got := re.MatchString(c.s); got != c.want {
			t.Errorf("fnmatch(%q, %q) = %v, want %v (regexp %s)", c.s, c.pat, got, c.want, re)
		}
	}
}

func TestContextSanitized(t *testing.T) {
	rc := serializer.RequestContext{"user_id": "u", "project_id": "p", "request_id": "req-1", "roles": []any{"admin"},
		"auth_token": "secret", "service_catalog": []any{"x"}, "is_admin": true, "global_request_id": "g"}
	got := sanitizeContext(rc, nil)
	want := serializer.RequestContext{"user_id": "u", "project_id": "p", "request_id": "req-1", "roles": []any{"admin"}, "is_admin": true, "global_request_id": "g"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("sanitized %v, want %v", got, want)
	}
	rc["traceparent"] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	got = sanitizeContext(rc, map[string]bool{"traceparent": true, "tracestate": true})
	want["traceparent"] = rc["traceparent"]
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("sanitized with ContextKeys %v, want %v", got, want)
	}
}
