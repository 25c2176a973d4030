package probe

import (
	"strings"
	"testing"
)

func TestStageNames(t *testing.T) {
	seen := map[string]bool{}
	for s := range numStages {
		name := s.String()
		if name == "" || seen[name] {
			t.Fatalf("stage %d has the name %q, empty or taken", s, name)
		}
		seen[name] = true
	}
	if Stage(numStages).String() != "unknown stage" {
		t.Fatal("a stage out of range has a name")
	}
}

func TestReport(t *testing.T) {
	Start()
	Mark(ClientEncoded)
	Mark(CallReturned)
	got := Report()
	if !Enabled {
		if got != "" {
			t.Fatalf("Report without the probe tag: %q", got)
		}
		return
	}
	for _, want := range []string{"request encoded", "call returned", "in all"} {
		if !strings.Contains(got, want) {
			t.Fatalf("Report %q lacks %q", got, want)
		}
	}
	if again := Report(); strings.Contains(again, "request encoded") {
		t.Fatalf("Report did not reset: %q", again)
	}
}
