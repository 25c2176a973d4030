// Command oslo-messaging is an operator's tool for oslo.messaging
// deployments: it calls, casts to and pings RPC servers (Go or Python),
// prints notifications as they arrive, sends one, and shows the
// configuration as oslo.config reads it. Its subcommands:
//
//	oslo-messaging call   (--transport-url URL | --config-file F) --topic T [--server S] [--namespace N] [--version V] METHOD [key=value ...]
//	oslo-messaging cast   (--transport-url URL | --config-file F) --topic T [--server S | --fanout] METHOD [key=value ...]
//	oslo-messaging ping   (--transport-url URL | --config-file F) --topic T [--server S]... [--all [--wait D] [--expect N]]
//	oslo-messaging listen (--transport-url URL | --config-file F) [--topic T]... [--pool P] [--priority P]... [--event-type RE]
//	oslo-messaging notify (--transport-url URL | --config-file F) [--topic T] [--priority P] [--event-type E] PAYLOAD
//	oslo-messaging config show [--config-file F]... [--config-dir D]... [--group G]... [--show-secrets]
//	oslo-messaging config sample [--group G]...
//
// call prints the result as indented JSON (--json: compact); a remote
// error prints its class and message (--verbose: and its traceback).
// Keyword arguments are key=value, the value read as JSON when it is JSON,
// else as a string, or --args '{...}'; --context '{...}' sets the request
// context. ping calls oslo's oslo_rpc_server_ping (rpc_ping_enabled);
// --all pings every server of the topic through its fanout and counts the
// answers, which do not name their servers. listen prints one JSON object
// per notification. notify is oslo-messaging-send-notification. Every
// command has --help.
//
// config show prints, as JSON {"group": {"option": value}}, the value
// every messaging option takes from the configuration files (and the
// OS_<GROUP>__<OPTION> environment variables), as a Python service using
// oslo.config and oslo.messaging 14.0.3 would see it: unset options are
// null, lists are arrays, secrets (transport_url) are "****" unless
// --show-secrets. config sample prints a commented sample configuration
// in oslo-config-generator's format.
//
// Exit status of call, cast, ping and listen: 0 success; 1 failure (bad
// configuration, message not sent); 2 bad command line; 3 the server
// raised an exception (remote error), or, for ping, runs with ping
// disabled; 4 timeout: no reply in time (on NATS also: no server
// listens), fewer --all answers than --expect, fewer notifications than
// --count; 5 the broker cannot be reached (or refused the credentials).
// config exits with 1 when the configuration cannot be read and 2 on a
// bad command line; notify with 1 when the notification could not be
// sent and 2 on a bad command line.
//
// Passwords never appear in the output: URLs are printed redacted, and
// listen masks secret-looking keys of payloads and contexts.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

const name = "oslo-messaging"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// command is one subcommand: run gets the arguments after its name.
type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

// commands lists the subcommands; each lives in a file of its own.
var commands = []command{
	{"config", "show the effective configuration, or a sample (config show|sample)", runConfig},
	{"call", "call a method on an RPC server and print its result", runCall},
	{"cast", "cast a method to an RPC server (or, with --fanout, to all)", runCast},
	{"ping", "ping RPC servers (oslo_rpc_server_ping) and print their round-trip times", runPing},
	{"listen", "print notifications as they arrive, one JSON object per line", runListen},
	{"notify", "send a notification (as oslo-messaging-send-notification)", runNotify},
}

// run is the command; it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		w := stdout
		if len(args) == 0 {
			w = stderr
		}
		usage(w)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "%s: unknown command %q (see %s --help)\n", name, args[0], name)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "usage: %s COMMAND [flags]\n\nCommands:\n", name)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun %s COMMAND --help for a command's flags.\n", name)
}

// newFlagSet returns the flag set of a subcommand.
func newFlagSet(cmd, args, summary string) *flag.FlagSet {
	fs := flag.NewFlagSet(name+" "+cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: %s %s %s\n\n%s\n\nFlags:\n", name, cmd, args, summary)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses a subcommand's flags. It returns the exit status to end
// with, or -1 to go on: 0 after printing the help for -h, 2 after
// printing a bad command line to stderr.
func parse(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) int {
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(stdout)
		fs.Usage()
		return 0
	case err != nil:
		return usageError(stderr, fs.Name(), err.Error())
	case fs.NArg() > 0:
		return usageError(stderr, fs.Name(), fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	}
	return -1
}

func usageError(stderr io.Writer, cmd, msg string) int {
	fmt.Fprintf(stderr, "%s: %s (see %s --help)\n", cmd, msg, cmd)
	return 2
}

// fail reports err in one line and returns status 1.
func fail(stderr io.Writer, cmd string, err error) int {
	fmt.Fprintf(stderr, "%s: %s\n", cmd, strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " "))
	return 1
}

// listFlag collects a repeated flag.
type listFlag []string

func (f *listFlag) String() string { return strings.Join(*f, ",") }
func (f *listFlag) Set(s string) error {
	*f = append(*f, s)
	return nil
}
