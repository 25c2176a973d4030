// Package notifycmd sends one notification from the command line: the
// command behind oslo-messaging-send-notification (oslo.messaging's console
// script of that name) and `oslo-messaging notify`, which share it.
package notifycmd

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/oslo-go/messaging/config"
	_ "github.com/oslo-go/messaging/drivers/all"
	"github.com/oslo-go/messaging/notify"
	"github.com/oslo-go/messaging/transport"
)

// settings is the parsed command line.
type settings struct {
	url           string
	publisherID   string
	eventType     string
	topics        []string
	priority      string
	driver        string
	routingConfig string
	timeout       time.Duration
	verbose       bool
	payload       json.RawMessage
	files         config.Flags // --config-file and --config-dir
}

// topicsFlag collects repeated --topic flags.
type topicsFlag []string

func (f *topicsFlag) String() string { return strings.Join(*f, ",") }
func (f *topicsFlag) Set(s string) error {
	if s == "" {
		return errors.New("empty topic")
	}
	*f = append(*f, s)
	return nil
}

var (
	priorities = []string{"audit", "debug", "info", "warn", "error", "critical", "sample"}
	drivers    = []string{"messagingv2", "messaging", "log", "noop", "routing"}
)

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// usageError is a bad command line (exit status 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

// newFlagSet defines the flags.
func newFlagSet(name string, cfg *settings, topics *topicsFlag) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg.files.AddFlags(fs)
	fs.StringVar(&cfg.url, "transport-url", "", "transport URL (default $TRANSPORT_URL, else the configuration's)")
	fs.StringVar(&cfg.publisherID, "publisher-id", "", "publisher id")
	fs.StringVar(&cfg.eventType, "event-type", "test", "event type")
	fs.Var(topics, "topic", "topic to send to; repeat for several (default notifications)")
	fs.StringVar(&cfg.priority, "priority", "info", "priority: "+strings.Join(priorities, ", "))
	fs.StringVar(&cfg.driver, "driver", "messagingv2", "notification driver: "+strings.Join(drivers, ", "))
	fs.StringVar(&cfg.routingConfig, "routing-config", "", "YAML rules of the routing driver")
	fs.DurationVar(&cfg.timeout, "timeout", 30*time.Second, "bound on connecting and sending")
	fs.BoolVar(&cfg.verbose, "verbose", false, "also print the library's warnings to standard error")
	return fs
}

func usage(name string, w io.Writer) {
	var cfg settings
	var topics topicsFlag
	fs := newFlagSet(name, &cfg, &topics)
	fs.SetOutput(w)
	fmt.Fprintf(w, "usage: %s (--transport-url URL | --config-file FILE) [flags] PAYLOAD\n\nSends one notification with PAYLOAD (JSON) as its payload.\n\n", name)
	fs.PrintDefaults()
}

// parseArgs parses the command line; flags may follow the payload, as
// with argparse.
func parseArgs(name string, args []string, getenv func(string) string) (*settings, error) {
	cfg := &settings{}
	var topics topicsFlag
	fs := newFlagSet(name, cfg, &topics)
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usagef("%v", err)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		if args[0] == "--" {
			positional = append(positional, args[1:]...)
			break
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
	if cfg.url == "" {
		cfg.url = getenv("TRANSPORT_URL")
	}
	if cfg.url == "" && !cfg.files.Given() {
		return nil, usagef("--transport-url is required (or set TRANSPORT_URL, or give --config-file)")
	}
	cfg.priority = strings.ToLower(cfg.priority)
	if !contains(priorities, cfg.priority) {
		return nil, usagef("--priority %q: want one of %s", cfg.priority, strings.Join(priorities, ", "))
	}
	if !contains(drivers, cfg.driver) {
		return nil, usagef("--driver %q: want one of %s", cfg.driver, strings.Join(drivers, ", "))
	}
	if cfg.driver == "routing" && cfg.routingConfig == "" && !cfg.files.Given() {
		return nil, usagef("--driver routing needs --routing-config")
	}
	if cfg.timeout <= 0 {
		return nil, usagef("--timeout must be positive")
	}
	switch len(positional) {
	case 0:
		return nil, usagef("the payload (a JSON value) is required")
	case 1:
	default:
		return nil, usagef("one payload expected, got %d arguments: %q", len(positional), positional)
	}
	if !json.Valid([]byte(positional[0])) {
		var v any
		err := json.Unmarshal([]byte(positional[0]), &v)
		return nil, usagef("the payload is not valid JSON: %v", err)
	}
	cfg.payload = json.RawMessage(positional[0])
	cfg.topics = topics
	if len(cfg.topics) == 0 && !cfg.files.Given() {
		cfg.topics = []string{notify.DefaultTopic}
	}
	return cfg, nil
}

// Run is the command named name (for its messages) with the arguments
// args; getenv reads the environment (TRANSPORT_URL). It returns the exit
// status: 0 once sent, 2 on bad arguments, 1 when the notification could
// not be sent, after printing one line to stderr.
//
// The flags and their meaning are documented with the command
// (cmd/oslo-messaging-send-notification).
func Run(ctx context.Context, name string, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, err := parseArgs(name, args, getenv)
	if errors.Is(err, flag.ErrHelp) {
		usage(name, stdout)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v (see --help)\n", name, err)
		return 2
	}
	if err := send(ctx, cfg, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "%s: %s\n", name, oneLine(err))
		var ue *usageError
		if errors.As(err, &ue) {
			return 2
		}
		return 1
	}
	return 0
}

