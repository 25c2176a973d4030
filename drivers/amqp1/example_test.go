package amqp1_test

import (
	"context"
	"log"
	"time"

	"github.com/oslo-go/messaging/client"
	"github.com/oslo-go/messaging/drivers/amqp1"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
)

// A client of a qpid-dispatch-router mesh, with oslo's option names in
// the URL or as Go options. (No output: it needs a message bus.)
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tr, err := transport.Open(ctx, "amqp://router1:5672,router2:5672/?addressing_mode=routable",
		amqp1.LinkRetryDelay(2*time.Second), amqp1.PreSettled("rpc-cast", "rpc-reply"))
	if err != nil {
		log.Fatal(err)
	}
	defer tr.Close()
	c, err := client.New(tr, target.Target{Topic: "compute", Version: "1.0"})
	if err != nil {
		log.Fatal(err)
	}
	var stats map[string]any
	if err := c.Call(ctx, "get_stats", map[string]any{"host": "h1"}, &stats); err != nil {
		log.Fatal(err)
	}
}
