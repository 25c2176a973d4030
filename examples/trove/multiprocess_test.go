package trove_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/oslo-go/messaging/drivers/rabbit/rabbittest"
	"github.com/oslo-go/messaging/examples/trove/internal/walk"
)

// raceEnabled tells whether the tests run with the race detector.
var raceEnabled = false

// TestMultiProcessRabbit builds the commands and runs trove-conductor,
// trove-taskmanager (which starts a trove-guestagent process for each
// instance) and trove-api as separate processes over the local RabbitMQ,
// sharing one SQLite file, all configured by one trove.conf, and takes the
// walk over HTTP. Then it takes the walk again with trove-all-in-one on
// the same broker, configured by flags. Queue names are
// unique to the run, so that parallel runs do not meet.
func TestMultiProcessRabbit(t *testing.T) {
	rabbittest.Need(t)
	bin := buildCommands(t)
	run := "trove-test-" + randomHex(4)
	t.Cleanup(func() { rabbittest.DeleteQueues(t, run) }) // runs last, once the processes are gone
	dir := t.TempDir()
	// shared returns the flags every service of a deployment shares, with
	// queue names starting with prefix.
	shared := func(prefix string) []string {
		return []string{
			"--transport-url=" + rabbittest.URL(),
			"--taskmanager-queue=" + prefix + "-taskmanager",
			"--conductor-queue=" + prefix + "-conductor",
			"--notification-topic=" + prefix + "-notifications",
		}
	}
	guest := []string{"--data-dir=" + filepath.Join(dir, "guests"), "--heartbeat-interval=500ms", "--install-time=200ms"}

	t.Run("four processes", func(t *testing.T) {
		// The services read trove.conf, as Trove's do; the guest agents
		// get it from the taskmanager.
		conf := filepath.Join(dir, "trove.conf")
		os.WriteFile(conf, []byte("[DEFAULT]\ntransport_url = "+rabbittest.URL()+"\n"+
			"taskmanager_queue = "+run+"-taskmanager\nconductor_queue = "+run+"-conductor\n"+
			"[database]\nconnection = sqlite:///"+filepath.Join(dir, "trove.db")+"\n"+
			"[oslo_messaging_notifications]\ntopics = "+run+"-notifications\n"+
			"[oslo_messaging_rabbit]\nheartbeat_timeout_threshold = 30\nrabbit_transient_queues_ttl = 600\n"+
			"[upgrade_levels]\ntaskmanager = latest\nguestagent = 1.0\n"), 0o600)
		flags := []string{"--config-file=" + conf}
		addr := freeAddr(t)
		metricsAddr := freeAddr(t)
		conductor := startProcess(t, bin, "trove-conductor", slices.Concat(flags, []string{"--metrics-listen=" + metricsAddr})...)
		taskmanager := startProcess(t, bin, "trove-taskmanager", slices.Concat(flags, guest)...)
		api := startProcess(t, bin, "trove-api", slices.Concat(flags, []string{"--listen=" + addr, "--agent-call-timeout=2s"})...)
		for _, p := range []*process{conductor, taskmanager, api} {
			p.waitFor(t, `msg="service: ready"`)
		}

		var out bytes.Buffer
		res, err := walk.Run(context.Background(), walk.Config{BaseURL: "http://" + addr, Tenant: "t1", Out: &out, Timeout: 20 * time.Second})
		t.Logf("walk:\n%s", &out)
		if res.InstanceID != "" {
			t.Cleanup(func() { rabbittest.DeleteQueues(t, "guestagent."+res.InstanceID) })
		}
		if err != nil {
			t.Fatal(err)
		}
		if v := res.Shown.Volume; v.Used == nil {
			t.Errorf("shown volume = %+v, want the guest's filesystem stats", v)
		}
		// The guest agent was a process of its own, gone with the instance.
		taskmanager.waitFor(t, "msg=\"guest agent started\" service=trove-taskmanager instance_id="+res.InstanceID)
		taskmanager.waitFor(t, "msg=\"guest agent exited\" service=trove-taskmanager instance_id="+res.InstanceID)
		taskmanager.waitFor(t, "service=trove-guestagent")

		// The conductor's /metrics counts the guest's heartbeats in
		// oslo.metrics' families.
		resp, err := http.Get("http://" + metricsAddr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		metrics, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !regexp.MustCompile(`oslo_messaging_rpc_server_invocation_end_total\{endpoint="Manager",exchange="trove",method="heartbeat",[^}]*process="trove-conductor"[^}]*\} [1-9]`).Match(metrics) {
			t.Errorf("the conductor's /metrics has no heartbeats:\n%s", metrics)
		}

		// SIGTERM: each drains within seconds and exits 0, saying so.
		for _, p := range []*process{api, taskmanager, conductor} {
			start := time.Now()
			if code := p.stop(); code != 0 || time.Since(start) > 10*time.Second {
				t.Errorf("%s exited with status %d after %v, want 0 within seconds", p.name, code, time.Since(start))
			}
		}
		for _, p := range []*process{taskmanager, conductor} {
			if !strings.Contains(p.out.String(), `msg="service: drained" service=`+p.name) {
				t.Errorf("%s did not log what it drained:\n%s", p.name, p.out)
			}
		}
	})

	t.Run("all in one", func(t *testing.T) {
		p := startProcess(t, bin, "trove-all-in-one", slices.Concat(shared(run+"-all-in-one"), guest)...)
		code := p.wait(30 * time.Second)
		created := regexp.MustCompile(`-> 202 Accepted: instance ([0-9a-f-]{36})`).FindStringSubmatch(p.out.String())
		if created != nil {
			t.Cleanup(func() { rabbittest.DeleteQueues(t, "guestagent."+created[1]) })
		}
		if code != 0 || !strings.Contains(p.out.String(), "done in") {
			t.Errorf("trove-all-in-one exited with status %d, want 0 after the walk:\n%s", code, p.out)
		}
	})
}

// buildCommands builds the five commands into a temporary directory and
// returns it.
func buildCommands(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	args := []string{"build", "-o", dir}
	if raceEnabled {
		args = append(args, "-race")
	}
	start := time.Now()
	out, err := exec.Command("go", append(args, "./cmd/...")...).CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Logf("built the commands in %s", time.Since(start).Round(time.Millisecond))
	return dir
}

// process is a command running in a process of its own.
type process struct {
	name   string
	cmd    *exec.Cmd
	out    *syncBuffer // its standard output and error
	exited chan struct{}
}

// startProcess starts the command name of bin with args. The process is
// stopped when the test ends; its output is logged if the test failed.
func startProcess(t *testing.T, bin, name string, args ...string) *process {
	t.Helper()
	p := &process{name: name, out: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(filepath.Join(bin, name), args...)
	p.cmd.Env = append(os.Environ(), "TRANSPORT_URL=")
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.WaitDelay = 5 * time.Second // if a child process kept the output open
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("%s output:\n%s", name, p.out)
		}
	})
	return p
}

// waitFor waits until the process has written text.
func (p *process) waitFor(t *testing.T, text string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if strings.Contains(p.out.String(), text) {
			return
		}
		select {
		case <-p.exited:
			t.Fatalf("%s exited without writing %q", p.name, text)
		default:
		}
	}
	t.Fatalf("%s did not write %q within 20s", p.name, text)
}

// stop asks the process to terminate, kills it if it has not exited after
// 15 s, and returns its exit status.
func (p *process) stop() int {
	p.cmd.Process.Signal(syscall.SIGTERM)
	return p.wait(15 * time.Second)
}

// wait waits for the process to exit, killing it after timeout, and
// returns its exit status.
func (p *process) wait(timeout time.Duration) int {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-p.exited:
	case <-timer.C:
		p.cmd.Process.Kill()
		<-p.exited
	}
	return p.cmd.ProcessState.ExitCode()
}

// freeAddr returns a loopback address with a port free at the moment.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
