package main

import (
	"fmt"
	"os"
	"testing"

	"github.com/oslo-go/messaging/drivers/rabbit/rabbittest"
)

// TestMain removes the rpcbench_* queues the broker tests declared.
func TestMain(m *testing.M) {
	code := m.Run()
	if _, err := rabbittest.Sweep("rpcbench_"); err != nil {
		fmt.Fprintf(os.Stderr, "rpcbench tests: removing queues: %v\n", err)
	}
	os.Exit(code)
}
