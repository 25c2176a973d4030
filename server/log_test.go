package server_test

import (
	"io"
	"log/slog"
)

var testLogger = slog.New(slog.NewTextHandler(io.Discard, nil))
