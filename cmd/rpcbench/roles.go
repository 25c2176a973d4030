package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// runServerRole runs rpc-server or notify-server: cfg.Servers servers (or
// listeners) on cfg.Topic, recording what they receive, until ctx ends,
// -duration passes or -n messages came; then it reports the receive rate
// and, for casts and notifications, the one-way latency (from the
// sender's clock: run both sides on one host, or on hosts with synced
// clocks). Calls are counted too.
func runServerRole(ctx context.Context, cfg Config, logger *slog.Logger, out io.Writer) error {
	sink := NewSink()
	n := max(cfg.Servers, 1)
	stop, err := startServers(ctx, cfg, logger, sink, n)
	if err != nil {
		return err
	}
	defer stop()
	if cfg.Log != nil {
		fmt.Fprintf(cfg.Log, "rpcbench %s: %d on topic %s at %s; ready\n", cfg.Role, n, cfg.Topic, redact(cfg.URL))
	}
	m := startMeter(cfg.Progress, cfg.Role, sink.rec, nil)
	defer m.stop()
	rctx := ctx
	if !cfg.untilStopped && cfg.Count == 0 {
		var cancel context.CancelFunc
		rctx, cancel = context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
	}
	if cfg.Count > 0 {
		sink.expect(int64(cfg.Count))
	}
	start := time.Now()
	select {
	case <-rctx.Done():
	case <-sink.done:
	}
	m.stop()
	r := Result{Name: cfg.Role, Received: sink.received.Load(), Elapsed: time.Since(start)}
	if first := sink.firstNs.Load(); r.Received > 1 {
		r.Rate = float64(r.Received-1) / time.Duration(sink.lastNs.Load()-first).Seconds()
	}
	r.ReceiveSeries, r.Latency, r.hist = sink.rec.finish()
	if err := writeFiles(cfg, []Result{r}); err != nil {
		return err
	}
	if cfg.JSON {
		return writeJSON(out, map[string]any{"config": shown(cfg), "results": []Result{r}})
	}
	header(out, cfg)
	l := r.Latency
	fmt.Fprintf(out, "%s: received %d in %.2fs: %.0f msg/s between the first and the last; one-way latency p50 %v p90 %v p99 %v max %v\n",
		cfg.Role, r.Received, r.Elapsed.Seconds(), r.Rate, l.P50, l.P90, l.P99, l.Max)
	return nil
}
