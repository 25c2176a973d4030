package interop

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/oslo-go/messaging/drivers/drivertest"
	_ "github.com/oslo-go/messaging/drivers/rabbit"
	"github.com/oslo-go/messaging/drivers/rabbit/rabbittest"
	"github.com/oslo-go/messaging/internal/ids"
	"github.com/oslo-go/messaging/serializer"
	"github.com/oslo-go/messaging/transport"
)

// The broker every test uses, shared with other packages' tests: every
// test has topics of its own.
const (
	brokerURL = "rabbit://guest:guest@127.0.0.1:5672/"
	// amqp091URI is amqp091-go's dial URI of the broker, not a transport
	// URL: a transport URL amqp:// selects the AMQP 1.0 driver.
	amqp091URI = "amqp://guest:guest@127.0.0.1:5672/"
	// python is Debian's interpreter, for which python3-oslo.messaging is
	// installed (a python3 earlier on PATH may lack it).
	python = "/usr/bin/python3"
)

var (
	pythonOnce sync.Once
	pythonErr  error
)

// needBroker skips t, loudly, when RabbitMQ cannot be reached, or fails it
// when the environment variable CI is set.
func needBroker(t testing.TB) {
	t.Helper()
	rabbittest.Need(t)
}

// needPython skips t, loudly, when Python oslo.messaging is not installed
// for /usr/bin/python3, or fails it when CI is set. It checks the broker
// first.
func needPython(t testing.TB) {
	t.Helper()
	needBroker(t)
	pythonOnce.Do(func() {
		out, err := exec.Command(python, "-c", "import oslo_messaging").CombinedOutput()
		if err != nil {
			pythonErr = fmt.Errorf("%v: %s", err, bytes.TrimSpace(out))
		}
	})
	if pythonErr == nil {
		return
	}
	msg := fmt.Sprintf("Python oslo.messaging is not importable by %s (apt-get install python3-oslo.messaging): %v", python, pythonErr)
	if os.Getenv("CI") != "" {
		t.Fatal(msg + "; CI is set")
	}
	t.Skipf("\n\n*** SKIPPING %s: %s ***\n", t.Name(), msg)
}

// uniqueTopic returns a topic no other test uses.
func uniqueTopic(prefix string) string { return "interop_" + prefix + "_" + ids.Hex()[:12] }

// openTransport opens a transport on the broker, closed when t ends.
func openTransport(t testing.TB, opts ...transport.Option) *transport.Transport {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	opts = append([]transport.Option{transport.WithLogger(testLogger(t))}, opts...)
	tr, err := transport.Open(ctx, brokerURL, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

// deleteQueues deletes, when t ends, queues that outlive their consumers
// (RPC topic and server queues, notification queues), so that the shared
// broker does not fill up. Reply and fanout queues expire by themselves.
func deleteQueues(t testing.TB, names ...string) {
	t.Cleanup(func() {
		c, err := amqpDial()
		if err != nil {
			t.Logf("deleting queues %v: %v", names, err)
			return
		}
		defer c.Close()
		for _, n := range names {
			ch, err := c.Channel()
			if err != nil {
				t.Logf("deleting queue %s: %v", n, err)
				return
			}
			if _, err := ch.QueueDelete(n, false, false, false); err != nil {
				t.Logf("deleting queue %s: %v", n, err)
			}
			ch.Close()
		}
	})
}

// awaitConsumers waits until queue has at least n consumers. oslo's
// servers and listeners declare their queues in start() but consume from
// their poll thread a moment later; tests that count who got what wait for
// the consumers.
func awaitConsumers(t testing.TB, queue string, n int) {
	t.Helper()
	c, err := amqpDial()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ch, err := c.Channel()
		if err != nil {
			t.Fatal(err)
		}
		q, err := ch.QueueDeclarePassive(queue, false, false, false, false, nil)
		ch.Close()
		if err == nil && q.Consumers >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue %s has %d consumers (%v), want %d", queue, q.Consumers, err, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func amqpDial() (*amqp.Connection, error) {
	return amqp.DialConfig(amqp091URI, amqp.Config{Dial: amqp.DefaultDial(5 * time.Second)})
}

// testLogger logs the library through t.Log until t ends.
func testLogger(t testing.TB) *slog.Logger { return drivertest.TestLogger(t) }

// line is one JSON line printed by a Python script, decoded with the
// library's JSON codec: numbers are json.Number, NaN and Infinity float64.
type line map[string]any

func (l line) str(key string) string { s, _ := l[key].(string); return s }

func (l line) obj(key string) line { m, _ := l[key].(map[string]any); return m }

// peer is a running Python script that prints JSON lines and stops when its
// stdin closes.
type peer struct {
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *syncBuffer

	mu    sync.Mutex
	lines []line
	added chan struct{} // closed and replaced at each new line
	ended bool          // stdout closed
}

// startPeer starts python/<script> with args. When t ends it closes the
// script's stdin, waits for it to exit (killing it after 15 s) and, if t
// failed, logs its stderr.
func startPeer(t testing.TB, name, script string, args ...string) *peer {
	t.Helper()
	p := &peer{name: name, stderr: &syncBuffer{}, added: make(chan struct{})}
	// -B: no __pycache__ in the source tree.
	p.cmd = exec.Command(python, append([]string{"-B", filepath.Join("python", script)}, args...)...)
	p.cmd.Stderr = p.stderr
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", script, err)
	}
	go p.read(stdout)
	t.Cleanup(func() {
		p.stdin.Close()
		done := make(chan error, 1)
		go func() { done <- p.cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s (%s) exited: %v", p.name, script, err)
			}
		case <-time.After(15 * time.Second):
			p.cmd.Process.Kill()
			<-done
			t.Errorf("%s (%s) did not exit within 15 s of its stdin closing; killed", p.name, script)
		}
		if t.Failed() {
			t.Logf("%s stderr:\n%s", p.name, p.stderr.String())
		}
	})
	return p
}

