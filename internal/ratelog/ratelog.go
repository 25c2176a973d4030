// Package ratelog rate-limits repeated log lines: a warning that a broker
// is unreachable, logged by 64 callers at once, appears once per interval
// with the count of the ones held back, instead of hundreds of times.
package ratelog

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// DefaultInterval is how often a repeated line gets through.
const DefaultInterval = 10 * time.Second

// Limiter lets each kind of line (a key chosen by the code, never by input)
// through once per interval. The lines it holds back go to Debug. It is
// safe for concurrent use; the zero value uses DefaultInterval.
type Limiter struct {
	Interval time.Duration

	mu    sync.Mutex
	state map[string]*entry
	now   func() time.Time // for tests
}

type entry struct {
	last       time.Time
	suppressed int
}

// Allow reports whether a line of this key may be logged now, and how
// many were held back since the last one.
func (l *Limiter) Allow(key string) (ok bool, suppressed int) {
	now := time.Now
	if l.now != nil {
		now = l.now
	}
	iv := l.Interval
	if iv <= 0 {
		iv = DefaultInterval
	}
	t := now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.state == nil {
		l.state = map[string]*entry{}
	}
	e := l.state[key]
	if e == nil {
		l.state[key] = &entry{last: t}
		return true, 0
	}
	if t.Sub(e.last) < iv {
		e.suppressed++
		return false, 0
	}
	n := e.suppressed
	e.last, e.suppressed = t, 0
	return true, n
}

// Log logs msg at level once per interval for key, with the attribute
// "repeated" counting the lines held back since the last one; the others
// are logged at Debug.
func (l *Limiter) Log(log *slog.Logger, level slog.Level, key, msg string, args ...any) {
	ok, n := l.Allow(key)
	if !ok {
		log.Debug(msg, args...)
		return
	}
	if n > 0 {
		args = append(args, "repeated", n)
	}
	log.Log(context.Background(), level, msg, args...)
}

// Warn is Log at Warn.
func (l *Limiter) Warn(log *slog.Logger, key, msg string, args ...any) {
	l.Log(log, slog.LevelWarn, key, msg, args...)
}
