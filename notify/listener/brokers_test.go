package listener_test

import (
	"sync"
	"testing"

	_ "github.com/oslo-go/messaging/drivers/nats"
	"github.com/oslo-go/messaging/drivers/nats/embedded"
	_ "github.com/oslo-go/messaging/drivers/rabbit"
	"github.com/oslo-go/messaging/drivers/rabbit/rabbittest"
)

// TestListenerRabbit runs the listener suite on the local RabbitMQ with
// oslo's default notification queues, then deletes the queues it declared.
func TestListenerRabbit(t *testing.T) {
	rabbittest.Need(t)
	t.Cleanup(func() { rabbittest.DeleteQueues(t, "nt-") })
	runListenerSuite(t, func(testing.TB) string { return rabbittest.URL() })
}

// TestListenerNATS runs the listener suite over JetStream, on an embedded
// NATS server per test, so it leaves no streams or consumers behind.
func TestListenerNATS(t *testing.T) {
	var servers sync.Map // test name -> *embedded.Server
	runListenerSuite(t, func(tb testing.TB) string {
		if e, ok := servers.Load(tb.Name()); ok {
			return e.(*embedded.Server).URL()
		}
		e, err := embedded.Start()
		if err != nil {
			tb.Fatal(err)
		}
		if prev, loaded := servers.LoadOrStore(tb.Name(), e); loaded {
			e.Shutdown()
			return prev.(*embedded.Server).URL()
		}
		tb.Cleanup(e.Shutdown)
		return e.URL()
	})
}
