package amqp1_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oslo-go/messaging/dispatcher"
	"github.com/oslo-go/messaging/drivers/amqp1/internal/intermediary"
	"github.com/oslo-go/messaging/drivers/drivertest"
	"github.com/oslo-go/messaging/internal/ids"
	"github.com/oslo-go/messaging/serializer"
	"github.com/oslo-go/messaging/server"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
)

func uniqueTopic(prefix string) string { return "a1_" + prefix + "_" + ids.Hex()[:10] }

func timeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// openTransport opens a transport, closed when t ends.
func openTransport(t testing.TB, url string) *transport.Transport {
	t.Helper()
	tr, err := transport.Open(timeout(t, 30*time.Second), url, transport.WithLogger(drivertest.TestLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

// service is the Go side of the interop service (testdata/oslo_peer.py
// has the Python side): namespace "interop", version 1.2.
type service struct {
	name  string
	casts chan string
}

func newService(name string) *service { return &service{name: name, casts: make(chan string, 64)} }

func (s *service) Echo(_ context.Context, args map[string]any) (map[string]any, error) {
	return args, nil
}

func (s *service) EchoContext(ctx context.Context) (map[string]any, error) {
	return serializer.RequestContextFrom(ctx), nil
}

func (s *service) Whoami(context.Context) (string, error) { return s.name, nil }

type messageArgs struct {
	Message string `json:"message"`
}

func (s *service) FailValue(_ context.Context, a messageArgs) error { return errors.New(a.Message) }

type sleepArgs struct {
	Seconds float64 `json:"seconds"`
}

func (s *service) Sleep(ctx context.Context, a sleepArgs) (string, error) {
	t := time.NewTimer(time.Duration(a.Seconds * float64(time.Second)))
	defer t.Stop()
	select {
	case <-t.C:
		return "slept", nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

type textArgs struct {
	Text string `json:"text"`
}

func (s *service) Record(_ context.Context, a textArgs) error {
	s.casts <- a.Text
	return nil
}

// startServer serves svc on tg until t ends.
func startServer(t testing.TB, tr *transport.Transport, tg target.Target, svc *service) {
	t.Helper()
	srv, err := server.New(tr, tg, []any{dispatcher.Endpoint(svc, dispatcher.Namespace("interop"), dispatcher.Version("1.2"))})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(timeout(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		srv.Close()
	})
}

func awaitCast(t testing.TB, ctx context.Context, s *service, want string) {
	t.Helper()
	select {
	case got := <-s.casts:
		if got != want {
			t.Fatalf("%s got cast %q, want %q", s.name, got, want)
		}
	case <-ctx.Done():
		t.Fatalf("%s got no cast %q", s.name, want)
	}
}

var (
	pythonOnce sync.Once
	pythonErr  error
)

// needPython skips t, loudly, when Python oslo.messaging with the AMQP 1.0
// driver's libraries (python3-qpid-proton, python3-pyngus) is missing, or
// fails t when CI is set.
func needPython(t testing.TB) {
	t.Helper()
	intermediary.Need(t)
	pythonOnce.Do(func() {
		out, err := exec.Command(intermediary.Python, "-c", "import oslo_messaging, proton, pyngus").CombinedOutput()
		if err != nil {
			pythonErr = fmt.Errorf("%v: %s", err, strings.TrimSpace(string(out)))
		}
	})
	if pythonErr == nil {
		return
	}
	msg := fmt.Sprintf("Python oslo.messaging with pyngus is not importable by %s (apt-get install python3-oslo.messaging python3-pyngus): %v", intermediary.Python, pythonErr)
	if os.Getenv("CI") != "" {
		t.Fatal(msg + "; CI is set")
	}
	t.Skipf("\n\n*** SKIPPING %s: %s ***\n", t.Name(), msg)
}

// line is one JSON line a Python peer printed.
type line map[string]any

func (l line) str(key string) string { s, _ := l[key].(string); return s }

// peer is a running testdata/oslo_peer.py.
type peer struct {
	name  string
	stdin io.WriteCloser

	mu    sync.Mutex
	lines []line
	wake  chan struct{}
	done  chan struct{}
	next  int // command ids
}

// startPeer starts oslo_peer.py mode with args; it stops when t ends.
func startPeer(t testing.TB, name, mode string, args ...string) *peer {
	t.Helper()
	cmd := exec.Command(intermediary.Python, append([]string{"testdata/oslo_peer.py", mode}, args...)...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &peer{name: name, stdin: stdin, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			var l line
			if json.Unmarshal(sc.Bytes(), &l) != nil {
				continue
			}
			p.mu.Lock()
			p.lines = append(p.lines, l)
			p.mu.Unlock()
			select {
			case p.wake <- struct{}{}:
			default:
			}
		}
		cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		stdin.Close()
		tm := time.NewTimer(10 * time.Second)
		defer tm.Stop()
		select {
		case <-p.done:
		case <-tm.C:
			cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("%s stderr:\n%s", name, stderr.String())
		}
	})
	return p
}

// await returns the first line that matches, failing t when ctx ends.
func (p *peer) await(t testing.TB, ctx context.Context, what string, match func(line) bool) line {
	t.Helper()
	for {
		p.mu.Lock()
		for _, l := range p.lines {
			if match(l) {
				p.mu.Unlock()
				return l
			}
		}
		p.mu.Unlock()
		select {
		case <-p.wake:
		case <-p.done:
			t.Fatalf("%s exited before %s", p.name, what)
		case <-ctx.Done():
			t.Fatalf("%s: no %s: %v", p.name, what, ctx.Err())
		}
	}
}

func (p *peer) awaitEvent(t testing.TB, ctx context.Context, event string, match func(line) bool) line {
	t.Helper()
	return p.await(t, ctx, "event "+event, func(l line) bool {
		return l.str("event") == event && (match == nil || match(l))
	})
}

// run sends a command to a client peer and returns its answer.
func (p *peer) run(t testing.TB, ctx context.Context, cmd map[string]any) line {
	t.Helper()
	p.mu.Lock()
	p.next++
	id := float64(p.next)
	p.mu.Unlock()
	cmd["id"] = id
	b, _ := json.Marshal(cmd)
	if _, err := p.stdin.Write(append(b, '\n')); err != nil {
		t.Fatal(err)
	}
	return p.await(t, ctx, fmt.Sprintf("answer to %s", b), func(l line) bool { return l["id"] == id })
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
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
