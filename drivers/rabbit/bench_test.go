package rabbit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/oslo-go/messaging/client"
	"github.com/oslo-go/messaging/internal/probe"
	"github.com/oslo-go/messaging/server"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
)

// The benchmarks run a client and a server, each on its own transport,
// through the whole stack on the local broker; the Raw ones do the same
// request-reply and publishes with bare amqp091 for comparison.
//
//	go test -run '^$' -bench . ./drivers/rabbit/
//	BENCH_QUERY='?publish_channels=1' go test -run '^$' -bench Call ./drivers/rabbit/
//
// BENCH_QUERY is appended to the transport URL. Besides ns/op the
// benchmarks report the CPU time per operation of the test process
// (client and server) and, when /proc shows it, of the broker.

type benchEndpoint struct{ casts atomic.Int64 }

type benchArgs struct {
	Text string `json:"text"`
}

func (e *benchEndpoint) Echo(_ context.Context, a benchArgs) (string, error) { return a.Text, nil }

func (e *benchEndpoint) Note(context.Context, benchArgs) error {
	e.casts.Add(1)
	return nil
}

var benchPayload = benchArgs{Text: strings.Repeat("x", 100)}

func benchSetup(b *testing.B) (*client.Client, *benchEndpoint) {
	b.Helper()
	needBroker(b)
	ctx := context.Background()
	open := func() *transport.Transport {
		tr, err := transport.Open(ctx, brokerURL+os.Getenv("BENCH_QUERY"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { tr.Close() })
		return tr
	}
	ctr, str := open(), open()
	topic := uniqueName("bench")
	ep := &benchEndpoint{}
	srv, err := server.New(str, target.Target{Topic: topic, Server: "s1"}, []any{ep})
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		srv.Shutdown(ctx)
		srv.Close()
		_, ch := rawChannelB(b)
		ch.QueueDelete(topic, false, false, false)
		ch.QueueDelete(topic+".s1", false, false, false)
	})
	c, err := client.New(ctr, target.Target{Topic: topic}, client.Timeout(30*time.Second))
	if err != nil {
		b.Fatal(err)
	}
	// Warm up: reply queue, channels, declarations.
	for range 20 {
		if err := c.Call(ctx, "echo", benchPayload, nil); err != nil {
			b.Fatal(err)
		}
	}
	return c, ep
}

// cpuMeter reports, per operation, the CPU time of this process and, when
// it can be read from /proc, of the broker (the beam.smp process).
type cpuMeter struct {
	self, broker time.Duration
	beam         string
}

func processCPU(statPath string) time.Duration {
	if statPath == "" {
		var ru syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	data, err := os.ReadFile(statPath)
	if err != nil {
		return 0
	}
	// Fields after the command name (which may hold spaces): utime and
	// stime are the 12th and 13th.
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond // USER_HZ 100
}

func findBeam() string {
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		cmd, err := os.ReadFile("/proc/" + d.Name() + "/cmdline")
		if err == nil && bytes.Contains(cmd, []byte("beam.smp")) && bytes.Contains(cmd, []byte("rabbit")) && !bytes.Contains(cmd, []byte("oslogo-fault")) {
			return "/proc/" + d.Name() + "/stat"
		}
	}
	return ""
}

func startCPU(b *testing.B) *cpuMeter {
	m := &cpuMeter{beam: findBeam()}
	m.self = processCPU("")
	if m.beam != "" {
		m.broker = processCPU(m.beam)
	}
	b.ResetTimer()
	return m
}

func (m *cpuMeter) report(b *testing.B) {
	b.StopTimer()
	b.ReportMetric(float64((processCPU("")-m.self).Microseconds())/float64(b.N), "cpu-µs/op")
	if m.beam != "" {
		b.ReportMetric(float64((processCPU(m.beam)-m.broker).Microseconds())/float64(b.N), "broker-µs/op")
	}
}

// reportStages prints where the benchmark's sequential calls spent their
// time, when it is built with the probe tag:
//
//	go test -tags probe -run '^$' -bench 'BenchmarkCall/seq' -benchtime 3000x ./drivers/rabbit/
//	go test -tags probe -run '^$' -bench 'BenchmarkRawCall/(bare|oslo)/seq' -benchtime 3000x ./drivers/rabbit/
func reportStages(b *testing.B) {
	if r := probe.Report(); r != "" && b.N > 1 {
		fmt.Fprintf(os.Stderr, "%s, %d calls, per call:\n%s", b.Name(), b.N, r)
	}
}

// parallel64 runs fn from 64 goroutines in all.
func parallel64(b *testing.B, fn func(pb *testing.PB)) {
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((64 + procs - 1) / procs)
	b.RunParallel(fn)
}

