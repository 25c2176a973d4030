// Package clustertest starts broker clusters on this machine for the
// cluster tests: a RabbitMQ cluster of private nodes (their own node
// names, ports, data directories and Erlang cookie, joined with rabbitmqctl
// join_cluster) and a NATS cluster of nats-server processes with routes and
// JetStream. Nodes can be killed (SIGKILL) and restarted on the same ports
// and data. Each cluster is torn down by the test that started it. Tests
// that cannot start one fail when the environment variable CI is set and
// skip loudly otherwise.
package clustertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Need skips t loudly, or fails it when CI is set, with the reason.
func Need(t testing.TB, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("cannot start the cluster and CI is set: %v", err)
	}
	t.Skipf("\n\n*** SKIPPING %s: cannot start the cluster: %v ***\n", t.Name(), err)
}

// FreePort returns a loopback port free at the moment.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// RabbitNode is one node of a RabbitCluster.
type RabbitNode struct {
	Name string // Erlang node name, name@localhost
	Port int    // AMQP
	dir  string
	env  []string
}

// RabbitCluster is a cluster of private RabbitMQ nodes on loopback.
type RabbitCluster struct {
	Nodes []*RabbitNode
	bin   string
	t     testing.TB
}

// rabbitBin finds the directory of rabbitmq-server and rabbitmqctl.
func rabbitBin() (string, error) {
	for _, d := range []string{"/usr/lib/rabbitmq/bin", "/usr/sbin"} {
		if _, err := os.Stat(filepath.Join(d, "rabbitmq-server")); err == nil {
			return d, nil
		}
	}
	p, err := exec.LookPath("rabbitmq-server")
	if err != nil {
		return "", err
	}
	return filepath.Dir(p), nil
}

// StartRabbit starts a cluster of n nodes and joins them; it is stopped
// when t ends.
func StartRabbit(t testing.TB, n int) (*RabbitCluster, error) {
	bin, err := rabbitBin()
	if err != nil {
		return nil, fmt.Errorf("rabbitmq-server is not installed: %w", err)
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("private RabbitMQ nodes need root here (Debian's scripts)")
	}
	c := &RabbitCluster{bin: bin, t: t}
	t.Cleanup(c.stopAll)
	cookie := fmt.Sprintf("OSLOGOCLUSTER%016X", rand.Uint64())
	id := rand.IntN(1 << 30)
	for i := range n {
		node, err := c.newNode(fmt.Sprintf("oslogo-c%d-%d@localhost", i+1, id), cookie)
		if err != nil {
			return nil, err
		}
		c.Nodes = append(c.Nodes, node)
	}
	// Start every node, then join the others to the first.
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range c.Nodes {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = c.start(i) }()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for _, node := range c.Nodes[1:] {
		for _, args := range [][]string{{"stop_app"}, {"join_cluster", c.Nodes[0].Name}, {"start_app"}} {
			if out, err := c.Ctl(node, args...); err != nil {
				return nil, fmt.Errorf("rabbitmqctl -n %s %s: %v: %s", node.Name, strings.Join(args, " "), err, out)
			}
		}
	}
	return c, nil
}

func (c *RabbitCluster) newNode(name, cookie string) (*RabbitNode, error) {
	dir, err := os.MkdirTemp("", "oslogo-cluster-")
	if err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	dist, err := FreePort()
	if err != nil {
		return nil, err
	}
	files := map[string]string{
		"rabbitmq.conf":     fmt.Sprintf("listeners.tcp.local = 127.0.0.1:%d\nloopback_users = none\n", port),
		"enabled_plugins":   "[].\n",
		"rabbitmq-env.conf": "",
		".erlang.cookie":    cookie,
	}
	for f, content := range files {
		mode := os.FileMode(0o644)
		if f == ".erlang.cookie" {
			mode = 0o400
		}
		if err := os.WriteFile(filepath.Join(dir, f), []byte(content), mode); err != nil {
			return nil, err
		}
	}
	n := &RabbitNode{Name: name, Port: port, dir: dir}
	n.env = append(os.Environ(),
		"HOME="+dir, // the Erlang cookie of the node and of rabbitmqctl
		"RABBITMQ_NODENAME="+name,
		"RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
		"RABBITMQ_NODE_PORT="+strconv.Itoa(port),
		"RABBITMQ_DIST_PORT="+strconv.Itoa(dist),
		"RABBITMQ_MNESIA_BASE="+filepath.Join(dir, "mnesia"),
		"RABBITMQ_LOG_BASE="+filepath.Join(dir, "log"),
		"RABBITMQ_PID_FILE="+filepath.Join(dir, "pid"),
		"RABBITMQ_CONFIG_FILE="+filepath.Join(dir, "rabbitmq.conf"),
		"RABBITMQ_ENABLED_PLUGINS_FILE="+filepath.Join(dir, "enabled_plugins"),
		"RABBITMQ_CONF_ENV_FILE="+filepath.Join(dir, "rabbitmq-env.conf"),
		"ERL_EPMD_ADDRESS=127.0.0.1",
	)
	return n, nil
}

