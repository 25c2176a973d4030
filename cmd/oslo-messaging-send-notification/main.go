// Command oslo-messaging-send-notification sends one notification, like
// oslo.messaging's console script of the same name:
//
//	oslo-messaging-send-notification --transport-url rabbit://guest:guest@127.0.0.1:5672/ \
//		--publisher-id compute.host1 --event-type compute.instance.create.end \
//		--priority info --topic notifications '{"instance_id": "i-1"}'
//
// Flags (with - or --, before or after the payload):
//
//	--transport-url URL   the broker (required; default: $TRANSPORT_URL)
//	--publisher-id ID     the publisher_id (default "")
//	--event-type TYPE     the event_type (default "test")
//	--topic TOPIC         a topic; repeat for several (default "notifications")
//	--priority P          audit, debug, info, warn, error, critical or sample (default info)
//	--driver NAME         messagingv2, messaging, log, noop or routing (default messagingv2)
//	--routing-config F    the routing driver's YAML rules (oslo's routing_config)
//	--timeout D           bound on connecting and sending (default 30s)
//	--verbose             also print the library's warnings to standard error
//
// The payload, the only positional argument, is JSON and is sent as its
// value (oslo's script sends the argument as a string). Unlike oslo's
// script, --config-file is not supported, and debug is an accepted
// priority. The log driver writes to standard output. The command exits
// with status 2 on bad arguments and 1 when the notification could not be
// sent, after printing one line to standard error.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"time"

	_ "github.com/oslo-go/messaging/drivers/all"
	"github.com/oslo-go/messaging/notify"
	"github.com/oslo-go/messaging/transport"
)

const name = "oslo-messaging-send-notification"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// config is the parsed command line.
type config struct {
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

// newFlagSet defines the flags; configFile is nil for the usage text,
// which does not list --config-file.
func newFlagSet(cfg *config, topics *topicsFlag, configFile *string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&cfg.url, "transport-url", "", "transport URL (default $TRANSPORT_URL)")
	fs.StringVar(&cfg.publisherID, "publisher-id", "", "publisher id")
	fs.StringVar(&cfg.eventType, "event-type", "test", "event type")
	fs.Var(topics, "topic", "topic to send to; repeat for several (default notifications)")
	fs.StringVar(&cfg.priority, "priority", "info", "priority: "+strings.Join(priorities, ", "))
	fs.StringVar(&cfg.driver, "driver", "messagingv2", "notification driver: "+strings.Join(drivers, ", "))
	fs.StringVar(&cfg.routingConfig, "routing-config", "", "YAML rules of the routing driver")
	fs.DurationVar(&cfg.timeout, "timeout", 30*time.Second, "bound on connecting and sending")
	fs.BoolVar(&cfg.verbose, "verbose", false, "also print the library's warnings to standard error")
	if configFile != nil {
		fs.StringVar(configFile, "config-file", "", "not supported")
	}
	return fs
}

func usage(w io.Writer) {
	var cfg config
	var topics topicsFlag
	fs := newFlagSet(&cfg, &topics, nil)
	fs.SetOutput(w)
	fmt.Fprintf(w, "usage: %s --transport-url URL [flags] PAYLOAD\n\nSends one notification with PAYLOAD (JSON) as its payload.\n\n", name)
	fs.PrintDefaults()
}

// parseArgs parses the command line; flags may follow the payload, as
// with argparse.
func parseArgs(args []string, getenv func(string) string) (*config, error) {
	cfg := &config{}
	var topics topicsFlag
	var configFile string
	fs := newFlagSet(cfg, &topics, &configFile)
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
	if configFile != "" {
		return nil, usagef("--config-file is not supported: give --transport-url, --topic and --driver")
	}
	if cfg.url == "" {
		cfg.url = getenv("TRANSPORT_URL")
	}
	if cfg.url == "" {
		return nil, usagef("--transport-url is required (or set TRANSPORT_URL)")
	}
	cfg.priority = strings.ToLower(cfg.priority)
	if !contains(priorities, cfg.priority) {
		return nil, usagef("--priority %q: want one of %s", cfg.priority, strings.Join(priorities, ", "))
	}
	if !contains(drivers, cfg.driver) {
		return nil, usagef("--driver %q: want one of %s", cfg.driver, strings.Join(drivers, ", "))
	}
	if cfg.driver == "routing" && cfg.routingConfig == "" {
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
	if len(cfg.topics) == 0 {
		cfg.topics = []string{notify.DefaultTopic}
	}
	return cfg, nil
}

// run is the command; it returns the exit status.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, err := parseArgs(args, getenv)
	if errors.Is(err, flag.ErrHelp) {
		usage(stdout)
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

func send(ctx context.Context, cfg *config, stdout, stderr io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	// Quiet by default: the failure is reported in one line.
	libLog := slog.New(slog.DiscardHandler)
	if cfg.verbose {
		libLog = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	u, err := transport.ParseURL(cfg.url)
	if err != nil {
		return usagef("--transport-url: %v", err)
	}
	tr, err := transport.OpenURL(ctx, u, transport.WithLogger(libLog))
	if err != nil {
		return err
	}
	defer tr.Close()
	opts := []notify.Option{
		notify.Driver(cfg.driver), notify.Topics(cfg.topics...), notify.PublisherID(cfg.publisherID),
		// The log driver writes every priority to standard output.
		notify.WithLogger(slog.New(slog.NewTextHandler(stdout, &slog.HandlerOptions{Level: notify.LevelSample}))),
	}
	if cfg.routingConfig != "" {
		opts = append(opts, notify.RoutingConfig(cfg.routingConfig))
	}
	n, err := notify.New(tr, opts...)
	if err != nil {
		return usagef("%v", err)
	}
	if err := n.Notify(ctx, cfg.priority, cfg.eventType, cfg.payload); err != nil {
		return fmt.Errorf("sending the notification: %w", err)
	}
	return nil
}

// oneLine joins the lines of a (joined) error.
func oneLine(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
}
