package interop

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSpeedComparison compares the sequential call rate of this library
// (cmd/rpcbench -mode call -c 1 -size 100) with Python oslo.messaging's
// (python/oslo_bench.py, the same workload) on the same broker. It is a
// measurement, not a check, and runs only when asked:
//
//	INTEROP_BENCH=3 INTEROP_BENCH_DURATION=10s go test -run TestSpeedComparison -v ./interop/
//
// INTEROP_BENCH is the number of runs of each (alternating, so that both
// see the same load); the log shows every run, the best and the spread.
func TestSpeedComparison(t *testing.T) {
	runs, _ := strconv.Atoi(os.Getenv("INTEROP_BENCH"))
	if runs <= 0 {
		t.Skip("set INTEROP_BENCH=<runs> (and optionally INTEROP_BENCH_DURATION, default 10s) to compare with Python oslo.messaging")
	}
	duration := 10 * time.Second
	if s := os.Getenv("INTEROP_BENCH_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("INTEROP_BENCH_DURATION: %v", err)
		}
		duration = d
	}
	needPython(t)
	bin := filepath.Join(t.TempDir(), "rpcbench")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/rpcbench").CombinedOutput(); err != nil {
		t.Fatalf("building rpcbench: %v\n%s", err, out)
	}

	var goRates, pyRates []float64
	for i := range runs {
		topic := uniqueTopic("rpcbench")
		deleteQueues(t, serverQueues(topic, "server-0")...)
		out, err := exec.Command(bin, "-url", brokerURL, "-mode", "call", "-c", "1", "-size", "100",
			"-duration", duration.String(), "-topic", topic, "-json").Output()
		if err != nil {
			t.Fatalf("rpcbench: %v", err)
		}
		var doc struct {
			Results []struct {
				Rate    float64 `json:"rate"`
				Latency struct {
					P50 time.Duration `json:"p50_ns"`
					P99 time.Duration `json:"p99_ns"`
				} `json:"latency"`
			} `json:"results"`
		}
		if err := json.Unmarshal(out, &doc); err != nil || len(doc.Results) == 0 {
			t.Fatalf("rpcbench output: %v\n%s", err, out)
		}
		r := doc.Results[0]
		goRates = append(goRates, r.Rate)
		t.Logf("run %d  go     %7.0f calls/s  p50 %v  p99 %v", i+1, r.Rate, r.Latency.P50, r.Latency.P99)

		lines := runScript(t, duration+time.Minute, "oslo_bench.py", "--url", brokerURL, "--duration", fmt.Sprint(duration.Seconds()))
		py := lines[0]
		pyRates = append(pyRates, num(py["rate"]))
		t.Logf("run %d  python %7.0f calls/s  p50 %vms  p99 %vms", i+1, num(py["rate"]), py["p50_ms"], py["p99_ms"])
	}
	goBest, pyBest := slices.Max(goRates), slices.Max(pyRates)
	t.Logf("go:     best %.0f calls/s, runs %s", goBest, rates(goRates))
	t.Logf("python: best %.0f calls/s, runs %s", pyBest, rates(pyRates))
	t.Logf("ratio of the best runs: %.1fx (range over runs %.1fx to %.1fx)",
		goBest/pyBest, slices.Min(goRates)/slices.Max(pyRates), slices.Max(goRates)/slices.Min(pyRates))
}

func rates(rs []float64) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = strconv.FormatFloat(r, 'f', 0, 64)
	}
	return strings.Join(s, ", ")
}
