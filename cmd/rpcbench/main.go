// Command rpcbench measures RPC and notification throughput and latency
// over any transport, like oslo.messaging's tools/simulator.py: it runs
// servers and clients (in one process by default, or as separate
// processes with the roles below) and prints the message rate and latency
// percentiles (HdrHistogram).
//
//	rpcbench -url fake:// -mode call -c 64 -duration 10s
//	rpcbench -url rabbit://guest:guest@127.0.0.1:5672/ -mode cast -size-dist 100:50,1024:30,65536:20 -n 100000 -json
//	rpcbench -url nats://127.0.0.1:4222 -mode call -baseline -rounds 3
//	rpcbench -url nats://127.0.0.1:4222 -mode call -c 8 -duration 20s -plot latency.svg -csv series.csv
//
// Modes: call (round-trip latency), cast (send rate, end-to-end rate and
// one-way latency), fanout (casts to -servers servers, each receiving every
// message), notify (notifications to -servers listeners). -baseline also
// runs the workload with the broker's bare client library in the same run
// and prints the ratio; -rounds N alternates library and baseline runs N
// times and reports the medians (drivers that have a baseline: see -list).
//
// Roles, for servers and clients in separate processes (or hosts), as
// simulator.py's: the same -url and -topic on both sides.
//
//	rpcbench rpc-server    -url URL -topic T [-servers N] [-duration D | -n N]   (until interrupted by default)
//	rpcbench rpc-client    -url URL -topic T -mode call|cast|fanout [-c N] [-duration D | -n N]
//	rpcbench notify-server -url URL -topic T [-servers N] [-pool P] [-duration D | -n N]
//	rpcbench notify-client -url URL -topic T [-c N] [-duration D | -n N]
//
// While a run goes on, a line per second on stderr gives the rate, p50
// and p99 so far and the errors (when stderr is a terminal, or with
// -progress). -json prints the results (with a point per second) as JSON,
// -csv FILE writes the points per second as CSV, and -plot FILE.svg (or
// .png) draws the latency over time and the latency histogram.
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
	"slices"
	"sort"
	"strings"
	"syscall"
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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "rpcbench:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string, stderr io.Writer) (Config, error) {
	var cfg Config
	if len(args) > 0 && slices.Contains(roles, args[0]) {
		cfg.Role, args = args[0], args[1:]
	}
	name := "rpcbench"
	if cfg.Role != "" {
		name += " " + cfg.Role
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.URL, "url", "fake://", "transport URL (driver chosen by scheme)")
	urls := fs.String("urls", "", "space-separated transport URLs: run the workload on each in turn and compare (instead of -url)")
	fs.StringVar(&cfg.Mode, "mode", "call", "workload: call, cast, fanout or notify")
	fs.IntVar(&cfg.Concurrency, "c", 1, "concurrent callers")
	fs.IntVar(&cfg.Size, "size", 100, "payload size in bytes")
	fs.StringVar(&cfg.SizeDist, "size-dist", "", "payload sizes drawn from a distribution: size:weight,... (e.g. 100:50,1024:30,65536:20)")
	fs.StringVar(&cfg.SizeFile, "size-file", "", "payload sizes drawn from a file of sizes, one per line (as simulator.py's messages_length.txt)")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "how long to send (ignored with -n; servers: how long to serve, default until interrupted)")
	fs.IntVar(&cfg.Count, "n", 0, "number of messages to send in all (overrides -duration; servers: to receive before exiting)")
	fs.IntVar(&cfg.Servers, "servers", 1, "RPC servers or notification listeners (fanout: each receives every message; 0 with -mode cast: publish only, nobody receives)")
	fs.IntVar(&cfg.ServerConcurrency, "server-concurrency", 0, "requests each server handles at once (default: max(64, -c))")
	fs.DurationVar(&cfg.Timeout, "timeout", 30*time.Second, "call timeout")
	fs.DurationVar(&cfg.Warmup, "warmup", time.Second, "unmeasured warm-up before each run")
	fs.StringVar(&cfg.Topic, "topic", "", "topic (default: a unique name; roles: required)")
	fs.StringVar(&cfg.Pool, "pool", "", "notify-server: the listeners' pool")
	fs.StringVar(&cfg.Codec, "codec", "json", "wire codec: json or msgpack")
	fs.StringVar(&cfg.Handlers, "handlers", "methods", "the servers' endpoint: methods (called through reflection, the oslo model) or funcs (dispatcher.Func handlers)")
	fs.BoolVar(&cfg.Baseline, "baseline", false, "also run the workload with the bare client library and print the ratio")
	fs.IntVar(&cfg.Rounds, "rounds", 0, "with -baseline: alternate library and baseline runs this many times; report the medians and their ratio")
	fs.IntVar(&cfg.MaxErrors, "max-errors", 0, "failed sends a run tolerates before it stops with an error (-1: any)")
	library := fs.Bool("library", true, "run the workload through this library (-library=false -baseline runs only the baseline)")
	fs.BoolVar(&cfg.JSON, "json", false, "print results as JSON")
	fs.StringVar(&cfg.CSV, "csv", "", "write the per-second points (rate, p50, p99, max, errors) of every run to this CSV `file`")
	fs.StringVar(&cfg.Plot, "plot", "", "draw the latency over time and the latency histogram to this `file` (.svg or .png)")
	progress := fs.Bool("progress", isTerminal(os.Stderr), "print a line per second on stderr while running (default: when stderr is a terminal)")
	fs.BoolVar(&cfg.Verbose, "v", false, "log the library's warnings and errors")
	fs.StringVar(&cfg.CPUProfile, "cpuprofile", "", "write a CPU profile of the first run (the library's, or with -library=false the baseline's) to this file")
	list := fs.Bool("list", false, "list the registered drivers and which have a -baseline")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *progress {
		cfg.Progress = stderr
	}
	cfg.Log = stderr
	if cfg.server() {
		given := false
		fs.Visit(func(f *flag.Flag) { given = given || f.Name == "duration" })
		cfg.untilStopped = !given && cfg.Count == 0
	}
	switch cfg.Role {
	case "notify-server", "notify-client":
		cfg.Mode = "notify"
	case "rpc-server":
		cfg.Mode = "call" // servers take every mode
	}
	if cfg.Mode == "notify" && cfg.Role == "rpc-client" {
		return cfg, errors.New("rpc-client: -mode notify is notify-client")
	}
	if *urls != "" {
		cfg.Compare = strings.Fields(*urls)
		cfg.URL = cfg.Compare[0]
	}
	cfg.SkipLibrary = !*library
	if cfg.SkipLibrary && !cfg.Baseline {
		return cfg, errors.New("-library=false needs -baseline")
	}
	if cfg.Plot != "" && !strings.HasSuffix(cfg.Plot, ".svg") && !strings.HasSuffix(cfg.Plot, ".png") {
		return cfg, errors.New("-plot: the file name must end in .svg or .png")
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
	logger := slog.New(slog.DiscardHandler)
	if cfg.Verbose {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	switch {
	case len(cfg.Compare) > 0:
		return compare(ctx, cfg, logger, out)
	case cfg.server():
		return runServerRole(ctx, cfg, logger, out)
	case cfg.Rounds > 1:
		return runRounds(ctx, cfg, logger, out)
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
	if err := writeFiles(cfg, results); err != nil {
		return err
	}
	return report(out, cfg, results)
}

func report(out io.Writer, cfg Config, results []Result) error {
	if cfg.JSON {
		doc := map[string]any{"config": shown(cfg), "results": results}
		if r := ratios(cfg, results); len(r) > 0 {
			doc["ratio"] = r[0].Ratio
			doc["ratios"] = r
		}
		return writeJSON(out, doc)
	}
	header(out, cfg)
	for _, r := range results {
		fmt.Fprintf(out, "%-10s %s\n", r.Name+":", r.Summary())
	}
	for _, r := range ratios(cfg, results) {
		fmt.Fprintf(out, "ratio:     %s\n", r.Text)
	}
	return nil
}

func header(out io.Writer, cfg Config) {
	role := ""
	if cfg.Role != "" {
		role = cfg.Role + " "
	}
	fmt.Fprintf(out, "%smode=%s url=%s concurrency=%d size=%s servers=%d codec=%s\n",
		role, cfg.Mode, redact(cfg.URL), cfg.Concurrency, cfg.sizeText(), cfg.Servers, cfg.Codec)
}

// Ratio compares the first result with another.
type Ratio struct {
	Against string  `json:"against"`
	Ratio   float64 `json:"ratio"`
	// SendRatio compares casts' send rates.
	SendRatio float64 `json:"send_ratio,omitempty"`
	Text      string  `json:"-"`
}

// ratios compares results[0] (the library) with each of the others (the
// baselines): their rates, end to end, or the send rates when nobody
// receives.
func ratios(cfg Config, results []Result) []Ratio {
	var out []Ratio
	for _, b := range results[min(1, len(results)):] {
		a := results[0]
		if b.Rate <= 0 && b.SendRate <= 0 {
			continue
		}
		r := Ratio{Against: b.Name}
		switch {
		case b.SendRate > 0 && cfg.Servers == 0:
			r.Ratio = a.SendRate / b.SendRate
			r.SendRatio = r.Ratio
			r.Text = fmt.Sprintf("%.2fx %s sending (publish only)", r.Ratio, b.Name)
		case b.SendRate > 0:
			r.Ratio, r.SendRatio = a.Rate/b.Rate, a.SendRate/b.SendRate
			r.Text = fmt.Sprintf("%.2fx %s sending, %.2fx end to end", r.SendRatio, b.Name, r.Ratio)
		default:
			r.Ratio = a.Rate / b.Rate
			r.Text = fmt.Sprintf("%.2fx %s", r.Ratio, b.Name)
		}
		out = append(out, r)
	}
	return out
}

// shown is cfg as printed: no secret.
func shown(cfg Config) Config {
	cfg.URL = redact(cfg.URL)
	urls := cfg.Compare
	cfg.Compare = nil
	for _, u := range urls {
		cfg.Compare = append(cfg.Compare, redact(u))
	}
	return cfg
}

func writeJSON(out io.Writer, doc any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
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
	named := make([]Result, len(rows))
	for i, r := range rows {
		named[i] = r.Result
		named[i].Name = r.URL
	}
	if err := writeFiles(cfg, named); err != nil {
		return err
	}
	if cfg.JSON {
		return writeJSON(out, map[string]any{"config": shown(cfg), "compare": rows})
	}
	fmt.Fprintf(out, "mode=%s concurrency=%d size=%s servers=%d codec=%s\n", cfg.Mode, cfg.Concurrency, cfg.sizeText(), cfg.Servers, cfg.Codec)
	for _, r := range rows {
		fmt.Fprintf(out, "%-48s %s\n", r.URL, r.Result.Summary())
	}
	return nil
}
