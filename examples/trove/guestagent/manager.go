package guestagent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/oslo-go/messaging/examples/trove/conductor"
	"github.com/oslo-go/messaging/examples/trove/internal/reqctx"
	"github.com/oslo-go/messaging/serializer"
	"github.com/oslo-go/messaging/service"
	"github.com/oslo-go/messaging/target"
)

// Defaults of Config.
const (
	DefaultHeartbeatInterval = 2 * time.Second
	DefaultInstallTime       = 500 * time.Millisecond
)

// heartbeatTimeout bounds the sending of one periodic heartbeat.
const heartbeatTimeout = 5 * time.Second

// Manager is the guest agent's RPC endpoint for one instance.
type Manager struct {
	instanceID        string
	mountPoint        string
	heartbeatInterval time.Duration
	installTime       time.Duration
	conductor         *conductor.API
	log               *slog.Logger

	mu       sync.Mutex
	prepared bool
	healthy  bool // the datastore is ready: the periodic heartbeats report it
	stopped  bool
	stop     chan struct{} // closed by Stop
}

// NewManager returns the endpoint of the guest agent described by cfg,
// which reports to the conductor through cond.
func NewManager(cfg Config, cond *conductor.API) *Manager {
	cfg = cfg.withDefaults()
	return &Manager{
		instanceID:        cfg.InstanceID,
		mountPoint:        filepath.Join(cfg.DataDir, cfg.InstanceID),
		heartbeatInterval: cfg.HeartbeatInterval,
		installTime:       cfg.InstallTime,
		conductor:         cond,
		log:               cfg.Logger.With("instance_id", cfg.InstanceID),
		stop:              make(chan struct{}),
	}
}

// Target declares the version the endpoint implements.
func (m *Manager) Target() target.Target { return target.Target{Version: LatestVersion} }

// MountPoint returns the directory that stands for the instance's volume.
func (m *Manager) MountPoint() string { return m.mountPoint }

// Prepare installs the datastore: it reports "building" to the conductor,
// installs, then reports "healthy" (or "failed") and starts the periodic
// heartbeats. The reports carry the request context of the prepare, so
// the request that created the instance can be followed to the conductor.
func (m *Manager) Prepare(ctx context.Context, args PrepareArgs) error {
	m.mu.Lock()
	if m.prepared || m.stopped {
		m.mu.Unlock()
		return fmt.Errorf("instance %s: already prepared or stopping", m.instanceID)
	}
	m.prepared = true
	m.mu.Unlock()

	log := reqctx.Logger(ctx, m.log)
	log.Info("preparing the datastore", "datastore", args.DatastoreManager, "version", args.DsVersion)
	m.heartbeat(ctx, conductor.ServiceBuilding)
	if err := m.install(ctx, args); err != nil {
		m.heartbeat(ctx, conductor.ServiceFailed)
		return fmt.Errorf("instance %s: prepare: %w", m.instanceID, err)
	}
	m.heartbeat(ctx, conductor.ServiceHealthy)
	log.Info("the datastore is ready", "mount_point", m.mountPoint)

	m.mu.Lock()
	m.healthy = true
	m.mu.Unlock()
	return nil
}

// PeriodicTasks are the guest agent's periodic tasks (Trove's
// report_heartbeat): once the datastore is ready, "healthy" goes to the
// conductor every heartbeat interval.
func (m *Manager) PeriodicTasks() []service.Task {
	return []service.Task{{Name: "report_heartbeat", Spacing: m.heartbeatInterval, Run: m.reportHeartbeat}}
}

// GetFilesystemStats returns the statistics of the filesystem holding the
// instance's data.
func (m *Manager) GetFilesystemStats(ctx context.Context) (FSStats, error) {
	return filesystemStats(m.mountPoint)
}

// Stop stops the heartbeats and interrupts an installation in progress.
// It is idempotent.
func (m *Manager) Stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.stopped {
		m.stopped = true
		close(m.stop)
	}
}

// install stands for installing the datastore: it creates the mount point
// with a description of the datastore in it, and takes installTime.
func (m *Manager) install(ctx context.Context, args PrepareArgs) error {
	if err := os.MkdirAll(m.mountPoint, 0o755); err != nil {
		return err
	}
	desc, err := json.Marshal(map[string]string{"manager": args.DatastoreManager, "version": args.DsVersion})
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(m.mountPoint, "datastore.json"), desc, 0o644); err != nil {
		return err
	}
	timer := time.NewTimer(m.installTime)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-m.stop:
		return errors.New("the guest agent is stopping")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// heartbeat casts status to the conductor; a failure is only logged, as
// the next heartbeat will tell the same.
func (m *Manager) heartbeat(ctx context.Context, status string) {
	if err := m.conductor.Heartbeat(ctx, m.instanceID, status); err != nil {
		reqctx.Logger(ctx, m.log).Warn("heartbeat not sent", "service_status", status, "err", err)
	}
}

// reportHeartbeat reports "healthy" once the datastore is ready, with a
// request context of its own. A failure is logged by the service and the
// next heartbeat tells the same.
func (m *Manager) reportHeartbeat(ctx context.Context) error {
	m.mu.Lock()
	due := m.healthy && !m.stopped
	m.mu.Unlock()
	if !due {
		return nil
	}
	ctx = serializer.WithRequestContext(ctx, reqctx.ForService("trove-guestagent"))
	ctx, cancel := context.WithTimeout(ctx, heartbeatTimeout)
	defer cancel()
	return m.conductor.Heartbeat(ctx, m.instanceID, conductor.ServiceHealthy)
}
