package transport

import (
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"github.com/oslo-go/messaging/internal/urlfmt"
)

// q builds a Query map from key, value pairs.
func q(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

var parseURLTests = []struct {
	name string
	in   string
	want URL
}{
	{"scheme only", "rabbit://", URL{Scheme: "rabbit", Query: q()}},
	{"empty vhost", "rabbit:///", URL{Scheme: "rabbit", HasVirtualHost: true, Query: q()}},
	{"slash vhost", "rabbit:////", URL{Scheme: "rabbit", VirtualHost: "/", HasVirtualHost: true, Query: q()}},
	{"vhost", "rabbit:///vh", URL{Scheme: "rabbit", VirtualHost: "vh", HasVirtualHost: true, Query: q()}},
	{"no slashes", "fake:/", URL{Scheme: "fake", HasVirtualHost: true, Query: q()}},
	{"fake", "fake://", URL{Scheme: "fake", Query: q()}},
	{"bare scheme", "fake:", URL{Scheme: "fake", Query: q()}},
	{"opaque path", "rabbit:vh", URL{Scheme: "rabbit", Query: q()}},
	{"query without hosts", "rabbit:?a=1", URL{Scheme: "rabbit", Query: q("a", "1")}},
	{"guest", "rabbit://guest:guest@localhost:5672/", URL{
		Scheme:         "rabbit",
		Hosts:          []Host{{Hostname: "localhost", Port: 5672, Username: "guest", Password: "guest"}},
		HasVirtualHost: true,
		Query:          q(),
	}},
	{"multi host", "rabbit://u1:p1@h1:5672,u2:p2@h2:5673/vh?heartbeat=60&ssl=true", URL{
		Scheme: "rabbit",
		Hosts: []Host{
			{Hostname: "h1", Port: 5672, Username: "u1", Password: "p1"},
			{Hostname: "h2", Port: 5673, Username: "u2", Password: "p2"},
		},
		VirtualHost:    "vh",
		HasVirtualHost: true,
		Query:          q("heartbeat", "60", "ssl", "true"),
	}},
	{"hosts without credentials", "rabbit://h1:5672,h2/", URL{
		Scheme:         "rabbit",
		Hosts:          []Host{{Hostname: "h1", Port: 5672}, {Hostname: "h2"}},
		HasVirtualHost: true,
		Query:          q(),
	}},
	{"mixed credentials", "rabbit://u:p@h1,h2:5673", URL{
		Scheme: "rabbit",
		Hosts:  []Host{{Hostname: "h1", Username: "u", Password: "p"}, {Hostname: "h2", Port: 5673}},
		Query:  q(),
	}},
	{"percent-encoded credentials", "rabbit://us%40er:p%3Aa%2Fss%25@h/", URL{
		Scheme:         "rabbit",
		Hosts:          []Host{{Hostname: "h", Username: "us@er", Password: "p:a/ss%"}},
		HasVirtualHost: true,
		Query:          q(),
	}},
	{"literal colon in password", "rabbit://user:pa:ss@h/", URL{
		Scheme:         "rabbit",
		Hosts:          []Host{{Hostname: "h", Username: "user", Password: "pa:ss"}},
		HasVirtualHost: true,
		Query:          q(),
	}},
	{"literal at in password", "rabbit://user:p@ss@h/", URL{
		Scheme:         "rabbit",
		Hosts:          []Host{{Hostname: "h", Username: "user", Password: "p@ss"}},
		HasVirtualHost: true,
		Query:          q(),
	}},
	{"invalid percent kept", "rabbit://u%zz:p%@h", URL{
		Scheme: "rabbit",
		Hosts:  []Host{{Hostname: "h", Username: "u%zz", Password: "p%"}},
		Query:  q(),
	}},
	{"user only", "rabbit://user@h:5672", URL{
		Scheme: "rabbit",
		Hosts:  []Host{{Hostname: "h", Port: 5672, Username: "user"}},
		Query:  q(),
	}},
	{"password only", "rabbit://:pass@h", URL{
		Scheme: "rabbit",
		Hosts:  []Host{{Hostname: "h", Password: "pass"}},
		Query:  q(),
	}},
	{"credentials without host", "rabbit://user:pass@/", URL{
		Scheme:         "rabbit",
		Hosts:          []Host{{Username: "user", Password: "pass"}},
		HasVirtualHost: true,
		Query:          q(),
	}},
	{"credentials and port without host", "rabbit://user:pass@:5672/", URL{
		Scheme:         "rabbit",
		Hosts:          []Host{{Port: 5672, Username: "user", Password: "pass"}},
		HasVirtualHost: true,
		Query:          q(),
	}},
	{"ipv6", "rabbit://[::1]:5672/", URL{
		Scheme:         "rabbit",
		Hosts:          []Host{{Hostname: "::1", Port: 5672}},
		HasVirtualHost: true,
		Query:          q(),
	}},
	{"ipv6 without port", "rabbit://u:p@[::1]/", URL{
		Scheme:         "rabbit",
		Hosts:          []Host{{Hostname: "::1", Username: "u", Password: "p"}},
		HasVirtualHost: true,
		Query:          q(),
	}},
	{"ipv6 zone", "rabbit://[fe80::1%25eth0]:5672/", URL{
		Scheme:         "rabbit",
		Hosts:          []Host{{Hostname: "fe80::1%25eth0", Port: 5672}},
		HasVirtualHost: true,
		Query:          q(),
	}},
	{"unbracketed ipv6", "rabbit://::1/", URL{
		Scheme:         "rabbit",
		Hosts:          []Host{{Hostname: "::1"}},
		HasVirtualHost: true,
		Query:          q(),
	}},
	{"unbracketed ipv6 has no port", "rabbit://fe80::1:5672", URL{
		Scheme: "rabbit",
		Hosts:  []Host{{Hostname: "fe80::1:5672"}},
		Query:  q(),
	}},
	{"ipv4-mapped ipv6", "rabbit://[::ffff:1.2.3.4]:1", URL{
		Scheme: "rabbit",
		Hosts:  []Host{{Hostname: "::ffff:1.2.3.4", Port: 1}},
		Query:  q(),
	}},
	{"unbracketed ipv6 zone", "rabbit://fe80::1%eth0", URL{
		Scheme: "rabbit",
		Hosts:  []Host{{Hostname: "fe80::1%eth0"}},
		Query:  q(),
	}},
	{"empty items", "rabbit://,h1,,h2,/", URL{
		Scheme:         "rabbit",
		Hosts:          []Host{{Hostname: "h1"}, {Hostname: "h2"}},
		HasVirtualHost: true,
		Query:          q(),
	}},
	{"items without anything", "rabbit://:0,@,:@,:00,h/", URL{
		Scheme:         "rabbit",
		Hosts:          []Host{{Hostname: "h"}},
		HasVirtualHost: true,
		Query:          q(),
	}},
	{"port zero and leading zeros", "rabbit://h:0,h:00065535", URL{
		Scheme: "rabbit",
		Hosts:  []Host{{Hostname: "h"}, {Hostname: "h", Port: 65535}},
		Query:  q(),
	}},
	{"repeated query keys", "rabbit://h/?a=1&a=2&b=3&a=4", URL{
		Scheme:         "rabbit",
		Hosts:          []Host{{Hostname: "h"}},
		HasVirtualHost: true,
		Query:          q("a", "1,2,4", "b", "3"),
	}},
	{"blank query values", "rabbit://h?a=&b=1&c&&=v&d=", URL{
		Scheme: "rabbit",
		Hosts:  []Host{{Hostname: "h"}},
		Query:  q("b", "1", "", "v"),
	}},
	{"plus in query", "rabbit://h?name=a+b%2Bc&x+y%20z=1=2&s=%&t=;", URL{
		Scheme: "rabbit",
		Hosts:  []Host{{Hostname: "h"}},
		Query:  q("name", "a b+c", "x y z", "1=2", "s", "%", "t", ";"),
	}},
	{"semicolon is no separator", "rabbit://h?a=1;b=2", URL{
		Scheme: "rabbit",
		Hosts:  []Host{{Hostname: "h"}},
		Query:  q("a", "1;b=2"),
	}},
	{"fragment dropped", "rabbit://h/vh?a=1#frag?b=2", URL{
		Scheme:         "rabbit",
		Hosts:          []Host{{Hostname: "h"}},
		VirtualHost:    "vh",
		HasVirtualHost: true,
		Query:          q("a", "1"),
	}},
	{"fragment ends host list", "rabbit://h#frag/vh", URL{
		Scheme: "rabbit",
		Hosts:  []Host{{Hostname: "h"}},
		Query:  q(),
	}},
	{"no vhost", "rabbit://h", URL{
		Scheme: "rabbit",
		Hosts:  []Host{{Hostname: "h"}},
		Query:  q(),
	}},
	{"encoded slash in vhost", "rabbit://h/a%2Fb", URL{
		Scheme:         "rabbit",
		Hosts:          []Host{{Hostname: "h"}},
		VirtualHost:    "a/b",
		HasVirtualHost: true,
		Query:          q(),
	}},
	{"vhost special characters", "rabbit://h/a%20b%3Fc%23d+e@f,g:h", URL{
		Scheme:         "rabbit",
		Hosts:          []Host{{Hostname: "h"}},
		VirtualHost:    "a b?c#d+e@f,g:h",
		HasVirtualHost: true,
		Query:          q(),
	}},
	{"non-ascii", "rabbit://hôte/vhé%C3%A9?clé=välue", URL{
		Scheme:         "rabbit",
		Hosts:          []Host{{Hostname: "hôte"}},
		VirtualHost:    "vhéé",
		HasVirtualHost: true,
		Query:          q("clé", "välue"),
	}},
	{"invalid utf-8 decoded as bytes", "rabbit://h/%FF", URL{
		Scheme:         "rabbit",
		Hosts:          []Host{{Hostname: "h"}},
		VirtualHost:    "\xff",
		HasVirtualHost: true,
		Query:          q(),
	}},
	{"host names kept as written", "rabbit://My%2DHost.Example", URL{
		Scheme: "rabbit",
		Hosts:  []Host{{Hostname: "My%2DHost.Example"}},
		Query:  q(),
	}},
	{"scheme lower-cased", "RaBBit://H/", URL{
		Scheme:         "rabbit",
		Hosts:          []Host{{Hostname: "H"}},
		HasVirtualHost: true,
		Query:          q(),
	}},
	{"zmq+redis", "zmq+redis://127.0.0.1:6379/0", URL{
		Scheme:         "zmq+redis",
		Hosts:          []Host{{Hostname: "127.0.0.1", Port: 6379}},
		VirtualHost:    "0",
		HasVirtualHost: true,
		Query:          q(),
	}},
	{"kombu+memory", "kombu+memory:////", URL{
		Scheme:         "kombu+memory",
		VirtualHost:    "/",
		HasVirtualHost: true,
		Query:          q(),
	}},
	{"scheme characters", "a1.b-c+d://h", URL{
		Scheme: "a1.b-c+d",
		Hosts:  []Host{{Hostname: "h"}},
		Query:  q(),
	}},
	{"trailing space in vhost", "rabbit://h/v h ", URL{
		Scheme:         "rabbit",
		Hosts:          []Host{{Hostname: "h"}},
		VirtualHost:    "v h ",
		HasVirtualHost: true,
		Query:          q(),
	}},
}

func TestParseURL(t *testing.T) {
	for _, tt := range parseURLTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseURL(tt.in)
			if err != nil {
				t.Fatalf("ParseURL(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(*got, tt.want) {
				t.Errorf("ParseURL(%q)\n got %#v\nwant %#v", tt.in, *got, tt.want)
			}
			if got.Query == nil {
				t.Errorf("ParseURL(%q).Query is nil", tt.in)
			}
		})
	}
}

