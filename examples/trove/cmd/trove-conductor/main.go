// Command trove-conductor records what guest agents report (heartbeats)
// in the database, since guests have no database access themselves.
//
//	trove-conductor --transport-url rabbit://guest:guest@127.0.0.1:5672/ --db /var/lib/trove/trove.db
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/oslo-go/messaging/examples/trove/conductor"
	"github.com/oslo-go/messaging/examples/trove/internal/cli"
	"github.com/oslo-go/messaging/server"
	"github.com/oslo-go/messaging/target"
)

const name = "trove-conductor"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run runs the command until ctx ends and returns its exit status.
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

// serve serves the conductor's topic until ctx ends.
func serve(ctx context.Context, opts *cli.Options, stderr io.Writer) error {
	log := opts.NewLogger(stderr, name)
	tr, err := opts.OpenTransport(ctx, log)
	if err != nil {
		return err
	}
	defer tr.Close()
	st, err := opts.OpenStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()

	srv, err := server.New(tr, target.Target{Topic: opts.ConductorQueue, Server: cli.Host()},
		[]any{conductor.NewManager(st, log)}, append([]server.Option{server.WithLogger(log)}, opts.ServerOptions()...)...)
	if err != nil {
		return err
	}
	if err := srv.Start(ctx); err != nil {
		return err
	}
	log.Info("serving", "topic", opts.ConductorQueue)
	<-ctx.Done()

	ctx, cancel := context.WithTimeout(context.Background(), cli.ShutdownTimeout)
	defer cancel()
	return srv.Shutdown(ctx)
}
