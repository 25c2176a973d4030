// Package rabbittest helps tests that run against a real RabbitMQ: it finds
// the broker (skipping loudly, or failing when the environment variable CI
// is set, when there is none) and removes the queues a test declared, so
// that repeated runs do not pile queues up on a shared broker. oslo's topic
// and notification queues are neither auto-delete nor expiring, so every
// test that creates them should sweep them with DeleteQueues.
package rabbittest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Default addresses of the local test broker (guest/guest on 5672); the
// environment variable RABBIT_URL overrides URL (an amqp:// URI is then
// derived by replacing the scheme).
const (
	DefaultURL  = "rabbit://guest:guest@127.0.0.1:5672/"
	DefaultAMQP = "amqp://guest:guest@127.0.0.1:5672/"
)

var (
	once sync.Once
	err  error
)

// URL returns the transport URL of the test broker.
func URL() string {
	if u := os.Getenv("RABBIT_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// AMQP returns the amqp091 URI of the test broker.
func AMQP() string {
	if u := os.Getenv("RABBIT_URL"); u != "" {
		_, rest, _ := strings.Cut(u, "://")
		return "amqp://" + rest
	}
	return DefaultAMQP
}

// Need skips t, loudly, when the broker cannot be reached, or fails t when
// the environment variable CI is set.
func Need(t testing.TB) {
	t.Helper()
	once.Do(func() {
		c, e := amqp.DialConfig(AMQP(), amqp.Config{Dial: amqp.DefaultDial(5 * time.Second)})
		if e != nil {
			err = e
			return
		}
		c.Close()
	})
	if err == nil {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("RabbitMQ is not reachable at %s and CI is set: %v", AMQP(), err)
	}
	t.Skipf("\n\n*** SKIPPING %s: RabbitMQ is not reachable at %s: %v\n*** Start it (make services) to run the broker tests. ***\n", t.Name(), AMQP(), err)
}

// DeleteQueues deletes the queues of the test broker whose names start
// with prefix and that have no consumer (see Sweep), logging what it did.
// Register it with t.Cleanup.
func DeleteQueues(t testing.TB, prefix string) {
	t.Helper()
	n, e := Sweep(prefix)
	if e != nil {
		t.Logf("rabbittest: removing %s* queues: %v", prefix, e)
		return
	}
	t.Logf("rabbittest: deleted %d %s* queues", n, prefix)
}

// Sweep deletes the queues of the test broker whose names start with
// prefix (or one of more prefixes) and that have no consumer, and returns
// how many it deleted. It lists queues with rabbitmqctl, once. Use it from
// TestMain after m.Run.
func Sweep(prefix string, more ...string) (int, error) {
	prefixes := append([]string{prefix}, more...)
	for _, p := range prefixes {
		if p == "" {
			return 0, errors.New("rabbittest: Sweep needs a prefix")
		}
	}
	out, e := exec.Command("rabbitmqctl", "-q", "list_queues", "--no-table-headers", "name", "consumers").Output()
	if e != nil {
		return 0, fmt.Errorf("rabbitmqctl: %w", e)
	}
	conn, e := amqp.Dial(AMQP())
	if e != nil {
		return 0, e
	}
	defer conn.Close()
	ch, e := conn.Channel()
	if e != nil {
		return 0, e
	}
	n := 0
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 || !slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(f[0], p) }) {
			continue
		}
		if c, _ := strconv.Atoi(f[1]); c > 0 {
			continue
		}
		if _, e := ch.QueueDelete(f[0], false, false, false); e != nil {
			return n, fmt.Errorf("deleting queue %s: %w", f[0], e)
		}
		n++
	}
	return n, nil
}
