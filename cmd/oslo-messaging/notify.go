package main

import (
	"io"
	"os"

	"github.com/oslo-go/messaging/cmd/internal/notifycmd"
)

// runNotify is "notify": oslo-messaging-send-notification's command, with
// its flags and exit statuses (see that command's documentation).
func runNotify(args []string, stdout, stderr io.Writer) int {
	ctx, stop := interruptible()
	defer stop()
	return notifycmd.Run(ctx, name+" notify", args, os.Getenv, stdout, stderr)
}