func TestParseURLDriver(t *testing.T) {
	for in, want := range map[string]string{
		"zmq+redis://127.0.0.1:6379/0": "zmq",
		"kombu+memory:////":            "kombu",
		"rabbit://":                    "rabbit",
	} {
		u, err := ParseURL(in)
		if err != nil {
			t.Fatalf("ParseURL(%q): %v", in, err)
		}
		if got := u.Driver(); got != want {
			t.Errorf("ParseURL(%q).Driver() = %q, want %q", in, got, want)
		}
	}
}

func TestURLRoundTrip(t *testing.T) {
	for _, tt := range parseURLTests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := ParseURL(tt.in)
			if err != nil {
				t.Fatalf("ParseURL(%q): %v", tt.in, err)
			}
			s := FormatURL(u)
			u2, err := ParseURL(s)
			if err != nil {
				t.Fatalf("ParseURL(FormatURL(%q) = %q): %v", tt.in, s, err)
			}
			if !reflect.DeepEqual(u, u2) {
				t.Errorf("round trip of %q through %q\n got %#v\nwant %#v", tt.in, s, *u2, *u)
			}
			if s2 := FormatURL(u2); s2 != s {
				t.Errorf("FormatURL not stable: %q then %q", s, s2)
			}
		})
	}
}

func TestFormatURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"rabbit://", "rabbit://"},
		{"rabbit:///", "rabbit:///"},
		{"rabbit:////", "rabbit:////"},
		{"fake:/", "fake:///"},
		{"fake:", "fake://"},
		{"rabbit://guest:guest@localhost:5672/", "rabbit://guest:guest@localhost:5672/"},
		{"rabbit://u1:p1@h1:5672,u2:p2@h2:5673/vh?ssl=true&heartbeat=60",
			"rabbit://u1:p1@h1:5672,u2:p2@h2:5673/vh?heartbeat=60&ssl=true"},
		{"rabbit://us%40er:p%3Aa%2Fss%25@h/", "rabbit://us%40er:p%3Aa%2Fss%25@h/"},
		{"rabbit://user:pa:ss@h/", "rabbit://user:pa%3Ass@h/"},
		{"rabbit://u%7e:p%2c@h", "rabbit://u~:p%2C@h"},
		{"rabbit://user@h", "rabbit://user@h"},
		{"rabbit://:pass@h", "rabbit://:pass@h"},
		{"rabbit://user:@h", "rabbit://user@h"},
		{"rabbit://user:pass@/", "rabbit://user:pass@/"},
		{"rabbit://[::1]:5672/", "rabbit://[::1]:5672/"},
		{"rabbit://::1/", "rabbit://[::1]/"},
		{"rabbit://[fe80::1%25eth0]:5672/", "rabbit://[fe80::1%25eth0]:5672/"},
		{"rabbit://[::ffff:1.2.3.4]:1", "rabbit://[::ffff:1.2.3.4]:1"},
		{"rabbit://,h1,,h2,/", "rabbit://h1,h2/"},
		{"rabbit://h:0", "rabbit://h"},
		{"rabbit://h/a%2Fb", "rabbit://h/a/b"},
		{"rabbit://h/a%20b%3Fc%23d+e@f,g:h~", "rabbit://h/a%20b%3Fc%23d%2Be%40f%2Cg%3Ah~"},
		{"rabbit://h?b=2&a=1&a=3", "rabbit://h?a=1%2C3&b=2"},
		{"rabbit://h?x+y=a+b%2B", "rabbit://h?x+y=a+b%2B"},
		{"rabbit://h/vh#frag", "rabbit://h/vh"},
		{"zmq+redis://127.0.0.1:6379/0", "zmq+redis://127.0.0.1:6379/0"},
		{"RABBIT://H", "rabbit://H"},
	}
	for _, tt := range tests {
		u, err := ParseURL(tt.in)
		if err != nil {
			t.Fatalf("ParseURL(%q): %v", tt.in, err)
		}
		if got := FormatURL(u); got != tt.want {
			t.Errorf("FormatURL(ParseURL(%q)) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := FormatURL(nil); got != "" {
		t.Errorf("FormatURL(nil) = %q, want \"\"", got)
	}
	// A virtual host is written even when HasVirtualHost was not set.
	u := &URL{Scheme: "rabbit", Hosts: []Host{{Hostname: "h"}}, VirtualHost: "vh"}
	if got, want := FormatURL(u), "rabbit://h/vh"; got != want {
		t.Errorf("FormatURL(%#v) = %q, want %q", u, got, want)
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"rabbit://u1:p1@h1:5672,u2:p2@h2:5673/vh?heartbeat=60",
			"rabbit://u1:***@h1:5672,u2:***@h2:5673/vh?heartbeat=60"},
		{"rabbit://us%40er:p%3Aa%2Fss%25@h/", "rabbit://us%40er:***@h/"},
		{"rabbit://user@h,h2", "rabbit://***@h,h2"}, // a user name alone may be a token
		{"nats://S3cr3tToken@h:4222", "nats://***@h:4222"},
		{"zmq://?matchmaker=redis&redis_url=redis://:S3cr3tRedisPW@127.0.0.1:6379/0", "zmq://?matchmaker=redis&redis_url=redis%3A%2F%2F%2A%2A%2A%40127.0.0.1%3A6379%2F0"},
		{"nats://h?auth_token=S3cr3t&name=x", "nats://h?auth_token=***&name=x"},
		{"rabbit://:secret@h", "rabbit://:***@h"},
		{"rabbit://h", "rabbit://h"},
	}
	for _, tt := range tests {
		u, err := ParseURL(tt.in)
		if err != nil {
			t.Fatalf("ParseURL(%q): %v", tt.in, err)
		}
		got := RedactURL(u)
		if got != tt.want {
			t.Errorf("RedactURL(ParseURL(%q)) = %q, want %q", tt.in, got, tt.want)
		}
		for _, h := range u.Hosts {
			if h.Password != "" && strings.Contains(got, h.Password) {
				t.Errorf("RedactURL(ParseURL(%q)) = %q shows password %q", tt.in, got, h.Password)
			}
		}
		if strings.Contains(got, "S3cr3t") {
			t.Errorf("RedactURL(ParseURL(%q)) = %q shows a secret", tt.in, got)
		}
		// Printing the value, its pointer, with %+v or %#v, or with slog
		// shows no secret either.
		var logged strings.Builder
		slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "url", u, "host", u.Hosts)
		for _, out := range []string{fmt.Sprint(u), fmt.Sprintf("%+v", *u), fmt.Sprintf("%#v", u), fmt.Sprintf("%v", u.Hosts), logged.String()} {
			if strings.Contains(out, "S3cr3t") || strings.Contains(out, ":p1@") || strings.Contains(out, "secret") {
				t.Errorf("printing ParseURL(%q) shows a secret: %s", tt.in, out)
			}
		}
	}
	if got := RedactURL(nil); got != "" {
		t.Errorf("RedactURL(nil) = %q, want \"\"", got)
	}
}

