package amqp1_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when goroutines outlive the tests: every
// transport, listener, intermediary and Python peer is closed by then.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
