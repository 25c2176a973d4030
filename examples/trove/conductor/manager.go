package conductor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/oslo-go/messaging/dispatcher"
	"github.com/oslo-go/messaging/examples/trove/internal/reqctx"
	"github.com/oslo-go/messaging/examples/trove/store"
	"github.com/oslo-go/messaging/service"
	"github.com/oslo-go/messaging/target"
)

// DefaultHeartbeatExpiry is how long an instance may go without a
// heartbeat before the conductor takes its guest for gone (Trove's
// agent_heartbeat_expiry).
const DefaultHeartbeatExpiry = 60 * time.Second

// Manager is the conductor's RPC endpoint.
type Manager struct {
	store  *store.Store
	log    *slog.Logger
	expiry time.Duration
}

// An Option configures the Manager.
type Option func(*Manager)

// HeartbeatExpiry sets how long a healthy instance may go without a
// heartbeat before it is marked "shutdown" (Trove's agent_heartbeat_expiry;
// default 60 s); the check runs every tenth of it.
func HeartbeatExpiry(d time.Duration) Option { return func(m *Manager) { m.expiry = d } }

// NewManager returns the conductor's endpoint, which updates the instances
// in st.
func NewManager(st *store.Store, log *slog.Logger, opts ...Option) *Manager {
	m := &Manager{store: st, log: log, expiry: DefaultHeartbeatExpiry}
	for _, o := range opts {
		o(m)
	}
	return m
}

// PeriodicTasks are the conductor's periodic tasks: the check for guests
// whose heartbeats stopped.
func (m *Manager) PeriodicTasks() []service.Task {
	return []service.Task{{Name: "check_stale_heartbeats", Spacing: m.expiry / 10, Run: m.CheckStaleHeartbeats}}
}

// CheckStaleHeartbeats marks "shutdown" the healthy instances whose last
// heartbeat was sent more than the heartbeat expiry ago: their guest agent
// stopped reporting. A later heartbeat makes them healthy again.
func (m *Manager) CheckStaleHeartbeats(ctx context.Context) error {
	cutoff := float64(time.Now().Add(-m.expiry).UnixNano()) / 1e9
	ids, err := m.store.MarkStale(ctx, cutoff, ServiceHealthy, ServiceShutdown)
	for _, id := range ids {
		m.log.Warn("no heartbeat from the guest agent: instance marked shutdown", "instance_id", id, "expiry", m.expiry)
	}
	return err
}

// Target declares the version the endpoint implements.
func (m *Manager) Target() target.Target { return target.Target{Version: LatestVersion} }

// Heartbeat records the service status a guest reported. A heartbeat
// older than the last one applied is ignored, since casts may overtake
// each other, and so is one for an instance deleted meanwhile.
func (m *Manager) Heartbeat(ctx context.Context, args HeartbeatArgs) error {
	log := reqctx.Logger(ctx, m.log).With("instance_id", args.InstanceID)
	status := args.Payload.ServiceStatus
	if !IsServiceStatus(status) {
		return fmt.Errorf("heartbeat for instance %s: unknown service status %q", args.InstanceID, status)
	}
	inst, err := m.store.Get(ctx, args.InstanceID)
	if err != nil {
		return expectNotFound(err)
	}
	applied, err := m.store.UpdateServiceStatus(ctx, args.InstanceID, status, args.Sent)
	switch {
	case err != nil:
		return expectNotFound(err)
	case !applied:
		log.Info("heartbeat older than the last one applied: ignored", "service_status", status)
	case status != inst.ServiceStatus:
		log.Info("service status changed", "from", inst.ServiceStatus, "to", status)
	default:
		log.Debug("heartbeat", "service_status", status)
	}
	return nil
}

// expectNotFound marks a missing instance as an expected error, which the
// server logs without alarm: the guest of a deleted instance may still
// have a heartbeat in flight.
func expectNotFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return dispatcher.Expected(err)
	}
	return err
}