// start starts node i (again, after Kill: it rejoins the cluster with its
// data) and waits until it accepts AMQP connections.
func (c *RabbitCluster) start(i int) error {
	n := c.Nodes[i]
	cmd := exec.Command(filepath.Join(c.bin, "rabbitmq-server"), "-detached")
	cmd.Env, cmd.Dir = n.env, n.dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("rabbitmq-server -detached (%s): %v: %s", n.Name, err, out)
	}
	start := time.Now()
	for time.Since(start) < 3*time.Minute {
		conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(n.Port), time.Second)
		if err == nil {
			conn.Close()
			// The port opens before the node serves; wait_for the app.
			if _, err := c.Ctl(n, "await_startup"); err == nil {
				return nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("node %s did not start within 3 minutes (logs in %s)", n.Name, n.dir)
}

// Ctl runs rabbitmqctl against node and returns its output.
func (c *RabbitCluster) Ctl(n *RabbitNode, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, "rabbitmqctl"), append([]string{"-n", n.Name}, args...)...)
	cmd.Env, cmd.Dir = n.env, n.dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// URL returns the transport URL naming every node, in order.
func (c *RabbitCluster) URL(query string) string {
	hosts := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		hosts[i] = "guest:guest@127.0.0.1:" + strconv.Itoa(n.Port)
	}
	u := "rabbit://" + strings.Join(hosts, ",") + "/"
	if query != "" {
		u += "?" + query
	}
	return u
}

// Index returns the index of the node listening on port, or -1.
func (c *RabbitCluster) Index(port int) int {
	for i, n := range c.Nodes {
		if n.Port == port {
			return i
		}
	}
	return -1
}

// Kill kills node i with SIGKILL, as a crash.
func (c *RabbitCluster) Kill(i int) error {
	n := c.Nodes[i]
	pid, err := os.ReadFile(filepath.Join(n.dir, "pid"))
	if err != nil {
		return err
	}
	p, err := strconv.Atoi(string(bytes.TrimSpace(pid)))
	if err != nil || p <= 0 {
		return fmt.Errorf("node %s: bad pid file %q", n.Name, pid)
	}
	if err := syscall.Kill(p, syscall.SIGKILL); err != nil {
		return err
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if syscall.Kill(p, 0) != nil {
			return nil
		}
	}
	return fmt.Errorf("node %s (pid %d) still alive after SIGKILL", n.Name, p)
}

// Restart starts a killed node again.
func (c *RabbitCluster) Restart(i int) error { return c.start(i) }

// QueueLeader returns the index of the node that leads the quorum queue
// name, or -1.
func (c *RabbitCluster) QueueLeader(from int, name string) (int, error) {
	out, err := c.Ctl(c.Nodes[from], "list_queues", "-q", "--no-table-headers", "name", "leader")
	if err != nil {
		return -1, fmt.Errorf("list_queues: %v: %s", err, out)
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == name {
			for i, n := range c.Nodes {
				if n.Name == f[1] {
					return i, nil
				}
			}
		}
	}
	return -1, fmt.Errorf("queue %s has no leader in:\n%s", name, out)
}

func (c *RabbitCluster) stopAll() {
	for i, n := range c.Nodes {
		if out, err := c.Ctl(n, "stop"); err != nil {
			c.t.Logf("stopping %s: %v: %s", n.Name, err, out)
			c.Kill(i)
		}
		os.RemoveAll(n.dir)
	}
}
