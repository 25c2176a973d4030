package nats

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	natsgo "github.com/nats-io/nats.go"

	"github.com/oslo-go/messaging/client"
	"github.com/oslo-go/messaging/drivers/drivertest"
	"github.com/oslo-go/messaging/drivers/nats/embedded"
	"github.com/oslo-go/messaging/internal/probe"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
)

// The benchmarks run client and server through the transport over an
// embedded server, next to the same traffic with bare nats.go on the same
// server (the Bare benchmarks), so that the driver's overhead shows in one
// run:
//
//	go test -run XXX -bench . ./drivers/nats/
//
// With BENCH_NATS_URL set they use that server instead, and built with the
// probe tag BenchmarkCall and BenchmarkBareRequest print where a call's
// time goes (docs/BENCHMARKS.md):
//
//	BENCH_NATS_URL=nats://127.0.0.1:4222 go test -tags probe -run XXX -bench 'BenchmarkCall$|BenchmarkBareRequest$' ./drivers/nats/

func benchServer(b *testing.B) *embedded.Server {
	b.Helper()
	e, err := embedded.Start()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(e.Shutdown)
	return e
}

// benchURL is BENCH_NATS_URL, or else the URL of an embedded server
// started for the benchmark.
func benchURL(b *testing.B) string {
	if u := os.Getenv("BENCH_NATS_URL"); u != "" {
		return u
	}
	return benchServer(b).URL()
}

// benchConfig opens transports to benchURL.
func benchConfig(b *testing.B) drivertest.Config {
	u := benchURL(b)
	return drivertest.Config{URL: func(testing.TB) string { return u }}
}

// BenchmarkCall is one call round trip through the whole stack.
func BenchmarkCall(b *testing.B) { drivertest.BenchCall(b, benchConfig(b)) }

// BenchmarkCallParallel is BenchmarkCall with 64 concurrent callers.
func BenchmarkCallParallel(b *testing.B) { drivertest.BenchCallParallel(b, benchConfig(b)) }

// BenchmarkCast sends casts and has them handled, end to end.
func BenchmarkCast(b *testing.B) { drivertest.BenchCast(b, benchConfig(b)) }

func parallelism() int {
	procs := runtime.GOMAXPROCS(0)
	return (drivertest.BenchCallers + procs - 1) / procs
}

// barePayload is about the size of the request BenchmarkCall sends.
var barePayload = []byte(`{"oslo.version": "2.0", "oslo.message": "{\"method\": \"echo\", \"args\": {\"id\": \"i-1\", \"size\": 10, \"payload\": \"` +
	strings.Repeat("x", 100) + `\"}, \"namespace\": null, \"version\": null, \"_msg_id\": \"0123456789abcdef0123456789abcdef\", \"_reply_q\": \"_INBOX.abcdefghijklmnopqrstuv\", \"_unique_id\": \"0123456789abcdef0123456789abcdef\", \"_timeout\": null}"}`)

var bareReply = []byte(`{"oslo.version": "2.0", "oslo.message": "{\"result\": {\"id\": \"i-1\", \"size\": 10}, \"failure\": null, \"ending\": true, \"_msg_id\": \"0123456789abcdef0123456789abcdef\"}"}`)

func bareConns(b *testing.B) (cli, srv *natsgo.Conn) {
	b.Helper()
	u := benchURL(b)
	connect := func() *natsgo.Conn {
		nc, err := natsgo.Connect(u)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(nc.Close)
		return nc
	}
	return connect(), connect()
}

// bareResponder answers requests on "bare" the usual nats.go way.
func bareResponder(b *testing.B, nc *natsgo.Conn) {
	if _, err := nc.QueueSubscribe("bare", "q", func(m *natsgo.Msg) {
		probe.Mark(probe.ServerReceived)
		m.Respond(bareReply)
		probe.Mark(probe.ServerReplied)
	}); err != nil {
		b.Fatal(err)
	}
	nc.Flush()
}

