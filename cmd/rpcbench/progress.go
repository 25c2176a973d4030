package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// meter closes the recorders' intervals every second (the series) and,
// with a writer, prints a line about each:
//
//	library    3s   12345 msg/s  p50 1.2ms p99 4.5ms so far  errors 0
type meter struct {
	w        io.Writer
	name     string
	send     *recorder
	recv     *recorder // nil unless casts are received here
	stopOnce sync.Once
	quit     chan struct{}
	done     chan struct{}
}

func startMeter(w io.Writer, name string, send, recv *recorder) *meter {
	m := &meter{w: w, name: name, send: send, recv: recv, quit: make(chan struct{}), done: make(chan struct{})}
	go m.run()
	return m
}

func (m *meter) run() {
	defer close(m.done)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-m.quit:
			return
		case <-t.C:
		}
		pt, total := m.send.tick()
		line := fmt.Sprintf("%-9s %4.0fs %8.0f msg/s  p50 %v p99 %v so far  errors %d",
			m.name, pt.At.Seconds(), pt.Rate, round(total.P50), round(total.P99), m.send.errors.Load())
		if m.recv != nil {
			rpt, rtotal := m.recv.tick()
			line += fmt.Sprintf("  received %.0f msg/s, one-way p50 %v p99 %v", rpt.Rate, round(rtotal.P50), round(rtotal.P99))
		}
		if m.w != nil {
			fmt.Fprintln(m.w, line)
		}
	}
}

// stop ends the meter; the recorders' last interval is closed by finish.
func (m *meter) stop() {
	m.stopOnce.Do(func() { close(m.quit) })
	<-m.done
}

// round shortens a latency for display.
func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	case d >= 10*time.Microsecond:
		return d.Round(time.Microsecond)
	}
	return d.Round(100 * time.Nanosecond)
}

// isTerminal reports whether f is a terminal (a character device; the
// standard library has no finer test, so /dev/null counts too, where the
// lines are lost anyway).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
