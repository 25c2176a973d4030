package zmq_test

import (
	"testing"

	"github.com/oslo-go/messaging/drivers/drivertest"
	"github.com/oslo-go/messaging/drivers/zmq"
)

func TestConformance(t *testing.T) {
	drivertest.Run(t, drivertest.Config{
		URL:               func(t testing.TB) string { return "zmq:///" + t.Name() },
		NoServersFailFast: true,
	})
}

func TestConformanceRedis(t *testing.T) {
	addr, prefix := zmq.NeedRedis(t)
	drivertest.Run(t, drivertest.Config{
		URL:               func(t testing.TB) string { return "zmq+redis://" + addr + "/0?redis_prefix=" + prefix },
		NoServersFailFast: true,
	})
	if keys := zmq.RedisKeys(t, addr, prefix); len(keys) > 0 {
		t.Errorf("registrations left in Redis after every server closed: %v", keys)
	}
}
