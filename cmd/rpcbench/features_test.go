package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oslo-go/messaging/cmd/internal/clitest"
	"github.com/oslo-go/messaging/drivers/rabbit/rabbittest"
)

func TestSizeDist(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // String(), "" for an error
	}{
		{"100:50,1024:30,65536:20", "100B:50%,1024B:30%,65536B:20%"},
		{"10", "10B"},
		{" 5 : 1 , 7:3 ,", "5B:25%,7B:75%"},
		{"8:0,9", "9B"},
		{"", ""}, {"x:1", ""}, {"1:x", ""}, {"-1:1", ""}, {"1:-1", ""}, {"1:0", ""}, {fmt.Sprint(maxSize+1) + ":1", ""},
	} {
		d, err := parseSizeDist(tc.in)
		switch {
		case tc.want == "" && err == nil:
			t.Errorf("%q accepted: %v", tc.in, d)
		case tc.want != "" && (err != nil || d.String() != tc.want):
			t.Errorf("%q: %v, %v; want %s", tc.in, d, err, tc.want)
		}
	}
	d, _ := parseSizeDist("100:50,1024:30,65536:20")
	counts := map[int]int{}
	for range 20000 {
		counts[d.draw()]++
	}
	if len(counts) != 3 || counts[100] < 9000 || counts[100] > 11000 || counts[65536] < 3400 || counts[65536] > 4600 {
		t.Errorf("drawn %v", counts)
	}
}

