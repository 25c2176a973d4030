package osloprom_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/goleak"

	"github.com/oslo-go/messaging/client"
	osloprom "github.com/oslo-go/messaging/contrib/prometheus"
	"github.com/oslo-go/messaging/dispatcher"
	"github.com/oslo-go/messaging/drivers/drivertest"
	_ "github.com/oslo-go/messaging/drivers/rabbit"
	"github.com/oslo-go/messaging/drivers/rabbit/rabbittest"
	"github.com/oslo-go/messaging/server"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Calc is the endpoint of the broker test.
type Calc struct {
	casts   chan string
	entered chan struct{}
}

func (*Calc) Target() target.Target { return target.Target{Namespace: "calc", Version: "1.3"} }

type AddArgs struct {
	A int `json:"a"`
	B int `json:"b"`
}

func (*Calc) Add(_ context.Context, a AddArgs) (int, error) { return a.A + a.B, nil }

var errBad = transport.NewKind("builtins", "ValueError", "calc: bad value")

func (*Calc) Fail(context.Context) error { return fmt.Errorf("fail: %w", errBad) }

type RecordArgs struct {
	Text string `json:"text"`
}

func (c *Calc) Record(_ context.Context, a RecordArgs) error {
	c.casts <- a.Text
	return nil
}

// Block runs until its caller's deadline passes or the server closes.
func (c *Calc) Block(ctx context.Context) error {
	c.entered <- struct{}{}
	<-ctx.Done()
	return ctx.Err()
}

// scraper scrapes /metrics of a registry over HTTP, as Prometheus does.
type scraper struct {
	t   *testing.T
	url string
}

func newScraper(t *testing.T, reg *prometheus.Registry) *scraper {
	ts := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}))
	t.Cleanup(ts.Close)
	return &scraper{t: t, url: ts.URL + "/metrics"}
}

func (s *scraper) scrape() map[string]*dto.MetricFamily {
	s.t.Helper()
	resp, err := http.Get(s.url)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		s.t.Fatalf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		s.t.Fatalf("parsing /metrics: %v", err)
	}
	return fams
}

// value returns the value of the series of family name whose labels
// include want (a counter's or gauge's value, a histogram's count), and
// the series' label names; ok is false when there is no such series.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) (v float64, labels []string, ok bool) {
	for _, m := range fams[name].GetMetric() {
		have := map[string]string{}
		labels = labels[:0]
		for _, lp := range m.GetLabel() {
			have[lp.GetName()] = lp.GetValue()
			labels = append(labels, lp.GetName())
		}
		match := true
		for k, w := range want {
			if have[k] != w {
				match = false
				break
			}
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), labels, true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), labels, true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), labels, true
		}
	}
	return 0, nil, false
}

// check is one expected series.
type check struct {
	family string
	labels map[string]string
	want   float64 // -1: no such series
}

func (s *scraper) verify(checks []check) {
	s.t.Helper()
	fams := s.scrape()
	for _, c := range checks {
		v, _, ok := value(fams, c.family, c.labels)
		switch {
		case c.want < 0 && ok:
			s.t.Errorf("%s%v: %v, want no series", c.family, c.labels, v)
		case c.want >= 0 && !ok:
			s.t.Errorf("%s%v: no series", c.family, c.labels)
		case ok && v != c.want:
			s.t.Errorf("%s%v = %v, want %v", c.family, c.labels, v, c.want)
		}
	}
}

