package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oslo-go/messaging/client"
	"github.com/oslo-go/messaging/dispatcher"
	"github.com/oslo-go/messaging/notify"
	"github.com/oslo-go/messaging/notify/listener"
	"github.com/oslo-go/messaging/serializer/msgpack"
	"github.com/oslo-go/messaging/server"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
)

// Config is one benchmark run.
type Config struct {
	// Role is "" (servers and clients in this process), or one side only:
	// rpc-server, rpc-client, notify-server, notify-client.
	Role        string        `json:"role,omitempty"`
	URL         string        `json:"url"`
	Mode        string        `json:"mode"`
	Concurrency int           `json:"concurrency"`
	Size        int           `json:"size"`
	SizeDist    string        `json:"size_dist,omitempty"`
	SizeFile    string        `json:"size_file,omitempty"`
	Duration    time.Duration `json:"duration_ns"`
	Count       int           `json:"count"`
	Servers     int           `json:"servers"`
	// ServerConcurrency is each server's MaxConcurrency; 0 means max(64, Concurrency).
	ServerConcurrency int           `json:"server_concurrency,omitempty"`
	Timeout           time.Duration `json:"timeout_ns"`
	Warmup            time.Duration `json:"warmup_ns"`
	Topic             string        `json:"topic"`
	Pool              string        `json:"pool,omitempty"`
	Codec             string        `json:"codec"`
	// Handlers is how the servers' endpoint is given: "methods" (an
	// endpoint whose methods the dispatcher calls through reflection, the
	// oslo model) or "funcs" (dispatcher.Func and Proc handlers).
	Handlers string `json:"handlers,omitempty"`
	Baseline bool   `json:"baseline"`
	Rounds   int    `json:"rounds,omitempty"`
	// MaxErrors is how many failed sends a run tolerates (-1: any); the
	// next one ends it with an error.
	MaxErrors   int      `json:"max_errors"`
	CPUProfile  string   `json:"-"`
	SkipLibrary bool     `json:"-"`
	Compare     []string `json:"compare,omitempty"`
	JSON        bool     `json:"-"`
	CSV         string   `json:"-"`
	Plot        string   `json:"-"`
	Verbose     bool     `json:"-"`
	// Progress, when set, receives a line per second while a run goes on.
	Progress io.Writer `json:"-"`
	// Log receives the servers' ready line.
	Log io.Writer `json:"-"`

	sizes        *sizes
	untilStopped bool // a server role without -duration: run until interrupted
}

var roles = []string{"rpc-server", "rpc-client", "notify-server", "notify-client"}

func (c *Config) client() bool { return strings.HasSuffix(c.Role, "-client") }
func (c *Config) server() bool { return strings.HasSuffix(c.Role, "-server") }

