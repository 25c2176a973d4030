package config

import (
	"errors"
	"reflect"
	"testing"
)

// sectionsOf returns the values of a parsed file, without positions.
func sectionsOf(f *file) map[string]map[string][]string {
	out := map[string]map[string][]string{}
	for s, keys := range f.sections {
		out[s] = map[string][]string{}
		for k, vals := range keys {
			for _, v := range vals {
				out[s][k] = append(out[s][k], v.text)
			}
		}
	}
	return out
}

type kv = map[string][]string

func TestParseFile(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want map[string]map[string][]string
	}{
		{"empty", "", map[string]map[string][]string{}},
		{"comments and blank lines", "# c\n; c\n\n[DEFAULT]\n# k = v\n", map[string]map[string][]string{"DEFAULT": {}}},
		{"equals and colon", "[s]\na = 1\nb: 2\nc = x: y\nd: x = y\ne=\n", map[string]map[string][]string{
			"s": kv{"a": {"1"}, "b": {"2"}, "c": {"x: y"}, "d": {"x = y"}, "e": {""}}}},
		{"repeated keys and sections", "[s]\na = 1\n[t]\na = 2\n[s]\na = 3\n", map[string]map[string][]string{
			"s": kv{"a": {"1", "3"}}, "t": kv{"a": {"2"}}}},
		{"section names are case insensitive but DEFAULT", "[Oslo_Messaging_Rabbit]\na = 1\n[default]\nb = 2\n[DEFAULT]\nc = 3\n",
			map[string]map[string][]string{"oslo_messaging_rabbit": kv{"a": {"1"}}, "default": kv{"b": {"2"}}, "DEFAULT": kv{"c": {"3"}}}},
		{"keys are case sensitive", "[s]\nKey = 1\nkey = 2\n", map[string]map[string][]string{"s": kv{"Key": {"1"}, "key": {"2"}}}},
		{"quotes", "[s]\na = \"x y\"\nb = 'x'\nc = \"x'\nd = \"\ne = ' padded '\nf = \"\"\n", map[string]map[string][]string{
			"s": kv{"a": {"x y"}, "b": {"x"}, "c": {"\"x'"}, "d": {""}, "e": {" padded "}, "f": {""}}}},
		{"inline # is part of the value", "[s]\na = v # c\n", map[string]map[string][]string{"s": kv{"a": {"v # c"}}}},
		{"continuation lines", "[s]\na = one\n  two\n\tthree\n\nb = x\n    # not a comment\n", map[string]map[string][]string{
			"s": kv{"a": {"one\ntwo\nthree"}, "b": {"x\n# not a comment"}}}},
		{"a section ends a value", "[s]\na = one\n[t]\n", map[string]map[string][]string{"s": kv{"a": {"one"}}, "t": {}}},
		{"line ends", "[s]\r\na = 1\rb = 2\r\n", map[string]map[string][]string{"s": kv{"a": {"1"}, "b": {"2"}}}},
		{"white space", "[s]  \na\t=\t1 \u00a0\n \u3000 \n", map[string]map[string][]string{"s": kv{"a": {"1"}}}},
		{"odd section names", "[ ]\na = 1\n[a]b]\nb = 2\n", map[string]map[string][]string{" ": kv{"a": {"1"}}, "a]b": kv{"b": {"2"}}}},
		{"U+0130 lower-cases as Python", "[\u0130]\na = 1\n", map[string]map[string][]string{"i\u0307": kv{"a": {"1"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := parseFile("f.conf", []byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if got := sectionsOf(f); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestParseFileErrors(t *testing.T) {
	tests := []struct {
		in     string
		line   int
		reason string
	}{
		{"a = 1\n", 1, "Section must be started before assignment"},
		{"# c\n\na = 1\n  more\n", 3, "Section must be started before assignment"},
		{"  x\n", 1, "Unexpected continuation line"},
		{"[s]\n\n  x\n", 3, "Unexpected continuation line"},
		{"[s]\njust words\n", 2, "No ':' or '=' found in assignment"},
		{"[s]\n = v\n", 0, ""}, // a continuation of nothing
		{"[s]\n= v\n", 2, "Key cannot be empty"},
		{"[s]\n: v\n", 2, "Key cannot be empty"},
		{"[s\n", 1, "Invalid section (must end with ])"},
		{"[]\n", 1, "Empty section name"},
		{"[s]\na = \xff\n", 2, "not valid UTF-8"},
		{"[s]\r\n\r\na = \xff\n", 3, "not valid UTF-8"},
	}
	for _, tt := range tests {
		_, err := parseFile("/etc/x.conf", []byte(tt.in))
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Errorf("%q: %v, want a ParseError", tt.in, err)
			continue
		}
		if tt.reason == "" {
			continue
		}
		if pe.File != "/etc/x.conf" || pe.Line != tt.line || pe.Reason != tt.reason {
			t.Errorf("%q: %+v, want line %d %q", tt.in, pe, tt.line, tt.reason)
		}
	}
}

// TestParseErrorHidesTheLine checks that a line holding a password is not
// repeated in the error.
func TestParseErrorHidesTheLine(t *testing.T) {
	_, err := parseFile("f.conf", []byte("[DEFAULT]\n= rabbit://u:hunter2@h/\n"))
	if err == nil || contains(err.Error(), "hunter2") {
		t.Fatalf("%v", err)
	}
}