// benchRequests makes b.N sequential requests on "bare".
func benchRequests(b *testing.B, cli *natsgo.Conn) {
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	probe.Report()
	for i := 0; i < b.N; i++ {
		probe.Start()
		if _, err := cli.RequestWithContext(ctx, "bare", barePayload); err != nil {
			b.Fatal(err)
		}
		probe.Mark(probe.CallReturned)
	}
	if r := probe.Report(); r != "" && b.N > 1 {
		fmt.Fprintf(os.Stderr, "%s, %d requests, per request:\n%s", b.Name(), b.N, r)
	}
}

// BenchmarkBareRequest is nats.go request-reply of messages of the same
// size on the same kind of server: the baseline of BenchmarkCall.
func BenchmarkBareRequest(b *testing.B) {
	cli, srv := bareConns(b)
	bareResponder(b, srv)
	benchRequests(b, cli)
}

// BenchmarkBareRequestHop is BenchmarkBareRequest with the one goroutine
// hop the library's server has and bare nats.go has not: the subscription's
// callback hands each request over a channel to a goroutine that responds,
// as the listener hands messages to the server's workers. Against
// BenchmarkBareRequest it shows what that hop costs a sequential call.
func BenchmarkBareRequestHop(b *testing.B) {
	cli, srv := bareConns(b)
	work := make(chan *natsgo.Msg, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m := range work {
			m.Respond(bareReply)
		}
	}()
	sub, err := srv.QueueSubscribe("bare", "q", func(m *natsgo.Msg) { work <- m })
	if err != nil {
		b.Fatal(err)
	}
	srv.Flush()
	b.Cleanup(func() {
		sub.Unsubscribe()
		srv.Flush()
		close(work)
		<-done
	})
	benchRequests(b, cli)
}

// BenchmarkBareRequestParallel is BenchmarkBareRequest with 64 concurrent
// requesters: the baseline of BenchmarkCallParallel.
func BenchmarkBareRequestParallel(b *testing.B) {
	cli, srv := bareConns(b)
	bareResponder(b, srv)
	ctx := context.Background()
	b.ReportAllocs()
	b.SetParallelism(parallelism())
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := cli.RequestWithContext(ctx, "bare", barePayload); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkBarePublish publishes to a subscriber on another connection and
// waits until it got everything (at most drivertest.BenchCastWindow ahead): the baseline
// of BenchmarkCast.
func BenchmarkBarePublish(b *testing.B) {
	cli, srv := bareConns(b)
	got := make(chan struct{}, drivertest.BenchCastWindow)
	var n atomic.Int64
	if _, err := srv.QueueSubscribe("bare", "q", func(*natsgo.Msg) { n.Add(1); got <- struct{}{} }); err != nil {
		b.Fatal(err)
	}
	srv.Flush()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i >= drivertest.BenchCastWindow {
			<-got
		}
		if err := cli.Publish("bare", barePayload); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < min(b.N, drivertest.BenchCastWindow); i++ {
		<-got
	}
}

// BenchmarkCastSend is the sending side of casts alone: no server listens,
// so the broker drops them; the client's cost per cast.
func BenchmarkCastSend(b *testing.B) {
	e := benchServer(b)
	tr, err := transport.Open(context.Background(), e.URL(), transport.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { tr.Close() })
	c, err := client.New(tr, target.Target{Topic: "bench-nobody"})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	args := drivertest.BenchArgs{ID: "i-1", Size: 10, Payload: strings.Repeat("x", 100)}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := c.Cast(ctx, "note", args); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBarePublishSend is nats.go publishing to a subject nobody
// subscribes to: the baseline of BenchmarkCastSend.
func BenchmarkBarePublishSend(b *testing.B) {
	cli, _ := bareConns(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := cli.Publish("bare-nobody", barePayload); err != nil {
			b.Fatal(err)
		}
	}
	cli.Flush()
}
