package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse checks that any file parses or fails with a ParseError,
// without panicking, and that what parses keeps oslo's invariants.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"[DEFAULT]\ntransport_url = rabbit://u:p@h:5672/\n",
		"[s]\na = one\n  two\n\nb: \"q\"\n",
		"# c\n; c\n[S]\nk=v\r\nk2 = 'x'\r",
		"  x\n",
		"[]\n",
		"a = 1\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := parseFile("f.conf", data)
		if err != nil {
			if _, ok := err.(*ParseError); !ok {
				t.Fatalf("%T %v", err, err)
			}
			return
		}
		for s, keys := range file.sections {
			if s != normalizeGroup(s) {
				t.Fatalf("section %q not normalized", s)
			}
			for k, vals := range keys {
				if k == "" || k != pyStrip(k) || len(vals) == 0 {
					t.Fatalf("key %q: %q", k, vals)
				}
				for _, v := range vals {
					if v.line < 1 || strings.Contains(v.text, "\r") {
						t.Fatalf("value %+v", v)
					}
				}
			}
		}
	})
}

// FuzzLoad checks that values of any form interpolate and convert or fail
// with an error, within MaxValueSize, for every kind of option.
func FuzzLoad(f *testing.F) {
	for _, s := range []string{
		"$a", "${b}", "$$a", `\$a`, "${oslo_messaging_rabbit.ssl}", "$a$a$a$a", "${", "$", "x$.y", "1_0", "nan", "5s", "a,b,,",
	} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if strings.ContainsAny(a+b, "\r\n") {
			return
		}
		dir := t.TempDir()
		path := filepath.Join(dir, "f.conf")
		content := "[DEFAULT]\na = " + a + "\nb = " + b + "\ni = " + a + "\nl = " + b + "\n" +
			"[oslo_messaging_rabbit]\nssl_version = " + a + "\nheartbeat_rate = " + b + "\nkombu_reconnect_delay = " + a + "\n"
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := Load(Files(path), Define("DEFAULT",
			Opt{Name: "a", Kind: String}, Opt{Name: "b", Kind: MultiString}, Opt{Name: "i", Kind: Int},
			Opt{Name: "l", Kind: List}, Opt{Name: "d", Kind: Duration, Default: "$a"}))
		if err != nil {
			return
		}
		for _, g := range c.Groups() {
			for _, o := range c.Opts(g) {
				v, err := c.Value(g, o.Name)
				if err != nil {
					t.Fatal(err)
				}
				if s, ok := v.(string); ok && len(s) > MaxValueSize {
					t.Fatalf("[%s] %s is %d bytes", g, o.Name, len(s))
				}
			}
		}
	})
}
