package ids

import (
	"regexp"
	"testing"
)

func TestFormats(t *testing.T) {
	hexRE := regexp.MustCompile(`^[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}$`)
	uuidRE := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		h, u := Hex(), UUID()
		if !hexRE.MatchString(h) {
			t.Fatalf("Hex() = %q", h)
		}
		if a := AppendHex([]byte("x")); !hexRE.Match(a[1:]) || a[0] != 'x' {
			t.Fatalf("AppendHex(x) = %q", a)
		}
		if !uuidRE.MatchString(u) {
			t.Fatalf("UUID() = %q", u)
		}
		if seen[h] {
			t.Fatalf("duplicate id %q", h)
		}
		seen[h] = true
	}
}

func BenchmarkHex(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_ = Hex()
	}
}
