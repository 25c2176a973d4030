package nats_test

import (
	"context"
	"fmt"
	"log"

	"github.com/oslo-go/messaging/client"
	"github.com/oslo-go/messaging/drivers/nats"
	"github.com/oslo-go/messaging/drivers/nats/embedded"
	"github.com/oslo-go/messaging/server"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
)

// Greeter is an RPC endpoint.
type Greeter struct{}

// HelloArgs are the arguments of Hello.
type HelloArgs struct {
	Name string `json:"name"`
}

// Hello is the RPC method "hello".
func (Greeter) Hello(_ context.Context, a HelloArgs) (string, error) {
	return "hello, " + a.Name, nil
}

// An RPC server and client over an embedded NATS server: no broker to
// install or run.
func Example() {
	ctx := context.Background()
	broker, err := embedded.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer broker.Shutdown()

	tr, err := transport.Open(ctx, broker.URL())
	if err != nil {
		log.Fatal(err)
	}
	defer tr.Close()

	srv, err := server.New(tr, target.Target{Topic: "greeter", Server: "host-1"}, []any{Greeter{}})
	if err != nil {
		log.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer srv.Shutdown(ctx)

	c, err := client.New(tr, target.Target{Topic: "greeter"})
	if err != nil {
		log.Fatal(err)
	}
	reply, err := client.Call[string](ctx, c, "hello", HelloArgs{Name: "world"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(reply)
	// Output: hello, world
}

// Options come from the URL or from Go; the URL wins.
func ExampleSubjectPrefix() {
	broker, err := embedded.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer broker.Shutdown()
	tr, err := transport.Open(context.Background(), broker.URL()+"/?name=trove-api&reconnect_wait=500ms",
		nats.SubjectPrefix("region1.oslo"), nats.NotifyMaxAge(0))
	if err != nil {
		log.Fatal(err)
	}
	defer tr.Close()
	fmt.Println("connected")
	// Output: connected
}