func (c *Config) validate() error {
	switch c.Mode {
	case "call", "cast", "fanout", "notify":
	default:
		return fmt.Errorf("unknown -mode %q (call, cast, fanout, notify)", c.Mode)
	}
	switch c.Codec {
	case "json", "msgpack":
	default:
		return fmt.Errorf("unknown -codec %q (json, msgpack)", c.Codec)
	}
	switch c.Handlers {
	case "", "methods", "funcs":
	default:
		return fmt.Errorf("unknown -handlers %q (methods, funcs)", c.Handlers)
	}
	if c.Concurrency < 1 || c.Servers < 0 || c.Size < 0 || c.Count < 0 || c.Rounds < 0 || c.MaxErrors < -1 {
		return errors.New("-c must be at least 1, -servers, -size, -n and -rounds not negative, -max-errors -1 or more")
	}
	if c.Size > maxSize {
		return fmt.Errorf("-size: at most %d", maxSize)
	}
	if c.Servers == 0 && c.Mode != "cast" && c.Role == "" {
		return errors.New("-servers 0 (publish only) needs -mode cast")
	}
	if c.Count == 0 && c.Duration <= 0 && !c.untilStopped {
		return errors.New("give -duration or -n")
	}
	if c.Rounds > 1 && !c.Baseline {
		return errors.New("-rounds alternates the library and the baseline: it needs -baseline")
	}
	if c.Role != "" && (c.Baseline || len(c.Compare) > 0) {
		return errors.New("-baseline and -urls run in one process: they do not go with " + c.Role)
	}
	if c.Mode == "notify" && c.Baseline {
		return errors.New("no -baseline for -mode notify")
	}
	if c.SizeDist != "" && c.SizeFile != "" {
		return errors.New("-size-dist and -size-file exclude each other")
	}
	var err error
	switch {
	case c.SizeDist != "":
		c.sizes, err = parseSizeDist(c.SizeDist)
	case c.SizeFile != "":
		c.sizes, err = readSizeFile(c.SizeFile)
	default:
		c.sizes = fixedSize(c.Size)
	}
	if err != nil {
		return err
	}
	if _, err := transport.ParseURL(c.URL); err != nil {
		return err
	}
	if c.Topic == "" {
		if c.Role != "" {
			return errors.New(c.Role + " needs -topic (the same on both sides)")
		}
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

// sizeText describes the payload sizes.
func (c *Config) sizeText() string {
	if c.sizes == nil {
		return fmt.Sprintf("%dB", c.Size)
	}
	return c.sizes.String()
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
type Endpoint struct {
	sink *Sink
	// countCalls makes calls count in the sink too (servers of their own).
	countCalls bool
}

// Sink counts the casts (or notifications) the servers received.
type Sink struct {
	received atomic.Int64
	firstNs  atomic.Int64 // time of the first receipt
	lastNs   atomic.Int64 // time of the last receipt
	rec      *recorder
	done     chan struct{}
	want     atomic.Int64 // to receive before done closes; 0: not known yet
	once     sync.Once
}

// NewSink returns an empty sink.
func NewSink() *Sink { return &Sink{rec: newRecorder(), done: make(chan struct{})} }

// Add records one message sent at sentNs.
func (s *Sink) Add(sentNs int64) {
	now := time.Now().UnixNano()
	s.rec.add(-1, time.Duration(now-sentNs))
	s.lastNs.Store(now)
	s.firstNs.CompareAndSwap(0, now)
	n := s.received.Add(1)
	if w := s.want.Load(); w > 0 && n >= w {
		s.once.Do(func() { close(s.done) })
	}
}

// expect sets how many messages the run must receive.
func (s *Sink) expect(n int64) {
	s.want.Store(n)
	if s.received.Load() >= n {
		s.once.Do(func() { close(s.done) })
	}
}

func (s *Sink) reset() {
	s.received.Store(0)
	s.firstNs.Store(0)
	s.rec.reset()
}

// Info answers a call with the payload's timestamp (oslo simulator's info).
func (e *Endpoint) Info(_ context.Context, p Payload) (int64, error) {
	if e.countCalls {
		e.sink.Add(p.SentNs)
	}
	return p.SentNs, nil
}

// Note records a cast's one-way latency.
func (e *Endpoint) Note(_ context.Context, p Payload) error {
	e.sink.Add(p.SentNs)
	return nil
}

// as returns e as the servers register it: e itself, or with handlers
// "funcs" its methods as dispatcher.Func and Proc handlers.
func (e *Endpoint) as(handlers string) any {
	if handlers == "funcs" {
		return dispatcher.Funcs{"info": dispatcher.Func(e.Info), "note": dispatcher.Proc(e.Note)}
	}
	return e
}

// notifyEndpoint records notifications.
type notifyEndpoint struct{ sink *Sink }

// Info records a notification's one-way latency.
func (e *notifyEndpoint) Info(_ context.Context, _, _ string, p Payload, _ listener.Metadata) error {
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

// openTransport opens cfg's transport, closed by the returned func.
func openTransport(ctx context.Context, cfg Config, logger *slog.Logger) (*transport.Transport, error) {
	opts := []transport.Option{transport.WithLogger(logger)}
	if cfg.Codec == "msgpack" {
		opts = append(opts, transport.WithCodec(msgpack.Codec{}))
	}
	octx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return transport.Open(octx, cfg.URL, opts...)
}

// startServers starts cfg's servers (RPC servers, or notification
// listeners for -mode notify), each on a transport of its own, recording
// into sink. The returned func stops them.
func startServers(ctx context.Context, cfg Config, logger *slog.Logger, sink *Sink, n int) (stop func(), err error) {
	var closers []func() error
	stop = func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	defer func() {
		if err != nil {
			stop()
		}
	}()
	for i := range n {
		tr, err := openTransport(ctx, cfg, logger)
		if err != nil {
			return stop, err
		}
		closers = append(closers, tr.Close)
		if cfg.Mode == "notify" {
			var opts []listener.Option
			if cfg.Pool != "" {
				opts = append(opts, listener.Pool(cfg.Pool))
			}
			l, err := listener.New(tr, []target.Target{{Topic: cfg.Topic}}, []any{&notifyEndpoint{sink: sink}},
				append(opts, listener.MaxConcurrency(cfg.serverConcurrency()), listener.WithLogger(logger))...)
			if err != nil {
				return stop, err
			}
			if err := l.Start(ctx); err != nil {
				return stop, err
			}
			closers = append(closers, l.Close)
			continue
		}
		srv, err := server.New(tr, target.Target{Topic: cfg.Topic, Server: fmt.Sprintf("server-%d", i)},
			[]any{(&Endpoint{sink: sink, countCalls: cfg.server()}).as(cfg.Handlers)},
			server.MaxConcurrency(cfg.serverConcurrency()), server.WithLogger(logger))
		if err != nil {
			return stop, err
		}
		if err := srv.Start(ctx); err != nil {
			return stop, err
		}
		closers = append(closers, srv.Close)
	}
	return stop, nil
}

// runLibrary runs the workload through this library: the servers (unless
// the role is a client's) and the clients.
func runLibrary(ctx context.Context, cfg Config, logger *slog.Logger) (Result, error) {
	sink := NewSink()
	servers := cfg.Servers
	if cfg.client() {
		servers = 0
	}
	stop, err := startServers(ctx, cfg, logger, sink, servers)
	if err != nil {
		return Result{}, err
	}
	defer stop()
	tr, err := openTransport(ctx, cfg, logger)
	if err != nil {
		return Result{}, err
	}
	defer tr.Close()
	var send SendFunc
	if cfg.Mode == "notify" {
		n, err := notify.New(tr, notify.Topics(cfg.Topic), notify.PublisherID("rpcbench"), notify.WithLogger(logger))
		if err != nil {
			return Result{}, err
		}
		send = func(ctx context.Context, p *Payload) error { return n.Info(ctx, "rpcbench.note", p) }
	} else {
		c, err := client.New(tr, target.Target{Topic: cfg.Topic, Fanout: cfg.Mode == "fanout"}, client.Timeout(cfg.Timeout))
		if err != nil {
			return Result{}, err
		}
		send = func(ctx context.Context, p *Payload) error { return c.Cast(ctx, "note", p) }
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
	}
	cfg.Servers = servers
	return drive(ctx, cfg, "library", send, sink)
}

// SendFunc sends one message; drive measures it.
type SendFunc func(ctx context.Context, p *Payload) error

// drive runs the send loop for cfg: a warm-up, then the measured run, then
// for casts waits for the servers to receive everything.
func drive(ctx context.Context, cfg Config, name string, send SendFunc, sink *Sink) (Result, error) {
	if cfg.sizes == nil {
		cfg.sizes = fixedSize(cfg.Size)
	}
	cargo := randomCargo(cfg.sizes.largest())
	oneWay := cfg.Mode != "call"
	if cfg.Warmup > 0 {
		wctx, cancel := context.WithTimeout(ctx, cfg.Warmup)
		wcfg := cfg
		wcfg.Count, wcfg.MaxErrors = 0, -1
		loop(wctx, wcfg, cargo, send, newRecorder())
		cancel()
		if oneWay && cfg.Servers > 0 {
			// Let the warm-up casts drain before counting.
			waitQuiet(ctx, sink, 10*time.Second)
		}
	}
	sink.reset()
	rec := newRecorder()
	var recv *recorder
	if oneWay && cfg.Servers > 0 {
		recv = sink.rec
	}
	m := startMeter(cfg.Progress, name, rec, recv)
	defer m.stop()

	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if cfg.Count == 0 {
		rctx, cancel = context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
	}
	start := time.Now()
	sent, err := loop(rctx, cfg, cargo, send, rec)
	elapsed := time.Since(start)
	if err != nil {
		return Result{}, err
	}
	r := Result{Name: name, Sent: sent, Elapsed: elapsed, Errors: rec.errors.Load()}
	r.Rate = float64(r.Sent) / elapsed.Seconds()
	if !oneWay {
		m.stop()
		r.Series, r.Latency, r.hist = rec.finish()
		return r, nil
	}
	// Casts: the send rate is above; the end-to-end rate counts until the
	// servers have received everything sent (every server, for fanout).
	r.SendRate = r.Rate
	if cfg.Servers == 0 {
		m.stop()
		r.Series, r.Latency, r.hist = rec.finish()
		return r, nil // publish only: nobody receives here
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
	m.stop()
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
	r.Series, _, _ = rec.finish()
	r.ReceiveSeries, r.Latency, r.hist = sink.rec.finish()
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

// loop runs cfg.Concurrency workers sending until ctx ends or cfg.Count
// messages are sent, recording each send's latency and failure in rec.
// It returns the number sent, or an error once more than cfg.MaxErrors
// sends failed.
func loop(ctx context.Context, cfg Config, cargo string, send SendFunc, rec *recorder) (int64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		seq      atomic.Int64
		sent     atomic.Int64
		failed   atomic.Int64
		firstErr error
		errOnce  sync.Once
	)
	for w := range cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				n := seq.Add(1)
				if cfg.Count > 0 && n > int64(cfg.Count) {
					return
				}
				t0 := time.Now()
				p := &Payload{Seq: n, Cargo: cargo[:cfg.sizes.draw()], SentNs: t0.UnixNano()}
				if err := send(ctx, p); err != nil {
					if ended(ctx) {
						return // the run ended while this message was in flight
					}
					rec.addError()
					if f := failed.Add(1); cfg.MaxErrors >= 0 && f > int64(cfg.MaxErrors) {
						errOnce.Do(func() { firstErr = fmt.Errorf("message %d: %w", n, err) })
						cancel()
						return
					}
					continue
				}
				rec.add(w, time.Since(t0))
				sent.Add(1)
			}
		}()
	}
	wg.Wait()
	return sent.Load(), firstErr
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
