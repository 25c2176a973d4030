package guestagent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/oslo-go/messaging/dispatcher"
	"github.com/oslo-go/messaging/examples/trove/conductor"
	"github.com/oslo-go/messaging/server"
	"github.com/oslo-go/messaging/target"
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

// Agent is a running guest agent: a Manager serving the topic
// guestagent.<instance id> as the server named after the instance.
type Agent struct {
	manager *Manager
	server  *server.Server
}

// Start starts the guest agent described by cfg on tr. It returns once the
// agent is serving. The agent answers oslo's server ping, which tells the
// taskmanager that it is up.
func Start(ctx context.Context, tr *transport.Transport, cfg Config) (*Agent, error) {
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
	srv, err := server.New(tr, target.Target{Topic: Topic(cfg.InstanceID), Server: cfg.InstanceID},
		[]any{m}, server.DispatchOptions(dispatcher.Ping(true)), server.WithLogger(m.log))
	if err != nil {
		return nil, err
	}
	if err := srv.Start(ctx); err != nil {
		return nil, err
	}
	return &Agent{manager: m, server: srv}, nil
}

// Manager returns the agent's endpoint.
func (a *Agent) Manager() *Manager { return a.manager }

// Shutdown stops the heartbeats, then the server, letting the requests in
// flight finish until ctx ends.
func (a *Agent) Shutdown(ctx context.Context) error {
	a.manager.Stop()
	return a.server.Shutdown(ctx)
}
