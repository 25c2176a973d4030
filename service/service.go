package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/oslo-go/messaging/server"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
)

// Service is an RPC service as OpenStack projects build theirs
// (nova.service.Service.create, Karbor's and Trove's): an RPC server on
// its topic with the host as server name, dispatching to the manager and
// the additional endpoints, and the manager's periodic tasks. It is
// started once; a Launcher runs it in a process.
type Service struct {
	binary, topic, host string
	tr                  *transport.Transport
	endpoints           []any
	o                   options
	tasks               *taskRunner

	mu      sync.Mutex
	srv     *server.Server
	started bool
}

// An Option configures a Service.
type Option func(*options)

type options struct {
	topic, host     string
	extra           []any
	serverOpts      []server.Option
	fuzzy, maxIdle  time.Duration
	periodicOff     bool
	onStart         []func(context.Context) error
	onStop          []func(context.Context) error
	onReload        []func(context.Context) error
	logger          *slog.Logger
	clock           clock
	hostnameForTest func() (string, error)
}

// Topic sets the RPC topic; the default is the binary's name without its
// project prefix, as Nova and Karbor derive it: "karbor-operationengine"
// serves "operationengine", "trove-conductor" "conductor".
func Topic(t string) Option { return func(o *options) { o.topic = t } }

// Host sets the host, the server name of the service's RPC target; the
// default is oslo's [DEFAULT] host default, the machine's host name.
func Host(h string) Option { return func(o *options) { o.host = h } }

// Endpoints adds endpoints after the manager (oslo's
// manager.additional_endpoints), tried in order.
func Endpoints(endpoints ...any) Option {
	return func(o *options) { o.extra = append(o.extra, endpoints...) }
}

// ServerOptions passes options to the RPC server: server.MaxConcurrency,
// server.DispatchOptions (the serializer, ping, middleware), ...
func ServerOptions(opts ...server.Option) Option {
	return func(o *options) { o.serverOpts = append(o.serverOpts, opts...) }
}

// PeriodicFuzzyDelay delays the first check of the periodic tasks by a
// random time up to d, so that services started together do not run
// their tasks at once (Nova's periodic_fuzzy_delay; default 0).
func PeriodicFuzzyDelay(d time.Duration) Option { return func(o *options) { o.fuzzy = d } }

// PeriodicIntervalMax bounds the pause between two checks of the periodic
// tasks (Nova's periodic_interval_max; default 60 s).
func PeriodicIntervalMax(d time.Duration) Option { return func(o *options) { o.maxIdle = d } }

// PeriodicEnable turns the manager's periodic tasks on or off (Nova's
// periodic_enable; default on).
func PeriodicEnable(on bool) Option { return func(o *options) { o.periodicOff = !on } }

// OnStart adds a function run by Start before the service consumes, in
// order: Nova's manager.init_host. An error fails Start.
func OnStart(f func(ctx context.Context) error) Option {
	return func(o *options) { o.onStart = append(o.onStart, f) }
}

// OnStop adds a function run by Shutdown once the server has drained (a
// manager's cleanup).
func OnStop(f func(ctx context.Context) error) Option {
	return func(o *options) { o.onStop = append(o.onStop, f) }
}

// OnReload adds a function run by Reload, after the launcher reloaded the
// configuration files on SIGHUP: oslo's manager.reset().
func OnReload(f func(ctx context.Context) error) Option {
	return func(o *options) { o.onReload = append(o.onReload, f) }
}

// WithLogger sets the logger; the default is slog.Default().
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// DefaultPeriodicIntervalMax is the longest pause between two checks of
// the periodic tasks.
const DefaultPeriodicIntervalMax = 60 * time.Second

// TopicOf returns the topic a binary serves: its name without the project
// prefix ("nova-compute" gives "compute"), or the name itself when it has
// no "-".
func TopicOf(binary string) string {
	if _, rest, ok := strings.Cut(binary, "-"); ok && rest != "" {
		return rest
	}
	return binary
}

