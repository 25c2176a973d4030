package rabbit

import (
	"testing"

	"github.com/oslo-go/messaging/drivers/drivertest"
)

func TestConformance(t *testing.T) {
	needBroker(t)
	drivertest.Run(t, drivertest.Config{
		URL:           func(testing.TB) string { return brokerURL },
		Notifications: true,
	})
}
