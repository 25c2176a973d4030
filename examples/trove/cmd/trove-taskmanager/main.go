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
	"io"
	"os"
	"path/filepath"

	"github.com/oslo-go/messaging/examples/trove/internal/cli"
	"github.com/oslo-go/messaging/examples/trove/provision"
	"github.com/oslo-go/messaging/examples/trove/taskmanager"
	"github.com/oslo-go/messaging/service"
)

const name = "trove-taskmanager"

func main() { os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)) }

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
	if err := opts.Observe.Start(ctx, name, tr, os.Stdout, log); err != nil {
		return err
	}
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
	// The guest agents it started stop with it.
	svc, err := opts.Service(name, opts.TaskmanagerQueue, manager, log, tr, service.OnStop(guests.Close))
	if err != nil {
		return err
	}
	log.Info("guest agents", "binary", guestBinary)
	return opts.Launch(ctx, log, svc)
}
