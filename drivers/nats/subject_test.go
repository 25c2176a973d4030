package nats

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestEscapeToken(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "~"},
		{"topic", "topic"},
		{"trove-taskmanager", "trove-taskmanager"},
		{"dt_call_01", "dt_call_01"},
		{"guestagent.5f2c", "guestagent~2E5f2c"},
		{"a b", "a~20b"},
		{"*", "~2A"},
		{">", "~3E"},
		{"a.*.>", "a~2E~2A~2E~3E"},
		{"~", "~7E"},
		{"~2E", "~7E2E"},
		{"%", "~25"},
		{"+", "~2B"},
		{"=", "~3D"},
		{"tab\there", "tab~09here"},
		{"é", "~C3~A9"},
		{"\x00", "~00"},
		{"\xff", "~FF"},
	}
	for _, tt := range tests {
		got := escapeToken(tt.in)
		if got != tt.want {
			t.Errorf("escapeToken(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if n := tokenLen(tt.in); n != len(got) {
			t.Errorf("tokenLen(%q) = %d, want %d", tt.in, n, len(got))
		}
		back, err := unescapeToken(got)
		if err != nil || back != tt.in {
			t.Errorf("unescapeToken(%q) = %q, %v; want %q", got, back, err, tt.in)
		}
		checkToken(t, got)
	}
}

func TestUnescapeTokenRejects(t *testing.T) {
	for _, tok := range []string{"a.b", "~", "~2", "~2e", "~G0", "~61", "a~", "a b", "%41", "~B", "x*"} {
		if tok == "~" {
			continue // the empty string
		}
		if got, err := unescapeToken(tok); err == nil {
			t.Errorf("unescapeToken(%q) = %q, want an error", tok, got)
		}
	}
}

// checkToken fails unless tok is a valid, non-wildcard subject token that
// also fits JetStream names.
func checkToken(t *testing.T, tok string) {
	t.Helper()
	if tok == "" {
		t.Fatalf("empty token")
	}
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(".*>%+=/\\", c) >= 0 {
			t.Fatalf("token %q holds %q", tok, c)
		}
	}
}

// checkSubject fails unless subj is a valid literal subject.
func checkSubject(t *testing.T, subj string) {
	t.Helper()
	for _, tok := range strings.Split(subj, ".") {
		if tok == "" || tok == "*" || tok == ">" || strings.ContainsAny(tok, " \t\r\n") {
			t.Fatalf("subject %q has a bad token %q", subj, tok)
		}
	}
}

// trickyStrings are field values that would collide under a naive layout.
var trickyStrings = []string{
	"", "a", "b", "a.b", "b.c", "a.b.c", "c", "a~2Eb", "~", "~~", "~2E", ".", "..", "a.", ".a",
	"*", ">", "a.*", "a.>", "a b", " ", "rpc", "fanout", "notify", "x", "x.y", "y.z", "openstack",
	"guestagent.5f2c", "guestagent~2E5f2c", "é", "%", "+", "=", "~7E",
}

// TestSubjectsDistinct checks that distinct (kind, exchange, topic,
// server) tuples never share a subject, and every subject is valid.
func TestSubjectsDistinct(t *testing.T) {
	s := subjects{prefix: DefaultSubjectPrefix}
	seen := map[string]string{}
	add := func(subj, what string) {
		t.Helper()
		checkSubject(t, subj)
		if prev, dup := seen[subj]; dup {
			t.Fatalf("subject %q for both %s and %s", subj, prev, what)
		}
		seen[subj] = what
	}
	for _, ex := range trickyStrings {
		for _, tp := range trickyStrings {
			add(s.topic(ex, tp), fmt.Sprintf("topic(%q,%q)", ex, tp))
			add(s.notify(ex, tp), fmt.Sprintf("notify(%q,%q)", ex, tp))
			for _, srv := range trickyStrings {
				add(s.server(ex, tp, srv), fmt.Sprintf("server(%q,%q,%q)", ex, tp, srv))
			}
		}
	}
	for _, tp := range trickyStrings {
		add(s.fanout(tp), fmt.Sprintf("fanout(%q)", tp))
	}
}

// TestSubjectsDistinctRandom is TestSubjectsDistinct on random strings
// over an alphabet rich in separators and escape characters.
func TestSubjectsDistinctRandom(t *testing.T) {
	const alphabet = "ab.~2E* >%+="
	r := rand.New(rand.NewPCG(1, 2))
	str := func() string {
		b := make([]byte, r.IntN(6))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		return string(b)
	}
	s := subjects{prefix: "p.q"}
	seen := map[string][3]string{}
	for range 20000 {
		k := [3]string{str(), str(), str()}
		subj := s.server(k[0], k[1], k[2])
		checkSubject(t, subj)
		if prev, dup := seen[subj]; dup && prev != k {
			t.Fatalf("%q and %q share subject %q", prev, k, subj)
		}
		seen[subj] = k
	}
}

