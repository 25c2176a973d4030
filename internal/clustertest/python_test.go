//go:build cluster

package clustertest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oslo-go/messaging/client"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
)

const python = "/usr/bin/python3"

// needPython skips loudly, or fails with CI set, without oslo.messaging.
func needPython(t *testing.T) {
	t.Helper()
	if out, err := exec.Command(python, "-c", "import oslo_messaging").CombinedOutput(); err != nil {
		Need(t, fmt.Errorf("Python oslo.messaging is not importable by %s: %v: %s", python, err, out))
	}
}

// pyProc is a Python peer talking JSON lines on stdout.
type pyProc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan map[string]any
	errb  strings.Builder
}

func startPython(t *testing.T, script string, args ...string) *pyProc {
	t.Helper()
	p := &pyProc{lines: make(chan map[string]any, 16)}
	p.cmd = exec.Command(python, append([]string{script}, args...)...)
	p.cmd.Stderr = &p.errb
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				p.lines <- m
			}
		}
		close(p.lines)
	}()
	t.Cleanup(func() {
		p.stdin.Close()
		done := make(chan struct{})
		go func() { p.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			p.cmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("%s stderr:\n%s", filepath.Base(script), p.errb.String())
		}
	})
	return p
}

// next returns the next JSON line with key, waiting up to limit.
func (p *pyProc) next(t *testing.T, key string, limit time.Duration) map[string]any {
	t.Helper()
	timer := time.NewTimer(limit)
	defer timer.Stop()
	for {
		select {
		case m, ok := <-p.lines:
			if !ok {
				t.Fatalf("the Python peer exited:\n%s", p.errb.String())
			}
			if _, has := m[key]; has {
				return m
			}
		case <-timer.C:
			t.Fatalf("no %q from the Python peer within %v:\n%s", key, limit, p.errb.String())
		}
	}
}

// pythonSideBySide runs Python peers on the cluster beside the Go load:
// a Python client calling the Go server, and a Python server that 8 Go
// callers call. stop ends them and reports what each side saw.
type pythonSideBySide struct {
	caller *pyProc
	stopGo chan struct{}
	wg     sync.WaitGroup
	mu     sync.Mutex
	goCall []callResult
}

func startPythonSideBySide(t *testing.T, url, goTopic string, opts []string, tr *transport.Transport) *pythonSideBySide {
	t.Helper()
	needPython(t)
	var ropts []string
	for _, o := range opts {
		ropts = append(ropts, "--rabbit-option", o)
	}
	interop := filepath.Join("..", "..", "interop", "python")
	pyTopic := goTopic + "_py"
	srv := startPython(t, filepath.Join(interop, "rpc_server.py"), append([]string{"--url", url, "--topic", pyTopic, "--server", "py-1"}, ropts...)...)
	srv.next(t, "event", time.Minute)
	s := &pythonSideBySide{stopGo: make(chan struct{})}
	s.caller = startPython(t, filepath.Join("testdata", "py_caller.py"), append([]string{"--url", url, "--topic", goTopic}, ropts...)...)
	s.caller.next(t, "event", time.Minute)
	c, err := client.New(tr, target.Target{Topic: pyTopic, Namespace: "interop", Version: "1.2"}, client.Timeout(3*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // oslo's server consumes a moment after ready
	for range 8 {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			for {
				select {
				case <-s.stopGo:
					return
				default:
				}
				start := time.Now()
				err := c.Call(context.Background(), "echo", map[string]any{"n": 1}, nil)
				s.mu.Lock()
				s.goCall = append(s.goCall, callResult{at: start, dur: time.Since(start), err: err})
				s.mu.Unlock()
				if err != nil {
					time.Sleep(50 * time.Millisecond)
				}
			}
		}()
	}
	return s
}

// finish returns the Python caller's summary and the Go callers' of the
// Python server.
func (s *pythonSideBySide) finish(t *testing.T) (py map[string]any, goToPy report) {
	t.Helper()
	close(s.stopGo)
	s.wg.Wait()
	s.caller.stdin.Close()
	py = s.caller.next(t, "calls", time.Minute)
	var lastOK time.Time
	goToPy.calls, goToPy.callErrors, goToPy.maxOutage, lastOK = summarize(s.goCall)
	goToPy.lastOKBeforeEnd = time.Since(lastOK)
	return py, goToPy
}
