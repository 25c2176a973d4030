// Command rpcbench measures RPC throughput and latency over any transport,
// like oslo.messaging's tools/simulator.py: it runs RPC servers and clients
// (in one process by default) and prints the message rate and latency
// percentiles.
//
//	rpcbench -url fake:// -mode call -c 64 -duration 10s
//	rpcbench -url rabbit://guest:guest@127.0.0.1:5672/ -mode cast -size 1024 -n 100000 -json
//	rpcbench -url nats://127.0.0.1:4222 -mode call -baseline
//
// Modes: call (round-trip latency), cast (send rate, end-to-end rate and
// one-way latency), fanout (casts to -servers servers, each receiving every
// message). -baseline also runs the same workload with the broker's bare
// client library in the same run and prints the ratio (drivers that have
// one: see -list).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"sort"
	"strings"
	"time"

	_ "github.com/oslo-go/messaging/drivers/all"
	"github.com/oslo-go/messaging/transport"
)

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "rpcbench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "rpcbench:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string, stderr io.Writer) (Config, error) {
	var cfg Config
	fs := flag.NewFlagSet("rpcbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.URL, "url", "fake://", "transport URL (driver chosen by scheme)")
	urls := fs.String("urls", "", "space-separated transport URLs: run the workload on each in turn and compare (instead of -url)")
	fs.StringVar(&cfg.Mode, "mode", "call", "workload: call, cast or fanout")
	fs.IntVar(&cfg.Concurrency, "c", 1, "concurrent callers")
	fs.IntVar(&cfg.Size, "size", 100, "payload size in bytes")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "how long to send (ignored with -n)")
	fs.IntVar(&cfg.Count, "n", 0, "number of messages to send in all (overrides -duration)")
	fs.IntVar(&cfg.Servers, "servers", 1, "RPC servers (fanout: each receives every message; 0 with -mode cast: publish only, nobody receives)")
	fs.IntVar(&cfg.ServerConcurrency, "server-concurrency", 0, "requests each server handles at once (default: max(64, -c))")
	fs.DurationVar(&cfg.Timeout, "timeout", 30*time.Second, "call timeout")
	fs.DurationVar(&cfg.Warmup, "warmup", time.Second, "unmeasured warm-up before each run")
	fs.StringVar(&cfg.Topic, "topic", "", "topic (default: a unique name)")
	fs.StringVar(&cfg.Codec, "codec", "json", "wire codec: json or msgpack")
	fs.BoolVar(&cfg.Baseline, "baseline", false, "also run the workload with the bare client library and print the ratio")
	library := fs.Bool("library", true, "run the workload through this library (-library=false -baseline runs only the baseline)")
	fs.BoolVar(&cfg.JSON, "json", false, "print results as JSON")
	fs.BoolVar(&cfg.Verbose, "v", false, "log the library's warnings and errors")
	fs.StringVar(&cfg.CPUProfile, "cpuprofile", "", "write a CPU profile of the first run (the library's, or with -library=false the baseline's) to this file")
	list := fs.Bool("list", false, "list the registered drivers and which have a -baseline")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *urls != "" {
		cfg.Compare = strings.Fields(*urls)
		cfg.URL = cfg.Compare[0]
	}
	cfg.SkipLibrary = !*library
	if cfg.SkipLibrary && !cfg.Baseline {
		return cfg, errors.New("-library=false needs -baseline")
	}
	if *list {
		for _, d := range transport.Drivers() {
			b := ""
			if _, ok := baselines[d]; ok {
				b = " (baseline)"
			}
			fmt.Fprintln(stderr, d+b)
		}
		return cfg, flag.ErrHelp
	}
	return cfg, cfg.validate()
}

