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
)

// TestErrors checks that bad command lines and unreachable brokers end
// the command with one clear line and a non-zero status.
func TestErrors(t *testing.T) {
	defer func(d time.Duration) { cli.ConnectTimeout = d }(cli.ConnectTimeout)
	cli.ConnectTimeout = 2 * time.Second
	t.Setenv("TRANSPORT_URL", "")
	dir := t.TempDir()
	db := "--db=" + filepath.Join(dir, "trove.db")
	guest := filepath.Join(dir, "trove-guestagent") // a stand-in: the command only checks it exists
	if err := os.WriteFile(guest, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string // the start of the one line expected
	}{
		{"unknown flag", []string{"--bogus"}, 2, "trove-taskmanager: flag provided but not defined: -bogus (see trove-taskmanager -h)"},
		{"no transport URL", []string{db}, 2, "trove-taskmanager: --transport-url is required (or set TRANSPORT_URL) (see trove-taskmanager -h)"},
		{"no guest agent program", []string{"--transport-url=fake://", db, "--guestagent-binary=/nonexistent/trove-guestagent"}, 2,
			"trove-taskmanager: no trove-guestagent at /nonexistent/trove-guestagent: build it or give --guestagent-binary"},
		{"unreachable NATS", []string{"--transport-url=nats://127.0.0.1:1", "--log-level=error", db, "--guestagent-binary=" + guest}, 1,
			"trove-taskmanager: cannot connect to the broker nats://127.0.0.1:1: "},
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
