package notify_test

import (
	"net"
	"os"
	"testing"
	"time"

	_ "github.com/oslo-go/messaging/drivers/rabbit"
	"github.com/oslo-go/messaging/drivers/rabbit/rabbittest"
)

// needService skips t (fails it when CI is set) when addr does not answer.
func needService(t *testing.T, name, addr string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err == nil {
		c.Close()
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s on %s is not reachable and CI is set: %v", name, addr, err)
	}
	t.Skipf("\n\n*** SKIPPING %s: %s on %s is not reachable (%v) ***\n", t.Name(), name, addr, err)
}

// TestListenerRabbit runs the listener suite on the local RabbitMQ with
// oslo's default notification queues, then deletes the queues it declared.
func TestListenerRabbit(t *testing.T) {
	rabbittest.Need(t)
	t.Cleanup(func() { rabbittest.DeleteQueues(t, "nt-") })
	runListenerSuite(t, func(testing.TB) string { return rabbittest.URL() })
}
