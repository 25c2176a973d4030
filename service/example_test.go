package service_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/oslo-go/messaging/client"
	"github.com/oslo-go/messaging/service"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
)

// Conductor is a manager: its exported methods are RPC methods, its
// PeriodicTasks run while the service runs.
type Conductor struct{ checks int }

type HeartbeatArgs struct {
	InstanceID string `json:"instance_id"`
}

// Heartbeat is called as heartbeat.
func (c *Conductor) Heartbeat(_ context.Context, a HeartbeatArgs) (string, error) {
	return "seen " + a.InstanceID, nil
}

func (c *Conductor) PeriodicTasks() []service.Task {
	return []service.Task{{Name: "check_stale_heartbeats", Spacing: time.Minute, Run: func(context.Context) error {
		c.checks++
		return nil
	}}}
}

func Example() {
	ctx, stop := context.WithCancel(context.Background())
	tr, err := transport.Open(ctx, "fake:///service-example")
	if err != nil {
		panic(err)
	}
	defer tr.Close()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc, err := service.New(tr, "trove-conductor", &Conductor{}, service.Host("host-1"), service.WithLogger(quiet))
	if err != nil {
		panic(err)
	}
	fmt.Println("serving", svc.Target())

	// A Launcher runs until SIGTERM, SIGINT or the end of its ctx, then
	// drains. Here a call ends it.
	go func() {
		c, _ := client.New(tr, target.Target{Topic: "conductor"})
		for {
			got, err := client.Call[string](ctx, c, "heartbeat", HeartbeatArgs{InstanceID: "i-1"})
			if err == nil {
				fmt.Println(got)
				stop()
				return
			}
			time.Sleep(10 * time.Millisecond) // until the service has started
		}
	}()
	err = service.NewLauncher([]service.Runnable{svc}, service.WithLauncherLogger(quiet)).Run(ctx)
	fmt.Println("exit:", err)
	// Output:
	// serving <Target topic=conductor, server=host-1>
	// seen i-1
	// exit: <nil>
}
