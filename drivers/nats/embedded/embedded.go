// Package embedded runs a NATS server (with JetStream) inside the process,
// for programs and tests that should need no broker:
//
//	srv, err := embedded.Start()
//	if err != nil { ... }
//	defer srv.Shutdown()
//	tr, err := transport.Open(ctx, srv.URL()) // with drivers/nats imported
//
// It is its own package so that programs using only other drivers, or a
// NATS server of their own, do not link nats-server.
package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Server is a NATS server running inside the process.
type Server struct {
	srv      *server.Server
	dir      string
	ownDir   bool
	url      string
	port     int
	shutdown sync.Once
}

// An Option configures Start.
type Option func(*config)

type config struct {
	host       string
	port       int
	dir        string
	logger     *slog.Logger
	maxPayload int32
	maxStore   int64
	jetStream  bool
	ready      time.Duration
}

// Port makes the server listen on port instead of a random free
// one, so that a restarted server has the same URL.
func Port(port int) Option { return func(c *config) { c.port = port } }

// Host sets the address to listen on (default 127.0.0.1).
func Host(host string) Option { return func(c *config) { c.host = host } }

// StoreDir keeps JetStream's store in dir, which Shutdown leaves in
// place: a server started again on it has the streams, consumers and
// messages of the previous one. By default the store is a temporary
// directory removed at Shutdown.
func StoreDir(dir string) Option { return func(c *config) { c.dir = dir } }

// WithLogger turns on the server's own logging, to l: notices at Info,
// warnings at Warn, errors at Error, debug lines at Debug when l enables
// that level. By default the server logs nothing.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// MaxPayload sets the server's max_payload (default 1 MiB, the
// NATS default). Bodies above it still travel, in chunks.
func MaxPayload(n int32) Option { return func(c *config) { c.maxPayload = n } }

// MaxStore bounds JetStream's file store (default: the server's,
// a share of the free disk).
func MaxStore(bytes int64) Option {
	return func(c *config) { c.maxStore = bytes }
}

// JetStream turns JetStream on or off (default on; notifications
// need it).
func JetStream(on bool) Option { return func(c *config) { c.jetStream = on } }

// Start starts a NATS server in the process, listening on the
// loopback interface on a random port unless told otherwise, with
// JetStream storing in a temporary directory. It returns once the server
// accepts connections.
func Start(opts ...Option) (*Server, error) {
	cfg := config{host: "127.0.0.1", port: server.RANDOM_PORT, jetStream: true, ready: 10 * time.Second}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.port > 0 {
		// nats-server only logs a failed listen; fail fast and clearly.
		l, err := net.Listen("tcp", net.JoinHostPort(cfg.host, strconv.Itoa(cfg.port)))
		if err != nil {
			return nil, fmt.Errorf("embedded: nats server: %w", err)
		}
		l.Close()
	}
	e := &Server{dir: cfg.dir}
	if cfg.jetStream && e.dir == "" {
		dir, err := os.MkdirTemp("", "oslo-nats-embedded-")
		if err != nil {
			return nil, fmt.Errorf("embedded: nats server store: %w", err)
		}
		e.dir, e.ownDir = dir, true
	}
	sopts := &server.Options{
		ServerName:             "oslo-embedded",
		Host:                   cfg.host,
		Port:                   cfg.port,
		NoLog:                  cfg.logger == nil,
		NoSigs:                 true,
		JetStream:              cfg.jetStream,
		StoreDir:               e.dir,
		MaxPayload:             cfg.maxPayload,
		JetStreamMaxStore:      cfg.maxStore,
		DisableJetStreamBanner: true,
	}
	if cfg.logger != nil {
		sopts.Debug = cfg.logger.Enabled(context.Background(), slog.LevelDebug)
	}
	srv, err := server.NewServer(sopts)
	if err != nil {
		e.removeDir()
		return nil, fmt.Errorf("embedded: nats server: %w", err)
	}
	if cfg.logger != nil {
		srv.SetLoggerV2(slogAdapter{cfg.logger}, sopts.Debug, false, false)
	}
	srv.Start()
	if !srv.ReadyForConnections(cfg.ready) {
		srv.Shutdown()
		srv.WaitForShutdown()
		e.removeDir()
		return nil, fmt.Errorf("embedded: nats server on %s not ready after %v", net.JoinHostPort(cfg.host, portString(cfg.port)), cfg.ready)
	}
	e.srv = srv
	addr, ok := srv.Addr().(*net.TCPAddr)
	if !ok {
		e.Shutdown()
		return nil, errors.New("embedded: nats server has no TCP address")
	}
	e.port = addr.Port
	e.url = "nats://" + net.JoinHostPort(cfg.host, strconv.Itoa(addr.Port))
	return e, nil
}

func portString(p int) string {
	if p < 0 {
		return "random port"
	}
	return strconv.Itoa(p)
}

// URL returns the transport URL of the server, nats://127.0.0.1:<port>.
func (e *Server) URL() string { return e.url }

// Port returns the port the server listens on.
func (e *Server) Port() int { return e.port }

// StoreDir returns JetStream's store directory ("" without JetStream).
func (e *Server) StoreDir() string { return e.dir }

// NATSServer returns the nats-server instance, for what this type does not
// cover (monitoring, accounts).
func (e *Server) NATSServer() *server.Server { return e.srv }

// Shutdown stops the server, waits until it has stopped and removes the
// temporary store directory (not one given with StoreDir). It is
// idempotent.
func (e *Server) Shutdown() {
	e.shutdown.Do(func() {
		if e.srv != nil {
			e.srv.Shutdown()
			e.srv.WaitForShutdown()
		}
		e.removeDir()
	})
}

func (e *Server) removeDir() {
	if e.ownDir {
		os.RemoveAll(e.dir)
	}
}

// slogAdapter sends the server's log lines to a slog.Logger.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Noticef(format string, v ...any) {
	a.l.Info(fmt.Sprintf(format, v...), "component", "nats-server")
}
func (a slogAdapter) Warnf(format string, v ...any) {
	a.l.Warn(fmt.Sprintf(format, v...), "component", "nats-server")
}
func (a slogAdapter) Fatalf(format string, v ...any) {
	a.l.Error(fmt.Sprintf(format, v...), "component", "nats-server", "fatal", true)
}
func (a slogAdapter) Errorf(format string, v ...any) {
	a.l.Error(fmt.Sprintf(format, v...), "component", "nats-server")
}
func (a slogAdapter) Debugf(format string, v ...any) {
	a.l.Debug(fmt.Sprintf(format, v...), "component", "nats-server")
}
func (a slogAdapter) Tracef(format string, v ...any) {
	a.l.Debug(fmt.Sprintf(format, v...), "component", "nats-server")
}
