package target

import (
	"errors"
	"testing"
)

func TestParseVersion(t *testing.T) {
	tests := []struct {
		in      string
		want    Version
		wantErr bool
	}{
		{"1.0", Version{Major: 1}, false},
		{"2.13", Version{Major: 2, Minor: 13}, false},
		{"1.2.3", Version{1, 2, 3, true}, false},
		{"0.0.0", Version{HasRev: true}, false},
		{"", Version{}, true},
		{"1", Version{}, true},
		{"1.", Version{}, true},
		{".1", Version{}, true},
		{"1.2.3.4", Version{}, true},
		{"1.a", Version{}, true},
		{"-1.2", Version{}, true},
		{"+1.2", Version{}, true},
		{"1.2 ", Version{}, true},
		{"1.2e3", Version{}, true},
		{"9999999999.1", Version{}, true},
	}
	for _, tt := range tests {
		got, err := ParseVersion(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseVersion(%q) err = %v, wantErr %v", tt.in, err, tt.wantErr)
			continue
		}
		if err != nil {
			var ve *VersionError
			if !errors.As(err, &ve) || ve.Version != tt.in {
				t.Errorf("ParseVersion(%q) err = %#v, want *VersionError", tt.in, err)
			}
			want := "target: Version must contain a major and minor integer. Got " + tt.in
			if err.Error() != want {
				t.Errorf("error text %q, want %q", err.Error(), want)
			}
			continue
		}
		if got != tt.want {
			t.Errorf("ParseVersion(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
		if got.String() != tt.in {
			t.Errorf("String() = %q, want %q", got.String(), tt.in)
		}
	}
}

func TestCompatible(t *testing.T) {
	// Cases follow oslo.messaging's tests/test_utils.py VersionIsCompatibleTestCase.
	tests := []struct {
		have, want string
		ok         bool
	}{
		{"1.0", "1.0", true},
		{"1.5", "1.0", true},
		{"2.0", "1.0", false},
		{"1.0", "2.0", false},
		{"1.0", "1.1", false},
		{"1.1", "1.1", true},
		{"1.1.0", "1.1", true},
		{"1.1", "1.1.0", true},
		{"1.1.5", "1.1.1", true},
		{"1.1.1", "1.1.5", false},
		{"1.2", "1.1.5", true},
		{"1.2.1", "1.3", false},
		{"", "1.0", true},
		{"", "", true},
		{"1.0", "", false},
		{"1.x", "1.0", false},
		{"1.0", "bad", false},
	}
	for _, tt := range tests {
		if got := Compatible(tt.have, tt.want); got != tt.ok {
			t.Errorf("Compatible(%q, %q) = %v, want %v", tt.have, tt.want, got, tt.ok)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		reason string
	}{
		{"server needs topic", Target{Server: "s"}.ValidateServer(), "A server's target must have topic and server names specified"},
		{"server needs server", Target{Topic: "t"}.ValidateServer(), "A server's target must have topic and server names specified"},
		{"server ok", Target{Topic: "t", Server: "s"}.ValidateServer(), ""},
		{"send needs topic", Target{Server: "s"}.ValidateSend(), "A topic is required to send"},
		{"send ok fanout", Target{Topic: "t", Fanout: true}.ValidateSend(), ""},
		{"call fanout", Target{Topic: "t", Fanout: true}.ValidateCall(), "A call cannot be used with fanout"},
		{"call needs topic", Target{}.ValidateCall(), "A topic is required to send"},
		{"call ok", Target{Topic: "t", Version: "1.2"}.ValidateCall(), ""},
		{"listener needs topic", Target{}.ValidateListener(), "A topic is required to listen for notifications"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.reason == "" {
				if tt.err != nil {
					t.Fatalf("unexpected error %v", tt.err)
				}
				return
			}
			var ite *InvalidTargetError
			if !errors.As(tt.err, &ite) || ite.Reason != tt.reason {
				t.Fatalf("err = %v, want reason %q", tt.err, tt.reason)
			}
			if !errors.Is(tt.err, ErrInvalidTarget) {
				t.Fatalf("errors.Is(err, ErrInvalidTarget) = false")
			}
		})
	}
	err := Target{Topic: "t", Version: "one"}.ValidateCall()
	var ve *VersionError
	if !errors.As(err, &ve) {
		t.Fatalf("bad version: err = %v, want *VersionError", err)
	}
}

func TestStringAndNamespaces(t *testing.T) {
	tg := Target{Topic: "compute", Server: "host-1", Fanout: true, Namespace: "ns", LegacyNamespaces: []string{"old"}}
	if got, want := tg.String(), "<Target topic=compute, namespace=ns, server=host-1, fanout=True, legacy_namespaces=[old]>"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got := (Target{}).String(); got != "<Target>" {
		t.Errorf("empty String() = %q", got)
	}
	if !tg.Accepts("ns") || !tg.Accepts("old") || tg.Accepts("") {
		t.Errorf("Accepts mismatch")
	}
	if got := tg.AcceptedNamespaces(); len(got) != 2 || got[0] != "ns" || got[1] != "old" {
		t.Errorf("AcceptedNamespaces() = %v", got)
	}
	if !(Target{}).Accepts("") {
		t.Errorf("null namespace must accept null namespace")
	}
}

func TestParseVersionAllocs(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { ParseVersion("1.22.333") }); n != 0 {
		t.Fatalf("ParseVersion allocates %v times", n)
	}
}

func FuzzParseVersion(f *testing.F) {
	for _, s := range []string{"1.0", "1.2.3", "", "1.", ".1", "1..2", "01.2", "999999999.1", "1.2.3.4", "1.a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseVersion(s)
		if err != nil {
			return
		}
		// What parses is digits and dots in 2 or 3 parts, and formats back
		// to the same numbers.
		again, err := ParseVersion(v.String())
		if err != nil || again != v {
			t.Fatalf("ParseVersion(%q) = %+v; its String %q parses to %+v, %v", s, v, v.String(), again, err)
		}
	})
}
