package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"runtime/debug"
	"time"
)

// ErrLoopDone, returned by the function of a looping call (or wrapped),
// ends the loop without error: oslo's LoopingCallDone.
var ErrLoopDone = errors.New("service: looping call done")

// ErrLoopTimeout is matched by the error of a BackOff loop whose failures
// went on for longer than its Timeout (oslo's LoopingCallTimeOut).
var ErrLoopTimeout = errors.New("service: looping call timed out")

// Loop is a running looping call. Stop it, or cancel the ctx it was
// started with; Wait returns its outcome.
type Loop struct {
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// Stop ends the loop after the current call and waits for it.
func (l *Loop) Stop() error {
	l.cancel()
	return l.Wait()
}

// Wait waits for the loop to end and returns nil when the function
// returned ErrLoopDone or the loop was stopped, the function's error when
// the loop stopped on it, or an error matching ErrLoopTimeout.
func (l *Loop) Wait() error {
	<-l.done
	return l.err
}

// Done is closed when the loop has ended.
func (l *Loop) Done() <-chan struct{} { return l.done }

// A LoopOption configures FixedInterval and BackOff.
type LoopOption func(*loopOptions)

type loopOptions struct {
	initialDelay    time.Duration
	continueOnError bool
	logger          *slog.Logger
	// BackOff
	interval, maxInterval, minInterval, timeout time.Duration
	jitter                                      float64
	clock                                       clock
}

// InitialDelay waits d before the first call.
func InitialDelay(d time.Duration) LoopOption { return func(o *loopOptions) { o.initialDelay = d } }

// ContinueOnError keeps a FixedInterval loop going when the function
// returns an error or panics (logged), as oslo's stop_on_exception=False;
// by default the loop stops and Wait returns the error.
func ContinueOnError(on bool) LoopOption { return func(o *loopOptions) { o.continueOnError = on } }

// StartingInterval is a BackOff loop's interval after a success, and the
// base of its backoff (default 1 s).
func StartingInterval(d time.Duration) LoopOption { return func(o *loopOptions) { o.interval = d } }

// MaxInterval bounds a BackOff loop's pause after failures (default 300 s).
func MaxInterval(d time.Duration) LoopOption { return func(o *loopOptions) { o.maxInterval = d } }

// MinInterval is a BackOff loop's shortest pause (default 1 ms).
func MinInterval(d time.Duration) LoopOption { return func(o *loopOptions) { o.minInterval = d } }

// BackOffTimeout ends a BackOff loop with an error matching ErrLoopTimeout
// once its failures would go on for longer than d (default 300 s); 0
// retries forever.
func BackOffTimeout(d time.Duration) LoopOption { return func(o *loopOptions) { o.timeout = d } }

// Jitter is the mean of the random factor applied to a BackOff loop's
// pauses (default 0.75, as oslo; a factor from a normal distribution with
// that mean and a deviation of 0.1).
func Jitter(mean float64) LoopOption { return func(o *loopOptions) { o.jitter = mean } }

// WithLoopLogger sets the logger of a loop; the default is slog.Default().
func WithLoopLogger(l *slog.Logger) LoopOption { return func(o *loopOptions) { o.logger = l } }

func loopDefaults(opts []LoopOption) loopOptions {
	o := loopOptions{interval: time.Second, maxInterval: 300 * time.Second, minInterval: time.Millisecond,
		timeout: 300 * time.Second, jitter: 0.75, clock: realClock{}}
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		o.logger = slog.Default()
	}
	return o
}

// FixedInterval calls f every interval until ctx ends, Stop, or f returns
// ErrLoopDone (oslo's FixedIntervalLoopingCall). The interval runs from
// the start of one call to the start of the next; a call that outlasts it
// is logged and the next one starts at once.
func FixedInterval(ctx context.Context, interval time.Duration, f func(ctx context.Context) error, opts ...LoopOption) *Loop {
	o := loopDefaults(opts)
	return startLoop(ctx, o, func(ctx context.Context) (time.Duration, error) {
		began := o.clock.Now()
		err := safeCall(ctx, f)
		if err != nil && !errors.Is(err, ErrLoopDone) {
			if !o.continueOnError {
				return 0, err
			}
			o.logger.Error("service: looping call failed", "error", err)
		}
		if errors.Is(err, ErrLoopDone) {
			return 0, err
		}
		took := o.clock.Now().Sub(began)
		if took > interval {
			o.logger.Warn("service: looping call outlasted its interval", "interval", interval, "by", took-interval)
			return 0, nil
		}
		return interval - took, nil
	})
}

// BackOff calls f until ctx ends, Stop, or f returns ErrLoopDone (oslo's
// BackOffLoopingCall): after a success (f returns true) it waits the
// starting interval, after a failure (false) twice the previous interval,
// each pause multiplied by a random jitter and bounded by MinInterval and
// MaxInterval. When the failures would go on past BackOffTimeout, it ends
// with an error matching ErrLoopTimeout. An error from f other than
// ErrLoopDone ends the loop with that error.
func BackOff(ctx context.Context, f func(ctx context.Context) (bool, error), opts ...LoopOption) *Loop {
	o := loopDefaults(opts)
	interval := o.interval
	var errTime time.Duration
	return startLoop(ctx, o, func(ctx context.Context) (time.Duration, error) {
		var ok bool
		err := safeCall(ctx, func(ctx context.Context) error {
			var err error
			ok, err = f(ctx)
			return err
		})
		if err != nil {
			return 0, err
		}
		factor := math.Abs(o.jitter + rand.NormFloat64()*0.1)
		if ok {
			interval, errTime = o.interval, 0
			return time.Duration(float64(interval) * factor), nil
		}
		idle := min(max(time.Duration(float64(interval)*2*factor), o.minInterval), o.maxInterval)
		interval = max(time.Duration(float64(interval)*2*o.jitter), o.minInterval)
		if o.timeout > 0 && errTime+idle > o.timeout {
			return 0, fmt.Errorf("%w after %v", ErrLoopTimeout, errTime)
		}
		errTime += idle
		return idle, nil
	})
}

// startLoop runs step until it returns an error or ctx ends; step returns
// the pause before the next step.
func startLoop(ctx context.Context, o loopOptions, step func(ctx context.Context) (time.Duration, error)) *Loop {
	ctx, cancel := context.WithCancel(ctx)
	l := &Loop{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		defer cancel()
		if !o.clock.Sleep(ctx, o.initialDelay) {
			return
		}
		for {
			idle, err := step(ctx)
			if err != nil {
				if !errors.Is(err, ErrLoopDone) && ctx.Err() == nil {
					l.err = err
				}
				return
			}
			if !o.clock.Sleep(ctx, idle) {
				return
			}
		}
	}()
	return l
}

// safeCall calls f, turning a panic into an error.
func safeCall(ctx context.Context, f func(ctx context.Context) error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("service: looping call panicked: %v\n%s", v, debug.Stack())
		}
	}()
	return f(ctx)
}
