//go:build cluster

package clustertest

import (
	"testing"
	"time"
)

func TestRabbitClusterHarness(t *testing.T) {
	start := time.Now()
	c, err := StartRabbit(t, 3)
	Need(t, err)
	t.Logf("3 nodes up and joined in %v", time.Since(start))
	out, err := c.Ctl(c.Nodes[0], "cluster_status")
	if err != nil {
		t.Fatal(err)
	}
	t.Log(out)
	start = time.Now()
	if err := c.Kill(1); err != nil {
		t.Fatal(err)
	}
	if err := c.Restart(1); err != nil {
		t.Fatal(err)
	}
	t.Logf("node 2 killed and back in %v", time.Since(start))
}

func TestNATSClusterHarness(t *testing.T) {
	start := time.Now()
	c, err := StartNATS(t, 3)
	Need(t, err)
	t.Logf("3 servers up with a JetStream meta leader in %v: %s", time.Since(start), c.URL(""))
	if err := c.Kill(0); err != nil {
		t.Fatal(err)
	}
	if err := c.Restart(0); err != nil {
		t.Fatal(err)
	}
}
