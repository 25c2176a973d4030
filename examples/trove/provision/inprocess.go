// Package provision holds the two ways trove-taskmanager boots the guest
// of an instance (taskmanager.Provisioner): InProcess runs the guest agent
// inside the taskmanager's process, for the all-in-one command and tests;
// Process starts the trove-guestagent program as a child process, for
// deployments of separate processes.
//
// In Trove each instance is a virtual machine booted through Nova, whose
// guest agent outlives the taskmanager. Here the guests stop with the
// provisioner that started them (Close), and only that provisioner can
// stop them.
package provision

import (
	"context"
	"errors"
	"sync"

	"github.com/oslo-go/messaging/examples/trove/guestagent"
	"github.com/oslo-go/messaging/transport"
)

// InProcess runs guest agents in the process, on one transport.
// It is safe for concurrent use.
type InProcess struct {
	tr    *transport.Transport
	guest guestagent.Config

	mu     sync.Mutex
	agents map[string]*guestagent.Agent
}

// NewInProcess returns a provisioner that starts guest agents on tr,
// configured by guest (whose InstanceID it sets for each instance).
func NewInProcess(tr *transport.Transport, guest guestagent.Config) *InProcess {
	return &InProcess{tr: tr, guest: guest, agents: make(map[string]*guestagent.Agent)}
}

// Provision starts the guest agent of instanceID. It returns once the
// agent serves.
func (p *InProcess) Provision(ctx context.Context, instanceID string) error {
	cfg := p.guest
	cfg.InstanceID = instanceID
	agent, err := guestagent.Start(ctx, p.tr, cfg)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.agents[instanceID] != nil {
		agent.Shutdown(ctx)
		return errors.New("the instance already has a guest agent")
	}
	p.agents[instanceID] = agent
	return nil
}

// Deprovision stops the guest agent of instanceID, letting the requests
// it is handling finish until ctx ends.
func (p *InProcess) Deprovision(ctx context.Context, instanceID string) error {
	p.mu.Lock()
	agent := p.agents[instanceID]
	delete(p.agents, instanceID)
	p.mu.Unlock()
	if agent == nil {
		return nil
	}
	return agent.Shutdown(ctx)
}

// Close stops every guest agent started by p.
func (p *InProcess) Close(ctx context.Context) error {
	p.mu.Lock()
	ids := make([]string, 0, len(p.agents))
	for id := range p.agents {
		ids = append(ids, id)
	}
	p.mu.Unlock()
	var errs []error
	for _, id := range ids {
		errs = append(errs, p.Deprovision(ctx, id))
	}
	return errors.Join(errs...)
}
