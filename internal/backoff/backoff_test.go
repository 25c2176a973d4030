package backoff

import (
	"context"
	"testing"
	"time"
)

func TestAt(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name string
		b    Backoff
		want []time.Duration
	}{
		{"exponential", *Exponential(10*ms, 100*ms), []time.Duration{10 * ms, 20 * ms, 40 * ms, 80 * ms, 100 * ms, 100 * ms}},
		{"linear like oslo", *Linear(time.Second, 2*time.Second, 5*time.Second), []time.Duration{time.Second, 3 * time.Second, 5 * time.Second, 5 * time.Second}},
		{"constant", Backoff{Initial: 7 * ms}, []time.Duration{7 * ms, 7 * ms, 7 * ms}},
		{"unbounded", Backoff{Initial: ms, Factor: 10}, []time.Duration{ms, 10 * ms, 100 * ms}},
	}
	for _, tt := range tests {
		for n, want := range tt.want {
			if got := tt.b.At(n); got != want {
				t.Errorf("%s: At(%d) = %v, want %v", tt.name, n, got, want)
			}
		}
	}
	// Huge retry counts stay at Max rather than overflowing.
	if got := Exponential(time.Second, time.Minute).At(10_000); got != time.Minute {
		t.Errorf("At(10000) = %v", got)
	}
}

func TestNextResetJitter(t *testing.T) {
	b := Exponential(10*time.Millisecond, time.Second)
	b.Next()
	b.Next()
	if b.Retries() != 2 || b.At(b.Retries()) != 40*time.Millisecond {
		t.Fatalf("after two retries: %d, next %v", b.Retries(), b.At(b.Retries()))
	}
	b.Reset()
	if d := b.Next(); d != 10*time.Millisecond {
		t.Fatalf("after Reset: %v", d)
	}
	b = &Backoff{Initial: time.Millisecond, Jitter: time.Millisecond}
	for range 100 {
		if d := b.Next(); d < time.Millisecond || d >= 2*time.Millisecond {
			t.Fatalf("jittered pause %v outside [1ms, 2ms)", d)
		}
	}
	if Jitter(0) != 0 || Jitter(-1) != 0 {
		t.Fatal("no jitter expected")
	}
}

func TestSleep(t *testing.T) {
	if !Sleep(context.Background(), time.Millisecond, nil) {
		t.Fatal("a full pause reported as cut short")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if Sleep(ctx, time.Hour, nil) || Sleep(ctx, 0, nil) {
		t.Fatal("a canceled ctx did not cut the pause short")
	}
	stop := make(chan struct{})
	close(stop)
	if Sleep(context.Background(), time.Hour, stop) {
		t.Fatal("a closed stop did not cut the pause short")
	}
}
