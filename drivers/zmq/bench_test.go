package zmq_test

import (
	"context"
	"strings"
	"testing"

	"github.com/go-zeromq/zmq4"

	"github.com/oslo-go/messaging/drivers/drivertest"
)

// The benchmarks run a client and a server on two transports (so every
// message crosses a loopback TCP connection) with the in-process
// matchmaker, next to bare zmq4 DEALER/ROUTER request-reply:
//
//	go test -run XXX -bench . -benchmem ./drivers/zmq/

// benchConfig uses an in-process matchmaker per benchmark.
var benchConfig = drivertest.Config{URL: func(tb testing.TB) string { return "zmq:///" + tb.Name() }}

// BenchmarkCall is one call round trip through the whole stack.
func BenchmarkCall(b *testing.B) { drivertest.BenchCall(b, benchConfig) }

// BenchmarkCallParallel is BenchmarkCall with 64 concurrent callers.
func BenchmarkCallParallel(b *testing.B) { drivertest.BenchCallParallel(b, benchConfig) }

// BenchmarkCast sends casts and has them handled, end to end.
func BenchmarkCast(b *testing.B) { drivertest.BenchCast(b, benchConfig) }

// BenchmarkBareZMQ4RoundTrip is the baseline: a zmq4 DEALER sends a
// 200-byte message to a zmq4 ROUTER that echoes it, no encoding, no
// dispatch.
func BenchmarkBareZMQ4RoundTrip(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	router := zmq4.NewRouter(ctx)
	defer router.Close()
	if err := router.Listen("tcp://127.0.0.1:0"); err != nil {
		b.Fatal(err)
	}
	go func() {
		for {
			m, err := router.Recv()
			if err != nil {
				return
			}
			if router.Send(m) != nil {
				return
			}
		}
	}()
	dealer := zmq4.NewDealer(ctx)
	defer dealer.Close()
	if err := dealer.Dial("tcp://" + router.Addr().String()); err != nil {
		b.Fatal(err)
	}
	payload := []byte(strings.Repeat("x", 200))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := dealer.Send(zmq4.NewMsg(payload)); err != nil {
			b.Fatal(err)
		}
		if _, err := dealer.Recv(); err != nil {
			b.Fatal(err)
		}
	}
}
