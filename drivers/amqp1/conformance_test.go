package amqp1_test

import (
	"testing"

	_ "github.com/oslo-go/messaging/drivers/amqp1"
	"github.com/oslo-go/messaging/drivers/amqp1/internal/intermediary"
	"github.com/oslo-go/messaging/drivers/drivertest"
)

// TestConformance runs the conformance suite against the Proton
// intermediary in both flavours: a qpidd-like broker (legacy addresses
// chosen by dynamic addressing) and a qpid-dispatch-router-like router
// (routable addresses).
func TestConformance(t *testing.T) {
	for _, f := range []intermediary.Flavour{intermediary.Broker, intermediary.Router} {
		t.Run(string(f), func(t *testing.T) {
			im := intermediary.Start(t, f, false)
			url := im.URL("link_retry_delay=1")
			drivertest.Run(t, drivertest.Config{
				URL:           func(testing.TB) string { return url },
				Notifications: true,
				NoPools:       true,
			})
		})
	}
}
