package cli

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/oslo-go/messaging/config"
	"github.com/oslo-go/messaging/service"
	"github.com/oslo-go/messaging/transport"
)

// Launch runs the services until SIGTERM or SIGINT, or the end of ctx,
// then stops them gracefully: they stop consuming and finish the requests
// in flight, within [DEFAULT] graceful_shutdown_timeout (oslo.service's,
// 60 s by default). SIGHUP reads trove.conf again.
// With --metrics-listen it also serves /metrics; with --trace it flushes
// the spans at the end.
func (o *Options) Launch(ctx context.Context, log *slog.Logger, services ...service.Runnable) error {
	err := service.NewLauncher(o.Observe.around(services),
		service.GracefulShutdownTimeout(o.seconds("graceful_shutdown_timeout", service.DefaultGracefulShutdownTimeout)),
		service.WithLauncherLogger(log),
		service.ReloadConfig(o.reload)).Run(ctx)
	flush, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return errors.Join(err, o.Observe.Shutdown(flush))
}

// Service returns the RPC service binary (for example "trove-conductor")
// serving manager on topic with this host's name, and the server options
// of trove.conf.
func (o *Options) Service(binary, topic string, manager any, log *slog.Logger, tr *transport.Transport, opts ...service.Option) (*service.Service, error) {
	return service.New(tr, binary, manager, append([]service.Option{
		service.Topic(topic), service.Host(Host()), service.WithLogger(log), service.ServerOptions(o.ServerOptions()...),
	}, opts...)...)
}

// HeartbeatExpiry is [DEFAULT] agent_heartbeat_expiry: how long a guest
// may go without a heartbeat.
func (o *Options) HeartbeatExpiry() time.Duration {
	return o.seconds("agent_heartbeat_expiry", time.Minute)
}

func (o *Options) seconds(option string, def time.Duration) time.Duration {
	if o.conf == nil {
		return def
	}
	n, err := o.conf.Int(config.DefaultGroup, option)
	if err != nil {
		return def
	}
	return time.Duration(n) * time.Second
}

func (o *Options) reload() error {
	if o.conf == nil {
		return nil
	}
	return o.conf.Reload()
}

// HTTPService serves an HTTP handler as a service the Launcher runs.
type HTTPService struct {
	Listen  string
	Handler http.Handler
	Logger  *slog.Logger

	srv    *http.Server
	served chan error
	mu     sync.Mutex
	url    string
}

// URL returns the base URL once started, "" before.
func (h *HTTPService) URL() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.url
}

// Start listens and serves.
func (h *HTTPService) Start(context.Context) error {
	ln, err := net.Listen("tcp", h.Listen)
	if err != nil {
		return err
	}
	h.srv = &http.Server{Handler: h.Handler, ReadHeaderTimeout: 10 * time.Second}
	h.served = make(chan error, 1)
	go func() { h.served <- h.srv.Serve(ln) }()
	h.mu.Lock()
	h.url = "http://" + ln.Addr().String()
	h.mu.Unlock()
	h.Logger.Info("serving", "url", h.URL())
	return nil
}

// Shutdown stops accepting requests and waits for those in flight.
func (h *HTTPService) Shutdown(ctx context.Context) error {
	err := h.srv.Shutdown(ctx)
	if served := <-h.served; !errors.Is(served, http.ErrServerClosed) {
		err = errors.Join(err, served)
	}
	return err
}
