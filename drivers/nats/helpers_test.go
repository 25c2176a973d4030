package nats

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oslo-go/messaging/drivers/nats/embedded"
)

// machineAddr is the NATS server (with JetStream) the machine runs.
const machineAddr = "127.0.0.1:4222"

// machineURL returns the URL of the machine's NATS server. When it cannot
// be reached the test fails if the environment variable CI is set, and is
// skipped with a loud message otherwise.
func machineURL(t testing.TB) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", machineAddr, 2*time.Second)
	if err != nil {
		msg := fmt.Sprintf("the machine's NATS server on %s cannot be reached: %v", machineAddr, err)
		if os.Getenv("CI") != "" {
			t.Fatalf("%s (CI is set: this test must run; start nats-server -js -a 127.0.0.1 -p 4222)", msg)
		}
		t.Skipf("\n\n*** SKIPPING %s: %s ***\n*** start nats-server -js -a 127.0.0.1 -p 4222 to run it (with CI set it fails instead) ***\n\n", t.Name(), msg)
	}
	c.Close()
	return "nats://" + machineAddr
}

// startEmbedded starts an embedded server for the test and shuts it down at the
// end of the test.
func startEmbedded(t testing.TB, opts ...embedded.Option) *embedded.Server {
	t.Helper()
	e, err := embedded.Start(opts...)
	if err != nil {
		t.Fatalf("embedded.Start: %v", err)
	}
	t.Cleanup(e.Shutdown)
	return e
}

// perTestServers hands out one embedded server per test name, shut down
// when that test ends, so that the conformance suite's goroutine-leak check
// sees none of the server's goroutines.
type perTestServers struct {
	mu      sync.Mutex
	servers map[string]*embedded.Server
}

func (p *perTestServers) url(t testing.TB) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.servers == nil {
		p.servers = map[string]*embedded.Server{}
	}
	if e := p.servers[t.Name()]; e != nil {
		return e.URL()
	}
	e := startEmbedded(t)
	p.servers[t.Name()] = e
	return e.URL()
}

var unsafeChars = regexp.MustCompile(`[^a-zA-Z0-9]+`)

// uniqueTopic returns a topic unique to this test run (the machine's server
// is shared with other test runs).
func uniqueTopic(t testing.TB) string {
	name := strings.ToLower(strings.Trim(unsafeChars.ReplaceAllString(t.Name(), "_"), "_"))
	if len(name) > 40 {
		name = name[len(name)-40:]
	}
	return fmt.Sprintf("nt_%s_%d_%08x", name, os.Getpid(), rand.Uint32())
}
