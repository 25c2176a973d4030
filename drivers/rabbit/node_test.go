package rabbit

import (
	"bytes"
	"context"
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

// privateMaxMessageSize is the max_message_size of private nodes.
const privateMaxMessageSize = 1 << 20

// privateNode is a RabbitMQ node of the test's own, on ports of its own,
// so that a test can drop its connections or restart it without
// disturbing the tests of other packages on the shared broker.
type privateNode struct {
	name string
	dir  string
	port int
	env  []string
	bin  string // directory of rabbitmq-server and rabbitmqctl
}

// rabbitBin finds the RabbitMQ scripts. Debian's /usr/sbin wrappers
// switch to the rabbitmq user and lose the environment's HOME; the
// scripts behind them run as the caller.
func rabbitBin() (string, error) {
	for _, dir := range []string{"/usr/lib/rabbitmq/bin", "/usr/local/lib/rabbitmq/bin"} {
		if _, err := os.Stat(filepath.Join(dir, "rabbitmq-server")); err == nil {
			return dir, nil
		}
	}
	p, err := exec.LookPath("rabbitmq-server")
	if err != nil {
		return "", err
	}
	return filepath.Dir(p), nil
}

// needPrivateNode skips t, loudly, when a private node cannot be started
// here (or fails it when CI is set).
func needPrivateNode(t *testing.T) *privateNode {
	t.Helper()
	fail := func(format string, args ...any) *privateNode {
		msg := fmt.Sprintf(format, args...)
		if os.Getenv("CI") != "" {
			t.Fatalf("%s (CI is set)", msg)
		}
		t.Skipf("\n\n*** SKIPPING %s: %s ***\n", t.Name(), msg)
		return nil
	}
	bin, err := rabbitBin()
	if err != nil {
		return fail("rabbitmq-server is not installed: %v", err)
	}
	if os.Geteuid() != 0 {
		return fail("starting a private RabbitMQ node needs root here (Debian's scripts)")
	}
	n, err := startPrivateNode(t, bin)
	if err != nil {
		return fail("cannot start a private RabbitMQ node: %v", err)
	}
	return n
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func startPrivateNode(t *testing.T, bin string) (*privateNode, error) {
	dir, err := os.MkdirTemp("", "oslogo-rabbit-")
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dist, err := freePort()
	if err != nil {
		return nil, err
	}
	n := &privateNode{name: fmt.Sprintf("oslogo-fault-%d@localhost", rand.IntN(1<<30)), dir: dir, port: port, bin: bin}
	files := map[string]string{
		// A small max_message_size, so that the broker's refusal of a
		// big message is cheap to test.
		"rabbitmq.conf":     fmt.Sprintf("listeners.tcp.local = 127.0.0.1:%d\nmax_message_size = %d\n", port, privateMaxMessageSize),
		"enabled_plugins":   "[].\n",
		"rabbitmq-env.conf": "",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return nil, err
		}
	}
	n.env = append(os.Environ(),
		"HOME="+dir, // the Erlang cookie of the node and of rabbitmqctl
		"RABBITMQ_NODENAME="+n.name,
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
	start := time.Now()
	cmd := exec.Command(filepath.Join(bin, "rabbitmq-server"), "-detached")
	cmd.Env, cmd.Dir = n.env, dir
	if out, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("rabbitmq-server -detached: %v: %s", err, out)
	}
	t.Cleanup(n.stop)
	if err := n.waitPort(120 * time.Second); err != nil {
		return nil, err
	}
	t.Logf("private RabbitMQ node %s on 127.0.0.1:%d accepted connections %v after start", n.name, port, time.Since(start).Round(time.Millisecond))
	return n, nil
}

// waitPort waits until the node accepts AMQP connections.
func (n *privateNode) waitPort(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(n.port), time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("node %s did not listen on %d within %v (logs in %s)", n.name, n.port, limit, n.dir)
}

// ctl runs rabbitmqctl against the node.
func (n *privateNode) ctl(t *testing.T, args ...string) {
	t.Helper()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(n.bin, "rabbitmqctl"), append([]string{"-n", n.name}, args...)...)
	cmd.Env, cmd.Dir = n.env, n.dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("rabbitmqctl %s: %v: %s", strings.Join(args, " "), err, out)
	}
	t.Logf("rabbitmqctl %s took %v", strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
}

// stop stops the node, killing it if rabbitmqctl cannot.
func (n *privateNode) stop() {
	defer os.RemoveAll(n.dir)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(n.bin, "rabbitmqctl"), "-n", n.name, "stop")
	cmd.Env, cmd.Dir = n.env, n.dir
	if err := cmd.Run(); err == nil {
		return
	}
	if pid, err := os.ReadFile(filepath.Join(n.dir, "pid")); err == nil {
		if p, err := strconv.Atoi(string(bytes.TrimSpace(pid))); err == nil && p > 0 {
			syscall.Kill(p, syscall.SIGKILL)
		}
	}
}