func TestParseURLErrors(t *testing.T) {
	tests := []struct {
		name, in, reason string
	}{
		{"empty", "", "No scheme specified"},
		{"no scheme", "://x", "No scheme specified"},
		{"no colon", "localhost", "No scheme specified"},
		{"scheme starts with digit", "1abc://h", "No scheme specified"},
		{"space in scheme", "rab bit://h", "No scheme specified"},
		{"bad scheme character", "rab_bit://h", "No scheme specified"},
		{"leading space", " rabbit://h", "leading space"},
		{"invalid port", "rabbit://h:abc/", "invalid port: not a decimal number"},
		{"port 65536", "rabbit://h:65536/", "invalid port: out of range"},
		{"huge port", "rabbit://h:99999999999999999999999/", "invalid port: out of range"},
		{"empty port", "rabbit://h:/", "invalid port: empty"},
		{"negative port", "rabbit://h:-1/", "invalid port"},
		{"signed port", "rabbit://h:+1/", "invalid port"},
		{"ipv6 empty port", "rabbit://[::1]:/", "invalid port: empty"},
		{"ipv6 two ports", "rabbit://[::1]:5672:1/", "invalid port"},
		{"ipv6 without closing bracket", "rabbit://[::1/", `without closing "]"`},
		{"ipv6 trailing text", "rabbit://[::1]x/", `after "]"`},
		{"stray bracket", "rabbit://a]::b/", "not an IPv6 address"},
		{"stray bracket with port", "rabbit://a]:1/", `unbalanced "[" or "]"`},
		{"stray opening bracket", "rabbit://a[/", `unbalanced "[" or "]"`},
		{"two ports", "rabbit://h:5672:1/", "not an IPv6 address"},
		{"colons around port", "rabbit://:0:/", "not an IPv6 address"},
		{"bracket inside brackets", "rabbit://[[::1]/", "invalid IPv6 address"},
		{"bracket in zone", "rabbit://[fe80::1%[x]/", `unbalanced "[" or "]"`},
		{"name in brackets", "rabbit://[h]:1/", "invalid IPv6 address"},
		{"ipv4 in brackets", "rabbit://[1.2.3.4]/", "invalid IPv6 address"},
		{"empty brackets", "rabbit://[]/", "invalid IPv6 address"},
		{"empty zone", "rabbit://[::1%]/", "invalid IPv6 address"},
		{"space in host list", "rabbit://h 1/", "space in the host list"},
		{"trailing space in host list", "rabbit://h ", "space in the host list"},
		{"newline", "rabbit://h/\n", "control character U+000A at byte 11"},
		{"tab in password", "rabbit://u:p\tw@h/", "control character U+0009"},
		{"nul", "rabbit://h/\x00", "control character U+0000"},
		{"del", "rabbit://h\x7f", "control character U+007F"},
		{"unencoded slash in password", "rabbit://user:ab/cd@h:5672/", "percent-encode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := ParseURL(tt.in)
			if err == nil {
				t.Fatalf("ParseURL(%q) = %#v, want error", tt.in, *u)
			}
			if u != nil {
				t.Errorf("ParseURL(%q) returned a URL with its error", tt.in)
			}
			if !errors.Is(err, ErrInvalidURL) {
				t.Errorf("ParseURL(%q) error %v does not match ErrInvalidURL", tt.in, err)
			}
			var ie *InvalidURLError
			if !errors.As(err, &ie) {
				t.Fatalf("ParseURL(%q) error %T is not *InvalidURLError", tt.in, err)
			}
			if ie.URL != tt.in {
				t.Errorf("InvalidURLError.URL = %q, want %q", ie.URL, tt.in)
			}
			if !strings.Contains(ie.Reason, tt.reason) {
				t.Errorf("ParseURL(%q) reason %q, want it to contain %q", tt.in, ie.Reason, tt.reason)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "transport: invalid transport URL ") || !strings.HasSuffix(msg, ": "+ie.Reason) {
				t.Errorf("ParseURL(%q) error text %q", tt.in, msg)
			}
			if strings.ContainsAny(msg, "\x00\t\n\x7f") {
				t.Errorf("error text %q holds control characters", msg)
			}
		})
	}
}