func TestSizeFile(t *testing.T) {
	d, err := parseSizes(strings.NewReader("# sizes\n100\n\n100\n2000\n 300 \n"), "f")
	if err != nil || d.String() != "100B:50%,300B:25%,2000B:25%" || d.largest() != 2000 {
		t.Errorf("%v %v", d, err)
	}
	for _, bad := range []string{"", "# only\n", "12\nabc\n", "-3\n"} {
		if _, err := parseSizes(strings.NewReader(bad), "f"); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	path := filepath.Join(t.TempDir(), "messages_length.txt")
	os.WriteFile(path, []byte("50\n150\n"), 0o600)
	cfg, err := parseFlags([]string{"-url", "fake:///rpcbench-sizefile", "-mode", "cast", "-size-file", path, "-n", "200", "-warmup", "0", "-json"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run(context.Background(), cfg, &out); err != nil || !strings.Contains(out.String(), `"size_file"`) {
		t.Fatalf("%v\n%s", err, &out)
	}
	if _, err := parseFlags([]string{"-size-file", filepath.Join(t.TempDir(), "none")}, io.Discard); err == nil {
		t.Error("a missing size file accepted")
	}
}

func FuzzParseSizeDist(f *testing.F) {
	for _, s := range []string{"100:50,1024:30,65536:20", "1", ":", "9999999999:1", "1:99999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseSizeDist(s)
		if err != nil {
			return
		}
		if n := d.draw(); n < 0 || n > maxSize || n > d.largest() {
			t.Fatalf("%q drew %d", s, n)
		}
	})
}

func FuzzParseSizes(f *testing.F) {
	for _, s := range []string{"100\n200\n", "# c\n\n5", "x", "-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := parseSizes(strings.NewReader(s), "fuzz")
		if err != nil {
			return
		}
		if n := d.draw(); n < 0 || n > maxSize {
			t.Fatalf("%q drew %d", s, n)
		}
	})
}

// TestProgressAndFiles: a line per second on the progress writer, the
// per-second points in the JSON, the CSV and both plots.
func TestProgressAndFiles(t *testing.T) {
	dir := t.TempDir()
	for _, mode := range []string{"call", "cast"} {
		csvPath, svgPath, pngPath := filepath.Join(dir, mode+".csv"), filepath.Join(dir, mode+".svg"), filepath.Join(dir, mode+".png")
		var progress bytes.Buffer
		cfg, err := parseFlags([]string{"-url", "fake:///rpcbench-files-" + mode, "-mode", mode, "-duration", "2200ms", "-c", "2", "-warmup", "0",
			"-json", "-progress", "-csv", csvPath, "-plot", svgPath}, &progress)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := run(context.Background(), cfg, &out); err != nil {
			t.Fatal(err)
		}
		var doc struct{ Results []Result }
		if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		r := doc.Results[0]
		series := r.Series
		if mode == "cast" {
			series = r.ReceiveSeries
		}
		if len(series) < 2 || series[0].Rate <= 0 || series[0].P99 < series[0].P50 || r.Latency.P999 < r.Latency.P99 {
			t.Errorf("%s: series %+v, latency %+v", mode, series, r.Latency)
		}
		if lines := strings.Count(progress.String(), "msg/s  p50 "); lines < 2 || !strings.Contains(progress.String(), "so far  errors 0") {
			t.Errorf("%s: progress:\n%s", mode, &progress)
		}
		csv, _ := os.ReadFile(csvPath)
		if !strings.HasPrefix(string(csv), "run,side,t_s,count,rate,p50_us,p99_us,max_us,errors\nlibrary,send,1.0") || strings.Count(string(csv), "\n") < 3 {
			t.Errorf("%s: csv:\n%s", mode, csv)
		}
		svg, _ := os.ReadFile(svgPath)
		if !strings.HasPrefix(string(svg), "<svg ") || strings.Count(string(svg), "<polyline") < 5 || !strings.Contains(string(svg), "latency histogram") {
			t.Errorf("%s: svg:\n%s", mode, svg)
		}
		cfg.Plot = pngPath
		if err := writeFiles(cfg, []Result{r}); err != nil {
			t.Fatal(err)
		}
		f, _ := os.Open(pngPath)
		img, err := png.Decode(f)
		f.Close()
		if err != nil || img.Bounds().Dx() != plotW {
			t.Errorf("%s: png: %v", mode, err)
		}
	}
	// No progress unless asked (stderr is not a terminal in tests).
	var stderr bytes.Buffer
	cfg, _ := parseFlags([]string{"-url", "fake:///rpcbench-quiet", "-duration", "1100ms", "-warmup", "0"}, &stderr)
	if err := run(context.Background(), cfg, io.Discard); err != nil || stderr.Len() != 0 {
		t.Errorf("%v, stderr %q", err, &stderr)
	}
	if _, err := parseFlags([]string{"-plot", "x.jpg"}, io.Discard); err == nil {
		t.Error("-plot x.jpg accepted")
	}
}

// TestMaxErrors: failures are counted, and end the run past -max-errors.
func TestMaxErrors(t *testing.T) {
	cfg, err := parseFlags([]string{"-url", "fake:///rpcbench-errors", "-n", "50", "-warmup", "0", "-timeout", "1s"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	fails := func(ctx context.Context, p *Payload) error {
		if p.Seq%5 == 0 {
			return fmt.Errorf("failure %d", p.Seq)
		}
		return nil
	}
	cfg.MaxErrors = -1
	r, err := drive(context.Background(), cfg, "x", fails, NewSink())
	if err != nil || r.Errors != 10 || r.Sent != 40 || !strings.Contains(r.Summary(), "10 ERRORS") {
		t.Errorf("-max-errors -1: %+v %v", r, err)
	}
	cfg.MaxErrors = 2
	if _, err := drive(context.Background(), cfg, "x", fails, NewSink()); err == nil || !strings.Contains(err.Error(), "failure") {
		t.Errorf("-max-errors 2: %v", err)
	}
}

// TestNotifyMode: notifications through the library, in one process.
func TestNotifyMode(t *testing.T) {
	var doc struct{ Results []Result }
	runJSON(t, &doc, "-url", "fake:///rpcbench-notify", "-mode", "notify", "-n", "300", "-c", "3", "-servers", "2", "-warmup", "50ms")
	if r := doc.Results[0]; r.Sent != 300 || r.Received != 300 || r.Latency.P50 <= 0 {
		t.Fatalf("%+v", r)
	}
}

// TestRoles runs a server role and a client role, as two processes would,
// on each broker.
func TestRoles(t *testing.T) {
	for _, b := range []struct {
		name, url string
		need      func(*testing.T)
		modes     []string
	}{
		{"fake", "fake:///rpcbench-roles", func(*testing.T) {}, []string{"call", "cast", "notify"}},
		{"rabbit", rabbittest.DefaultURL, func(t *testing.T) { rabbittest.Need(t) }, []string{"call", "cast", "notify"}},
		{"nats", "nats://127.0.0.1:4222", func(t *testing.T) { clitest.NeedNATS(t) }, []string{"call", "cast"}},
	} {
		for _, mode := range b.modes {
			t.Run(b.name+"/"+mode, func(t *testing.T) {
				b.need(t)
				topic := fmt.Sprintf("rpcbench_roles_%s_%s_%d", b.name, mode, time.Now().UnixNano())
				serverRole, clientRole := "rpc-server", "rpc-client"
				if mode == "notify" {
					serverRole, clientRole = "notify-server", "notify-client"
				}
				ready := &clitest.Buffer{}
				scfg, err := parseFlags([]string{serverRole, "-url", b.url, "-topic", topic, "-servers", "2", "-n", "200", "-json"}, ready)
				if err != nil {
					t.Fatal(err)
				}
				if !scfg.untilStopped && scfg.Count != 200 {
					t.Fatalf("%+v", scfg)
				}
				var sout bytes.Buffer
				done := make(chan error, 1)
				go func() { done <- run(context.Background(), scfg, &sout) }()
				for deadline := time.Now().Add(20 * time.Second); !strings.Contains(ready.String(), "; ready"); time.Sleep(10 * time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatalf("the server role did not start: %s", ready)
					}
				}
				args := []string{clientRole, "-url", b.url, "-topic", topic, "-n", "200", "-c", "4", "-warmup", "0", "-json"}
				if clientRole == "rpc-client" {
					args = append(args, "-mode", mode)
				}
				ccfg, err := parseFlags(args, io.Discard)
				if err != nil {
					t.Fatal(err)
				}
				var cout bytes.Buffer
				if err := run(context.Background(), ccfg, &cout); err != nil {
					t.Fatal(err)
				}
				select {
				case err := <-done:
					if err != nil {
						t.Fatal(err)
					}
				case <-time.After(30 * time.Second):
					t.Fatal("the server role did not end after receiving 200 messages")
				}
				var cdoc, sdoc struct{ Results []Result }
				json.Unmarshal(cout.Bytes(), &cdoc)
				json.Unmarshal(sout.Bytes(), &sdoc)
				if c := cdoc.Results[0]; c.Sent != 200 || c.Received != 0 {
					t.Errorf("client: %+v", c)
				}
				if s := sdoc.Results[0]; s.Received != 200 || s.Rate <= 0 || s.Latency.P50 <= 0 || len(s.ReceiveSeries) == 0 {
					t.Errorf("server: %+v", s)
				}
			})
		}
	}
	if _, err := parseFlags([]string{"rpc-server", "-url", "fake://"}, io.Discard); err == nil || !strings.Contains(err.Error(), "needs -topic") {
		t.Errorf("a role without -topic: %v", err)
	}
	cfg, err := parseFlags([]string{"rpc-server", "-url", "fake://", "-topic", "t"}, io.Discard)
	if err != nil || !cfg.untilStopped {
		t.Errorf("rpc-server without -duration runs until stopped: %+v %v", cfg, err)
	}
}

// TestRounds alternates library and baseline runs and reports medians.
func TestRounds(t *testing.T) {
	clitest.NeedNATS(t)
	var doc struct {
		Rounds  []Round  `json:"rounds"`
		Medians []Median `json:"medians"`
		Ratio   float64  `json:"ratio"`
	}
	cfg, out := runJSON(t, &doc, "-url", "nats://127.0.0.1:4222", "-mode", "call", "-n", "300", "-c", "2", "-warmup", "0", "-baseline", "-rounds", "3")
	if len(doc.Rounds) != 3 || len(doc.Medians) != 3 || doc.Medians[1].Name != "bare" || doc.Medians[2].Name != "oslo-work" || doc.Ratio <= 0 {
		t.Fatalf("%s", out)
	}
	rates := []float64{doc.Rounds[0].Results[0].Rate, doc.Rounds[1].Results[0].Rate, doc.Rounds[2].Results[0].Rate}
	if m := doc.Medians[0].Rate; m != median(rates) || doc.Ratio != m/doc.Medians[1].Rate {
		t.Errorf("median %v of %v, ratio %v", m, rates, doc.Ratio)
	}
	if _, err := parseFlags([]string{"-rounds", "3"}, io.Discard); err == nil {
		t.Error("-rounds without -baseline accepted")
	}
	cfg.JSON, cfg.Count = false, 100
	out.Reset()
	if err := run(context.Background(), cfg, out); err != nil || !strings.Contains(out.String(), "ratio of the medians: ") || strings.Count(out.String(), "round ") != 9 {
		t.Errorf("%v\n%s", err, out)
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{3, 1, 2}, 2}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v", tc.in, got)
		}
	}
}

// runJSON runs rpcbench with args and -json and decodes its output into
// doc; it returns the configuration and the output.
func runJSON(t *testing.T, doc any, args ...string) (Config, *bytes.Buffer) {
	t.Helper()
	cfg, err := parseFlags(append(args, "-json"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run(context.Background(), cfg, &out); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(out.Bytes(), doc); err != nil {
		t.Fatalf("%v: %s", err, &out)
	}
	return cfg, &out
}
