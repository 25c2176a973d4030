// Package clitest holds what the commands' tests share: a buffer that
// goroutines write to, and the check for the machine's NATS server.
package clitest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"sync"
	"testing"
	"time"
)

// NATSAddr is the machine's NATS server (with JetStream).
const NATSAddr = "127.0.0.1:4222"

// NeedNATS skips t, loudly, when the machine's NATS server cannot be
// reached, or fails it when the environment variable CI is set.
func NeedNATS(t testing.TB) {
	t.Helper()
	c, err := net.DialTimeout("tcp", NATSAddr, 2*time.Second)
	if err == nil {
		c.Close()
		return
	}
	msg := fmt.Sprintf("NATS is not reachable at %s: %v", NATSAddr, err)
	if os.Getenv("CI") != "" {
		t.Fatal(msg + "; CI is set")
	}
	t.Skipf("\n\n*** SKIPPING %s: %s (start nats-server -js -a 127.0.0.1 -p 4222) ***\n", t.Name(), msg)
}

// Buffer is a bytes.Buffer safe for concurrent use.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns what was written.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
