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
		{"unknown flag", []string{"--bogus"}, 2, "trove-api: flag provided but not defined: -bogus (see trove-api -h)"},
		{"bad duration", []string{"--agent-call-timeout=soon"}, 2, `trove-api: invalid value "soon" for flag -agent-call-timeout`},
		{"no transport URL", []string{db}, 2, "trove-api: --transport-url is required (or set TRANSPORT_URL) (see trove-api -h)"},
		{"no database", []string{"--transport-url=fake://"}, 2, "trove-api: --db is required (see trove-api -h)"},
		{"unreachable NATS", []string{"--transport-url=nats://127.0.0.1:1", "--log-level=error", db}, 1, "trove-api: cannot connect to the broker nats://127.0.0.1:1: "},
		{"bad listen address", []string{"--transport-url=fake://", db, "--listen=127.0.0.1:99999"}, 1, "trove-api: listen tcp: address 99999: invalid port"},
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
