// Command trove-guestagent is the guest agent of one instance: it serves
// the topic guestagent.<instance id>, installs the datastore when told to
// prepare, and reports to trove-conductor with heartbeats. trove-taskmanager
// starts one per instance. Like Trove's guest agent, it has no database
// access, hence no --db.
//
//	trove-guestagent --transport-url rabbit://guest:guest@127.0.0.1:5672/ --instance-id 0b4f...
package main

import (
	"context"
	"io"
	"os"

	"github.com/oslo-go/messaging/examples/trove/guestagent"
	"github.com/oslo-go/messaging/examples/trove/internal/cli"
)

const name = "trove-guestagent"

func main() { os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)) }

// run runs the command until ctx ends and returns its exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var (
		opts       cli.Options
		guest      cli.GuestOptions
		instanceID string
	)
	fs := cli.NewFlagSet(name, "Runs the guest agent of one instance, on topic guestagent.<instance id>.")
	opts.AddFlags(fs)
	guest.AddFlags(fs)
	fs.StringVar(&instanceID, "instance-id", "", "`id` of the instance (a UUID; required)")
	if err := cli.Parse(fs, args, stdout); err != nil {
		return cli.Exit(stderr, name, err)
	}
	if err := opts.LoadConfig(fs); err != nil {
		return cli.Exit(stderr, name, err)
	}
	if err := opts.Require(); err != nil {
		return cli.Exit(stderr, name, err)
	}
	if instanceID == "" {
		return cli.Exit(stderr, name, cli.Usagef("--instance-id is required"))
	}
	return cli.Exit(stderr, name, serve(ctx, &opts, guest.Config(&opts), instanceID, stderr))
}

// serve runs the guest agent until ctx ends.
func serve(ctx context.Context, opts *cli.Options, cfg guestagent.Config, instanceID string, stderr io.Writer) error {
	log := opts.NewLogger(stderr, name)
	tr, err := opts.OpenTransport(ctx, log)
	if err != nil {
		return err
	}
	defer tr.Close()
	if err := opts.Observe.Start(ctx, name, tr, os.Stdout, log); err != nil {
		return err
	}

	cfg.InstanceID = instanceID
	cfg.Logger = log
	cfg.Conductor = opts.ConductorAPI() // with the middleware Start set up
	cfg.ServerOptions = opts.ServerOptions()
	agent, err := guestagent.New(tr, cfg)
	if err != nil {
		return err
	}
	return opts.Launch(ctx, log, agent)
}
