package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oslo-go/messaging/examples/trove/internal/cli"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestWalk runs the command as a new user does, without flags: it walks
// through the life of an instance over an embedded NATS server and exits 0,
// leaving nothing running.
func TestWalk(t *testing.T) {
	t.Setenv("TRANSPORT_URL", "")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), nil, &stdout, &stderr)
	t.Logf("stdout:\n%s", &stdout)
	if code != 0 || stderr.Len() != 0 {
		t.Fatalf("run = %d, stderr:\n%s\nwant 0 and nothing", code, &stderr)
	}
	for _, want := range []string{
		"transport nats://127.0.0.1:",
		" 1. POST /v1.0/demo/instances -> 202 Accepted: instance ",
		" 2. waiting for ACTIVE: BUILD -> ACTIVE after ",
		"-> 200 OK: ACTIVE, mysql 5.7, volume 2 GB, filesystem ",
		" 4. GET /v1.0/demo/instances -> 200 OK: 1 instance(s)",
		"-> 202 Accepted\n",
		"-> 404 Not Found after ",
		"notification trove.instance.create.start from trove-taskmanager.",
		"notification trove.instance.create.end from trove-taskmanager.",
		"\ndone in ",
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("the output lacks %q", want)
		}
	}
}

// TestWalkFromTroveConf takes the broker, the database, the queue names,
// the notification topic and the version caps from a trove.conf, as
// Trove's services do.
func TestWalkFromTroveConf(t *testing.T) {
	t.Setenv("TRANSPORT_URL", "")
	dir := t.TempDir()
	db := filepath.Join(dir, "trove.db")
	conf := filepath.Join(dir, "trove.conf")
	os.WriteFile(conf, []byte("[DEFAULT]\ntransport_url = fake:///"+t.Name()+"\ncontrol_exchange = trove-conf\n"+
		"taskmanager_queue = tm-conf\nconductor_queue = conductor-conf\nexecutor_thread_pool_size = 4\n"+
		"[database]\nconnection = sqlite:///"+db+"\n"+
		"[oslo_messaging_notifications]\ntopics = trove_conf_notifications\n"+
		"[upgrade_levels]\ntaskmanager = 1.0\nconductor = latest\nguestagent = icehouse\n"), 0o600)
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"--config-file", conf}, &stdout, &stderr)
	t.Logf("stdout:\n%s", &stdout)
	if code != 0 || stderr.Len() != 0 {
		t.Fatalf("run = %d, stderr:\n%s\nwant 0 and nothing", code, &stderr)
	}
	for _, want := range []string{
		"transport fake:///" + t.Name() + ", database " + db,
		" 2. waiting for ACTIVE: BUILD -> ACTIVE after ",
		"notification trove.instance.create.end from trove-taskmanager.",
		"\ndone in ",
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("the output lacks %q", want)
		}
	}
	if _, err := os.Stat(db); err != nil {
		t.Errorf("the database of trove.conf: %v", err)
	}
	stdout.Reset()
	os.WriteFile(conf, []byte("[upgrade_levels]\ntaskmanager = havana\n"), 0o600)
	if code := run(context.Background(), []string{"--config-file", conf}, &stdout, &stderr); code != 1 ||
		!strings.HasPrefix(stderr.String(), "trove-all-in-one: config: "+conf+":2: [upgrade_levels] taskmanager = \"havana\"") {
		t.Errorf("a bad trove.conf: %d %s", code, &stderr)
	}
}

func TestErrors(t *testing.T) {
	defer func(d time.Duration) { cli.ConnectTimeout = d }(cli.ConnectTimeout)
	cli.ConnectTimeout = 2 * time.Second
	t.Setenv("TRANSPORT_URL", "")
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"unknown flag", []string{"--bogus"}, 2, "trove-all-in-one: flag provided but not defined: -bogus (see trove-all-in-one -h)\n"},
		{"unreachable NATS", []string{"--transport-url=nats://127.0.0.1:1", "--log-level=error"}, 1, "trove-all-in-one: cannot connect to the broker nats://127.0.0.1:1: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, &stdout, &stderr)
			if code != tt.code || !strings.HasPrefix(stderr.String(), tt.stderr) || strings.Count(stderr.String(), "\n") != 1 {
				t.Errorf("run(%q) = %d, stderr:\n%s\nwant %d and one line starting with %q", tt.args, code, &stderr, tt.code, tt.stderr)
			}
		})
	}
}