// await scrapes until family name has a series with labels and value
// want, for what the server records after the reply is sent.
func (s *scraper) await(name string, labels map[string]string, want float64) {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		v, _, _ := value(s.scrape(), name, labels)
		if v == want {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s%v = %v after 10s, want %v", name, labels, v, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func with(base map[string]string, kv ...string) map[string]string {
	m := make(map[string]string, len(base)+len(kv)/2)
	for k, v := range base {
		m[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// TestBrokerScrape makes calls, casts and failures (a remote error,
// NoSuchMethod, a timeout) on RabbitMQ and scrapes /metrics.
func TestBrokerScrape(t *testing.T) {
	rabbittest.Need(t)
	topic := fmt.Sprintf("osloprom_%012x", rand.Uint64()>>16)
	t.Cleanup(func() { rabbittest.DeleteQueues(t, topic) })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tr, err := transport.Open(ctx, rabbittest.URL(), transport.WithLogger(drivertest.TestLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()

	m := osloprom.New(osloprom.ProcessName("osloprom-test"))
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m)
	s := newScraper(t, reg)

	calc := &Calc{casts: make(chan string, 4), entered: make(chan struct{}, 1)}
	srv, err := server.New(tr, target.Target{Topic: topic, Server: "host-1"}, []any{calc},
		server.DispatchOptions(dispatcher.WithMiddleware(m.ServerMiddleware())))
	if err != nil {
		t.Fatal(err)
	}
	m.AddServer(srv)
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	c, err := client.New(tr, target.Target{Topic: topic, Namespace: "calc", Version: "1.2"},
		client.Timeout(10*time.Second), client.WithMiddleware(m.ClientMiddleware()))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if sum, err := client.Call[int](ctx, c, "add", AddArgs{A: 2, B: 3}); err != nil || sum != 5 {
			t.Fatalf("add: %v, %v", sum, err)
		}
	}
	if err := c.Call(ctx, "fail", nil, nil); !errors.Is(err, errBad) {
		t.Fatalf("fail: %v, want the ValueError", err)
	}
	if err := c.Call(ctx, "no_such", nil, nil); !errors.Is(err, dispatcher.ErrNoSuchMethod) {
		t.Fatalf("no_such: %v, want NoSuchMethod", err)
	}
	if err := c.Cast(ctx, "record", RecordArgs{Text: "direct"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Prepare(client.Fanout(true)).Cast(ctx, "record", RecordArgs{Text: "fanout"}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		<-calc.casts
	}

	// A call that times out while its handler runs: both in-flight gauges
	// show it. The handler ends at the caller's deadline; the server sends
	// no reply then, and counts none dropped.
	blocked := make(chan error, 1)
	go func() { blocked <- c.Prepare(client.Timeout(2*time.Second)).Call(ctx, "block", nil, nil) }()
	<-calc.entered

	cl := map[string]string{
		"call_type": "call", "exchange": "openstack", "topic": topic, "namespace": "calc", "version": "1.2",
		"server": "None", "fanout": "None", "process": "osloprom-test", "timeout": "None",
	}
	sl := map[string]string{
		"exchange": "openstack", "topic": topic, "server": "host-1", "endpoint": "Calc",
		"namespace": "calc", "version": "1.3", "process": "osloprom-test",
	}
	gl := map[string]string{"topic": topic, "server": "host-1", "process": "osloprom-test"}
	s.verify([]check{
		{"oslo_messaging_rpc_client_in_flight", with(cl, "method", "block"), 1},
		{"oslo_messaging_rpc_client_in_flight", with(cl, "method", "add"), 0},
		{"oslo_messaging_rpc_server_in_flight", gl, 1},
		// Counted when the handler starts, with its endpoint.
		{"oslo_messaging_rpc_server_invocation_start_total", with(sl, "method", "block"), 1},
	})
	if err := <-blocked; !errors.Is(err, transport.ErrTimeout) {
		t.Fatalf("block: %v, want a timeout", err)
	}
	s.await("oslo_messaging_rpc_server_invocation_end_total", with(sl, "method", "block"), 1)
	s.await("oslo_messaging_rpc_server_invocation_end_total", with(sl, "method", "record"), 2)

	const (
		cStart = "oslo_messaging_rpc_client_invocation_start_total"
		cEnd   = "oslo_messaging_rpc_client_invocation_end_total"
		cSec   = "oslo_messaging_rpc_client_processing_seconds"
		cExc   = "oslo_messaging_rpc_client_exception_total"
		sStart = "oslo_messaging_rpc_server_invocation_start_total"
		sEnd   = "oslo_messaging_rpc_server_invocation_end_total"
		sSec   = "oslo_messaging_rpc_server_processing_seconds"
		sExc   = "oslo_messaging_rpc_server_exception_total"
	)
	cast := with(cl, "call_type", "cast", "method", "record")
	s.verify([]check{
		{cStart, with(cl, "method", "add"), 2},
		{cEnd, with(cl, "method", "add"), 2},
		{cSec, with(cl, "method", "add"), 2},
		{cExc, with(cl, "method", "add"), -1},
		{cStart, with(cl, "method", "fail"), 1},
		{cEnd, with(cl, "method", "fail"), 1},
		{cExc, with(cl, "method", "fail", "exception", "ValueError"), 1},
		{cStart, with(cl, "method", "no_such"), 1},
		{cExc, with(cl, "method", "no_such", "exception", "NoSuchMethod"), 1},
		{cStart, cast, 1},
		{cEnd, cast, 1},
		{cStart, with(cast, "fanout", "True"), 1},
		{cExc, with(cl, "method", "block", "exception", "MessagingTimeout"), 1},
		{cEnd, with(cl, "method", "block"), 1},
		{cSec, with(cl, "method", "block"), 1},
		{"oslo_messaging_rpc_client_in_flight", with(cl, "method", "block"), 0},

		{sStart, with(sl, "method", "add"), 2},
		{sEnd, with(sl, "method", "add"), 2},
		{sSec, with(sl, "method", "add"), 2},
		{sExc, with(sl, "method", "add"), -1},
		{sStart, with(sl, "method", "fail"), 1},
		{sExc, with(sl, "method", "fail", "exception", "ValueError"), 1},
		{sStart, with(sl, "method", "no_such"), -1}, // not dispatched: not counted
		{sExc, with(sl, "method", "no_such"), -1},
		{sStart, with(sl, "method", "record"), 2},
		{sStart, with(sl, "method", "block"), 1},
		{"oslo_messaging_rpc_server_in_flight", gl, 0},
		{"oslo_messaging_rpc_server_replies_dropped_total", gl, 0},
	})

	// Every oslo.metrics family is there, with oslo's label names.
	fams := s.scrape()
	clientNames := []string{"call_type", "exchange", "fanout", "method", "namespace", "process", "server", "timeout", "topic", "version"}
	serverNames := []string{"endpoint", "exchange", "method", "namespace", "process", "server", "topic", "version"}
	for _, name := range []string{cStart, cEnd, cSec, cExc, sStart, sEnd, sSec, sExc} {
		want := clientNames
		if strings.Contains(name, "_server_") {
			want = serverNames
		}
		if strings.HasSuffix(name, "_exception_total") {
			want = slices.Sorted(slices.Values(append(slices.Clone(want), "exception")))
		}
		if len(fams[name].GetMetric()) == 0 {
			t.Errorf("%s: no series", name)
		}
		for _, mt := range fams[name].GetMetric() {
			var got []string
			for _, lp := range mt.GetLabel() {
				got = append(got, lp.GetName())
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s: labels %v, want %v", name, got, want)
			}
		}
	}
	// The exposition lists oslo's buckets and +Inf, as prometheus_client.
	var bounds []float64
	for _, b := range fams[cSec].GetMetric()[0].GetHistogram().GetBucket() {
		bounds = append(bounds, b.GetUpperBound())
	}
	if want := append(slices.Clone(osloprom.Buckets), math.Inf(1)); !slices.Equal(bounds, want) {
		t.Errorf("%s: buckets %v, want %v", cSec, bounds, want)
	}

	// A server closed while it handles a call drops that call's reply.
	go func() { blocked <- c.Prepare(client.Timeout(2*time.Second)).Call(ctx, "block", nil, nil) }()
	<-calc.entered
	srv.Close()
	s.await("oslo_messaging_rpc_server_replies_dropped_total", gl, 1)
	s.await("oslo_messaging_rpc_server_in_flight", gl, 0)
	if err := <-blocked; !errors.Is(err, transport.ErrTimeout) {
		t.Fatalf("block on a closed server: %v, want a timeout", err)
	}

	// A removed server is no longer reported.
	m.RemoveServer(srv)
	if _, _, ok := value(s.scrape(), "oslo_messaging_rpc_server_in_flight", gl); ok {
		t.Error("RemoveServer: the server's in-flight series is still there")
	}
}
