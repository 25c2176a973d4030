package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	natsgo "github.com/nats-io/nats.go"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/oslo-go/messaging/config"
	_ "github.com/oslo-go/messaging/drivers/all"
	"github.com/oslo-go/messaging/transport"
)

// The exit statuses of the commands that talk to a broker (call, cast,
// ping, listen). They are listed in every such command's help.
const (
	exitOK          = 0
	exitFailure     = 1 // the configuration cannot be read, a message cannot be sent, ...
	exitUsage       = 2 // a bad command line
	exitRemoteError = 3 // the server raised an exception
	exitTimeout     = 4 // no reply (or too few) in time, or no server listens
	exitUnreachable = 5 // the broker cannot be reached
)

const exitCodesHelp = `Exit status: 0 success; 1 failure (bad configuration, message not sent); 2 bad command line;
3 the server raised an exception (remote error); 4 timeout: no reply in time (on NATS also: no server
listens); 5 the broker cannot be reached.`

// connFlags are the flags that choose the transport.
type connFlags struct {
	url            string
	files          config.Flags
	connectTimeout time.Duration
	verbose        bool
}

func (c *connFlags) add(fs *flag.FlagSet) {
	fs.StringVar(&c.url, "transport-url", "", "transport `URL` (default $TRANSPORT_URL, else the configuration's transport_url)")
	c.files.AddFlags(fs)
	fs.DurationVar(&c.connectTimeout, "connect-timeout", 10*time.Second, "how long to wait for the broker before giving up (exit status 5)")
	fs.BoolVar(&c.verbose, "verbose", false, "also print the library's warnings to stderr (and a remote error's traceback)")
}

// check validates the flags after parsing.
func (c *connFlags) check() error {
	if c.url == "" {
		c.url = os.Getenv("TRANSPORT_URL")
	}
	if c.url == "" && !c.files.Given() {
		return usagef("--transport-url is required (or set TRANSPORT_URL, or give --config-file)")
	}
	if c.url != "" {
		if _, err := transport.ParseURL(c.url); err != nil {
			return usagef("--transport-url: %v", err)
		}
	}
	if c.connectTimeout <= 0 {
		return usagef("--connect-timeout must be positive")
	}
	return nil
}

func (c *connFlags) logger(stderr io.Writer) *slog.Logger {
	if c.verbose {
		return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.DiscardHandler)
}

// open opens the RPC transport (notifications: the notification
// transport) and waits until it reaches its broker. conf is nil without a
// configuration.
func (c *connFlags) open(ctx context.Context, stderr io.Writer, notifications bool) (tr *transport.Transport, conf *config.Config, err error) {
	opts := []transport.Option{transport.WithLogger(c.logger(stderr))}
	ctx, cancel := context.WithTimeout(ctx, c.connectTimeout)
	defer cancel()
	switch {
	case c.files.Given():
		if conf, err = c.files.Load(); err != nil {
			return nil, nil, err
		}
		if notifications && c.url == "" {
			tr, err = conf.OpenNotificationTransport(ctx, opts...)
		} else {
			tr, err = conf.OpenTransportURL(ctx, c.url, opts...)
		}
	default:
		u, _ := transport.ParseURL(c.url) // checked by check
		tr, err = transport.OpenURL(ctx, u, opts...)
	}
	if err != nil && connectFailed(err) {
		// Drivers that try the broker in Open (RabbitMQ, NATS) fail there.
		return nil, nil, &unreachableError{err: err}
	}
	if err != nil {
		return nil, nil, err
	}
	if err := tr.Ping(ctx); err != nil {
		u := transport.RedactURL(tr.URL())
		tr.Close()
		return nil, nil, &unreachableError{url: u, err: err}
	}
	return tr, conf, nil
}

// connectFailed reports whether err, from opening a transport, says
// that the broker could not be reached or refused the connection (rather
// than, say, a bad option). The drivers have no common sentinel for it.
func connectFailed(err error) bool {
	var (
		ne net.Error
		ae *amqp.Error
	)
	return errors.As(err, &ne) || errors.As(err, &ae) || errors.Is(err, natsgo.ErrNoServers)
}

// unreachableError reports a broker that could not be reached.
type unreachableError struct {
	url string // redacted; "" when err names it
	err error
}

func (e *unreachableError) Error() string {
	if e.url == "" { // the error names it
		return fmt.Sprintf("cannot reach the broker: %v", e.err)
	}
	return fmt.Sprintf("cannot reach the broker at %s: %v", e.url, e.err)
}

func (e *unreachableError) Unwrap() error { return e.err }

// cmdUsageError is a bad command line found after parsing.
type cmdUsageError struct{ msg string }

func (e *cmdUsageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &cmdUsageError{fmt.Sprintf(format, a...)} }

// exitFor returns the exit status for err.
func exitFor(err error) int {
	var (
		ue *cmdUsageError
		un *unreachableError
		re *transport.RemoteError
	)
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		return exitUsage
	case errors.As(err, &un):
		return exitUnreachable
	case errors.As(err, &re):
		return exitRemoteError
	case errors.Is(err, transport.ErrTimeout), errors.Is(err, transport.ErrNoServers):
		return exitTimeout
	}
	return exitFailure
}

// report prints err in one line (a remote error as its class and message,
// with its traceback after it when verbose) and returns the exit status.
func report(stderr io.Writer, cmd string, err error, verbose bool) int {
	code := exitFor(err)
	var re *transport.RemoteError
	switch {
	case code == exitUsage:
		return usageError(stderr, cmd, err.Error())
	case errors.As(err, &re):
		module := re.Module
		if module != "" {
			module += "."
		}
		fmt.Fprintf(stderr, "%s: remote error: %s%s: %s\n", cmd, module, re.Class, oneLine(re.Message))
		if verbose {
			for _, l := range re.Traceback {
				for _, line := range strings.Split(strings.TrimRight(l, "\n"), "\n") {
					fmt.Fprintf(stderr, "  %s\n", line)
				}
			}
		}
		return code
	}
	fail(stderr, cmd, err)
	return code
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}

// interruptible returns a ctx that ends at SIGINT or SIGTERM.
func interruptible() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// parseMixed parses a subcommand's flags, which may come before, between
// and after its positional arguments ("--" ends the flags); it returns the
// positional arguments, and the exit status to end with or -1 to go on, as
// parse does.
func parseMixed(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) ([]string, int) {
	var positional []string
	for {
		err := fs.Parse(args)
		switch {
		case errors.Is(err, flag.ErrHelp):
			fs.SetOutput(stdout)
			fs.Usage()
			return nil, 0
		case err != nil:
			return nil, usageError(stderr, fs.Name(), err.Error())
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, -1
		}
		if args[0] == "--" {
			return append(positional, args[1:]...), -1
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}