func (p *peer) read(r io.Reader) {
	s := bufio.NewScanner(r)
	s.Buffer(make([]byte, 0, 64*1024), 16<<20)
	for s.Scan() {
		var l line
		if err := (serializer.JSON{}).Unmarshal(s.Bytes(), &l); err != nil {
			l = line{"unparsed": s.Text()}
		}
		p.mu.Lock()
		p.lines = append(p.lines, l)
		close(p.added)
		p.added = make(chan struct{})
		p.mu.Unlock()
	}
	p.mu.Lock()
	p.ended = true
	close(p.added)
	p.mu.Unlock()
}

// find returns the lines printed so far that match.
func (p *peer) find(match func(line) bool) []line {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []line
	for _, l := range p.lines {
		if match(l) {
			out = append(out, l)
		}
	}
	return out
}

// await waits until a printed line matches and returns it. It fails t
// after timeout, or when the script ends first.
func (p *peer) await(t testing.TB, what string, timeout time.Duration, match func(line) bool) line {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		p.mu.Lock()
		added, ended := p.added, p.ended
		p.mu.Unlock()
		if found := p.find(match); len(found) > 0 {
			return found[0]
		}
		if ended {
			t.Fatalf("%s ended before printing %s; stderr:\n%s", p.name, what, p.stderr.String())
		}
		select {
		case <-added:
		case <-deadline.C:
			t.Fatalf("%s printed no %s within %v; stderr:\n%s", p.name, what, timeout, p.stderr.String())
		}
	}
}

// awaitReady waits for the {"event": "ready"} line of each peer.
func awaitReady(t testing.TB, peers ...*peer) {
	t.Helper()
	for _, p := range peers {
		p.await(t, "its ready line", 60*time.Second, func(l line) bool { return l["event"] == "ready" })
	}
}

// events returns the {"event": kind} lines of the peers whose key equals
// value.
func events(kind, key, value string, peers ...*peer) []line {
	var out []line
	for _, p := range peers {
		out = append(out, p.find(func(l line) bool { return l["event"] == kind && l[key] == value })...)
	}
	return out
}

// awaitEvents waits until the peers together printed n {"event": kind}
// lines whose key equals value, and returns them.
func awaitEvents(t testing.TB, n int, kind, key, value string, peers ...*peer) []line {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := events(kind, key, value, peers...)
		if len(got) >= n || time.Now().After(deadline) {
			if len(got) < n {
				t.Fatalf("%d %s events with %s=%q, want %d: %v", len(got), kind, key, value, n, got)
			}
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// runScript runs python/<script> to completion and returns its JSON lines.
func runScript(t testing.TB, timeout time.Duration, script string, args ...string) []line {
	t.Helper()
	lines, stderr, err := runScriptErr(timeout, script, args...)
	if err != nil {
		t.Fatalf("%s %v: %v\nstderr:\n%s", script, args, err, stderr)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s stderr:\n%s", script, stderr)
		}
	})
	return lines
}

// runScriptErr is runScript for any goroutine: it returns the script's
// stderr and its error instead of failing a test.
func runScriptErr(timeout time.Duration, script string, args ...string) ([]line, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, append([]string{"-B", filepath.Join("python", script)}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, stderr.String(), fmt.Errorf("%w; stdout:\n%s", err, out)
	}
	var lines []line
	for _, s := range strings.Split(string(out), "\n") {
		if strings.TrimSpace(s) == "" {
			continue
		}
		var l line
		if err := (serializer.JSON{}).Unmarshal([]byte(s), &l); err != nil {
			return nil, stderr.String(), fmt.Errorf("a line that is not JSON: %q", s)
		}
		lines = append(lines, l)
	}
	return lines, stderr.String(), nil
}

// byScenario indexes rpc_client.py's output lines by scenario.
func byScenario(lines []line) map[string]line {
	m := map[string]line{}
	for _, l := range lines {
		m[l.str("scenario")] = l
	}
	return m
}

// canon returns v as the library's JSON codec decodes it after a round
// trip (json.Number numbers, map[string]any objects), for comparing what
// was sent with what a peer printed.
func canon(t testing.TB, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("canon: %v", err)
	}
	var out any
	if err := (serializer.JSON{}).Unmarshal(b, &out); err != nil {
		t.Fatalf("canon: %v", err)
	}
	return out
}

// sameJSON reports whether got and want are the same JSON value.
func sameJSON(t testing.TB, got, want any) bool {
	t.Helper()
	return reflect.DeepEqual(canon(t, got), canon(t, want))
}

func js(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%#v", v)
	}
	return string(b)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