func TestInvalidURLErrorText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", `transport: invalid transport URL "": No scheme specified`},
		{"rabbit://h:x/", "transport: invalid transport URL rabbit://h:x/: invalid port: not a decimal number"},
		{"rabbit://u:p@h:x/", "transport: invalid transport URL rabbit://u:***@h:x/: invalid port: not a decimal number"},
		{"rabbit://u:p@h/\n", `transport: invalid transport URL "rabbit://u:***@h/\n": control character U+000A at byte 15`},
	}
	for _, tt := range tests {
		_, err := ParseURL(tt.in)
		if err == nil {
			t.Fatalf("ParseURL(%q) succeeded", tt.in)
		}
		if got := err.Error(); got != tt.want {
			t.Errorf("ParseURL(%q) error\n got %s\nwant %s", tt.in, got, tt.want)
		}
	}
	var e error = &InvalidURLError{URL: "x", Reason: "y"}
	if errors.Is(e, errors.New("transport: invalid transport URL")) {
		t.Error("InvalidURLError matches an unrelated error")
	}
}

// TestInvalidURLErrorHidesPassword checks that errors never show the
// password "S3cr3tPw", including where it was mangled by unencoded special
// characters and so made the URL invalid.
func TestInvalidURLErrorHidesPassword(t *testing.T) {
	tests := []string{
		"rabbit://user:S3cr3tPw@h:bad/",
		"rabbit://user:S3cr3tPw@h:99999/",
		"rabbit://user:S3cr3tPw@h:/vh",
		"rabbit://user:S3cr3tPw@h\x00/",
		"rabbit://user:S3cr3tPw@h 1/",
		" rabbit://user:S3cr3tPw@h/",
		"rabbit://user:S3cr3tPw@[::1/",
		"rabbit://user:S3cr3tPw@[::1]x/",
		"rabbit://u1:p1@h1,user:S3cr3tPw@h2:x/?a=1",
		"rabbit://user:S3cr3tPw@h1:5672,h2:bad/",
		"rabbit://user:S3cr/3tPw@h:5672/",
		"rabbit://user:S3cr?3tPw@h:5672/",
		"rabbit://user:S3cr#3tPw@h:5672/",
		"rabbit://user:S3cr,3tPw@h:5672/",
		"rabbit://h1:5672,user:S3cr,3tPw@h:bad/",
		"user:S3cr3tPw@h\n",
		"://user:S3cr3tPw@h",
		"rabbit://user:S3cr3tPw@h/vh?x=1\n",
	}
	for _, in := range tests {
		_, err := ParseURL(in)
		if err == nil {
			t.Errorf("ParseURL(%q) succeeded", in)
			continue
		}
		msg := err.Error()
		for _, part := range []string{"S3cr", "3tPw"} {
			if strings.Contains(msg, part) {
				t.Errorf("ParseURL(%q) error shows the password: %s", in, msg)
			}
		}
	}
}

