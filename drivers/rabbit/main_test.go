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
	if _, err := rabbittest.Sweep("rt_", "dt_"); err != nil {
		fmt.Fprintf(os.Stderr, "rabbit tests: removing rt_* and dt_* queues: %v\n", err)
	}
	os.Exit(code)
}
