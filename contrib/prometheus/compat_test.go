package osloprom

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/oslo-go/messaging/client"
	"github.com/oslo-go/messaging/dispatcher"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
)

// python is Debian's interpreter, for which python3-oslo.metrics and
// python3-oslo.messaging are installed.
const python = "/usr/bin/python3"

// needPython skips t, loudly, when oslo.metrics or oslo.messaging is not
// importable by Debian's Python, or fails it when CI is set.
func needPython(t *testing.T) {
	t.Helper()
	out, err := exec.Command(python, "-c", "import oslo_metrics.metrics.oslo_messaging, oslo_messaging").CombinedOutput()
	if err == nil {
		return
	}
	msg := fmt.Sprintf("oslo.metrics or oslo.messaging is not importable by %s (apt-get install python3-oslo.metrics python3-oslo.messaging): %v: %s",
		python, err, bytes.TrimSpace(out))
	if os.Getenv("CI") != "" {
		t.Fatal(msg + "; CI is set")
	}
	t.Skipf("\n\n*** SKIPPING %s: %s ***\n", t.Name(), msg)
}

// pyFamily is a family definition as testdata/oslo_metrics_export.py
// prints it.
type pyFamily struct {
	Name    string    `json:"name"`
	Type    string    `json:"type"`
	Help    string    `json:"help"`
	Labels  []string  `json:"labels"`
	Buckets []float64 `json:"buckets"`
}

var pyOnce = sync.OnceValues(func() ([]byte, error) {
	cmd := exec.Command(python, "-B", "testdata/oslo_metrics_export.py")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("oslo_metrics_export.py: %w\n%s", err, stderr.Bytes())
	}
	return out, nil
})

