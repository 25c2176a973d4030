package pyjson

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestAppendString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", `""`},
		{"plain ascii text", `"plain ascii text"`},
		{`q"b\s/`, `"q\"b\\s/"`},
		{"\b\f\n\r\t", `"\b\f\n\r\t"`},
		{"\x00\x01\x1f\x7f", `"\u0000\u0001\u001f` + "\x7f\""},
		{"<a href='x'>&amp;</a>", `"<a href='x'>&amp;</a>"`},
		{"é中😀", `"é中😀"`},
		{"line\u2028sep\u2029par", `"line\u2028sep\u2029par"`},
		{"bad\xffbyte\xc3", `"bad\ufffdbyte\ufffd"`},
		{"\xed\xa0\x80", `"\ufffd\ufffd\ufffd"`},
		{"0123456789abcdef\"0123456789abcdef\n", `"0123456789abcdef\"0123456789abcdef\n"`},
		{strings.Repeat("x", 100) + "\u2028", `"` + strings.Repeat("x", 100) + `\u2028"`},
	}
	for _, tt := range tests {
		got := string(AppendString([]byte("pre"), tt.in))
		if got != "pre"+tt.want {
			t.Errorf("AppendString(%q) = %s, want %s", tt.in, got[3:], tt.want)
		}
		if !json.Valid([]byte(got[3:])) {
			t.Errorf("AppendString(%q) = %s is not valid JSON", tt.in, got[3:])
		}
		if utf8.ValidString(tt.in) {
			var back string
			if err := json.Unmarshal([]byte(got[3:]), &back); err != nil || back != tt.in {
				t.Errorf("round trip of %q: %q %v", tt.in, back, err)
			}
		}
	}
}

func TestUnquoteString(t *testing.T) {
	tests := []struct{ in, want string }{
		{`""`, ""},
		{`"abc"`, "abc"},
		{` "abc" `, "abc"},
		{`"a\"b\\c\/d\b\f\n\r\t"`, "a\"b\\c/d\b\f\n\r\t"},
		{`"\u00e9\ud83d\ude00"`, "é😀"},
		{`"\ud800"`, "\uFFFD"},
		{`"\ud800\ud800x"`, "\uFFFD\uFFFDx"},
		{"\"é\xff\"", "é\uFFFD"},
		{"\"é中\"", "é中"},
		{`"NaN"`, "NaN"},
		{`"` + strings.Repeat(`\u00e9`, 100) + `"`, strings.Repeat("é", 100)},
	}
	for _, tt := range tests {
		got, err := UnquoteString([]byte(tt.in))
		if err != nil || got != tt.want {
			t.Errorf("UnquoteString(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	for _, in := range []string{`"`, `"abc`, `"\"`, `"\q"`, `"\u12"`, "\"a\nb\"", `"a" "b"`, `"a"x`} {
		_, err := UnquoteString([]byte(in))
		mustSyntaxError(t, err, []byte(in))
	}
	for _, in := range []string{``, ` `, `abc`, `1`, `null`, `{"a":1}`, `'a'`} {
		if _, err := UnquoteString([]byte(in)); err == nil {
			t.Errorf("UnquoteString(%q): no error", in)
		}
	}
	if n := testing.AllocsPerRun(100, func() { UnquoteString([]byte(`"plain key with no escapes"`)) }); n > 1 {
		t.Errorf("plain UnquoteString: %v allocations", n)
	}
}

func TestAppendUnquoted(t *testing.T) {
	for _, raw := range []string{`"plain"`, `"esc\"aped\n"`, `"\u00e9\ud83d\ude00"`, ` "spaced" `, `"\ud800"`} {
		want, werr := UnquoteString([]byte(raw))
		got, err := AppendUnquoted([]byte("pre:"), []byte(raw))
		if (err != nil) != (werr != nil) || string(got) != "pre:"+want {
			t.Errorf("AppendUnquoted(%s) = %q, %v; UnquoteString gives %q, %v", raw, got, err, want, werr)
		}
	}
	for _, raw := range []string{``, `x`, `"open`, `"a" b`} {
		if _, err := AppendUnquoted(nil, []byte(raw)); err == nil {
			t.Errorf("AppendUnquoted(%q) accepted", raw)
		}
	}
}

func TestUnquoteStringView(t *testing.T) {
	for _, raw := range []string{`"plain"`, `""`, `"esc\"aped"`, `"\u00e9"`, `"é"`, ` "x" `, `"a`, `x`, `"a" b`} {
		want, werr := UnquoteString([]byte(raw))
		got, err := UnquoteStringView([]byte(raw))
		if got != want || (err == nil) != (werr == nil) {
			t.Errorf("UnquoteStringView(%s) = %q, %v; UnquoteString gives %q, %v", raw, got, err, want, werr)
		}
	}
	if n := testing.AllocsPerRun(100, func() { UnquoteStringView([]byte(`"0123456789abcdef"`)) }); n > 1 {
		t.Errorf("UnquoteStringView allocates %v times for a plain string", n)
	}
}

// TestAppendUnquotedContentRuns checks the 8-byte skipping of plain runs:
// every position of a special byte or non-ASCII character in and around
// one word.
func TestAppendUnquotedContentRuns(t *testing.T) {
	for _, special := range []string{`"`, `\`, "\n", "\x00", "é", "\u2028", "\U0001F600", "\x7f"} {
		for n := 0; n < 20; n++ {
			for at := 0; at <= n; at++ {
				s := strings.Repeat("a", at) + special + strings.Repeat("b", n-at)
				lit := AppendString(nil, s)
				got, ok := AppendUnquotedContent(nil, lit[1:len(lit)-1])
				if !ok || string(got) != s {
					t.Fatalf("AppendUnquotedContent(%s) = %q, %v; want %q", lit, got, ok, s)
				}
			}
			// Unescaped, a quote or a control character is malformed.
			if special == `"` || special == "\n" || special == "\x00" {
				raw := strings.Repeat("a", n) + special + "tail"
				if _, ok := AppendUnquotedContent(nil, []byte(raw)); ok {
					t.Fatalf("AppendUnquotedContent(%q) accepted it", raw)
				}
			}
		}
	}
}

// TestAppendStringRuns checks AppendString against encoding/json (without
// HTML escaping) with a special byte or non-ASCII character at every
// position in and around one word. (Invalid UTF-8 is left out: the jsonv2
// experiment writes its U+FFFD raw.)
func TestAppendStringRuns(t *testing.T) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	for _, special := range []string{`"`, `\`, "\n", "\x00", "\x1f", "é", "\u2028", "\U0001F600", "\x7f"} {
		for n := 0; n < 20; n++ {
			for at := 0; at <= n; at++ {
				s := strings.Repeat("a", at) + special + strings.Repeat("b", n-at)
				b.Reset()
				if err := enc.Encode(s); err != nil {
					t.Fatal(err)
				}
				if got, want := string(AppendString(nil, s)), strings.TrimSuffix(b.String(), "\n"); got != want {
					t.Fatalf("AppendString(%q) = %s, want %s", s, got, want)
				}
			}
		}
	}
}
