// Package cli holds what the trove commands share: their flags, logging,
// opening the transport and the database with errors that fit on one
// line, and the exit status.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/oslo-go/messaging/config"
	"github.com/oslo-go/messaging/examples/trove/conductor"
	"github.com/oslo-go/messaging/examples/trove/store"
	"github.com/oslo-go/messaging/examples/trove/taskmanager"
	"github.com/oslo-go/messaging/notify"
	"github.com/oslo-go/messaging/transport"

	_ "github.com/oslo-go/messaging/drivers/all" // every driver: --transport-url takes any scheme
)

// ControlExchange is the exchange of the Trove services (Trove's
// control_exchange); the transport URL's control_exchange parameter
// overrides it.
const ControlExchange = "trove"

// ConnectTimeout bounds the wait for the broker at start-up (tests
// shorten it).
var ConnectTimeout = 15 * time.Second

// ShutdownTimeout bounds letting requests in flight finish.
const ShutdownTimeout = 10 * time.Second

// Options are the settings the trove commands share: where the broker
// and the database are, and the names that every service of a deployment
// must agree on (Trove keeps them in trove.conf).
type Options struct {
	TransportURL      string
	DB                string
	LogLevel          slog.Level
	TaskmanagerQueue  string
	ConductorQueue    string
	NotificationTopic string
	// Files are --config-file and --config-dir: trove.conf (see LoadConfig).
	Files config.Flags
	// Observe are --metrics-listen and --trace.
	Observe Observability

	hasDB bool              // the command has --db
	conf  *config.Config    // set by LoadConfig
	caps  map[string]string // [upgrade_levels], by service
}

// AddFlags defines the flags of the shared settings, except --db, on fs,
// with --config-file and --config-dir. The default log level is the one o
// holds (info in a zero Options).
func (o *Options) AddFlags(fs *flag.FlagSet) {
	o.Files.AddFlags(fs)
	o.Observe.AddFlags(fs)
	fs.StringVar(&o.TransportURL, "transport-url", os.Getenv("TRANSPORT_URL"),
		"the broker: rabbit://user:pass@host:5672/, nats://host:4222, zmq+redis://host:6379/0 or fake:// (default $TRANSPORT_URL)")
	fs.TextVar(&o.LogLevel, "log-level", o.LogLevel, "log `level`: debug, info, warn or error")
	fs.StringVar(&o.TaskmanagerQueue, "taskmanager-queue", taskmanager.DefaultTopic, "`topic` of trove-taskmanager")
	fs.StringVar(&o.ConductorQueue, "conductor-queue", conductor.DefaultTopic, "`topic` of trove-conductor")
	fs.StringVar(&o.NotificationTopic, "notification-topic", notify.DefaultTopic, "`topic` of the notifications")
}

// AddDBFlag defines --db on fs.
func (o *Options) AddDBFlag(fs *flag.FlagSet) {
	fs.StringVar(&o.DB, "db", "", "`path` of the SQLite database shared by the services (created if missing)")
	o.hasDB = true
}

// Require checks that the broker, and the database when the command has
// --db, are given.
func (o *Options) Require() error {
	if o.TransportURL == "" {
		return Usagef("--transport-url is required (or set TRANSPORT_URL)")
	}
	if o.hasDB && o.DB == "" {
		return Usagef("--db is required")
	}
	return nil
}

// NewLogger returns a logger writing text to w at the --log-level, which
// names the service in every record (unless service is empty).
func (o *Options) NewLogger(w io.Writer, service string) *slog.Logger {
	log := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: o.LogLevel}))
	if service == "" {
		return log
	}
	return log.With("service", service)
}

// OpenTransport connects to the broker of --transport-url.
func (o *Options) OpenTransport(ctx context.Context, log *slog.Logger) (*transport.Transport, error) {
	return o.OpenTransportURL(ctx, o.TransportURL, log)
}

// OpenTransportURL connects to the broker of rawURL as OpenTransport
// does, with the driver options and control_exchange of trove.conf once
// LoadConfig has read it.
func (o *Options) OpenTransportURL(ctx context.Context, rawURL string, log *slog.Logger) (*transport.Transport, error) {
	if o.conf == nil {
		return OpenTransport(ctx, rawURL, log)
	}
	ctx, cancel := context.WithTimeout(ctx, ConnectTimeout)
	defer cancel()
	tr, err := o.conf.OpenTransportURL(ctx, rawURL, transport.WithLogger(log))
	if err != nil {
		return nil, fmt.Errorf("cannot connect to the broker: %w", err)
	}
	return reachable(ctx, tr)
}

// reachable waits until tr reaches its broker (Open does not wait), so
// that a command started with a wrong URL or before its broker says so
// in one line instead of waiting in silence.
func reachable(ctx context.Context, tr *transport.Transport) (*transport.Transport, error) {
	if err := tr.Ping(ctx); err != nil {
		tr.Close()
		return nil, fmt.Errorf("cannot connect to the broker %s: %w", transport.RedactURL(tr.URL()), err)
	}
	return tr, nil
}

// OpenStore opens the database of --db.
func (o *Options) OpenStore(ctx context.Context) (*store.Store, error) {
	return store.Open(ctx, o.DB)
}

// OpenTransport connects to the broker of rawURL with the Trove control
// exchange, and waits until it is reachable, giving up after
// ConnectTimeout. Its errors name the URL
// without its passwords.
func OpenTransport(ctx context.Context, rawURL string, log *slog.Logger) (*transport.Transport, error) {
	ctx, cancel := context.WithTimeout(ctx, ConnectTimeout)
	defer cancel()
	tr, err := transport.Open(ctx, rawURL, transport.ControlExchange(ControlExchange), transport.WithLogger(log))
	if err != nil {
		return nil, fmt.Errorf("cannot connect to the broker: %w", err)
	}
	return reachable(ctx, tr)
}

// Host returns the name of this host, the server name of the services.
func Host() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		return "localhost"
	}
	return host
}

// NewFlagSet returns the flag set of a command; summary opens its help.
func NewFlagSet(name, summary string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: %s [flags]\n\n%s\n\nFlags:\n", name, summary)
		fs.PrintDefaults()
	}
	return fs
}

// Parse parses the command line. For -h or --help it prints the help to
// stdout and returns flag.ErrHelp.
func Parse(fs *flag.FlagSet, args []string, stdout io.Writer) error {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stdout)
			fs.Usage()
			return err
		}
		return &UsageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return Usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// UsageError is a bad command line.
type UsageError struct{ msg string }

// Error implements the error interface.
func (e *UsageError) Error() string { return e.msg }

// Usagef returns a UsageError.
func Usagef(format string, args ...any) error { return &UsageError{fmt.Sprintf(format, args...)} }

// Exit reports how a command ended and returns its exit status: 0 when
// err is nil (or flag.ErrHelp), 2 for a UsageError, 1 for anything else,
// after writing err to stderr as one line.
func Exit(stderr io.Writer, name string, err error) int {
	var usage *UsageError
	switch {
	case err == nil || errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &usage):
		fmt.Fprintf(stderr, "%s: %s (see %s -h)\n", name, oneLine(err), name)
		return 2
	default:
		fmt.Fprintf(stderr, "%s: %s\n", name, oneLine(err))
		return 1
	}
}

// oneLine returns err's text with its line breaks folded.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}