// pyExport runs testdata/oslo_metrics_export.py (once: Python's imports
// take seconds).
func pyExport(t *testing.T) (defs []pyFamily, exposition map[string]*dto.MetricFamily) {
	t.Helper()
	out, err := pyOnce()
	if err != nil {
		needPython(t) // skips or fails when Python lacks the modules
		t.Fatal(err)
	}
	var res struct {
		Families   []pyFamily `json:"families"`
		Exposition string     `json:"exposition"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("oslo_metrics_export.py printed %q: %v", out, err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(res.Exposition))
	if err != nil {
		t.Fatalf("parsing prometheus_client's exposition: %v\n%s", err, res.Exposition)
	}
	return res.Families, fams
}

// Compat and Plain are the endpoints of the Python script's server
// invocations: their Go type names are the endpoint label.
type Compat struct{}

func (Compat) Target() target.Target { return target.Target{Namespace: "compat", Version: "1.3"} }

var errValue = transport.NewKind("builtins", "ValueError", "compat: bad value")

func (Compat) Fail(context.Context) error { return fmt.Errorf("fail: %w", errValue) }

type Plain struct{}

func (Plain) Ping(context.Context) error { return nil }

// goExport makes, through the middleware, the invocations the Python
// script makes and gathers the families.
func goExport(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	m := New(ProcessName("osloprom-compat"))
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m)
	ctx := context.Background()

	invoke := m.ClientMiddleware()(func(ctx context.Context, inv *client.Invocation) error {
		if inv.CallType == "call" {
			return &transport.TimeoutError{Op: "call", Method: inv.Method, Target: inv.Target}
		}
		return nil
	})
	if err := invoke(ctx, &client.Invocation{
		CallType: "call", Method: "get_stats", Timeout: time.Minute,
		Target: target.Target{Topic: "compat_topic", Exchange: "openstack"},
	}); !errors.Is(err, transport.ErrTimeout) {
		t.Fatalf("call: %v, want the invoker's timeout", err)
	}
	if err := invoke(ctx, &client.Invocation{
		CallType: "cast", Method: "record", Timeout: time.Minute,
		Target: target.Target{Topic: "compat_topic", Exchange: "openstack", Namespace: "compat", Version: "1.2", Server: "host-1", Fanout: true},
	}); err != nil {
		t.Fatalf("cast: %v", err)
	}

	d, err := dispatcher.New([]any{Compat{}, Plain{}}, dispatcher.WithMiddleware(m.ServerMiddleware()))
	if err != nil {
		t.Fatal(err)
	}
	stg := target.Target{Topic: "compat_topic", Server: "host-1", Exchange: "openstack"}
	if _, err := d.Dispatch(ctx, &dispatcher.Request{Method: "fail", Namespace: "compat", Version: "1.3", Target: stg}); !errors.Is(err, errValue) {
		t.Fatalf("fail: %v, want ValueError", err)
	}
	if _, err := d.Dispatch(ctx, &dispatcher.Request{Method: "ping", Target: stg}); err != nil {
		t.Fatalf("ping: %v", err)
	}
	// Not counted, as in oslo.metrics: nothing was dispatched.
	if _, err := d.Dispatch(ctx, &dispatcher.Request{Method: "nope", Target: stg}); !errors.Is(err, dispatcher.ErrNoSuchMethod) {
		t.Fatalf("nope: %v, want NoSuchMethod", err)
	}

	got, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	fams := map[string]*dto.MetricFamily{}
	for _, f := range got {
		fams[f.GetName()] = f
	}
	return fams
}

// TestFamiliesMatchOsloMetrics diffs the families' names, types, help
// texts, label names (in order) and buckets against
// oslo_metrics.metrics.oslo_messaging.
func TestFamiliesMatchOsloMetrics(t *testing.T) {
	defs, _ := pyExport(t)
	fams := goExport(t)
	if len(defs) != 8 {
		t.Errorf("oslo.metrics has %d families, want the 8 of oslo.metrics 0.x: %+v", len(defs), defs)
	}
	for _, py := range defs {
		f := fams[py.Name]
		if f == nil {
			t.Errorf("family %s (%s) missing", py.Name, py.Type)
			continue
		}
		if got := strings.ToLower(f.GetType().String()); got != py.Type {
			t.Errorf("%s: type %s, oslo.metrics %s", py.Name, got, py.Type)
		}
		if f.GetHelp() != py.Help {
			t.Errorf("%s: help %q, oslo.metrics %q", py.Name, f.GetHelp(), py.Help)
		}
		want := clientLabels
		if strings.Contains(py.Name, "_server_") {
			want = serverLabels
		}
		if strings.HasSuffix(py.Name, "_exception_total") {
			want = append(slices.Clone(want), "exception")
		}
		if !slices.Equal(want, py.Labels) {
			t.Errorf("%s: labels %v, oslo.metrics %v", py.Name, want, py.Labels)
		}
		for _, mt := range f.GetMetric() {
			var names []string
			for _, lp := range mt.GetLabel() {
				names = append(names, lp.GetName())
			}
			if sorted := slices.Sorted(slices.Values(py.Labels)); !slices.Equal(names, sorted) {
				t.Errorf("%s: series labels %v, oslo.metrics %v", py.Name, names, sorted)
			}
		}
		if py.Type == "histogram" {
			if !slices.Equal(Buckets, py.Buckets) {
				t.Errorf("%s: buckets %v, oslo.metrics %v", py.Name, Buckets, py.Buckets)
			}
			for _, mt := range f.GetMetric() {
				var bounds []float64
				for _, b := range mt.GetHistogram().GetBucket() {
					bounds = append(bounds, b.GetUpperBound())
				}
				if !slices.Equal(bounds, py.Buckets) {
					t.Errorf("%s: series buckets %v, oslo.metrics %v", py.Name, bounds, py.Buckets)
				}
			}
		}
	}
}

// TestSeriesMatchOsloMetrics makes the same invocations in Go and through
// oslo.messaging's metrics client code and oslo.metrics' router in Python,
// and compares the series: label values as Python renders them (None,
// True), counts.
func TestSeriesMatchOsloMetrics(t *testing.T) {
	defs, pyFams := pyExport(t)
	goFams := goExport(t)
	for _, d := range defs {
		want, got := series(pyFams[d.Name]), series(goFams[d.Name])
		if len(want) == 0 {
			t.Errorf("%s: oslo.metrics shows no series", d.Name)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s:\n go     %s\n python %s", d.Name, strings.Join(got, "\n        "), strings.Join(want, "\n        "))
		}
	}
}

// series describes f's series as sorted strings: labels and value (count
// for histograms).
func series(f *dto.MetricFamily) []string {
	var out []string
	for _, m := range f.GetMetric() {
		var labels []string
		for _, lp := range m.GetLabel() {
			labels = append(labels, fmt.Sprintf("%s=%q", lp.GetName(), lp.GetValue()))
		}
		sort.Strings(labels)
		var v string
		switch {
		case m.Counter != nil:
			v = fmt.Sprint(m.GetCounter().GetValue())
		case m.Histogram != nil:
			v = fmt.Sprintf("count=%d", m.GetHistogram().GetSampleCount())
		default:
			v = "?"
		}
		out = append(out, "{"+strings.Join(labels, ",")+"} "+v)
	}
	sort.Strings(out)
	return out
}
