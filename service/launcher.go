package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// DefaultGracefulShutdownTimeout is oslo.service's graceful_shutdown_timeout.
const DefaultGracefulShutdownTimeout = 60 * time.Second

// Runnable is what a Launcher runs: a *Service, or anything started and
// shut down the same way (an HTTP API, a notification listener).
type Runnable interface {
	Start(ctx context.Context) error
	Shutdown(ctx context.Context) error
}

// Reloader is implemented by a Runnable that acts on SIGHUP (a *Service
// runs its OnReload functions).
type Reloader interface {
	Reload(ctx context.Context) error
}

// ErrInterrupted is returned by Run when a second SIGTERM or SIGINT came
// during the graceful shutdown: the process should exit at once.
var ErrInterrupted = errors.New("service: interrupted during the graceful shutdown")

// Launcher runs services in a process (oslo.service's ServiceLauncher):
// it starts them, tells systemd the process is ready, and on SIGTERM or
// SIGINT stops them gracefully (they stop consuming and finish the
// requests in flight), within the graceful shutdown timeout; on SIGHUP it
// reloads the configuration and tells the services.
type Launcher struct {
	o        launcherOptions
	services []Runnable
}

// A LauncherOption configures a Launcher.
type LauncherOption func(*launcherOptions)

type launcherOptions struct {
	grace  time.Duration
	reload func() error
	logger *slog.Logger
	notify func(state string) error
}

// GracefulShutdownTimeout bounds the graceful shutdown (oslo's
// graceful_shutdown_timeout, default 60 s); 0 waits for as long as the
// requests in flight take.
func GracefulShutdownTimeout(d time.Duration) LauncherOption {
	return func(o *launcherOptions) { o.grace = d }
}

// ReloadConfig sets what SIGHUP does before the services' Reload: reload
// the configuration files (oslo's reload_config_files), for example
// config.Config's Reload. A failure is logged and the services keep their
// settings.
func ReloadConfig(f func() error) LauncherOption { return func(o *launcherOptions) { o.reload = f } }

// WithLauncherLogger sets the launcher's logger; the default is
// slog.Default().
func WithLauncherLogger(l *slog.Logger) LauncherOption {
	return func(o *launcherOptions) { o.logger = l }
}

// NewLauncher returns a launcher for the given services.
func NewLauncher(services []Runnable, opts ...LauncherOption) *Launcher {
	o := launcherOptions{grace: DefaultGracefulShutdownTimeout, notify: SystemdNotify}
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		o.logger = slog.Default()
	}
	return &Launcher{o: o, services: services}
}

// Run starts the services and runs until SIGTERM, SIGINT or the end of
// ctx, then shuts them down gracefully. It returns nil after a graceful
// shutdown, even one cut short by the timeout (what was dropped is
// logged), so that the process exits 0 as oslo's services do;
// ErrInterrupted after a second signal; or the error of a service that
// did not start.
func (l *Launcher) Run(ctx context.Context) error {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sigs)

	for i, s := range l.services {
		if err := s.Start(ctx); err != nil {
			l.shutdown(context.Background(), l.services[:i])
			return err
		}
	}
	if err := l.o.notify("READY=1"); err != nil {
		l.o.logger.Warn("service: telling systemd the service is ready", "error", err)
	}
	l.o.logger.Info("service: ready", "services", len(l.services))
	for {
		select {
		case <-ctx.Done():
			l.o.logger.Info("service: stopping", "reason", ctx.Err())
			return l.graceful(sigs)
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				l.reload(ctx)
				continue
			}
			l.o.logger.Info("service: caught signal, stopping gracefully", "signal", sig.String(), "timeout", l.o.grace)
			return l.graceful(sigs)
		}
	}
}

// graceful shuts the services down within the grace period; a second
// SIGTERM or SIGINT cuts it short.
func (l *Launcher) graceful(sigs <-chan os.Signal) error {
	if err := l.o.notify("STOPPING=1"); err != nil {
		l.o.logger.Debug("service: telling systemd the service stops", "error", err)
	}
	ctx, cancel := context.Background(), context.CancelFunc(func() {})
	if l.o.grace > 0 {
		ctx, cancel = context.WithTimeout(ctx, l.o.grace)
	}
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.shutdown(ctx, l.services)
	}()
	for {
		select {
		case <-done:
			return nil
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				continue
			}
			l.o.logger.Warn("service: second signal during the graceful shutdown, exiting", "signal", sig.String())
			return ErrInterrupted
		}
	}
}

// shutdown shuts the services down concurrently and logs what failed.
func (l *Launcher) shutdown(ctx context.Context, services []Runnable) {
	var wg sync.WaitGroup
	for _, s := range services {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Shutdown(ctx); err != nil {
				l.o.logger.Warn("service: graceful shutdown incomplete", "service", fmt.Sprint(describe(s)), "error", err)
			}
		}()
	}
	wg.Wait()
}

func describe(s Runnable) string {
	if sv, ok := s.(*Service); ok {
		return sv.Binary()
	}
	return fmt.Sprintf("%T", s)
}

func (l *Launcher) reload(ctx context.Context) {
	l.o.logger.Info("service: caught SIGHUP, reloading")
	if err := l.o.notify("RELOADING=1"); err != nil {
		l.o.logger.Debug("service: telling systemd the service reloads", "error", err)
	}
	if l.o.reload != nil {
		if err := l.o.reload(); err != nil {
			l.o.logger.Error("service: reloading the configuration", "error", err)
		}
	}
	for _, s := range l.services {
		if r, ok := s.(Reloader); ok {
			if err := r.Reload(ctx); err != nil {
				l.o.logger.Error("service: reloading", "service", describe(s), "error", err)
			}
		}
	}
	if err := l.o.notify("READY=1"); err != nil {
		l.o.logger.Debug("service: telling systemd the service is ready", "error", err)
	}
}

// SystemdNotify sends state (for example "READY=1") to systemd's
// notification socket, $NOTIFY_SOCKET, as sd_notify(3) does; it does
// nothing when the process does not run under systemd.
func SystemdNotify(state string) error {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return nil
	}
	if path[0] == '@' { // the abstract namespace
		path = "\x00" + path[1:]
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("service: systemd notification socket: %w", err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("service: systemd notification: %w", err)
	}
	return nil
}