func send(ctx context.Context, cfg *settings, stdout, stderr io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	// Quiet by default: the failure is reported in one line.
	libLog := slog.New(slog.DiscardHandler)
	if cfg.verbose {
		libLog = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	opts := []notify.Option{
		notify.Driver(cfg.driver), notify.PublisherID(cfg.publisherID),
		// The log driver writes every priority to standard output.
		notify.WithLogger(slog.New(slog.NewTextHandler(stdout, &slog.HandlerOptions{Level: notify.LevelSample}))),
	}
	if len(cfg.topics) > 0 {
		opts = append(opts, notify.Topics(cfg.topics...))
	}
	if cfg.routingConfig != "" {
		opts = append(opts, notify.RoutingConfig(cfg.routingConfig))
	}
	tr, n, err := openNotifier(ctx, cfg, libLog, opts)
	if err != nil {
		return err
	}
	defer tr.Close()
	if err := n.Notify(ctx, cfg.priority, cfg.eventType, cfg.payload); err != nil {
		return fmt.Errorf("sending the notification: %w", err)
	}
	return nil
}

// openNotifier opens the transport and the notifier, from the
// configuration when one is given.
func openNotifier(ctx context.Context, cfg *settings, libLog *slog.Logger, opts []notify.Option) (*transport.Transport, *notify.Notifier, error) {
	if !cfg.files.Given() {
		u, err := transport.ParseURL(cfg.url)
		if err != nil {
			return nil, nil, usagef("--transport-url: %v", err)
		}
		tr, err := transport.OpenURL(ctx, u, transport.WithLogger(libLog))
		if err != nil {
			return nil, nil, err
		}
		n, err := notify.New(tr, opts...)
		if err != nil {
			tr.Close()
			return nil, nil, usagef("%v", err)
		}
		return tr, n, nil
	}
	conf, err := cfg.files.Load()
	if err != nil {
		return nil, nil, err
	}
	if cfg.driver == "routing" && cfg.routingConfig == "" {
		path, err := conf.String(config.NotificationsGroup, "routing_config")
		if path == "" || err != nil {
			return nil, nil, usagef("--driver routing needs --routing-config or [oslo_messaging_notifications] routing_config")
		}
		opts = append(opts, notify.RoutingConfig(path))
	}
	var tr *transport.Transport
	if cfg.url != "" {
		tr, err = conf.OpenTransportURL(ctx, cfg.url, transport.WithLogger(libLog))
	} else {
		tr, err = conf.OpenNotificationTransport(ctx, transport.WithLogger(libLog))
	}
	if err != nil {
		return nil, nil, err
	}
	n, err := conf.NewNotifier(tr, opts...)
	if err != nil {
		tr.Close()
		return nil, nil, usagef("%v", err)
	}
	return tr, n, nil
}

// oneLine joins the lines of a (joined) error.
func oneLine(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
}
