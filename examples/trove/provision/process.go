package provision

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"syscall"
)

// ProcessConfig describes how Process starts guest agents.
type ProcessConfig struct {
	// Binary is the path of the trove-guestagent program.
	Binary string
	// Args are the flags given to every guest agent; Process adds
	// --instance-id.
	Args []string
	// Env is added to the taskmanager's environment for the guest agents,
	// for example TRANSPORT_URL=..., which keeps broker passwords out of
	// the process list.
	Env []string
	// Output receives the guest agents' standard output and error;
	// nothing when nil.
	Output io.Writer
	// Logger is slog.Default() when nil.
	Logger *slog.Logger
}

// Process starts each guest agent as a child process running
// trove-guestagent. It is safe for concurrent use.
type Process struct {
	cfg ProcessConfig
	log *slog.Logger

	mu       sync.Mutex
	children map[string]*child
}

// child is a running guest agent process.
type child struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed once the process has exited
}

// NewProcess returns a provisioner that starts guest agents as child
// processes.
func NewProcess(cfg ProcessConfig) *Process {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Process{cfg: cfg, log: log, children: make(map[string]*child)}
}

// Provision starts the guest agent of instanceID. It returns once the
// process has started, before the agent serves.
func (p *Process) Provision(ctx context.Context, instanceID string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.children[instanceID] != nil {
		return errors.New("the instance already has a guest agent")
	}
	args := append([]string{"--instance-id=" + instanceID}, p.cfg.Args...)
	cmd := exec.Command(p.cfg.Binary, args...)
	cmd.Env = append(os.Environ(), p.cfg.Env...)
	cmd.Stdout, cmd.Stderr = p.cfg.Output, p.cfg.Output
	if err := cmd.Start(); err != nil {
		return err
	}
	c := &child{cmd: cmd, exited: make(chan struct{})}
	p.children[instanceID] = c
	go func() {
		err := cmd.Wait()
		p.log.Info("guest agent exited", "instance_id", instanceID, "pid", cmd.Process.Pid, "status", err)
		close(c.exited)
	}()
	p.log.Info("guest agent started", "instance_id", instanceID, "pid", cmd.Process.Pid)
	return nil
}

// Deprovision stops the guest agent of instanceID: it asks the process to
// terminate (SIGTERM) and kills it if it has not exited when ctx ends.
func (p *Process) Deprovision(ctx context.Context, instanceID string) error {
	p.mu.Lock()
	c := p.children[instanceID]
	delete(p.children, instanceID)
	p.mu.Unlock()
	if c == nil {
		return nil
	}
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		c.cmd.Process.Kill()
	}
	select {
	case <-c.exited:
		return nil
	case <-ctx.Done():
		c.cmd.Process.Kill()
		<-c.exited
		return ctx.Err()
	}
}

// Close stops every guest agent started by p.
func (p *Process) Close(ctx context.Context) error {
	p.mu.Lock()
	ids := make([]string, 0, len(p.children))
	for id := range p.children {
		ids = append(ids, id)
	}
	p.mu.Unlock()
	var errs []error
	for _, id := range ids {
		errs = append(errs, p.Deprovision(ctx, id))
	}
	return errors.Join(errs...)
}