func TestSubjectLayout(t *testing.T) {
	s := subjects{prefix: "oslo"}
	tests := []struct{ got, want string }{
		{s.topic("openstack", "trove-taskmanager"), "oslo.rpc.openstack.trove-taskmanager"},
		{s.server("openstack", "guestagent.5f2c", "5f2c"), "oslo.rpc.openstack.guestagent~2E5f2c.5f2c"},
		{s.fanout("compute"), "oslo.fanout.compute"},
		{s.notify("openstack", "notifications.info"), "oslo.notify.openstack.notifications~2Einfo"},
		{s.notifyStreamSubject("openstack"), "oslo.notify.openstack.*"},
		{s.streamName("openstack"), "oslo+notify+openstack"},
		{subjects{prefix: "a.b"}.streamName("x.y"), "a~2Eb+notify+x~2Ey"},
		{consumerName("notifications.info", ""), "notifications~2Einfo"},
		{consumerName("notifications.info", "ceilometer"), "notifications~2Einfo+ceilometer"},
		{consumerName("n", "p.q"), "n+p~2Eq"},
		{replySubject("_INBOX.abc", "0123abcd", 0), "_INBOX.abc.0123abcd"},
		{replySubject("_INBOX.abc", "a.b", 0), "_INBOX.abc.a~2Eb"},
		{replySubject("_INBOX.abc", "0123abcd", 1500*time.Millisecond), "_INBOX.abc.0123abcd=1500"},
		{replySubject("_INBOX.abc", "a=b", 1500*time.Microsecond), "_INBOX.abc.a~3Db=2"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

// TestJetStreamNames checks that stream and consumer names are valid and
// distinct, long ones included.
func TestJetStreamNames(t *testing.T) {
	seen := map[string]string{}
	check := func(name, what string) {
		t.Helper()
		if name == "" || len(name) > maxNameLen || strings.ContainsAny(name, ".*> \t\r\n/\\%") {
			t.Fatalf("%s: bad JetStream name %q", what, name)
		}
		if prev, dup := seen[name]; dup {
			t.Fatalf("name %q for both %s and %s", name, prev, what)
		}
		seen[name] = what
	}
	long := strings.Repeat("t", 300)
	topics := append([]string{long, long + "x", long + ".x", strings.Repeat("é", 120)}, trickyStrings...)
	for _, tp := range topics {
		for _, pool := range []string{"", "p", "p.q", "+", "~", long} {
			check(consumerName(tp, pool), fmt.Sprintf("consumer(%q,%q)", tp, pool))
		}
	}
	seen = map[string]string{}
	for _, prefix := range []string{"oslo", "a.b", "a", strings.Repeat("p", 200)} {
		for _, ex := range append([]string{long, long + "x"}, trickyStrings...) {
			check(subjects{prefix: prefix}.streamName(ex), fmt.Sprintf("stream(%q,%q)", prefix, ex))
		}
	}
}

func TestValidatePrefix(t *testing.T) {
	for _, p := range []string{"oslo", "a.b.c", "tenant-1.oslo", "x_y"} {
		if err := validatePrefix(p); err != nil {
			t.Errorf("validatePrefix(%q) = %v", p, err)
		}
	}
	for _, p := range []string{"", ".", "a.", ".a", "a..b", "a b", "*", "a.>", "a.*.b", "a*", "t\tab"} {
		if err := validatePrefix(p); err == nil {
			t.Errorf("validatePrefix(%q) = nil, want an error", p)
		}
	}
}

func FuzzEscapeToken(f *testing.F) {
	for _, s := range trickyStrings {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tok := escapeToken(s)
		checkToken(t, tok)
		back, err := unescapeToken(tok)
		if err != nil || back != s {
			t.Fatalf("round trip of %q: %q, %v", s, back, err)
		}
	})
}

func TestParseReplyToken(t *testing.T) {
	for _, tc := range []struct {
		token string
		id    string
		exp   time.Duration
	}{
		{"0123abcd", "0123abcd", 0},
		{"0123abcd=1500", "0123abcd", 1500 * time.Millisecond},
		{"a~3Db=2", "a=b", 2 * time.Millisecond},
		{"a~2Eb", "a.b", 0},
		{"x=garbage", "x", 0},
	} {
		id, exp, err := parseReplyToken(tc.token)
		if err != nil || id != tc.id || exp != tc.exp {
			t.Errorf("parseReplyToken(%q) = %q, %v, %v; want %q, %v", tc.token, id, exp, err, tc.id, tc.exp)
		}
	}
}