func BenchmarkCall(b *testing.B) {
	c, _ := benchSetup(b)
	ctx := context.Background()
	b.Run("seq", func(b *testing.B) {
		b.ReportAllocs()
		m := startCPU(b)
		probe.Report() // not the warm-up calls
		for range b.N {
			if _, err := client.Call[string](ctx, c, "echo", benchPayload); err != nil {
				b.Fatal(err)
			}
		}
		m.report(b)
		reportStages(b)
	})
	b.Run("c64", func(b *testing.B) {
		b.ReportAllocs()
		m := startCPU(b)
		parallel64(b, func(pb *testing.PB) {
			for pb.Next() {
				if _, err := client.Call[string](ctx, c, "echo", benchPayload); err != nil {
					b.Error(err)
					return
				}
			}
		})
		m.report(b)
	})
}

func BenchmarkCast(b *testing.B) {
	c, ep := benchSetup(b)
	ctx := context.Background()
	wait := func(b *testing.B, want int64) {
		deadline := time.Now().Add(30 * time.Second)
		for ep.casts.Load() < want && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
	}
	b.Run("seq", func(b *testing.B) {
		b.ReportAllocs()
		base := ep.casts.Load()
		m := startCPU(b)
		for range b.N {
			if err := c.Cast(ctx, "note", benchPayload); err != nil {
				b.Fatal(err)
			}
		}
		wait(b, base+int64(b.N))
		m.report(b)
	})
	b.Run("c64", func(b *testing.B) {
		b.ReportAllocs()
		base := ep.casts.Load()
		m := startCPU(b)
		parallel64(b, func(pb *testing.PB) {
			for pb.Next() {
				if err := c.Cast(ctx, "note", benchPayload); err != nil {
					b.Error(err)
					return
				}
			}
		})
		wait(b, base+int64(b.N))
		m.report(b)
	})
}

func rawChannelB(b testing.TB) (*amqp.Connection, *amqp.Channel) {
	c, err := amqp.Dial(amqp091URI)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	ch, err := c.Channel()
	if err != nil {
		b.Fatal(err)
	}
	return c, ch
}

// rawRPC is a bare amqp091 request-reply: the client publishes to the
// server's queue with reply_to and correlation_id; the server answers to
// the client's exclusive queue. Bare: default exchange, no confirms, no
// acks (auto-ack). With oslo's semantics: the request goes through a topic
// exchange, persistent, with an expiration; every publish waits for its
// confirm; the server acks each request; replies are mandatory.
type rawRPC struct {
	ch       *amqp.Channel
	exchange string
	queue    string
	replyTo  string
	oslo     bool
	next     atomic.Uint64
	mu       sync.Mutex
	waiting  map[string]chan []byte
}

func (r *rawRPC) publish(ch *amqp.Channel, exchange, key string, mandatory bool, p amqp.Publishing) error {
	if !r.oslo {
		return ch.Publish(exchange, key, mandatory, false, p)
	}
	p.DeliveryMode, p.ContentEncoding = 2, "utf-8"
	dc, err := ch.PublishWithDeferredConfirm(exchange, key, mandatory, false, p)
	if err != nil {
		return err
	}
	if !dc.Wait() {
		return errors.New("nack")
	}
	return nil
}

func newRawRPC(b *testing.B, oslo bool) *rawRPC {
	needBroker(b)
	r := &rawRPC{oslo: oslo, waiting: map[string]chan []byte{}}
	_, sch := rawChannelB(b)
	q, err := sch.QueueDeclare("", false, true, false, false, nil)
	if err != nil {
		b.Fatal(err)
	}
	r.queue = q.Name
	if oslo {
		r.exchange = "openstack"
		if err := sch.ExchangeDeclare(r.exchange, "topic", false, false, false, false, nil); err != nil {
			b.Fatal(err)
		}
		if err := sch.QueueBind(q.Name, q.Name, r.exchange, false, nil); err != nil {
			b.Fatal(err)
		}
	}
	reqs, err := sch.Consume(q.Name, "", !oslo, false, false, false, nil)
	if err != nil {
		b.Fatal(err)
	}
	_, spub := rawChannelB(b)
	if oslo {
		spub.Confirm(false)
	}
	go func() {
		for d := range reqs {
			probe.Mark(probe.ServerReceived)
			if oslo {
				d.Ack(false)
			}
			probe.Mark(probe.ServerTaken)
			go func(d amqp.Delivery) {
				probe.Mark(probe.ReplyPublish)
				r.publish(spub, "", d.ReplyTo, oslo, amqp.Publishing{ContentType: "application/json", CorrelationId: d.CorrelationId, Body: d.Body})
			}(d)
		}
	}()
	_, cch := rawChannelB(b)
	if oslo {
		cch.Confirm(false)
	}
	rq, err := cch.QueueDeclare("", false, true, false, false, nil)
	if err != nil {
		b.Fatal(err)
	}
	r.ch, r.replyTo = cch, rq.Name
	_, rch := rawChannelB(b)
	replies, err := rch.Consume(rq.Name, "", true, true, false, false, nil)
	if err != nil {
		b.Fatal(err)
	}
	go func() {
		for d := range replies {
			probe.Mark(probe.ClientReply)
			r.mu.Lock()
			w := r.waiting[d.CorrelationId]
			delete(r.waiting, d.CorrelationId)
			r.mu.Unlock()
			if w != nil {
				w <- d.Body
			}
		}
	}()
	return r
}

