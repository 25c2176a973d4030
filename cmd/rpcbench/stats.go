package main

import (
	"fmt"
	"slices"
	"sync"
	"time"
)

// Result is what one run measured.
type Result struct {
	Name    string        `json:"name"`
	Sent    int64         `json:"sent"`
	Elapsed time.Duration `json:"elapsed_ns"`
	// Rate is messages per second: calls completed, or for casts messages
	// received by the servers (end to end).
	Rate float64 `json:"rate"`
	// SendRate is casts accepted by the broker per second (casts only).
	SendRate float64 `json:"send_rate,omitempty"`
	Received int64   `json:"received,omitempty"`
	Lost     int64   `json:"lost,omitempty"`
	// Latency is round-trip for calls, one-way (send to handler) for casts.
	Latency Summary `json:"latency"`
}

// Summary returns the one-line text form of r.
func (r Result) Summary() string {
	s := fmt.Sprintf("%d msgs in %.2fs: %.0f msg/s", r.Sent, r.Elapsed.Seconds(), r.Rate)
	if r.SendRate > 0 {
		s += fmt.Sprintf(" end to end (sent at %.0f msg/s, received %d", r.SendRate, r.Received)
		if r.Lost > 0 {
			s += fmt.Sprintf(", LOST %d", r.Lost)
		}
		s += ")"
	}
	l := r.Latency
	return s + fmt.Sprintf("; latency p50 %v p90 %v p99 %v max %v", l.P50, l.P90, l.P99, l.Max)
}

// Summary holds latency percentiles.
type Summary struct {
	P50  time.Duration `json:"p50_ns"`
	P90  time.Duration `json:"p90_ns"`
	P99  time.Duration `json:"p99_ns"`
	Max  time.Duration `json:"max_ns"`
	Mean time.Duration `json:"mean_ns"`
}

// latencies collects durations from many goroutines.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func newLatencies() *latencies { return &latencies{d: make([]time.Duration, 0, 4096)} }

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

func (l *latencies) addAll(ds []time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, ds...)
	l.mu.Unlock()
}

func (l *latencies) reset() {
	l.mu.Lock()
	l.d = l.d[:0]
	l.mu.Unlock()
}

func (l *latencies) n() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.d)
}

func (l *latencies) summary() Summary {
	l.mu.Lock()
	d := slices.Clone(l.d)
	l.mu.Unlock()
	if len(d) == 0 {
		return Summary{}
	}
	slices.Sort(d)
	var sum time.Duration
	for _, x := range d {
		sum += x
	}
	at := func(p float64) time.Duration { return d[min(len(d)-1, int(p*float64(len(d))))] }
	return Summary{P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: d[len(d)-1], Mean: sum / time.Duration(len(d))}
}
