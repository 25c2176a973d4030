// Package system runs the four Trove services in one process, on one
// transport and one database: trove-conductor and trove-taskmanager as
// RPC services (package service: with their periodic tasks), guest agents started in the process for each instance, and
// trove-api as an HTTP server. It is the all-in-one deployment, and the one
// the tests drive.
package system

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/oslo-go/messaging/examples/trove/api"
	"github.com/oslo-go/messaging/examples/trove/conductor"
	"github.com/oslo-go/messaging/examples/trove/guestagent"
	"github.com/oslo-go/messaging/examples/trove/provision"
	"github.com/oslo-go/messaging/examples/trove/store"
	"github.com/oslo-go/messaging/examples/trove/taskmanager"
	"github.com/oslo-go/messaging/server"
	"github.com/oslo-go/messaging/service"
	"github.com/oslo-go/messaging/transport"
)

// Config describes the system.
type Config struct {
	Transport *transport.Transport
	Store     *store.Store
	Host      string // server name of the services

	TaskmanagerTopic  string // taskmanager.DefaultTopic when empty
	TaskmanagerCap    string // the version cap of the API's taskmanager client ([upgrade_levels] taskmanager); none when empty
	ConductorTopic    string // conductor.DefaultTopic when empty
	NotificationTopic string // notify.DefaultTopic when empty

	// Guest configures the guest agents (InstanceID is set per instance;
	// Conductor.Topic is ConductorTopic).
	Guest guestagent.Config
	// GuestAPI says how the API and the taskmanager reach guest agents.
	GuestAPI guestagent.APIConfig

	// Listen is the address of the HTTP API, such as "127.0.0.1:0".
	Listen string
	// Logger is slog.Default() when nil.
	Logger *slog.Logger
	// ServerOptions are added to those of the conductor's and the
	// taskmanager's servers (executor_thread_pool_size, rpc_ping_enabled).
	ServerOptions []server.Option
	// HeartbeatExpiry is the conductor's agent_heartbeat_expiry; its
	// default when 0.
	HeartbeatExpiry time.Duration
}

// System is the running services.
type System struct {
	// URL is the base URL of the HTTP API, such as http://127.0.0.1:8779.
	URL string
	// Guests are the guest agents, one per instance.
	Guests *provision.InProcess

	conductor   *service.Service
	taskmanager *service.Service
	http        *http.Server
	served      chan error // the result of http.Serve
}

// Start starts the services. It returns once all of them serve.
func Start(ctx context.Context, cfg Config) (*System, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	if cfg.TaskmanagerTopic == "" {
		cfg.TaskmanagerTopic = taskmanager.DefaultTopic
	}
	if cfg.ConductorTopic == "" {
		cfg.ConductorTopic = conductor.DefaultTopic
	}
	s := &System{}
	if err := s.start(ctx, cfg, log); err != nil {
		s.Shutdown(ctx) // stops what started; nothing is in flight yet
		return nil, err
	}
	return s, nil
}

func (s *System) start(ctx context.Context, cfg Config, log *slog.Logger) error {
	tr, host := cfg.Transport, cfg.Host

	// trove-conductor
	conductorLog := log.With("service", "trove-conductor")
	var err error
	var expiry []conductor.Option
	if cfg.HeartbeatExpiry > 0 {
		expiry = append(expiry, conductor.HeartbeatExpiry(cfg.HeartbeatExpiry))
	}
	s.conductor, err = service.New(tr, "trove-conductor", conductor.NewManager(cfg.Store, conductorLog, expiry...),
		service.Topic(cfg.ConductorTopic), service.Host(host), service.WithLogger(conductorLog), service.ServerOptions(cfg.ServerOptions...))
	if err != nil {
		return err
	}
	if err := s.conductor.Start(ctx); err != nil {
		return err
	}

	// trove-taskmanager, with guest agents in the process
	taskmanagerLog := log.With("service", "trove-taskmanager")
	guest := cfg.Guest
	guest.Conductor.Topic = cfg.ConductorTopic
	guest.Logger = log.With("service", "trove-guestagent")
	s.Guests = provision.NewInProcess(tr, guest)
	notifier, err := taskmanager.NewNotifier(tr, cfg.NotificationTopic, host, taskmanagerLog)
	if err != nil {
		return err
	}
	manager := taskmanager.NewManager(taskmanager.Config{
		Transport:   tr,
		Store:       cfg.Store,
		Provisioner: s.Guests,
		Notifier:    notifier,
		GuestAPI:    cfg.GuestAPI,
		Logger:      taskmanagerLog,
	})
	s.taskmanager, err = service.New(tr, "trove-taskmanager", manager,
		service.Topic(cfg.TaskmanagerTopic), service.Host(host), service.WithLogger(taskmanagerLog), service.ServerOptions(cfg.ServerOptions...))
	if err != nil {
		return err
	}
	if err := s.taskmanager.Start(ctx); err != nil {
		return err
	}

	// trove-api
	tm, err := taskmanager.NewAPI(tr, taskmanager.APIConfig{Topic: cfg.TaskmanagerTopic, VersionCap: cfg.TaskmanagerCap})
	if err != nil {
		return err
	}
	handler := api.NewHandler(api.Config{
		Store:       cfg.Store,
		TaskManager: tm,
		Transport:   tr,
		GuestAPI:    cfg.GuestAPI,
		Logger:      log.With("service", "trove-api"),
	})
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	s.URL = "http://" + ln.Addr().String()
	s.http = &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	s.served = make(chan error, 1)
	go func() { s.served <- s.http.Serve(ln) }()
	return nil
}

// Shutdown stops the services in the order requests flow: the API, the
// taskmanager, the guest agents, the conductor, letting the requests in
// flight finish until ctx ends.
func (s *System) Shutdown(ctx context.Context) error {
	var errs []error
	if s.http != nil {
		errs = append(errs, s.http.Shutdown(ctx))
		if err := <-s.served; !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	if s.taskmanager != nil {
		errs = append(errs, s.taskmanager.Shutdown(ctx))
	}
	if s.Guests != nil {
		errs = append(errs, s.Guests.Close(ctx))
	}
	if s.conductor != nil {
		errs = append(errs, s.conductor.Shutdown(ctx))
	}
	return errors.Join(errs...)
}
