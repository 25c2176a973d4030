package zmq_test

import (
	"strconv"
	"testing"

	"github.com/oslo-go/messaging/drivers/drivertest"
	"github.com/oslo-go/messaging/drivers/zmq"
)

// maxSize is the max_message_size of the conformance runs: room for the
// large-message test, small enough that the oversize test stays cheap.
const maxSize = 4 << 20

func TestConformance(t *testing.T) {
	drivertest.Run(t, drivertest.Config{
		URL:               func(t testing.TB) string { return "zmq:///" + t.Name() + "?max_message_size=" + strconv.Itoa(maxSize) },
		NoServersFailFast: true,
		MaxMessageSize:    maxSize,
	})
}

func TestConformanceRedis(t *testing.T) {
	addr, prefix := zmq.NeedRedis(t)
	drivertest.Run(t, drivertest.Config{
		URL: func(t testing.TB) string {
			return "zmq+redis://" + addr + "/0?redis_prefix=" + prefix + "&max_message_size=" + strconv.Itoa(maxSize)
		},
		NoServersFailFast: true,
		MaxMessageSize:    maxSize,
	})
	if keys := zmq.RedisKeys(t, addr, prefix); len(keys) > 0 {
		t.Errorf("registrations left in Redis after every server closed: %v", keys)
	}
}
