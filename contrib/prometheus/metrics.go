package osloprom

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/oslo-go/messaging/client"
	"github.com/oslo-go/messaging/dispatcher"
	"github.com/oslo-go/messaging/server"
	"github.com/oslo-go/messaging/target"
)

// Label names, in oslo.metrics' order.
var (
	clientLabels = []string{
		"call_type", "exchange", "topic", "namespace", "version",
		"server", "fanout", "process", "method", "timeout",
	}
	serverLabels = []string{
		"exchange", "topic", "server", "endpoint", "namespace",
		"version", "method", "process",
	}
	serverGaugeLabels = []string{"topic", "server", "process"}
)

// Buckets are oslo.metrics' buckets of the processing_seconds histograms.
var Buckets = []float64{
	0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0,
	2.5, 5.0, 7.5, 10.0, 25.0, 50.0, 75.0, 100,
}

// An Option configures New.
type Option func(*options)

type options struct {
	process string
}

// ProcessName sets the process label of every series: oslo's
// [oslo_messaging_metrics] metrics_process_name, "" by default.
func ProcessName(name string) Option { return func(o *options) { o.process = name } }

// Metrics holds the oslo.metrics families of a process. It is a
// prometheus.Collector: register it once, on prometheus.DefaultRegisterer
// or a registry of your own. Its methods are safe for concurrent use.
type Metrics struct {
	process string

	clientStart, clientEnd, clientExc *prometheus.CounterVec
	clientSeconds                     *prometheus.HistogramVec
	clientInFlight                    *prometheus.GaugeVec

	serverStart, serverEnd, serverExc *prometheus.CounterVec
	serverSeconds                     *prometheus.HistogramVec

	serverInFlight, repliesDropped *prometheus.Desc

	mu      sync.Mutex
	servers map[Server]struct{}
}

// Server is what AddServer reads at each scrape; *server.Server is one.
type Server interface {
	Target() target.Target
	InFlight() int
	RepliesDropped() int64
}

var _ Server = (*server.Server)(nil)

// New returns the families, not yet registered.
func New(opts ...Option) *Metrics {
	var o options
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	counter := func(name, help string, labels []string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	}
	histogram := func(name string, labels []string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: name, Help: "Duration of RPC processing.", Buckets: Buckets,
		}, labels)
	}
	withException := func(labels []string) []string {
		return append(labels[:len(labels):len(labels)], "exception")
	}
	const (
		endHelp = "Total number of RPC invocation end."
		excHelp = "Total number of exception while RPC processing."
	)
	return &Metrics{
		process: o.process,

		clientStart:   counter("oslo_messaging_rpc_client_invocation_start_total", "Total number of RPC invocation start.", clientLabels),
		clientEnd:     counter("oslo_messaging_rpc_client_invocation_end_total", endHelp, clientLabels),
		clientSeconds: histogram("oslo_messaging_rpc_client_processing_seconds", clientLabels),
		clientExc:     counter("oslo_messaging_rpc_client_exception_total", excHelp, withException(clientLabels)),
		clientInFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "oslo_messaging_rpc_client_in_flight",
			Help: "Number of RPC calls and casts being sent or waiting for their reply (Go).",
		}, clientLabels),

		// oslo.metrics' help text, its missing space included.
		serverStart: counter("oslo_messaging_rpc_server_invocation_start_total",
			"Total number of RPC invocation start. This doesn't count"+
				"if rpc server failed to find method from endpoints.", serverLabels),
		serverEnd:     counter("oslo_messaging_rpc_server_invocation_end_total", endHelp, serverLabels),
		serverSeconds: histogram("oslo_messaging_rpc_server_processing_seconds", serverLabels),
		serverExc:     counter("oslo_messaging_rpc_server_exception_total", excHelp, withException(serverLabels)),

		serverInFlight: prometheus.NewDesc("oslo_messaging_rpc_server_in_flight",
			"Number of RPC requests a server is handling or replying to (Go).", serverGaugeLabels, nil),
		repliesDropped: prometheus.NewDesc("oslo_messaging_rpc_server_replies_dropped_total",
			"Total number of RPC replies a server could not send (Go).", serverGaugeLabels, nil),

		servers: map[Server]struct{}{},
	}
}

