// Package transport connects to a message broker through a driver chosen by
// URL scheme. A *Transport is to a broker what *sql.DB is to a database:
// open one per broker, share it between clients, servers, notifiers and
// listeners (packages client, server and notify), close it at exit.
//
//	import _ "github.com/oslo-go/messaging/drivers/rabbit" // registers rabbit://
//
//	tr, err := transport.Open(ctx, "rabbit://guest:guest@h1:5672,guest:guest@h2:5672/")
//	defer tr.Close()
//
// This package also holds the transport URL ([ParseURL], oslo's
// TransportURL), the driver registry ([Register], as database/sql's) and
// the errors every driver reports ([ErrTimeout], [ErrClosed],
// [*RemoteError], [*Kind]).
package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/oslo-go/messaging/internal/engine"
	"github.com/oslo-go/messaging/internal/wire"
	"github.com/oslo-go/messaging/serializer"
)

func init() {
	engine.Of = func(tr any) *engine.Engine { return tr.(*Transport).e }
}

// Transport is a connection to a broker. It is safe for concurrent use.
type Transport struct {
	e   *engine.Engine
	url *URL
}

// Open parses rawURL, picks the driver registered for its scheme and
// connects. The query parameter control_exchange is read by the transport
// (see [ControlExchange]); every other parameter belongs to the driver,
// which rejects those it does not know.
func Open(ctx context.Context, rawURL string, opts ...Option) (*Transport, error) {
	u, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	return OpenURL(ctx, u, opts...)
}

// OpenURL is Open for an already parsed URL.
func OpenURL(ctx context.Context, u *URL, opts ...Option) (*Transport, error) {
	o := options{exchange: DefaultControlExchange, codec: serializer.JSON{}}
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		o.logger = slog.Default()
	}
	if o.codec == nil {
		o.codec = serializer.JSON{}
	}
	d, err := lookupDriver(u.Driver())
	if err != nil {
		return nil, err
	}
	du := *u
	du.Query = make(map[string]string, len(u.Query))
	for k, v := range u.Query {
		if k == "control_exchange" {
			o.exchange = v
			continue
		}
		du.Query[k] = v
	}
	if o.exchange == "" {
		return nil, errors.New("transport: empty control exchange")
	}
	e, err := engine.Open(ctx, d, &du, engine.Config{
		Logger:   o.logger,
		Exchange: o.exchange,
		Codec:    o.codec,
		Options:  o.driverOpts,
		Errors:   engineErrors(o.remoteErrors),
	})
	if err != nil {
		return nil, fmt.Errorf("transport: open %s: %w", RedactURL(u), err)
	}
	return &Transport{e: e, url: u}, nil
}

// Close closes the connection. Calls in flight fail with ErrClosed.
// Close is idempotent.
func (t *Transport) Close() error { return t.e.Close() }

// URL returns the URL the transport was opened with.
func (t *Transport) URL() *URL { u := *t.url; return &u }

// Ping reports whether the transport reaches its broker: nil once the
// driver is connected (it waits for the connection until ctx ends), else
// the last connection error. Open does not wait for the broker, as
// sql.Open does not; Ping is for callers that want to know now.
func (t *Transport) Ping(ctx context.Context) error { return t.e.Ping(ctx) }

// ControlExchange returns the exchange used for targets that name none.
func (t *Transport) ControlExchange() string { return t.e.ControlExchange() }

// engineErrors builds this package's errors for the engine.
func engineErrors(rebuild map[errorClass]func(*RemoteError) error) engine.Errors {
	return engine.Errors{
		Timeout: func(f engine.Failed) error {
			return &TimeoutError{Op: f.Op, Method: f.Method, Target: f.Target, MsgID: f.MsgID, Monitor: f.Monitor, cause: f.Cause}
		},
		Canceled: func(f engine.Failed) error {
			if f.MsgID != "" {
				return fmt.Errorf("transport: %s %s to %s (message ID %s): %w", f.Op, f.Method, f.Target, f.MsgID, f.Cause)
			}
			return fmt.Errorf("transport: %s %s to %s: %w", f.Op, f.Method, f.Target, f.Cause)
		},
		Remote: func(f *wire.Failure) error {
			re := (*RemoteError)(f)
			if fn := rebuild[errorClass{re.Module, re.Class}]; fn != nil {
				if err := fn(re); err != nil {
					return err
				}
			}
			return re
		},
		FailureOf: func(err error) *wire.Failure { return (*wire.Failure)(FailureOf(err)) },
	}
}
