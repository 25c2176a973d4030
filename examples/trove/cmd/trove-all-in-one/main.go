// Command trove-all-in-one runs the four Trove services in one process,
// serves the HTTP API, and walks through the life of an instance: create,
// wait until ACTIVE, show, list, delete. It needs nothing installed: by
// default it starts an embedded NATS server and uses a temporary SQLite
// database, both gone when it exits.
//
//	go run ./examples/trove/cmd/trove-all-in-one
//	go run ./examples/trove/cmd/trove-all-in-one --transport-url rabbit://guest:guest@127.0.0.1:5672/
//	go run ./examples/trove/cmd/trove-all-in-one --serve --listen 127.0.0.1:8779   # then try it with curl
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/oslo-go/messaging/drivers/nats/embedded"
	"github.com/oslo-go/messaging/examples/trove/internal/cli"
	"github.com/oslo-go/messaging/examples/trove/internal/system"
	"github.com/oslo-go/messaging/examples/trove/internal/walk"
	"github.com/oslo-go/messaging/examples/trove/store"
	"github.com/oslo-go/messaging/examples/trove/taskmanager"
	"github.com/oslo-go/messaging/notify/listener"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
)

const name = "trove-all-in-one"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// config is the command line.
type config struct {
	cli.Options
	guest        cli.GuestOptions
	listen       string
	agentTimeout time.Duration
	tenant       string
	walkTimeout  time.Duration
	serve        bool
}

// run runs the command and returns its exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg := config{Options: cli.Options{LogLevel: slog.LevelWarn}}
	fs := cli.NewFlagSet(name, "Runs the four Trove services in one process and walks through the life of an instance.")
	cfg.AddFlags(fs)
	cfg.AddDBFlag(fs)
	cfg.guest.AddFlags(fs)
	fs.Lookup("transport-url").Usage = "the broker (default $TRANSPORT_URL, else an embedded NATS server)"
	fs.Lookup("db").Usage = "`path` of the SQLite database (default: a temporary one)"
	fs.Lookup("data-dir").Usage = "`directory` of the guests' data (default: a temporary one)"
	fs.StringVar(&cfg.listen, "listen", "127.0.0.1:0", "`address` of the HTTP API (port 0: a free one)")
	fs.DurationVar(&cfg.agentTimeout, "agent-call-timeout", 2*time.Second, "how long show waits for a guest agent's answer")
	fs.StringVar(&cfg.tenant, "tenant", "demo", "tenant (project) id of the walk")
	fs.DurationVar(&cfg.walkTimeout, "walk-timeout", 30*time.Second, "how long each wait of the walk may take")
	fs.BoolVar(&cfg.serve, "serve", false, "keep serving the API after the walk, until interrupted")
	if err := cli.Parse(fs, args, stdout); err != nil {
		return cli.Exit(stderr, name, err)
	}
	if err := cfg.LoadConfig(fs); err != nil {
		return cli.Exit(stderr, name, err)
	}
	return cli.Exit(stderr, name, allInOne(ctx, &cfg, stdout, stderr))
}

// allInOne starts what the configuration does not provide (a NATS server,
// a database, a data directory), the services, takes the walk, and stops
// everything.
func allInOne(ctx context.Context, cfg *config, stdout, stderr io.Writer) error {
	began := time.Now()
	out := &syncWriter{w: stdout}
	log := cfg.NewLogger(stderr, "")

	tmp, err := os.MkdirTemp("", name+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if cfg.DB == "" {
		cfg.DB = filepath.Join(tmp, "trove.db")
	}
	if cfg.guest.DataDir == "" {
		cfg.guest.DataDir = filepath.Join(tmp, "guests")
	}

	url := cfg.TransportURL
	if url == "" {
		ns, err := embedded.Start()
		if err != nil {
			return fmt.Errorf("start the embedded NATS server: %w", err)
		}
		defer ns.Shutdown()
		url = ns.URL()
	}
	tr, err := cfg.OpenTransportURL(ctx, url, log)
	if err != nil {
		return err
	}
	defer tr.Close()
	st, err := store.Open(ctx, cfg.DB)
	if err != nil {
		return err
	}
	defer st.Close()

	sys, err := system.Start(ctx, system.Config{
		Transport:         tr,
		Store:             st,
		Host:              cli.Host(),
		TaskmanagerTopic:  cfg.TaskmanagerQueue,
		TaskmanagerCap:    cfg.TaskmanagerAPI().VersionCap,
		ConductorTopic:    cfg.ConductorQueue,
		NotificationTopic: cfg.NotificationTopic,
		Guest:             cfg.guest.Config(&cfg.Options),
		GuestAPI:          cfg.GuestAPI(cfg.agentTimeout),
		Listen:            cfg.listen,
		Logger:            log,
		ServerOptions:     cfg.ServerOptions(),
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s: trove-api, trove-taskmanager, trove-conductor and the guest agents in one process\n", name)
	fmt.Fprintf(out, "    transport %s, database %s\n", transport.RedactURL(tr.URL()), cfg.DB)
	fmt.Fprintf(out, "    API %s\n", sys.URL)

	printer, err := printNotifications(ctx, tr, cfg.NotificationTopic, out)
	if err != nil {
		sys.Shutdown(ctx)
		return err
	}

	_, walkErr := walk.Run(ctx, walk.Config{BaseURL: sys.URL, Tenant: cfg.tenant, Out: out, Timeout: cfg.walkTimeout})
	if walkErr == nil && cfg.serve {
		fmt.Fprintf(out, "serving %s until interrupted\n", sys.URL)
		<-ctx.Done()
	}

	shutdownCtx, cancel := context.WithTimeout(context.Background(), cli.ShutdownTimeout)
	defer cancel()
	err = sys.Shutdown(shutdownCtx)
	if printer != nil {
		err = errors.Join(err, printer.Shutdown(shutdownCtx))
	}
	if err := errors.Join(walkErr, err); err != nil {
		return err
	}
	fmt.Fprintf(out, "done in %s\n", time.Since(began).Round(time.Millisecond))
	return nil
}

// printNotifications prints the notifications sent to topic, one at a time
// so that they print in order. It returns a nil listener when the
// transport carries no notifications.
func printNotifications(ctx context.Context, tr *transport.Transport, topic string, out io.Writer) (*listener.Listener, error) {
	l, err := listener.New(tr, []target.Target{{Topic: topic}}, []any{&notificationPrinter{out: out}},
		listener.MaxConcurrency(1))
	if err != nil {
		return nil, err
	}
	if err := l.Start(ctx); err != nil {
		if errors.Is(err, transport.ErrNotificationsUnsupported) {
			return nil, nil
		}
		return nil, err
	}
	return l, nil
}

// notificationPrinter is a notification endpoint printing what it gets.
type notificationPrinter struct{ out io.Writer }

// Info prints an INFO notification.
func (p *notificationPrinter) Info(ctx context.Context, publisherID, eventType string, payload taskmanager.InstancePayload, md listener.Metadata) error {
	fmt.Fprintf(p.out, "    notification %s from %s: instance %s\n", eventType, publisherID, payload.InstanceID)
	return nil
}

// Error prints an ERROR notification.
func (p *notificationPrinter) Error(ctx context.Context, publisherID, eventType string, payload taskmanager.InstancePayload, md listener.Metadata) error {
	fmt.Fprintf(p.out, "    notification %s from %s: instance %s: %s\n", eventType, publisherID, payload.InstanceID, payload.Message)
	return nil
}

// syncWriter serializes the writes of the walk and of the notification
// printer.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
