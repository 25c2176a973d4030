// Command trove-api serves Trove's HTTP API for database instances
// (/v1.0/{tenant_id}/instances) in front of trove-taskmanager and the guest
// agents.
//
//	trove-api --transport-url rabbit://guest:guest@127.0.0.1:5672/ --db /var/lib/trove/trove.db --listen 127.0.0.1:8779
package main

import (
	"context"
	"io"
	"os"
	"time"

	"github.com/oslo-go/messaging/examples/trove/api"
	"github.com/oslo-go/messaging/examples/trove/guestagent"
	"github.com/oslo-go/messaging/examples/trove/internal/cli"
	"github.com/oslo-go/messaging/examples/trove/taskmanager"
)

const name = "trove-api"

func main() { os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)) }

// run runs the command until ctx ends and returns its exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var (
		opts         cli.Options
		listen       string
		agentTimeout time.Duration
	)
	fs := cli.NewFlagSet(name, "Runs trove-api: Trove's HTTP API for database instances.")
	opts.AddFlags(fs)
	opts.AddDBFlag(fs)
	fs.StringVar(&listen, "listen", "127.0.0.1:8779", "`address` of the HTTP API")
	fs.DurationVar(&agentTimeout, "agent-call-timeout", guestagent.DefaultCallTimeout,
		"how long show waits for a guest agent's answer")
	if err := cli.Parse(fs, args, stdout); err != nil {
		return cli.Exit(stderr, name, err)
	}
	if err := opts.LoadConfig(fs); err != nil {
		return cli.Exit(stderr, name, err)
	}
	if err := opts.Require(); err != nil {
		return cli.Exit(stderr, name, err)
	}
	return cli.Exit(stderr, name, serve(ctx, &opts, listen, agentTimeout, stderr))
}

// serve serves the API until ctx ends.
func serve(ctx context.Context, opts *cli.Options, listen string, agentTimeout time.Duration, stderr io.Writer) error {
	log := opts.NewLogger(stderr, name)
	tr, err := opts.OpenTransport(ctx, log)
	if err != nil {
		return err
	}
	defer tr.Close()
	if err := opts.Observe.Start(ctx, name, tr, os.Stdout, log); err != nil {
		return err
	}
	st, err := opts.OpenStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()

	tm, err := taskmanager.NewAPI(tr, opts.TaskmanagerAPI())
	if err != nil {
		return err
	}
	handler := api.NewHandler(api.Config{
		Store:       st,
		TaskManager: tm,
		Transport:   tr,
		GuestAPI:    opts.GuestAPI(agentTimeout),
		Logger:      log,
	})
	return opts.Launch(ctx, log, &cli.HTTPService{Listen: listen, Handler: handler, Logger: log})
}
