// Command trove-conductor records what guest agents report (heartbeats)
// in the database, since guests have no database access themselves.
//
//	trove-conductor --transport-url rabbit://guest:guest@127.0.0.1:5672/ --db /var/lib/trove/trove.db
package main

import (
	"context"
	"io"
	"os"

	"github.com/oslo-go/messaging/examples/trove/conductor"
	"github.com/oslo-go/messaging/examples/trove/internal/cli"
)

const name = "trove-conductor"

func main() { os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)) }

// run runs the command until SIGTERM, SIGINT or the end of ctx, and
// returns its exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var opts cli.Options
	fs := cli.NewFlagSet(name, "Runs trove-conductor: records the guest agents' heartbeats in the database.")
	opts.AddFlags(fs)
	opts.AddDBFlag(fs)
	if err := cli.Parse(fs, args, stdout); err != nil {
		return cli.Exit(stderr, name, err)
	}
	if err := opts.LoadConfig(fs); err != nil {
		return cli.Exit(stderr, name, err)
	}
	if err := opts.Require(); err != nil {
		return cli.Exit(stderr, name, err)
	}
	return cli.Exit(stderr, name, serve(ctx, &opts, stderr))
}

// serve serves the conductor's topic, with its periodic check for guests
// that stopped reporting, until SIGTERM, SIGINT or the end of ctx.
func serve(ctx context.Context, opts *cli.Options, stderr io.Writer) error {
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
	manager := conductor.NewManager(st, log, conductor.HeartbeatExpiry(opts.HeartbeatExpiry()))
	svc, err := opts.Service(name, opts.ConductorQueue, manager, log, tr)
	if err != nil {
		return err
	}
	return opts.Launch(ctx, log, svc)
}
