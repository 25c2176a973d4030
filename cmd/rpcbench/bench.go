package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oslo-go/messaging/client"
	"github.com/oslo-go/messaging/serializer/msgpack"
	"github.com/oslo-go/messaging/server"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
)

// Config is one benchmark run.
type Config struct {
	URL         string        `json:"url"`
	Mode        string        `json:"mode"`
	Concurrency int           `json:"concurrency"`
	Size        int           `json:"size"`
	Duration    time.Duration `json:"duration_ns"`
	Count       int           `json:"count"`
	Servers     int           `json:"servers"`
	// ServerConcurrency is each server's MaxConcurrency; 0 means max(64, Concurrency).
	ServerConcurrency int           `json:"server_concurrency,omitempty"`
	Timeout           time.Duration `json:"timeout_ns"`
	Warmup            time.Duration `json:"warmup_ns"`
	Topic             string        `json:"topic"`
	Codec             string        `json:"codec"`
	Baseline          bool          `json:"baseline"`
	CPUProfile        string        `json:"-"`
	SkipLibrary       bool          `json:"-"`
	Compare           []string      `json:"compare,omitempty"`
	JSON              bool          `json:"-"`
	Verbose           bool          `json:"-"`
}

func (c *Config) validate() error {
	switch c.Mode {
	case "call", "cast", "fanout":
	default:
		return fmt.Errorf("unknown -mode %q (call, cast, fanout)", c.Mode)
	}
	switch c.Codec {
	case "json", "msgpack":
	default:
		return fmt.Errorf("unknown -codec %q (json, msgpack)", c.Codec)
	}
	if c.Concurrency < 1 || c.Servers < 0 || c.Size < 0 || c.Count < 0 {
		return errors.New("-c must be at least 1, -servers, -size and -n not negative")
	}
	if c.Servers == 0 && c.Mode != "cast" {
		return errors.New("-servers 0 (publish only) needs -mode cast")
	}
	if c.Count == 0 && c.Duration <= 0 {
		return errors.New("give -duration or -n")
	}
	if _, err := transport.ParseURL(c.URL); err != nil {
		return err
	}
	if c.Topic == "" {
		c.Topic = fmt.Sprintf("rpcbench_%08x", rand.Uint32())
	}
	return nil
}

func (c *Config) serverConcurrency() int {
	if c.ServerConcurrency > 0 {
		return c.ServerConcurrency
	}
	return max(64, c.Concurrency)
}

// Payload is what every message carries (oslo simulator's Message: a
// random string and timestamps).
type Payload struct {
	Seq    int64  `json:"seq"`
	Cargo  string `json:"cargo"`
	SentNs int64  `json:"client_ts"`
}

// Endpoint is the benchmark server's endpoint. All servers of a run share
// one sink.
type Endpoint struct{ sink *Sink }

// Sink counts the casts the servers received.
type Sink struct {
	received atomic.Int64
	lastNs   atomic.Int64 // time of the last receipt
	lat      *latencies
	done     chan struct{}
	want     atomic.Int64 // casts to receive before done closes; 0: not known yet
	once     sync.Once
}

// NewSink returns an empty sink.
func NewSink() *Sink { return &Sink{lat: newLatencies(), done: make(chan struct{})} }

// Add records one received cast sent at sentNs.
func (s *Sink) Add(sentNs int64) {
	now := time.Now().UnixNano()
	s.lat.add(time.Duration(now - sentNs))
	s.lastNs.Store(now)
	n := s.received.Add(1)
	if w := s.want.Load(); w > 0 && n >= w {
		s.once.Do(func() { close(s.done) })
	}
}

// expect sets how many casts the run must receive.
func (s *Sink) expect(n int64) {
	s.want.Store(n)
	if s.received.Load() >= n {
		s.once.Do(func() { close(s.done) })
	}
}

// Info answers a call with the payload's timestamp (oslo simulator's info).
func (e *Endpoint) Info(_ context.Context, p Payload) (int64, error) {
	return p.SentNs, nil
}

// Note records a cast's one-way latency.
func (e *Endpoint) Note(_ context.Context, p Payload) error {
	e.sink.Add(p.SentNs)
	return nil
}

func randomCargo(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + rand.IntN(26))
	}
	return string(b)
}

