package main

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Result is what one run measured.
type Result struct {
	Name    string        `json:"name"`
	Sent    int64         `json:"sent"`
	Elapsed time.Duration `json:"elapsed_ns"`
	// Rate is messages per second: calls completed, or for casts and
	// notifications messages received by the servers (end to end).
	Rate float64 `json:"rate"`
	// SendRate is casts accepted by the broker per second (casts only).
	SendRate float64 `json:"send_rate,omitempty"`
	Received int64   `json:"received,omitempty"`
	Lost     int64   `json:"lost,omitempty"`
	// Errors counts the sends that failed (see -max-errors).
	Errors int64 `json:"errors,omitempty"`
	// Latency is round-trip for calls, one-way (send to handler) for casts
	// and notifications.
	Latency Summary `json:"latency"`
	// Series has one point per second of the run: the senders' rates and
	// latencies (for casts the time the broker took to accept them).
	Series []Point `json:"series,omitempty"`
	// ReceiveSeries is the receivers' side of casts and notifications:
	// their rate and the one-way latency, per second.
	ReceiveSeries []Point `json:"receive_series,omitempty"`

	// hist holds every latency of Latency, for the plot.
	hist *hdr.Histogram
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
	if r.Errors > 0 {
		s += fmt.Sprintf(", %d ERRORS", r.Errors)
	}
	l := r.Latency
	return s + fmt.Sprintf("; latency p50 %v p90 %v p99 %v max %v", l.P50, l.P90, l.P99, l.Max)
}

// Summary holds latency percentiles.
type Summary struct {
	P50  time.Duration `json:"p50_ns"`
	P90  time.Duration `json:"p90_ns"`
	P99  time.Duration `json:"p99_ns"`
	P999 time.Duration `json:"p999_ns"`
	Max  time.Duration `json:"max_ns"`
	Mean time.Duration `json:"mean_ns"`
}

// Point is one second of a run.
type Point struct {
	// At is the end of the interval, from the start of the run.
	At     time.Duration `json:"at_ns"`
	Count  int64         `json:"count"`
	Rate   float64       `json:"rate"`
	P50    time.Duration `json:"p50_ns"`
	P99    time.Duration `json:"p99_ns"`
	Max    time.Duration `json:"max_ns"`
	Errors int64         `json:"errors,omitempty"`
}

// Latencies are recorded in nanoseconds from 1 µs (shorter ones count as
// 1 µs) to 10 minutes, with 3 significant digits: about 180 KB per
// histogram.
const (
	histMin = int64(time.Microsecond)
	histMax = int64(10 * time.Minute)
)

func newHist() *hdr.Histogram { return hdr.New(histMin, histMax, 3) }

// stripes spread recording over several histograms, each with its lock,
// so that concurrent senders rarely wait for each other.
const stripes = 8

// recorder collects latencies from many goroutines into HdrHistograms:
// the run's total, and one per interval for the series.
type recorder struct {
	next   atomic.Uint32
	errors atomic.Int64
	parts  [stripes]struct {
		mu sync.Mutex
		h  *hdr.Histogram
		_  [48]byte // keep the locks on separate cache lines
	}

	mu        sync.Mutex // guards what follows
	start     time.Time
	last      time.Time
	lastErrs  int64
	total     *hdr.Histogram
	interval  *hdr.Histogram
	series    []Point
	maxSeries int
}

func newRecorder() *recorder {
	r := &recorder{total: newHist(), interval: newHist(), maxSeries: 24 * 3600}
	for i := range r.parts {
		r.parts[i].h = newHist()
	}
	r.reset()
	return r
}

// add records one latency; stripe chooses the histogram (a worker's
// number), or -1 for the next one in turn.
func (r *recorder) add(stripe int, d time.Duration) {
	if stripe < 0 {
		stripe = int(r.next.Add(1))
	}
	p := &r.parts[stripe%stripes]
	v := min(max(int64(d), histMin), histMax)
	p.mu.Lock()
	p.h.RecordValue(v)
	p.mu.Unlock()
}

func (r *recorder) addError() { r.errors.Add(1) }

// reset forgets everything and restarts the clock.
func (r *recorder) reset() {
	for i := range r.parts {
		p := &r.parts[i]
		p.mu.Lock()
		p.h.Reset()
		p.mu.Unlock()
	}
	r.errors.Store(0)
	r.mu.Lock()
	r.total.Reset()
	r.series = nil
	r.start = time.Now()
	r.last, r.lastErrs = r.start, 0
	r.mu.Unlock()
}

// tick closes the interval that ends now: it moves the stripes into the
// total and returns the interval's point and the total so far.
func (r *recorder) tick() (Point, Summary) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	r.interval.Reset()
	for i := range r.parts {
		p := &r.parts[i]
		p.mu.Lock()
		r.interval.Merge(p.h)
		p.h.Reset()
		p.mu.Unlock()
	}
	r.total.Merge(r.interval)
	errs := r.errors.Load()
	pt := Point{At: now.Sub(r.start), Count: r.interval.TotalCount(), Errors: errs - r.lastErrs}
	if secs := now.Sub(r.last).Seconds(); secs > 0 {
		pt.Rate = float64(pt.Count) / secs
	}
	if pt.Count > 0 {
		pt.P50 = time.Duration(r.interval.ValueAtQuantile(50))
		pt.P99 = time.Duration(r.interval.ValueAtQuantile(99))
		pt.Max = time.Duration(r.interval.Max())
	}
	r.last, r.lastErrs = now, errs
	if len(r.series) < r.maxSeries {
		r.series = append(r.series, pt)
	}
	return pt, summarize(r.total)
}

// finish closes the last interval and returns the series, the summary and
// a copy of the total histogram.
func (r *recorder) finish() ([]Point, Summary, *hdr.Histogram) {
	_, s := r.tick()
	r.mu.Lock()
	defer r.mu.Unlock()
	series := r.series
	if n := len(series); n > 0 && series[n-1].Count == 0 && series[n-1].At-seriesAt(series, n-2) < time.Second/2 {
		series = series[:n-1] // the empty sliver after the last tick
	}
	return series, s, r.total.Clone()
}

func seriesAt(s []Point, i int) time.Duration {
	if i < 0 {
		return 0
	}
	return s[i].At
}

func summarize(h *hdr.Histogram) Summary {
	if h.TotalCount() == 0 {
		return Summary{}
	}
	q := func(p float64) time.Duration { return time.Duration(h.ValueAtQuantile(p)) }
	return Summary{P50: q(50), P90: q(90), P99: q(99), P999: q(99.9), Max: time.Duration(h.Max()), Mean: time.Duration(h.Mean())}
}
