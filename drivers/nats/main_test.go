package nats

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when goroutines are left running after the
// tests: transports, listeners and embedded servers must all wind down.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
