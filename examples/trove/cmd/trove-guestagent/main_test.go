package main

import (
	"bytes"
	"context"
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
	id := "--instance-id=0b4fd5d2-5b8a-4f51-9d1c-5c0e4e8f2a11"
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string // the start of the one line expected
	}{
		{"unknown flag", []string{"--bogus"}, 2, "trove-guestagent: flag provided but not defined: -bogus (see trove-guestagent -h)"},
		{"no --db flag", []string{"--db=x"}, 2, "trove-guestagent: flag provided but not defined: -db"},
		{"no transport URL", []string{id}, 2, "trove-guestagent: --transport-url is required (or set TRANSPORT_URL) (see trove-guestagent -h)"},
		{"no instance id", []string{"--transport-url=fake://"}, 2, "trove-guestagent: --instance-id is required (see trove-guestagent -h)"},
		{"bad instance id", []string{"--transport-url=fake://", "--instance-id=../etc"}, 1, `trove-guestagent: the instance id "../etc" is not a UUID`},
		{"unreachable NATS", []string{"--transport-url=nats://127.0.0.1:1", "--log-level=error", id}, 1, "trove-guestagent: cannot connect to the broker nats://127.0.0.1:1: "},
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