// FuzzParseURL checks that ParseURL never panics and that every URL it
// returns survives FormatURL and RedactURL. The property holds for every
// input: the deviations from Python that ParseURL documents (rejecting
// stray brackets, skipping items that yield a zero Host) exist to make it
// hold.
func FuzzParseURL(f *testing.F) {
	for _, tt := range parseURLTests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseURL(s)
		if err != nil {
			if u != nil {
				t.Fatalf("ParseURL(%q) returned a URL and an error", s)
			}
			if !errors.Is(err, ErrInvalidURL) {
				t.Fatalf("ParseURL(%q) error %v does not match ErrInvalidURL", s, err)
			}
			msg := err.Error()
			for i := 0; i < len(msg); i++ {
				if c := msg[i]; c < 0x20 || c == 0x7f {
					t.Fatalf("ParseURL(%q) error text %q holds a control character", s, msg)
				}
			}
			return
		}
		if u.Query == nil {
			t.Fatalf("ParseURL(%q).Query is nil", s)
		}
		out := FormatURL(u)
		u2, err := ParseURL(out)
		if err != nil {
			t.Fatalf("ParseURL(%q) = %#v, but its FormatURL %q does not parse: %v", s, *u, out, err)
		}
		if !reflect.DeepEqual(u, u2) {
			t.Fatalf("round trip of %q through %q\n got %#v\nwant %#v", s, out, *u2, *u)
		}
		if again := FormatURL(u2); again != out {
			t.Fatalf("FormatURL not stable for %q: %q then %q", s, out, again)
		}

		// RedactURL parses back to u with every non-empty password "***".
		red := RedactURL(u)
		r, err := ParseURL(red)
		if err != nil {
			t.Fatalf("RedactURL(ParseURL(%q)) = %q does not parse: %v", s, red, err)
		}
		want := *u
		want.Hosts = nil
		for _, h := range u.Hosts {
			switch {
			case h.Password != "":
				h.Password = "***"
			case h.Username != "":
				h.Username = "***"
			}
			want.Hosts = append(want.Hosts, h)
		}
		want.Query = map[string]string{}
		for k, v := range u.Query {
			want.Query[k] = urlfmt.RedactValue(k, v)
		}
		if !reflect.DeepEqual(*r, want) {
			t.Fatalf("RedactURL(ParseURL(%q)) = %q parses to %#v, want %#v", s, red, *r, want)
		}
	})
}
