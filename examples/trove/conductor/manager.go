package conductor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/oslo-go/messaging/dispatcher"
	"github.com/oslo-go/messaging/examples/trove/internal/reqctx"
	"github.com/oslo-go/messaging/examples/trove/store"
	"github.com/oslo-go/messaging/target"
)

// Manager is the conductor's RPC endpoint.
type Manager struct {
	store *store.Store
	log   *slog.Logger
}

// NewManager returns the conductor's endpoint, which updates the instances
// in st.
func NewManager(st *store.Store, log *slog.Logger) *Manager {
	return &Manager{store: st, log: log}
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
