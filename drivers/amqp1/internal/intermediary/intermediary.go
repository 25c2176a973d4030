// Package intermediary runs the AMQP 1.0 intermediary the amqp1 driver's
// tests use: intermediary.py, a small message bus on Qpid Proton's Python
// binding, in a broker flavour (like qpidd: legacy addresses, queues that
// keep messages) or a router flavour (like qpid-dispatch-router: routable
// addresses, unsettled messages to addresses without consumers released).
// See the script's documentation for what it does exactly.
package intermediary

import (
	"bufio"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

//go:embed intermediary.py
var script []byte

// Python is Debian's interpreter, for which python3-qpid-proton is
// installed.
const Python = "/usr/bin/python3"

// Flavour is the kind of message bus to imitate.
type Flavour string

// The flavours.
const (
	Broker Flavour = "broker" // product "qpid-cpp": legacy addressing
	Router Flavour = "router" // product "qpid-dispatch-router": routable addressing
)

var (
	needOnce sync.Once
	needErr  error
)

// Need skips t, loudly, when Qpid Proton's Python binding is missing, or
// fails t when the environment variable CI is set.
func Need(t testing.TB) {
	t.Helper()
	needOnce.Do(func() {
		out, err := exec.Command(Python, "-c", "import proton, proton.reactor").CombinedOutput()
		if err != nil {
			needErr = fmt.Errorf("%v: %s", err, strings.TrimSpace(string(out)))
		}
	})
	if needErr == nil {
		return
	}
	msg := fmt.Sprintf("Qpid Proton for %s is missing (apt-get install python3-qpid-proton): %v", Python, needErr)
	if os.Getenv("CI") != "" {
		t.Fatal(msg + "; CI is set")
	}
	t.Skipf("\n\n*** SKIPPING %s: %s ***\n", t.Name(), msg)
}

// Event is one line the intermediary printed: {"event": "ready" | "open" |
// "attach" | "message", ...}.
type Event map[string]any

// Str returns the string field key.
func (e Event) Str(key string) string { s, _ := e[key].(string); return s }

// Intermediary is a running intermediary.
type Intermediary struct {
	Flavour Flavour
	Port    int

	t      testing.TB
	path   string
	trace  bool
	mu     sync.Mutex
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	done   chan struct{}
	events []Event
	wake   chan struct{}
}

// Start starts an intermediary of the given flavour on a free port of
// 127.0.0.1, stopped when t ends. With trace, it reports every connection,
// link and message it receives (see Events), at some cost in speed.
func Start(t testing.TB, f Flavour, trace bool) *Intermediary {
	t.Helper()
	Need(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	path := filepath.Join(t.TempDir(), "intermediary.py")
	if err := os.WriteFile(path, script, 0o644); err != nil {
		t.Fatal(err)
	}
	i := &Intermediary{Flavour: f, Port: port, t: t, path: path, trace: trace, wake: make(chan struct{}, 1)}
	if err := i.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(i.Stop)
	return i
}

// URL returns the transport URL of the intermediary, with query added.
func (i *Intermediary) URL(query string) string {
	u := "amqp://127.0.0.1:" + strconv.Itoa(i.Port) + "/"
	if query != "" {
		u += "?" + query
	}
	return u
}

func (i *Intermediary) start() error {
	var lastErr error
	for attempt := 0; attempt < 20; attempt++ { // the port may linger after a kill
		args := []string{i.path, "--port", strconv.Itoa(i.Port), "--flavour", string(i.Flavour)}
		if i.trace {
			args = append(args, "--trace")
		}
		cmd := exec.Command(Python, args...)
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return err
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return err
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			return err
		}
		ready := make(chan struct{})
		done := make(chan struct{})
		go func() {
			sc := bufio.NewScanner(stdout)
			sc.Buffer(make([]byte, 64<<10), 16<<20)
			once := sync.Once{}
			for sc.Scan() {
				var e Event
				if json.Unmarshal(sc.Bytes(), &e) != nil {
					continue
				}
				if e.Str("event") == "ready" {
					once.Do(func() { close(ready) })
					continue
				}
				i.mu.Lock()
				i.events = append(i.events, e)
				i.mu.Unlock()
				select {
				case i.wake <- struct{}{}:
				default:
				}
			}
			cmd.Wait()
			close(done)
		}()
		t := time.NewTimer(20 * time.Second)
		select {
		case <-ready:
			t.Stop()
			i.mu.Lock()
			i.cmd, i.stdin, i.done = cmd, stdin, done
			i.mu.Unlock()
			return nil
		case <-done:
			t.Stop()
			lastErr = fmt.Errorf("intermediary exited: %s", strings.TrimSpace(stderr.String()))
			time.Sleep(250 * time.Millisecond)
		case <-t.C:
			cmd.Process.Kill()
			<-done
			return fmt.Errorf("intermediary did not start in 20 s: %s", stderr.String())
		}
	}
	return lastErr
}

// Stop stops the intermediary (closing its standard input) and waits for
// it. It is idempotent.
func (i *Intermediary) Stop() {
	i.mu.Lock()
	cmd, stdin, done := i.cmd, i.stdin, i.done
	i.cmd = nil
	i.mu.Unlock()
	if cmd == nil {
		return
	}
	stdin.Close()
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		cmd.Process.Kill()
		<-done
	}
}

// Kill ends the intermediary abruptly, as a crash would: its connections
// are cut and what it held is lost.
func (i *Intermediary) Kill() {
	i.mu.Lock()
	cmd, done := i.cmd, i.done
	i.cmd = nil
	i.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Kill()
	<-done
}

// Restart kills the intermediary and starts a fresh one on the same port.
func (i *Intermediary) Restart() {
	i.t.Helper()
	i.Kill()
	if err := i.start(); err != nil {
		i.t.Fatal(err)
	}
}

// Events returns the events printed so far that match (all when match is
// nil).
func (i *Intermediary) Events(match func(Event) bool) []Event {
	i.mu.Lock()
	defer i.mu.Unlock()
	var out []Event
	for _, e := range i.events {
		if match == nil || match(e) {
			out = append(out, e)
		}
	}
	return out
}

// Await waits until an event matches, or fails t after timeout.
func (i *Intermediary) Await(ctx context.Context, t testing.TB, what string, match func(Event) bool) Event {
	t.Helper()
	for {
		if es := i.Events(match); len(es) > 0 {
			return es[0]
		}
		select {
		case <-i.wake:
		case <-ctx.Done():
			t.Fatalf("intermediary: no %s event: %v", what, ctx.Err())
			return nil
		}
	}
}
