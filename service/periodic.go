package service

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"time"
)

// DefaultSpacing is the spacing of a task that gives none (oslo's
// DEFAULT_INTERVAL).
const DefaultSpacing = 60 * time.Second

// Task is a periodic task of a manager: oslo.service's @periodic_task.
type Task struct {
	// Name names the task in logs; required.
	Name string
	// Spacing is the time between runs; 0 means DefaultSpacing, negative
	// disables the task.
	Spacing time.Duration
	// RunImmediately runs the task as soon as the tasks start (after
	// InitialDelay), instead of one Spacing later.
	RunImmediately bool
	// InitialDelay postpones the first run.
	InitialDelay time.Duration
	// Run is the task. A returned error or a panic is logged, and the task
	// runs again at its next time. ctx ends when the tasks stop.
	Run func(ctx context.Context) error
}

// PeriodicTasker is implemented by managers that have periodic tasks
// (oslo's PeriodicTasks). The tasks of one manager run one at a time, in
// the order given, never overlapping.
type PeriodicTasker interface {
	PeriodicTasks() []Task
}

// taskRunner runs the tasks of one manager in one goroutine.
type taskRunner struct {
	tasks   []Task
	next    []time.Time
	clock   clock
	log     *slog.Logger
	owner   string        // the manager's type, for logs
	fuzzy   time.Duration // oslo's periodic_fuzzy_delay: a random start delay up to it
	maxIdle time.Duration // oslo's periodic_interval_max: the longest sleep between checks

	cancel context.CancelFunc
	done   chan struct{}
}

func newTaskRunner(tasks []Task, c clock, log *slog.Logger, owner string, fuzzy, maxIdle time.Duration) (*taskRunner, error) {
	r := &taskRunner{clock: c, log: log, owner: owner, fuzzy: fuzzy, maxIdle: maxIdle}
	for i, t := range tasks {
		if t.Name == "" || t.Run == nil {
			return nil, fmt.Errorf("service: periodic task %d of %s needs a Name and a Run function", i, owner)
		}
		if t.Spacing < 0 {
			log.Info("service: skipping periodic task: its spacing is negative", "task", owner+"."+t.Name)
			continue
		}
		if t.Spacing == 0 {
			t.Spacing = DefaultSpacing
		}
		r.tasks = append(r.tasks, t)
	}
	return r, nil
}

// start runs the tasks until stop.
func (r *taskRunner) start() {
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan struct{})
	go r.loop(ctx)
}

// stop ends the tasks and waits for the running one, until ctx ends.
func (r *taskRunner) stop(ctx context.Context) error {
	if r.cancel == nil {
		return nil
	}
	r.cancel()
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("service: periodic tasks of %s still running: %w", r.owner, ctx.Err())
	}
}

func (r *taskRunner) loop(ctx context.Context) {
	defer close(r.done)
	if len(r.tasks) == 0 {
		return
	}
	start := r.clock.Now()
	if r.fuzzy > 0 {
		start = start.Add(rand.N(r.fuzzy))
	}
	r.next = make([]time.Time, len(r.tasks))
	for i, t := range r.tasks {
		r.next[i] = start.Add(t.InitialDelay)
		if !t.RunImmediately {
			r.next[i] = r.next[i].Add(t.Spacing)
		}
	}
	for {
		idle := r.runDue(ctx)
		if ctx.Err() != nil {
			return
		}
		if r.maxIdle > 0 && idle > r.maxIdle {
			idle = r.maxIdle
		}
		if !r.clock.Sleep(ctx, idle) {
			return
		}
	}
}

// runDue runs the tasks whose time has come, in order, and returns how
// long until the next one is due (oslo's run_periodic_tasks).
func (r *taskRunner) runDue(ctx context.Context) time.Duration {
	idle := DefaultSpacing
	for i, t := range r.tasks {
		if ctx.Err() != nil {
			return 0
		}
		now := r.clock.Now()
		if wait := r.next[i].Sub(now); wait > 0 {
			idle = min(idle, wait)
			continue
		}
		r.next[i] = nextRun(r.next[i], now, t.Spacing)
		r.run(ctx, t)
		idle = min(idle, max(r.next[i].Sub(r.clock.Now()), 0))
	}
	return idle
}

// nextRun is oslo's _nearest_boundary: the next multiple of spacing after
// the planned run, with up to 5% of jitter (whole seconds) so that
// services started together drift apart.
func nextRun(planned, now time.Time, spacing time.Duration) time.Time {
	behind := now.Sub(planned) % spacing
	jitter := time.Duration(float64(spacing)*rand.Float64()/20) / time.Second * time.Second
	return now.Add(spacing - behind + jitter)
}

func (r *taskRunner) run(ctx context.Context, t Task) {
	name := r.owner + "." + t.Name
	defer func() {
		if v := recover(); v != nil {
			r.log.Error("service: periodic task panicked", "task", name, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		}
	}()
	r.log.Debug("service: running periodic task", "task", name)
	if err := t.Run(ctx); err != nil && ctx.Err() == nil {
		r.log.Error("service: periodic task failed", "task", name, "error", err)
	}
}

// clock is time, or a fake one in tests.
type clock interface {
	Now() time.Time
	// Sleep waits d or until ctx ends; it reports whether d passed.
	Sleep(ctx context.Context, d time.Duration) bool
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
