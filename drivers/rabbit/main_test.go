package rabbit

import (
	"fmt"
	"os"
	"testing"

	"github.com/oslo-go/messaging/drivers/rabbit/rabbittest"
)

// TestMain removes the queues the tests declared on the shared broker:
// uniqueName's "rt_" names and the conformance suite's "dt_" topics.
func TestMain(m *testing.M) {
	code := m.Run()
	for _, prefix := range []string{"rt_", "dt_"} {
		if _, err := rabbittest.Sweep(prefix); err != nil {
			fmt.Fprintf(os.Stderr, "rabbit tests: removing %s* queues: %v\n", prefix, err)
		}
	}
	os.Exit(code)
}
