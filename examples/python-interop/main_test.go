package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/oslo-go/messaging/drivers/rabbit/rabbittest"
	"github.com/oslo-go/messaging/internal/ids"
	"github.com/oslo-go/messaging/transport"
)

const python = "/usr/bin/python3"

// TestWithPythonServer runs server.py and the Go client against it: the
// example must work as its documentation says.
func TestWithPythonServer(t *testing.T) {
	rabbittest.Need(t)
	if out, err := exec.Command(python, "-c", "import oslo_messaging").CombinedOutput(); err != nil {
		msg := "Python oslo.messaging is not importable by " + python + ": " + string(out)
		if os.Getenv("CI") != "" {
			t.Fatal(msg + "; CI is set")
		}
		t.Skipf("\n\n*** SKIPPING %s: %s ***\n", t.Name(), msg)
	}
	topic := "pyinterop_" + ids.Hex()[:10]
	t.Cleanup(func() { rabbittest.DeleteQueues(t, topic) })
	cmd := exec.Command(python, "-B", "server.py", "--url", rabbittest.URL(), "--topic", topic)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		cmd.Wait()
		if t.Failed() {
			t.Logf("server.py stderr:\n%s", &stderr)
		}
	}()
	lines := make(chan string, 16)
	go func() {
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			lines <- s.Text()
		}
		close(lines)
	}()
	select {
	case l := <-lines:
		if l != "ready" {
			t.Fatalf("server.py printed %q", l)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("server.py did not start")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// oslo's server consumes from its poll thread a moment after start():
	// the first call may find no consumer yet, so it is retried a little.
	var out bytes.Buffer
	var err error
	for range 5 {
		out.Reset()
		if err = run(ctx, rabbittest.URL(), "nova", topic, &out); !errors.Is(err, transport.ErrTimeout) {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"get_instance i-1: {ID:i-1 Name:web-1 State:ACTIVE RequestedBy:demo}",
		"get_instance i-404: instance i-404 not found (Python: compute_errors.InstanceNotFound: Instance i-404 could not be found.)",
		"get_instance map[]: builtins.TypeError: ComputeAPI.get_instance() missing 1 required positional argument: 'instance_id'",
		"get_instance map[colour:red instance_id:i-1]: builtins.TypeError: ComputeAPI.get_instance() got an unexpected keyword argument 'colour'",
		"resize i-1: cast",
		"oslo_rpc_server_ping: pong",
	}
	if got := strings.Split(strings.TrimSpace(out.String()), "\n"); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("output:\n%s\nwant:\n%s", &out, strings.Join(want, "\n"))
	}
	select {
	case l := <-lines:
		if l != "resize i-1 to m1.large for demo" {
			t.Errorf("server.py printed %q", l)
		}
	case <-time.After(20 * time.Second):
		t.Error("the cast did not reach server.py")
	}
	// Without the service's control exchange the calls go to "openstack",
	// where nobody listens: a timeout.
	tctx, tcancel := context.WithTimeout(ctx, 2*time.Second)
	defer tcancel()
	if err := run(tctx, rabbittest.URL(), "openstack", topic, &out); !errors.Is(err, transport.ErrTimeout) {
		t.Errorf("on the openstack exchange: %v, want a timeout", err)
	}
}
