// Command oslo-messaging-send-notification sends one notification, like
// oslo.messaging's console script of the same name:
//
//	oslo-messaging-send-notification --transport-url rabbit://guest:guest@127.0.0.1:5672/ \
//		--publisher-id compute.host1 --event-type compute.instance.create.end \
//		--priority info --topic notifications '{"instance_id": "i-1"}'
//
// Flags (with - or --, before or after the payload):
//
//	--config-file FILE    an oslo.config file (nova.conf); repeat for several
//	--config-dir DIR      a directory of *.conf files, read after the files before it
//	--transport-url URL   the broker (default: $TRANSPORT_URL; required without a configuration)
//	--publisher-id ID     the publisher_id (default "")
//	--event-type TYPE     the event_type (default "test")
//	--topic TOPIC         a topic; repeat for several (default: the configuration's, "notifications")
//	--priority P          audit, debug, info, warn, error, critical or sample (default info)
//	--driver NAME         messagingv2, messaging, log, noop or routing (default messagingv2)
//	--routing-config F    the routing driver's YAML rules (oslo's routing_config)
//	--timeout D           bound on connecting and sending (default 30s)
//	--verbose             also print the library's warnings to standard error
//
// With a configuration (--config-file, --config-dir, and the OS_*
// environment variables oslo.config reads), the notification transport
// is [oslo_messaging_notifications] transport_url, else [DEFAULT]
// transport_url, with the file's driver options and control_exchange; an
// explicit --transport-url replaces the URL only. The topics (unless
// --topic is given), retry and routing_config come from
// [oslo_messaging_notifications], as with oslo's script. Without a
// configuration no file is searched for (oslo's script looks for
// oslo-messaging-send-notification.conf in ~ and /etc).
//
// The payload, the only positional argument, is JSON and is sent as its
// value (oslo's script sends the argument as a string). Unlike oslo's
// script, debug is an accepted priority. The log driver writes to
// standard output. The command exits with status 2 on bad arguments and 1
// when the notification could not be sent, after printing one line to
// standard error.
//
// `oslo-messaging notify` is the same command.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"

	"github.com/oslo-go/messaging/cmd/internal/notifycmd"
)

const name = "oslo-messaging-send-notification"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the command; it returns the exit status.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	return notifycmd.Run(ctx, name, args, getenv, stdout, stderr)
}