func (r *rawRPC) call(body []byte) error {
	probe.Start()
	id := strconv.FormatUint(r.next.Add(1), 10)
	w := make(chan []byte, 1)
	r.mu.Lock()
	r.waiting[id] = w
	r.mu.Unlock()
	p := amqp.Publishing{ContentType: "application/json", CorrelationId: id, ReplyTo: r.replyTo, Body: body}
	if r.oslo {
		p.Expiration = "30000"
	}
	probe.Mark(probe.RequestPublish)
	if err := r.publish(r.ch, r.exchange, r.queue, false, p); err != nil {
		return err
	}
	probe.Mark(probe.ClientSent)
	select {
	case <-w:
		probe.Mark(probe.ClientWoken)
		return nil
	case <-time.After(30 * time.Second):
		return fmt.Errorf("raw call %s timed out", id)
	}
}

var rawBody = []byte(`{"oslo.version": "2.0", "oslo.message": "{\"method\": \"echo\", \"args\": {\"text\": \"` + strings.Repeat("x", 100) + `\"}}"}`)

func BenchmarkRawCall(b *testing.B) {
	for _, oslo := range []bool{false, true} {
		name := "bare"
		if oslo {
			name = "oslo"
		}
		b.Run(name, func(b *testing.B) {
			r := newRawRPC(b, oslo)
			b.Run("seq", func(b *testing.B) {
				m := startCPU(b)
				probe.Report()
				for range b.N {
					if err := r.call(rawBody); err != nil {
						b.Fatal(err)
					}
				}
				m.report(b)
				reportStages(b)
			})
			b.Run("c64", func(b *testing.B) {
				m := startCPU(b)
				parallel64(b, func(pb *testing.PB) {
					for pb.Next() {
						if err := r.call(rawBody); err != nil {
							b.Error(err)
							return
						}
					}
				})
				m.report(b)
			})
		})
	}
}

// BenchmarkRawPublish publishes to a consumed queue with bare amqp091,
// without and with publisher confirms (waiting for each).
func BenchmarkRawPublish(b *testing.B) {
	needBroker(b)
	_, ch := rawChannelB(b)
	q, err := ch.QueueDeclare("", false, true, false, false, nil)
	if err != nil {
		b.Fatal(err)
	}
	_, cch := rawChannelB(b)
	ds, err := cch.Consume(q.Name, "", true, true, false, false, nil)
	if err != nil {
		b.Fatal(err)
	}
	var got atomic.Int64
	go func() {
		for range ds {
			got.Add(1)
		}
	}()
	wait := func(want int64) {
		deadline := time.Now().Add(30 * time.Second)
		for got.Load() < want && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
	}
	msg := amqp.Publishing{ContentType: "application/json", DeliveryMode: 2, Body: rawBody}
	b.Run("noconfirm", func(b *testing.B) {
		base := got.Load()
		for b.Loop() {
			if err := ch.Publish("", q.Name, false, false, msg); err != nil {
				b.Fatal(err)
			}
		}
		wait(base + int64(b.N))
	})
	_, cfm := rawChannelB(b)
	if err := cfm.Confirm(false); err != nil {
		b.Fatal(err)
	}
	b.Run("confirm", func(b *testing.B) {
		base := got.Load()
		for b.Loop() {
			dc, err := cfm.PublishWithDeferredConfirm("", q.Name, false, false, msg)
			if err != nil {
				b.Fatal(err)
			}
			if !dc.Wait() {
				b.Fatal("nack")
			}
		}
		wait(base + int64(b.N))
	})
	b.Run("confirm-c64", func(b *testing.B) {
		base := got.Load()
		parallel64(b, func(pb *testing.PB) {
			for pb.Next() {
				dc, err := cfm.PublishWithDeferredConfirm("", q.Name, false, false, msg)
				if err != nil {
					b.Error(err)
					return
				}
				dc.Wait()
			}
		})
		wait(base + int64(b.N))
	})
}
