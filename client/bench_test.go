package client_test

import (
	"testing"

	"github.com/oslo-go/messaging/drivers/drivertest"
)

// The library's own cost per message, on the in-memory driver (see
// docs/BENCHMARKS.md).
var fakeBench = drivertest.Config{URL: func(tb testing.TB) string { return "fake:///" + tb.Name() }}

// BenchmarkCall is one call round trip (encode, send, dispatch, reply,
// decode) on the in-memory driver.
func BenchmarkCall(b *testing.B) { drivertest.BenchCall(b, fakeBench) }

// BenchmarkCallParallel is BenchmarkCall with 64 concurrent callers.
func BenchmarkCallParallel(b *testing.B) { drivertest.BenchCallParallel(b, fakeBench) }

// BenchmarkCast sends casts and has them handled, end to end.
func BenchmarkCast(b *testing.B) { drivertest.BenchCast(b, fakeBench) }
