package nats

import (
	"testing"
	"time"

	"github.com/oslo-go/messaging/drivers/drivertest"
	"github.com/oslo-go/messaging/transport"
)

// TestConformanceEmbedded runs the conformance suite against embedded
// servers, one per subtest.
func TestConformanceEmbedded(t *testing.T) {
	var servers perTestServers
	drivertest.Run(t, drivertest.Config{
		URL:               servers.url,
		NoServersFailFast: true,
		Notifications:     true,
	})
}

// TestConformanceMachine runs the conformance suite against the machine's
// NATS server. The subject prefix keeps its streams apart from other
// users' and the consumers it makes go away when unused.
func TestConformanceMachine(t *testing.T) {
	url := machineURL(t)
	drivertest.Run(t, drivertest.Config{
		URL: func(testing.TB) string { return url },
		Options: []transport.Option{
			SubjectPrefix("oslotest"),
			NotifyInactiveThreshold(time.Minute),
			NotifyMaxAge(time.Hour),
		},
		NoServersFailFast: true,
		Notifications:     true,
	})
}
