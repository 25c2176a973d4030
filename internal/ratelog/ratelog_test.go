package ratelog

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	now := time.Unix(0, 0)
	l := &Limiter{Interval: time.Second, now: func() time.Time { return now }}
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() { defer wg.Done(); l.Warn(log, "unreachable", "broker unreachable", "host", "h") }()
	}
	wg.Wait()
	l.Warn(log, "other", "other problem")
	if got := strings.Count(buf.String(), "broker unreachable"); got != 1 {
		t.Fatalf("%d lines for 64 repeats in one interval:\n%s", got, buf.String())
	}
	if !strings.Contains(buf.String(), "other problem") {
		t.Fatal("a line of another key was held back")
	}
	now = now.Add(time.Second)
	buf.Reset()
	l.Warn(log, "unreachable", "broker unreachable")
	if !strings.Contains(buf.String(), "repeated=63") {
		t.Fatalf("next interval's line does not count the 63 held back: %s", buf.String())
	}
}
