package guestagent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/oslo-go/messaging/dispatcher"
	"github.com/oslo-go/messaging/examples/trove/conductor"
	"github.com/oslo-go/messaging/server"
	"github.com/oslo-go/messaging/service"
	"github.com/oslo-go/messaging/transport"
)

// Config describes the guest agent of one instance.
type Config struct {
	InstanceID string
	// DataDir holds the instances' data: the instance's volume is the
	// directory DataDir/<instance id>.
	DataDir string
	// HeartbeatInterval is the period of the heartbeats sent once the
	// datastore is ready; DefaultHeartbeatInterval when 0.
	HeartbeatInterval time.Duration
	// InstallTime is how long installing the datastore takes;
	// DefaultInstallTime when 0.
	InstallTime time.Duration
	// Conductor says how to reach the conductor.
	Conductor conductor.APIConfig
	// Logger is slog.Default() when nil.
	Logger *slog.Logger
	// ServerOptions are added to the agent's server (middleware).
	ServerOptions []server.Option
}

func (c Config) withDefaults() Config {
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if c.InstallTime == 0 {
		c.InstallTime = DefaultInstallTime
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Agent is a guest agent: a service named trove-guestagent serving the
// Manager on the topic guestagent.<instance id> as the server named after
// the instance, with the heartbeats as a periodic task. It answers oslo's
// server ping, which tells the taskmanager that it is up.
type Agent struct {
	manager *Manager
	service *service.Service
}

// New returns the guest agent described by cfg on tr, not started.
func New(tr *transport.Transport, cfg Config) (*Agent, error) {
	// The id names a directory and a topic: it must be a UUID in its usual form.
	if id, err := uuid.Parse(cfg.InstanceID); err != nil || id.String() != cfg.InstanceID {
		return nil, fmt.Errorf("the instance id %q is not a UUID", cfg.InstanceID)
	}
	if cfg.DataDir == "" {
		return nil, errors.New("the guest agent needs a data directory")
	}
	cond, err := conductor.NewAPI(tr, cfg.Conductor)
	if err != nil {
		return nil, err
	}
	m := NewManager(cfg, cond)
	svc, err := service.New(tr, "trove-guestagent", m,
		service.Topic(Topic(cfg.InstanceID)), service.Host(cfg.InstanceID), service.WithLogger(m.log),
		service.ServerOptions(slices.Concat(cfg.ServerOptions, []server.Option{server.DispatchOptions(dispatcher.Ping(true))})...))
	if err != nil {
		return nil, err
	}
	return &Agent{manager: m, service: svc}, nil
}

// Start starts the guest agent described by cfg on tr. It returns once the
// agent is serving.
func Start(ctx context.Context, tr *transport.Transport, cfg Config) (*Agent, error) {
	a, err := New(tr, cfg)
	if err != nil {
		return nil, err
	}
	if err := a.Start(ctx); err != nil {
		return nil, err
	}
	return a, nil
}

// Start starts serving and the periodic heartbeats.
func (a *Agent) Start(ctx context.Context) error { return a.service.Start(ctx) }

// Manager returns the agent's endpoint.
func (a *Agent) Manager() *Manager { return a.manager }

// Service returns the agent's service.
func (a *Agent) Service() *service.Service { return a.service }

// Shutdown stops the heartbeats, then the service, letting the requests in
// flight finish until ctx ends.
func (a *Agent) Shutdown(ctx context.Context) error {
	a.manager.Stop()
	return a.service.Shutdown(ctx)
}
