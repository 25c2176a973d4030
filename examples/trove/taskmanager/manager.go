package taskmanager

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/oslo-go/messaging/dispatcher"
	"github.com/oslo-go/messaging/examples/trove/guestagent"
	"github.com/oslo-go/messaging/examples/trove/internal/reqctx"
	"github.com/oslo-go/messaging/examples/trove/store"
	"github.com/oslo-go/messaging/notify"
	"github.com/oslo-go/messaging/serializer"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
)

// DefaultBootTimeout is how long a new guest agent may take to answer.
const DefaultBootTimeout = 30 * time.Second

// Pauses of waitForGuest.
const (
	pingTimeout  = time.Second
	pingInterval = 100 * time.Millisecond
)

// Provisioner starts and stops the guest agents of instances: the part
// Nova plays in Trove, where each instance is a virtual machine whose
// guest agent starts when it boots.
type Provisioner interface {
	// Provision starts the guest agent of an instance. It may return
	// before the agent serves.
	Provision(ctx context.Context, instanceID string) error
	// Deprovision stops the guest agent of an instance; an instance
	// without one is not an error.
	Deprovision(ctx context.Context, instanceID string) error
}

// Config is what the taskmanager's endpoint works with.
type Config struct {
	Transport   *transport.Transport // to reach the guest agents
	Store       *store.Store
	Provisioner Provisioner
	// Notifier sends trove.instance.create.* notifications; nil sends none.
	Notifier *notify.Notifier
	// GuestAPI says how to reach guest agents.
	GuestAPI guestagent.APIConfig
	// BootTimeout bounds the wait for a new guest agent;
	// DefaultBootTimeout when 0.
	BootTimeout time.Duration
	// Logger is slog.Default() when nil.
	Logger *slog.Logger
}

// Manager is the taskmanager's RPC endpoint.
type Manager struct {
	tr          *transport.Transport
	store       *store.Store
	provisioner Provisioner
	notifier    *notify.Notifier
	guestAPI    guestagent.APIConfig
	bootTimeout time.Duration
	log         *slog.Logger
}

// NewManager returns the taskmanager's endpoint.
func NewManager(cfg Config) *Manager {
	if cfg.BootTimeout == 0 {
		cfg.BootTimeout = DefaultBootTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Manager{
		tr:          cfg.Transport,
		store:       cfg.Store,
		provisioner: cfg.Provisioner,
		notifier:    cfg.Notifier,
		guestAPI:    cfg.GuestAPI,
		bootTimeout: cfg.BootTimeout,
		log:         cfg.Logger,
	}
}

// Target declares the version the endpoint implements.
func (m *Manager) Target() target.Target { return target.Target{Version: LatestVersion} }

// CreateInstance provisions the guest of a new instance, waits until its
// agent answers, and casts prepare to it; the guest then reports to the
// conductor. It sends trove.instance.create.start, then .end or .error.
// The request context of the API request goes along on the cast to the
// guest.
func (m *Manager) CreateInstance(ctx context.Context, args CreateInstanceArgs) error {
	log := reqctx.Logger(ctx, m.log).With("instance_id", args.InstanceID)
	log.Info("creating instance", "name", args.Name, "datastore", args.DatastoreManager)
	payload := InstancePayload{
		InstanceID:       args.InstanceID,
		InstanceName:     args.Name,
		TenantID:         serializer.RequestContextFrom(ctx).String("project_id"),
		FlavorID:         args.FlavorID,
		VolumeSize:       args.VolumeSize,
		Datastore:        args.DatastoreManager,
		DatastoreVersion: args.DsVersion,
	}
	m.notify(ctx, "info", "trove.instance.create.start", payload)

	if err := m.create(ctx, args); err != nil {
		if err := m.store.SetTaskStatus(ctx, args.InstanceID, store.TaskBuildingError); err != nil {
			log.Warn("cannot record the failure", "err", err)
		}
		payload.Message = err.Error()
		m.notify(ctx, "error", "trove.instance.create.error", payload)
		return err
	}
	m.notify(ctx, "info", "trove.instance.create.end", payload)
	log.Info("instance created; the guest is preparing the datastore")
	return nil
}

func (m *Manager) create(ctx context.Context, args CreateInstanceArgs) error {
	id := args.InstanceID
	if err := m.provisioner.Provision(ctx, id); err != nil {
		return fmt.Errorf("instance %s: start the guest agent: %w", id, err)
	}
	guest, err := guestagent.NewAPI(m.tr, id, m.guestAPI)
	if err != nil {
		return err
	}
	if err := m.waitForGuest(ctx, guest); err != nil {
		return fmt.Errorf("instance %s: %w", id, err)
	}
	prepare := guestagent.PrepareArgs{DatastoreManager: args.DatastoreManager, DsVersion: args.DsVersion}
	if err := guest.Prepare(ctx, prepare); err != nil {
		return fmt.Errorf("instance %s: prepare: %w", id, err)
	}
	return m.store.SetTaskStatus(ctx, id, store.TaskNone)
}

// waitForGuest pings the guest agent until it answers, for at most the
// boot timeout. A cast sent before the agent listens could be lost (a
// broker drops messages for queues that do not exist yet), so prepare
// waits for the answer.
func (m *Manager) waitForGuest(ctx context.Context, guest *guestagent.API) error {
	ctx, cancel := context.WithTimeout(ctx, m.bootTimeout)
	defer cancel()
	ticker := time.NewTicker(pingInterval)
	defer ticker.Stop()
	for {
		err := guest.Ping(ctx, pingTimeout)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the guest agent did not answer within %s: %w", m.bootTimeout, err)
		case <-ticker.C:
		}
	}
}

// DeleteInstance stops the guest of an instance and removes the instance.
func (m *Manager) DeleteInstance(ctx context.Context, args DeleteInstanceArgs) error {
	log := reqctx.Logger(ctx, m.log).With("instance_id", args.InstanceID)
	log.Info("deleting instance")
	if err := m.provisioner.Deprovision(ctx, args.InstanceID); err != nil {
		return fmt.Errorf("instance %s: stop the guest agent: %w", args.InstanceID, err)
	}
	if err := m.store.Delete(ctx, args.InstanceID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return dispatcher.Expected(err) // deleted twice
		}
		return err
	}
	log.Info("instance deleted")
	return nil
}

// notify sends a notification with priority ("info", "error") when the
// taskmanager has a notifier.
// Notifications are best effort: a failure is logged.
func (m *Manager) notify(ctx context.Context, priority, eventType string, payload InstancePayload) {
	if m.notifier == nil {
		return
	}
	if err := m.notifier.Notify(ctx, priority, eventType, payload); err != nil {
		reqctx.Logger(ctx, m.log).Warn("notification not sent", "event_type", eventType, "err", err)
	}
}