func (m *Metrics) vecs() []prometheus.Collector {
	return []prometheus.Collector{
		m.clientStart, m.clientEnd, m.clientSeconds, m.clientExc, m.clientInFlight,
		m.serverStart, m.serverEnd, m.serverSeconds, m.serverExc,
	}
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m.vecs() {
		c.Describe(ch)
	}
	ch <- m.serverInFlight
	ch <- m.repliesDropped
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m.vecs() {
		c.Collect(ch)
	}
	type key struct{ topic, server string }
	type sums struct{ inFlight, dropped float64 }
	m.mu.Lock()
	byTarget := make(map[key]*sums, len(m.servers))
	for s := range m.servers {
		tg := s.Target()
		k := key{tg.Topic, tg.Server}
		v := byTarget[k]
		if v == nil {
			v = &sums{}
			byTarget[k] = v
		}
		v.inFlight += float64(s.InFlight())
		v.dropped += float64(s.RepliesDropped())
	}
	m.mu.Unlock()
	for k, v := range byTarget {
		ch <- prometheus.MustNewConstMetric(m.serverInFlight, prometheus.GaugeValue, v.inFlight, k.topic, pyStr(k.server), m.process)
		ch <- prometheus.MustNewConstMetric(m.repliesDropped, prometheus.CounterValue, v.dropped, k.topic, pyStr(k.server), m.process)
	}
}

// AddServer adds srv's in-flight requests and dropped replies (usually a
// *server.Server's) to the oslo_messaging_rpc_server_in_flight and
// oslo_messaging_rpc_server_replies_dropped_total series until
// RemoveServer. Adding a server twice is adding it once.
func (m *Metrics) AddServer(srv Server) {
	if srv == nil {
		return
	}
	m.mu.Lock()
	m.servers[srv] = struct{}{}
	m.mu.Unlock()
}

// RemoveServer stops reporting srv, for example once it is shut down.
func (m *Metrics) RemoveServer(srv Server) {
	m.mu.Lock()
	delete(m.servers, srv)
	m.mu.Unlock()
}

// ClientMiddleware returns client middleware (client.WithMiddleware) that
// counts and times every call and cast in the client families.
func (m *Metrics) ClientMiddleware() client.Middleware {
	return func(next client.Invoker) client.Invoker {
		return func(ctx context.Context, inv *client.Invocation) (err error) {
			tg := inv.Target
			lv := []string{
				inv.CallType, pyStr(tg.Exchange), pyStr(tg.Topic), pyStr(tg.Namespace), pyStr(tg.Version),
				pyStr(tg.Server), pyFanout(tg.Fanout), m.process, inv.Method, "None",
			}
			inFlight := m.clientInFlight.WithLabelValues(lv...)
			m.clientStart.WithLabelValues(lv...).Inc()
			inFlight.Inc()
			start := time.Now()
			defer func() {
				if v := recover(); v != nil {
					err = errPanic
					defer panic(v)
				}
				if err != nil {
					m.clientExc.WithLabelValues(append(lv, exceptionClass(err))...).Inc()
				}
				m.clientSeconds.WithLabelValues(lv...).Observe(time.Since(start).Seconds())
				m.clientEnd.WithLabelValues(lv...).Inc()
				inFlight.Dec()
			}()
			return next(ctx, inv)
		}
	}
}

// ServerMiddleware returns server middleware (dispatcher.WithMiddleware,
// given with server.DispatchOptions) that counts and times every request
// dispatched to an endpoint method in the server families.
func (m *Metrics) ServerMiddleware() dispatcher.Middleware {
	return func(next dispatcher.Handler) dispatcher.Handler {
		return func(ctx context.Context, req *dispatcher.Request) (res any, err error) {
			meth, ok := dispatcher.MethodOf(ctx)
			if !ok {
				return next(ctx, req) // oslo.metrics counts only dispatched requests
			}
			tg := req.Target
			lv := []string{
				pyStr(tg.Exchange), pyStr(tg.Topic), pyStr(tg.Server), meth.Endpoint, pyStr(meth.Namespace),
				pyStr(meth.Version), meth.Name, m.process,
			}
			m.serverStart.WithLabelValues(lv...).Inc()
			start := time.Now()
			defer func() {
				v := recover()
				if v != nil {
					err = errPanic
					defer panic(v)
				}
				if err != nil {
					m.serverExc.WithLabelValues(append(lv, failureClass(err))...).Inc()
				}
				m.serverSeconds.WithLabelValues(lv...).Observe(time.Since(start).Seconds())
				m.serverEnd.WithLabelValues(lv...).Inc()
			}()
			return next(ctx, req)
		}
	}
}
