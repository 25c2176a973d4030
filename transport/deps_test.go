package transport_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencyWeight checks that a program using only the core and the
// RabbitMQ driver links none of the heavy modules other drivers and the
// examples need.
func TestDependencyWeight(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command")
	}
	out, err := exec.Command("go", "list", "-deps", "-f", "{{with .Module}}{{.Path}}{{end}}",
		"github.com/oslo-go/messaging/transport", "github.com/oslo-go/messaging/drivers/rabbit").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, heavy := range []string{"github.com/nats-io/nats-server/v2", "modernc.org/sqlite", "github.com/google/uuid", "github.com/go-zeromq/zmq4"} {
		for _, m := range strings.Fields(string(out)) {
			if m == heavy {
				t.Errorf("transport + drivers/rabbit link %s", heavy)
			}
		}
	}
}