// runLibrary runs the workload through this library.
func runLibrary(ctx context.Context, cfg Config, logger *slog.Logger) (Result, error) {
	opts := []transport.Option{transport.WithLogger(logger)}
	if cfg.Codec == "msgpack" {
		opts = append(opts, transport.WithCodec(msgpack.Codec{}))
	}
	open := func() (*transport.Transport, error) {
		octx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		return transport.Open(octx, cfg.URL, opts...)
	}
	sink := NewSink()
	for i := range cfg.Servers {
		tr, err := open()
		if err != nil {
			return Result{}, err
		}
		defer tr.Close()
		srv, err := server.New(tr, target.Target{Topic: cfg.Topic, Server: fmt.Sprintf("server-%d", i)}, []any{&Endpoint{sink: sink}},
			server.MaxConcurrency(cfg.serverConcurrency()), server.WithLogger(logger))
		if err != nil {
			return Result{}, err
		}
		if err := srv.Start(ctx); err != nil {
			return Result{}, err
		}
		defer srv.Close()
	}
	tr, err := open()
	if err != nil {
		return Result{}, err
	}
	defer tr.Close()
	c, err := client.New(tr, target.Target{Topic: cfg.Topic, Fanout: cfg.Mode == "fanout"}, client.Timeout(cfg.Timeout))
	if err != nil {
		return Result{}, err
	}
	send := func(ctx context.Context, p *Payload) error { return c.Cast(ctx, "note", p) }
	if cfg.Mode == "call" {
		send = func(ctx context.Context, p *Payload) error {
			var ts int64
			if err := c.Call(ctx, "info", p, &ts); err != nil {
				return err
			}
			if ts != p.SentNs {
				return fmt.Errorf("reply carried %d, want %d", ts, p.SentNs)
			}
			return nil
		}
	}
	return drive(ctx, cfg, "library", send, sink)
}

// SendFunc sends one message; drive measures it.
type SendFunc func(ctx context.Context, p *Payload) error

// drive runs the send loop for cfg: a warm-up, then the measured run, then
// for casts waits for the servers to receive everything.
func drive(ctx context.Context, cfg Config, name string, send SendFunc, sink *Sink) (Result, error) {
	cargo := randomCargo(cfg.Size)
	if cfg.Warmup > 0 {
		wctx, cancel := context.WithTimeout(ctx, cfg.Warmup)
		_, _ = loop(wctx, cfg.Concurrency, 0, cargo, send)
		cancel()
		if cfg.Mode != "call" {
			// Let the warm-up casts drain before counting.
			waitQuiet(ctx, sink, 10*time.Second)
		}
		sink.received.Store(0)
		sink.lat.reset()
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if cfg.Count == 0 {
		rctx, cancel = context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
	}
	start := time.Now()
	lat, err := loop(rctx, cfg.Concurrency, cfg.Count, cargo, send)
	elapsed := time.Since(start)
	if err != nil {
		return Result{}, err
	}
	r := Result{Name: name, Sent: int64(lat.n()), Elapsed: elapsed}
	r.Rate = float64(r.Sent) / elapsed.Seconds()
	r.Latency = lat.summary()
	if cfg.Mode == "call" {
		return r, nil
	}
	// Casts: the send rate is above; the end-to-end rate counts until the
	// servers have received everything sent (every server, for fanout).
	r.SendRate = r.Rate
	if cfg.Servers == 0 {
		return r, nil // publish only: nobody receives
	}
	expected := r.Sent
	if cfg.Mode == "fanout" {
		expected *= int64(cfg.Servers)
	}
	sink.expect(expected)
	deadline := time.NewTimer(cfg.Timeout)
	defer deadline.Stop()
	select {
	case <-sink.done:
	case <-deadline.C:
	case <-ctx.Done():
	}
	// The end-to-end rate runs to the last receipt: lost messages (core
	// NATS drops for slow consumers) do not stretch it to the timeout.
	recvElapsed := time.Duration(sink.lastNs.Load() - start.UnixNano())
	if recvElapsed <= 0 {
		recvElapsed = time.Since(start)
	}
	r.Received = sink.received.Load()
	if r.Received < expected {
		r.Lost = expected - r.Received
	}
	r.Rate = float64(r.Received) / recvElapsed.Seconds()
	r.Latency = sink.lat.summary()
	return r, nil
}

// waitQuiet waits until the sink's count stops changing.
func waitQuiet(ctx context.Context, sink *Sink, limit time.Duration) {
	end := time.Now().Add(limit)
	last := int64(-1)
	for time.Now().Before(end) && ctx.Err() == nil {
		n := sink.received.Load()
		if n == last {
			return
		}
		last = n
		time.Sleep(100 * time.Millisecond)
	}
}

// loop runs workers sending until ctx ends or count messages are sent,
// and returns each send's latency.
func loop(ctx context.Context, workers, count int, cargo string, send SendFunc) (*latencies, error) {
	var (
		wg       sync.WaitGroup
		seq      atomic.Int64
		firstErr error
		errOnce  sync.Once
	)
	all := newLatencies()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 1024)
			defer func() { all.addAll(local) }()
			for ctx.Err() == nil {
				n := seq.Add(1)
				if count > 0 && n > int64(count) {
					return
				}
				t0 := time.Now()
				p := &Payload{Seq: n, Cargo: cargo, SentNs: t0.UnixNano()}
				if err := send(ctx, p); err != nil {
					if ended(ctx) {
						return // the run ended while this message was in flight
					}
					errOnce.Do(func() { firstErr = fmt.Errorf("message %d: %w", n, err) })
					return
				}
				local = append(local, time.Since(t0))
			}
		}()
	}
	wg.Wait()
	return all, firstErr
}

// ended reports whether ctx is done or past its deadline (a send can see
// the deadline pass before ctx's timer fires).
func ended(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}
