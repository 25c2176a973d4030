//go:build cluster

package clustertest

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// connectedNode returns the index of the node that holds the AMQP
// connections named prefix*.
func (c *RabbitCluster) connectedNode(t *testing.T, from int, prefix string) int {
	t.Helper()
	out, err := c.Ctl(c.Nodes[from], "list_connections", "-q", "--no-table-headers", "client_properties", "port")
	if err != nil {
		t.Fatalf("list_connections: %v: %s", err, out)
	}
	for _, line := range strings.Split(out, "\n") {
		if !strings.Contains(line, prefix) {
			continue
		}
		f := strings.Fields(line)
		port, err := strconv.Atoi(f[len(f)-1])
		if err == nil && c.Index(port) >= 0 {
			return c.Index(port)
		}
	}
	t.Fatalf("no connection %s* in:\n%s", prefix, out)
	return -1
}

// killFor kills node i, waits, restarts it and waits for it to rejoin.
func (c *RabbitCluster) killFor(t *testing.T, i int, down time.Duration) {
	t.Helper()
	start := time.Now()
	if err := c.Kill(i); err != nil {
		t.Fatal(err)
	}
	t.Logf("killed %s", c.Nodes[i].Name)
	time.Sleep(down)
	if err := c.Restart(i); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s back after %v", c.Nodes[i].Name, time.Since(start).Round(time.Millisecond))
}

// TestRabbitClusterFailover: quorum queues on a 3-node cluster, 64 callers,
// a stream of at_least_once casts and one of notifications, while the node
// the client is connected to is killed and restarted, then the node
// leading the server's queue; with both failover strategies.
func TestRabbitClusterFailover(t *testing.T) {
	c, err := StartRabbit(t, 3)
	Need(t, err)
	for _, strategy := range []string{"round-robin", "shuffle"} {
		t.Run(strategy, func(t *testing.T) {
			q := "rabbit_quorum_queue=true&heartbeat_timeout_threshold=10&kombu_failover_strategy=" + strategy
			client := "cltest-client-" + strategy
			l := startLoad(t, c.URL(q+"&connection_name=cltest-server-"+strategy), c.URL(q+"&connection_name="+client), 64)
			// Python oslo.messaging beside the Go load, on the same cluster:
			// a Python client of the Go server, a Python server Go calls.
			var py *pythonSideBySide
			if strategy == "round-robin" {
				py = startPythonSideBySide(t, c.URL(""), l.topic,
					[]string{"rabbit_quorum_queue=true", "heartbeat_timeout_threshold=10", "kombu_failover_strategy=" + strategy},
					open(t, c.URL(q)))
			}
			time.Sleep(5 * time.Second)

			connected := c.connectedNode(t, 0, client)
			c.killFor(t, connected, 10*time.Second)
			time.Sleep(10 * time.Second)

			other := (connected + 1) % len(c.Nodes)
			leader, err := c.QueueLeader(other, l.topic)
			if err != nil {
				t.Fatal(err)
			}
			c.killFor(t, leader, 10*time.Second)
			time.Sleep(10 * time.Second)

			r := l.finish(t, 30*time.Second)
			r.check(t, true)
			t.Logf("RESULT rabbit %s: %v", strategy, r)
			if py != nil {
				pySummary, goToPy := py.finish(t)
				t.Logf("RESULT python client of the Go server: %v", pySummary)
				t.Logf("RESULT go clients of the Python server: calls %d (%d failed, longest outage %v)", goToPy.calls, goToPy.callErrors, goToPy.maxOutage.Round(time.Millisecond))
				if last, _ := pySummary["last_ok"].(float64); last > 5 {
					t.Errorf("the Python client's last success was %.1f s before the end: it did not survive", last)
				}
				if goToPy.lastOKBeforeEnd > 5*time.Second {
					t.Errorf("the Go callers' last success against the Python server was %v before the end", goToPy.lastOKBeforeEnd)
				}
			}
		})
	}
}
