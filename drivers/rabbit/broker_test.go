package rabbit

import (
	"testing"

	"github.com/oslo-go/messaging/drivers/rabbit/rabbittest"
)

// The tests that need a broker use the shared RabbitMQ on 127.0.0.1:5672
// (guest/guest). They use their own queue and topic names, since other
// packages' tests use the same broker at the same time.
const (
	brokerURL = "rabbit://guest:guest@127.0.0.1:5672/"
	// amqp091URI is amqp091-go's dial URI of the broker, not a transport
	// URL: a transport URL amqp:// selects the AMQP 1.0 driver.
	amqp091URI = "amqp://guest:guest@127.0.0.1:5672/"
)

// needBroker skips t, loudly, when the broker cannot be reached, or fails
// it when the environment variable CI is set.
func needBroker(t testing.TB) {
	t.Helper()
	rabbittest.Need(t)
}
