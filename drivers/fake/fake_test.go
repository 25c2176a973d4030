package fake_test

import (
	"testing"

	"github.com/oslo-go/messaging/drivers/drivertest"
	_ "github.com/oslo-go/messaging/drivers/fake"
)

func TestConformance(t *testing.T) {
	drivertest.Run(t, drivertest.Config{
		URL:           func(t testing.TB) string { return "fake:///" + t.Name() },
		Notifications: true,
	})
}
