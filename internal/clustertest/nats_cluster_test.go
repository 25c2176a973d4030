//go:build cluster

package clustertest

import (
	"testing"
	"time"
)

// TestNATSClusterFailover: a 3-server NATS cluster, notifications in an R3
// JetStream stream, 64 callers and the streams of casts and notifications,
// while servers are killed one at a time and restarted.
func TestNATSClusterFailover(t *testing.T) {
	c, err := StartNATS(t, 3)
	Need(t, err)
	q := "notify_replicas=3&reconnect_wait=250ms"
	l := startLoad(t, c.URL(q+"&name=cltest-server"), c.URL(q+"&name=cltest-client"), 64)
	time.Sleep(5 * time.Second)
	for _, i := range []int{0, 1} {
		start := time.Now()
		if err := c.Kill(i); err != nil {
			t.Fatal(err)
		}
		t.Logf("killed %s", c.Nodes[i].Name)
		time.Sleep(5 * time.Second)
		if err := c.Restart(i); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s back after %v", c.Nodes[i].Name, time.Since(start).Round(time.Millisecond))
		time.Sleep(5 * time.Second)
	}
	r := l.finish(t, 30*time.Second)
	r.check(t, false) // NATS core casts are at-most-once (drivers/nats documents it)
	t.Logf("RESULT nats: %v", r)
}
