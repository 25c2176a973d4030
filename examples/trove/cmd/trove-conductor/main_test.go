package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oslo-go/messaging/examples/trove/internal/cli"
)

// TestErrors checks that bad command lines and unreachable brokers end
// the command with one clear line and a non-zero status.
func TestErrors(t *testing.T) {
	defer func(d time.Duration) { cli.ConnectTimeout = d }(cli.ConnectTimeout)
	cli.ConnectTimeout = 2 * time.Second
	t.Setenv("TRANSPORT_URL", "")
	db := "--db=" + filepath.Join(t.TempDir(), "trove.db")
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string // the start of the one line expected
	}{
		{"unknown flag", []string{"--bogus"}, 2, "trove-conductor: flag provided but not defined: -bogus (see trove-conductor -h)"},
		{"no transport URL", []string{db}, 2, "trove-conductor: --transport-url is required (or set TRANSPORT_URL) (see trove-conductor -h)"},
		{"no database", []string{"--transport-url=fake://"}, 2, "trove-conductor: --db is required (see trove-conductor -h)"},
		{"argument", []string{"--transport-url=fake://", db, "extra"}, 2, `trove-conductor: unexpected argument "extra"`},
		{"bad log level", []string{"--log-level=loud"}, 2, `trove-conductor: invalid value "loud" for flag -log-level`},
		{"unknown scheme", []string{"--transport-url=bogus://x", db}, 1, `trove-conductor: cannot connect to the broker: transport: unknown driver "bogus"`},
		{"bad URL", []string{"--transport-url=rabbit", db}, 1, "trove-conductor: cannot connect to the broker: transport: invalid transport URL"},
		{"unreachable NATS", []string{"--transport-url=nats://127.0.0.1:1", "--log-level=error", db}, 1, "trove-conductor: cannot connect to the broker nats://127.0.0.1:1: "},
		{"database directory missing", []string{"--transport-url=fake://", "--db=/nonexistent/trove.db"}, 1, "trove-conductor: open database /nonexistent/trove.db: "},
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

// TestUnreachableRabbit checks that an unreachable RabbitMQ ends the
// command with a clear last line, without the password.
func TestUnreachableRabbit(t *testing.T) {
	defer func(d time.Duration) { cli.ConnectTimeout = d }(cli.ConnectTimeout)
	cli.ConnectTimeout = 2 * time.Second
	var stdout, stderr bytes.Buffer
	args := []string{"--transport-url=rabbit://guest:secret@127.0.0.1:1/", "--log-level=error", "--db=" + filepath.Join(t.TempDir(), "trove.db")}
	code := run(context.Background(), args, &stdout, &stderr)
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	last := lines[len(lines)-1]
	want := "trove-conductor: cannot connect to the broker rabbit://guest:***@127.0.0.1:1/: "
	if code != 1 || !strings.HasPrefix(last, want) || strings.Contains(stderr.String(), "secret") {
		t.Errorf("run = %d, stderr:\n%s\nwant 1 and a last line starting with %q", code, &stderr, want)
	}
	// One line: the driver does not also log what Open returns.
	if len(lines) != 1 {
		t.Errorf("want one line of output, got:\n%s", &stderr)
	}
}

func TestHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"-h"}, &stdout, &stderr); code != 0 || stderr.Len() != 0 ||
		!strings.Contains(stdout.String(), "-transport-url") {
		t.Errorf("run(-h) = %d, stdout:\n%s\nstderr:\n%s", code, &stdout, &stderr)
	}
}