// New returns a service named binary (for example "trove-conductor")
// serving manager, an endpoint as package dispatcher takes it, over tr.
// A manager that implements PeriodicTasker has its tasks run while the
// service runs.
func New(tr *transport.Transport, binary string, manager any, opts ...Option) (*Service, error) {
	if tr == nil {
		return nil, errors.New("service: nil transport")
	}
	if binary == "" {
		return nil, errors.New("service: empty binary name")
	}
	if manager == nil {
		return nil, errors.New("service: nil manager")
	}
	o := options{maxIdle: DefaultPeriodicIntervalMax, clock: realClock{}, hostnameForTest: os.Hostname}
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		o.logger = slog.Default()
	}
	s := &Service{binary: binary, topic: o.topic, host: o.host, tr: tr, o: o}
	if s.topic == "" {
		s.topic = TopicOf(binary)
	}
	if s.host == "" {
		h, err := o.hostnameForTest()
		if err != nil {
			return nil, fmt.Errorf("service: %s: host name: %w", binary, err)
		}
		s.host = h
	}
	s.endpoints = append([]any{manager}, o.extra...)
	if pt, ok := manager.(PeriodicTasker); ok && !o.periodicOff {
		r, err := newTaskRunner(pt.PeriodicTasks(), o.clock, o.logger, typeName(manager), o.fuzzy, o.maxIdle)
		if err != nil {
			return nil, err
		}
		s.tasks = r
	}
	srv, err := server.New(tr, s.Target(), s.endpoints, append([]server.Option{server.WithLogger(o.logger)}, o.serverOpts...)...)
	if err != nil {
		return nil, fmt.Errorf("service: %s: %w", binary, err)
	}
	s.srv = srv
	return s, nil
}

func typeName(v any) string {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}

// Server returns the service's RPC server (for its InFlight and
// RepliesDropped gauges).
func (s *Service) Server() *server.Server { return s.srv }

// Binary returns the service's binary name.
func (s *Service) Binary() string { return s.binary }

// Target returns the RPC target the service serves: its topic, with the
// host as server name.
func (s *Service) Target() target.Target { return target.Target{Topic: s.topic, Server: s.host} }

// Start runs the OnStart functions, starts consuming and then the periodic
// tasks. It returns once the service serves calls.
func (s *Service) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return fmt.Errorf("service: %s: %w", s.binary, server.ErrServerStarted)
	}
	s.started = true
	for _, f := range s.o.onStart {
		if err := f(ctx); err != nil {
			return fmt.Errorf("service: %s: starting: %w", s.binary, err)
		}
	}
	if err := s.srv.Start(ctx); err != nil {
		return fmt.Errorf("service: %s: %w", s.binary, err)
	}
	if s.tasks != nil {
		s.tasks.start()
	}
	s.o.logger.Info("service: started", "binary", s.binary, "topic", s.topic, "host", s.host)
	return nil
}

// Shutdown stops the periodic tasks and the consumption, waits for the
// requests in flight until ctx ends, then runs the OnStop functions. It
// logs what it drained.
func (s *Service) Shutdown(ctx context.Context) error {
	start := time.Now()
	inFlight := s.srv.InFlight()
	s.o.logger.Info("service: stopping", "binary", s.binary, "in_flight", inFlight)
	var errs []error
	if s.tasks != nil {
		errs = append(errs, s.tasks.stop(ctx))
	}
	err := s.srv.Shutdown(ctx)
	errs = append(errs, err)
	if err == nil {
		s.o.logger.Info("service: drained", "binary", s.binary, "requests", inFlight, "took", time.Since(start).Round(time.Millisecond))
	}
	for _, f := range s.o.onStop {
		errs = append(errs, f(ctx))
	}
	return errors.Join(errs...)
}

// Close stops at once, canceling the handlers and tasks still running.
func (s *Service) Close() error {
	if s.tasks != nil {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		s.tasks.stop(ctx) //nolint:errcheck // Close does not wait
	}
	return s.srv.Close()
}

// Reload runs the OnReload functions (after a SIGHUP reloaded the
// configuration).
func (s *Service) Reload(ctx context.Context) error {
	var errs []error
	for _, f := range s.o.onReload {
		errs = append(errs, f(ctx))
	}
	return errors.Join(errs...)
}
