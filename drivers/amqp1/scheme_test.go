package amqp1_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	_ "github.com/oslo-go/messaging/drivers/rabbit" // registers rabbit:// and kombu://, not amqp://
	"github.com/oslo-go/messaging/transport"
)

// TestScheme: amqp:// is this driver's, even beside the RabbitMQ driver
// (which would panic at init if it still registered it), as in oslo.
func TestScheme(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tr, err := transport.Open(ctx, "amqp://127.0.0.1:1/?addressing_mode=legacy")
	if err != nil {
		t.Fatalf("Open(amqp://) = %v; Open must not wait for the broker", err)
	}
	defer tr.Close()
	pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
	defer pcancel()
	if err := tr.Ping(pctx); err == nil || !strings.Contains(err.Error(), "amqp1: connecting to 127.0.0.1:1") ||
		!errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Ping(amqp://127.0.0.1:1) = %v, want the AMQP 1.0 driver's last connection error and the deadline", err)
	}
	_, err = transport.Open(ctx, "amqp://127.0.0.1:1/?rabbit_ha_queues=true")
	if err == nil || !strings.Contains(err.Error(), `amqp1: unknown URL query parameter(s) rabbit_ha_queues`) {
		t.Fatalf("a rabbit option on amqp://: %v", err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatal(err)
	}
}
