package dispatcher

import (
	"testing"

	"github.com/oslo-go/messaging/target"
)

// TestCompatibleMatchesTarget checks the dispatcher's pre-parsed version
// check against target.Compatible.
func TestCompatibleMatchesTarget(t *testing.T) {
	versions := []string{"0.0", "0.9", "1.0", "1.0.0", "1.0.1", "1.1", "1.4.9", "1.5", "1.5.0", "1.5.1", "1.5.2", "1.6", "2.0", "2.0.5", "3.4", "10.10"}
	for _, h := range versions {
		hv, _ := target.ParseVersion(h)
		for _, w := range versions {
			wv, _ := target.ParseVersion(w)
			if got, want := compatible(hv, wv), target.Compatible(h, w); got != want {
				t.Errorf("compatible(%s, %s) = %v, target.Compatible says %v", h, w, got, want)
			}
		}
	}
}
