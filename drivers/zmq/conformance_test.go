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

// memoryLimit bounds the heap growth of the driver's attacks (the inbox
// holds at most 16 MiB).
const memoryLimit = 64 << 20

func TestConformance(t *testing.T) {
	url := func(t testing.TB) string { return "zmq:///" + t.Name() + "?max_message_size=" + strconv.Itoa(maxSize) }
	drivertest.Run(t, drivertest.Config{
		URL:               url,
		NoServersFailFast: true,
		MaxMessageSize:    maxSize,
		Attacks:           zmq.Attacks(url),
		MemoryLimit:       memoryLimit,
	})
}

func TestConformanceRedis(t *testing.T) {
	addr, prefix := zmq.NeedRedis(t)
	url := func(t testing.TB) string {
		return "zmq+redis://" + addr + "/0?redis_prefix=" + prefix + "&max_message_size=" + strconv.Itoa(maxSize)
	}
	drivertest.Run(t, drivertest.Config{
		URL:               url,
		NoServersFailFast: true,
		MaxMessageSize:    maxSize,
		Attacks:           zmq.Attacks(url),
		MemoryLimit:       memoryLimit,
	})
	if keys := zmq.RedisKeys(t, addr, prefix); len(keys) > 0 {
		t.Errorf("registrations left in Redis after every server closed: %v", keys)
	}
}
