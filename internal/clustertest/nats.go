package clustertest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// NATSNode is one server of a NATSCluster.
type NATSNode struct {
	Name        string
	Port        int // client port
	clusterPort int
	dir         string
	cmd         *exec.Cmd
	log         *os.File
}

// NATSCluster is a cluster of nats-server processes on loopback, with
// routes between all of them and JetStream (each with its own store).
type NATSCluster struct {
	Nodes []*NATSNode
	bin   string
	t     testing.TB
}

// StartNATS starts an n-server cluster with JetStream; it is stopped when
// t ends. It returns once every server accepts clients and JetStream has
// a meta leader.
func StartNATS(t testing.TB, n int) (*NATSCluster, error) {
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/nats-server"); serr != nil {
			return nil, fmt.Errorf("nats-server is not installed: %w", err)
		}
		bin = "/usr/sbin/nats-server"
	}
	c := &NATSCluster{bin: bin, t: t}
	t.Cleanup(c.stopAll)
	id := rand.IntN(1 << 30)
	for i := range n {
		dir, err := os.MkdirTemp("", "oslogo-nats-cluster-")
		if err != nil {
			return nil, err
		}
		port, err := FreePort()
		if err != nil {
			return nil, err
		}
		cport, err := FreePort()
		if err != nil {
			return nil, err
		}
		c.Nodes = append(c.Nodes, &NATSNode{Name: fmt.Sprintf("oslogo-n%d-%d", i+1, id), Port: port, clusterPort: cport, dir: dir})
	}
	for i := range c.Nodes {
		if err := c.start(i); err != nil {
			return nil, err
		}
	}
	return c, c.waitJetStream(30 * time.Second)
}

func (c *NATSCluster) start(i int) error {
	n := c.Nodes[i]
	var routes []string
	for j, o := range c.Nodes {
		if j != i {
			routes = append(routes, "nats://127.0.0.1:"+strconv.Itoa(o.clusterPort))
		}
	}
	log, err := os.OpenFile(filepath.Join(n.dir, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	n.log = log
	n.cmd = exec.Command(c.bin,
		"-a", "127.0.0.1", "-p", strconv.Itoa(n.Port), "-n", n.Name,
		"-js", "-sd", filepath.Join(n.dir, "js"),
		"--cluster_name", "oslogo", "--cluster", "nats://127.0.0.1:"+strconv.Itoa(n.clusterPort),
		"--routes", strings.Join(routes, ","))
	n.cmd.Stdout, n.cmd.Stderr = log, log
	if err := n.cmd.Start(); err != nil {
		return fmt.Errorf("nats-server %s: %w", n.Name, err)
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(n.Port), time.Second)
		if err == nil {
			conn.Close()
			return nil
		}
	}
	return fmt.Errorf("nats-server %s did not listen on %d (log %s)", n.Name, n.Port, log.Name())
}

// waitJetStream waits until the servers' logs show a JetStream meta
// leader.
func (c *NATSCluster) waitJetStream(limit time.Duration) error {
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		for _, n := range c.Nodes {
			b, _ := os.ReadFile(filepath.Join(n.dir, "server.log"))
			if strings.Contains(string(b), "JetStream cluster new metadata leader") || strings.Contains(string(b), "Self is new JetStream cluster metadata leader") {
				return nil
			}
		}
	}
	return errors.New("no JetStream meta leader within " + limit.String())
}

// URL returns the transport URL naming every server.
func (c *NATSCluster) URL(query string) string {
	hosts := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		hosts[i] = "127.0.0.1:" + strconv.Itoa(n.Port)
	}
	u := "nats://" + strings.Join(hosts, ",")
	if query != "" {
		u += "/?" + query
	}
	return u
}

// Kill kills server i with SIGKILL.
func (c *NATSCluster) Kill(i int) error {
	n := c.Nodes[i]
	if n.cmd == nil || n.cmd.Process == nil {
		return errors.New("not running")
	}
	n.cmd.Process.Signal(syscall.SIGKILL)
	n.cmd.Wait()
	n.cmd = nil
	n.log.Close()
	return nil
}

// Restart starts a killed server again, with its JetStream store.
func (c *NATSCluster) Restart(i int) error { return c.start(i) }

func (c *NATSCluster) stopAll() {
	for i, n := range c.Nodes {
		if n.cmd != nil {
			c.Kill(i)
		}
		os.RemoveAll(n.dir)
	}
}
