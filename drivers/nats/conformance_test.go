package nats

import (
	"testing"
	"time"

	"github.com/oslo-go/messaging/drivers/drivertest"
	"github.com/oslo-go/messaging/transport"
)

// conformanceMaxSize is the max_message_size of the conformance runs,
// below the default so that the oversize subtests stay cheap.
const conformanceMaxSize = 8 << 20

// TestConformanceEmbedded runs the conformance suite against embedded
// servers, one per subtest.
func TestConformanceEmbedded(t *testing.T) {
	var servers perTestServers
	drivertest.Run(t, drivertest.Config{
		URL:               servers.url,
		Options:           []transport.Option{MaxMessageSize(conformanceMaxSize)},
		NoServersFailFast: true,
		Notifications:     true,
		MaxMessageSize:    conformanceMaxSize,
		Attacks:           []drivertest.Attack{claimCheckAttack(servers.url, DefaultSubjectPrefix)},
		MemoryLimit:       64 << 20,
	})
}

// TestConformanceMachine runs the conformance suite against the machine's
// NATS server. The subject prefix keeps its streams apart from other
// users' and the consumers it makes go away when unused.
func TestConformanceMachine(t *testing.T) {
	url := machineURL(t)
	urlOf := func(testing.TB) string { return url }
	drivertest.Run(t, drivertest.Config{
		URL: urlOf,
		Options: []transport.Option{
			SubjectPrefix("oslotest"),
			NotifyInactiveThreshold(time.Minute),
			NotifyMaxAge(time.Hour),
			MaxMessageSize(conformanceMaxSize),
		},
		NoServersFailFast: true,
		Notifications:     true,
		MaxMessageSize:    conformanceMaxSize,
		Attacks:           []drivertest.Attack{claimCheckAttack(urlOf, "oslotest")},
		MemoryLimit:       64 << 20,
	})
}