func run(ctx context.Context, cfg Config, out io.Writer) error {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if cfg.Verbose {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if len(cfg.Compare) > 0 {
		return compare(ctx, cfg, logger, out)
	}
	results := []Result{}
	if cfg.CPUProfile != "" {
		f, err := os.Create(cfg.CPUProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	if !cfg.SkipLibrary {
		r, err := runLibrary(ctx, cfg, logger)
		pprof.StopCPUProfile()
		if err != nil {
			return err
		}
		results = append(results, r)
	}
	if cfg.Baseline {
		b, err := runBaseline(ctx, cfg)
		pprof.StopCPUProfile() // profiles the baseline when the library did not run
		if err != nil {
			return err
		}
		results = append(results, b...)
	}
	return report(out, cfg, results)
}

func report(out io.Writer, cfg Config, results []Result) error {
	if cfg.JSON {
		shown := cfg // no secret in the output
		shown.URL = redact(cfg.URL)
		shown.Compare = nil
		for _, u := range cfg.Compare {
			shown.Compare = append(shown.Compare, redact(u))
		}
		doc := map[string]any{"config": shown, "results": results}
		if len(results) > 1 && results[1].Rate > 0 {
			doc["ratio"] = results[0].Rate / results[1].Rate
			if results[1].SendRate > 0 {
				doc["send_ratio"] = results[0].SendRate / results[1].SendRate
			}
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(doc)
	}
	fmt.Fprintf(out, "mode=%s url=%s concurrency=%d size=%dB servers=%d codec=%s\n",
		cfg.Mode, redact(cfg.URL), cfg.Concurrency, cfg.Size, cfg.Servers, cfg.Codec)
	for _, r := range results {
		fmt.Fprintf(out, "%-9s %s\n", r.Name+":", r.Summary())
	}
	for _, b := range results[1:] {
		if b.Rate <= 0 {
			continue
		}
		if b.SendRate > 0 && cfg.Servers == 0 {
			fmt.Fprintf(out, "ratio:    %.2fx %s sending (publish only)\n", results[0].SendRate/b.SendRate, b.Name)
			continue
		}
		if b.SendRate > 0 {
			fmt.Fprintf(out, "ratio:    %.2fx %s sending, %.2fx end to end\n", results[0].SendRate/b.SendRate, b.Name, results[0].Rate/b.Rate)
			continue
		}
		fmt.Fprintf(out, "ratio:    %.2fx %s\n", results[0].Rate/b.Rate, b.Name)
	}
	return nil
}

// redact returns u without its secrets, for output.
func redact(u string) string {
	p, err := transport.ParseURL(u)
	if err != nil {
		return "(invalid URL)"
	}
	return transport.RedactURL(p)
}

// baselines holds the bare-client-library workloads, by driver name.
var baselines = map[string]Baseline{}

// Baseline runs a workload with a broker's own client library, without
// this library, for comparison. The first result is the one the library is
// measured against (the same work on the wire); more may follow.
type Baseline interface {
	Run(ctx context.Context, cfg Config) ([]Result, error)
}

func registerBaseline(driver string, b Baseline) { baselines[driver] = b }

func runBaseline(ctx context.Context, cfg Config) ([]Result, error) {
	u, err := transport.ParseURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	b, ok := baselines[u.Driver()]
	if !ok {
		names := make([]string, 0, len(baselines))
		for n := range baselines {
			names = append(names, n)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("no -baseline for driver %q (have: %s)", u.Driver(), strings.Join(names, ", "))
	}
	return b.Run(ctx, cfg)
}

// compare runs the workload through the library on each of cfg.Compare
// and prints one line per transport.
func compare(ctx context.Context, cfg Config, logger *slog.Logger, out io.Writer) error {
	type row struct {
		URL    string `json:"url"`
		Result Result `json:"result"`
	}
	var rows []row
	for _, u := range cfg.Compare {
		c := cfg
		c.URL = u
		if err := c.validate(); err != nil {
			return err
		}
		r, err := runLibrary(ctx, c, logger)
		if err != nil {
			return fmt.Errorf("%s: %w", redact(u), err)
		}
		rows = append(rows, row{URL: redact(u), Result: r})
	}
	if cfg.JSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"config": cfg, "compare": rows})
	}
	fmt.Fprintf(out, "mode=%s concurrency=%d size=%dB servers=%d codec=%s\n", cfg.Mode, cfg.Concurrency, cfg.Size, cfg.Servers, cfg.Codec)
	for _, r := range rows {
		fmt.Fprintf(out, "%-48s %s\n", r.URL, r.Result.Summary())
	}
	return nil
}
