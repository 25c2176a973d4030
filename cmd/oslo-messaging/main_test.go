package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/oslo-go/messaging/drivers/rabbit/rabbittest"
)

// TestMain checks for leaked goroutines and removes the omcli_* queues
// the broker tests declared.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		if _, err := rabbittest.Sweep(topicPf); err != nil {
			fmt.Fprintf(os.Stderr, "oslo-messaging tests: removing queues: %v\n", err)
		}
		os.Exit(code)
	}))
}

func writeConf(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "nova.conf")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCommandLine(t *testing.T) {
	good := writeConf(t, "[DEFAULT]\ntransport_url = rabbit://nova:hunter2@h/\n")
	bad := writeConf(t, "[oslo_messaging_rabbit]\nheartbeat_rate = x\n[DEFAULT]\ntransport_url = rabbit://u:hunter2@h/$nope\n")
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string // a part of it
		stderr string // its start
	}{
		{"no command", nil, 2, "", "usage: oslo-messaging COMMAND"},
		{"help", []string{"--help"}, 0, "config ", ""},
		{"unknown command", []string{"bogus"}, 2, "", `oslo-messaging: unknown command "bogus"`},
		{"config alone", []string{"config"}, 2, "", "usage: oslo-messaging config show|sample"},
		{"config help", []string{"config", "-h"}, 0, "show    print", ""},
		{"unknown subcommand", []string{"config", "shw"}, 2, "", `oslo-messaging config: unknown subcommand "shw"`},
		{"show help", []string{"config", "show", "-h"}, 0, "-show-secrets", ""},
		{"show bad flag", []string{"config", "show", "--bogus"}, 2, "", "oslo-messaging config show: flag provided but not defined: -bogus"},
		{"show argument", []string{"config", "show", "x"}, 2, "", `oslo-messaging config show: unexpected argument "x"`},
		{"show unknown group", []string{"config", "show", "--group", "nope"}, 2, "", `oslo-messaging config show: no group "nope"`},
		{"show masks secrets", []string{"config", "show", "--config-file", good, "--group", "DEFAULT"}, 0, `"transport_url": "****"`, ""},
		{"show secrets", []string{"config", "show", "--config-file=" + good, "--show-secrets", "--group=DEFAULT"}, 0, `"transport_url": "rabbit://nova:hunter2@h/"`, ""},
		{"show a bad file", []string{"config", "show", "--config-file", bad}, 1, "", "oslo-messaging config show: config: " + bad +
			":4: [DEFAULT] transport_url = ****: $nope: no such option; config: " + bad + ":2: [oslo_messaging_rabbit] heartbeat_rate = \"x\": not an integer"},
		{"show a missing file", []string{"config", "show", "--config-file", "/nonexistent.conf"}, 1, "", "oslo-messaging config show: config: config files not found: /nonexistent.conf"},
		{"sample", []string{"config", "sample", "--group", "oslo_messaging_nats"}, 0, "#connect_timeout = 5s", ""},
		{"sample unknown group", []string{"config", "sample", "--group", "nope"}, 2, "", `oslo-messaging config sample: no group "nope"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(tt.args, &stdout, &stderr)
			if code != tt.code || !strings.Contains(stdout.String(), tt.stdout) || !strings.HasPrefix(stderr.String(), tt.stderr) {
				t.Errorf("run(%q) = %d\nstdout:\n%s\nstderr:\n%s\nwant %d, stdout with %q, stderr starting %q",
					tt.args, code, &stdout, &stderr, tt.code, tt.stdout, tt.stderr)
			}
			if strings.Contains(stdout.String()+stderr.String(), "hunter2") && !strings.Contains(tt.name, "show secrets") {
				t.Errorf("a password is shown:\n%s%s", &stdout, &stderr)
			}
			if tt.code == 1 && strings.Count(stderr.String(), "\n") != 1 {
				t.Errorf("stderr is not one line: %q", &stderr)
			}
		})
	}
}

// TestShowEveryGroup checks the JSON of every group: valid, in
// registration order, durations as strings.
func TestShowEveryGroup(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"config", "show"}, &stdout, &stderr); code != 0 {
		t.Fatalf("%d %s", code, &stderr)
	}
	var got map[string]map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 7 || got["oslo_messaging_amqp"]["addressing_mode"] != "dynamic" || got["oslo_messaging_nats"]["connect_timeout"] != "5s" || got["oslo_messaging_zmq"]["matchmaker"] != nil ||
		got["oslo_messaging_rabbit"]["kombu_reconnect_delay"] != 1.0 || got["oslo_messaging_notifications"]["transport_url"] != "****" {
		t.Errorf("%s", &stdout)
	}
	if i, j := strings.Index(stdout.String(), `"rpc_conn_pool_size"`), strings.Index(stdout.String(), `"rpc_ping_enabled"`); i < 0 || j < i {
		t.Error("options are not in registration order")
	}
	if !strings.Contains(stdout.String(), `"kombu_reconnect_delay": 1.0,`) {
		t.Error("floats are not written as Python writes them")
	}
}
