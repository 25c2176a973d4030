// Command trove-taskmanager builds and deletes instances. For a new
// instance it starts a trove-guestagent process (found next to its own
// executable unless --guestagent-binary says otherwise), waits until the
// agent answers and casts prepare to it. The guest agents stop with the
// taskmanager.
//
//	trove-taskmanager --transport-url rabbit://guest:guest@127.0.0.1:5672/ --db /var/lib/trove/trove.db
package main

import (
	"context"
	"errors"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/oslo-go/messaging/examples/trove/internal/cli"
	"github.com/oslo-go/messaging/examples/trove/provision"
	"github.com/oslo-go/messaging/examples/trove/taskmanager"
	"github.com/oslo-go/messaging/server"
	"github.com/oslo-go/messaging/target"
)

const name = "trove-taskmanager"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run runs the command until ctx ends and returns its exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var (
		opts        cli.Options
		guest       cli.GuestOptions
		guestBinary string
	)
	fs := cli.NewFlagSet(name, "Runs trove-taskmanager: builds instances, with a trove-guestagent process each, and deletes them.")
	opts.AddFlags(fs)
	opts.AddDBFlag(fs)
	guest.AddFlags(fs)
	fs.StringVar(&guestBinary, "guestagent-binary", "", "`path` of trove-guestagent (default: next to this program)")
	if err := cli.Parse(fs, args, stdout); err != nil {
		return cli.Exit(stderr, name, err)
	}
	if err := opts.LoadConfig(fs); err != nil {
		return cli.Exit(stderr, name, err)
	}
	if err := opts.Require(); err != nil {
		return cli.Exit(stderr, name, err)
	}
	if guestBinary == "" {
		exe, err := os.Executable()
		if err != nil {
			return cli.Exit(stderr, name, err)
		}
		guestBinary = filepath.Join(filepath.Dir(exe), "trove-guestagent")
	}
	if _, err := os.Stat(guestBinary); err != nil {
		return cli.Exit(stderr, name, cli.Usagef("no trove-guestagent at %s: build it or give --guestagent-binary", guestBinary))
	}
	return cli.Exit(stderr, name, serve(ctx, &opts, &guest, guestBinary, stderr))
}

// serve serves the taskmanager's topic until ctx ends, then stops the
// guest agents it started.
func serve(ctx context.Context, opts *cli.Options, guest *cli.GuestOptions, guestBinary string, stderr io.Writer) error {
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

	guests := provision.NewProcess(provision.ProcessConfig{
		Binary: guestBinary,
		// The guests read the same trove.conf; the flags, which win over
		// it, say what this command settled on.
		Args: append(append(opts.Files.Args(),
			"--log-level="+opts.LogLevel.String(),
			"--conductor-queue="+opts.ConductorQueue,
		), guest.Args()...),
		Env:    []string{"TRANSPORT_URL=" + opts.TransportURL},
		Output: stderr,
		Logger: log,
	})
	host := cli.Host()
	notifier, err := taskmanager.NewNotifier(tr, opts.NotificationTopic, host, log)
	if err != nil {
		return err
	}
	manager := taskmanager.NewManager(taskmanager.Config{
		Transport:   tr,
		Store:       st,
		Provisioner: guests,
		Notifier:    notifier,
		GuestAPI:    opts.GuestAPI(0),
		Logger:      log,
	})
	srv, err := server.New(tr, target.Target{Topic: opts.TaskmanagerQueue, Server: host},
		[]any{manager}, append([]server.Option{server.WithLogger(log)}, opts.ServerOptions()...)...)
	if err != nil {
		return err
	}
	if err := srv.Start(ctx); err != nil {
		return err
	}
	log.Info("serving", "topic", opts.TaskmanagerQueue, "guestagent", guestBinary)
	<-ctx.Done()

	ctx, cancel := context.WithTimeout(context.Background(), cli.ShutdownTimeout)
	defer cancel()
	return errors.Join(srv.Shutdown(ctx), guests.Close(ctx))
}
