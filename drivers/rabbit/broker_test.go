package rabbit

import (
	"os"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// The tests that need a broker use the shared RabbitMQ on 127.0.0.1:5672
// (guest/guest). They use their own queue and topic names, since other
// packages' tests use the same broker at the same time.
const (
	brokerURL  = "rabbit://guest:guest@127.0.0.1:5672/"
	brokerAMQP = "amqp://guest:guest@127.0.0.1:5672/"
)

var (
	brokerOnce sync.Once
	brokerErr  error
)

// needBroker skips t, loudly, when the broker cannot be reached, or fails
// it when the environment variable CI is set.
func needBroker(t testing.TB) {
	t.Helper()
	brokerOnce.Do(func() {
		c, err := amqp.DialConfig(brokerAMQP, amqp.Config{Dial: amqp.DefaultDial(5 * time.Second)})
		if err != nil {
			brokerErr = err
			return
		}
		c.Close()
	})
	if brokerErr == nil {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("RabbitMQ is not reachable at %s and CI is set: %v", brokerAMQP, brokerErr)
	}
	t.Skipf("\n\n*** SKIPPING %s: RabbitMQ is not reachable at %s: %v\n*** Start it (make services) to run the rabbit driver's broker tests. ***\n", t.Name(), brokerAMQP, brokerErr)
}
