package nats

import (
	"context"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	natsgo "github.com/nats-io/nats.go"

	"github.com/oslo-go/messaging/client"
	"github.com/oslo-go/messaging/server"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
)

// The benchmarks run client and server through the transport over an
// embedded server, next to the same traffic with bare nats.go on the same
// server (the Bare benchmarks), so that the driver's overhead shows in one
// run:
//
//	go test -run XXX -bench . ./drivers/nats/

type benchEndpoint struct{ got chan struct{} }

type benchArgs struct {
	ID      string `json:"id"`
	Size    int    `json:"size"`
	Payload string `json:"payload"`
}

type benchResult struct {
	ID   string `json:"id"`
	Size int    `json:"size"`
}

func (e *benchEndpoint) Echo(_ context.Context, a benchArgs) (benchResult, error) {
	return benchResult{ID: a.ID, Size: a.Size}, nil
}

func (e *benchEndpoint) Note(_ context.Context, a benchArgs) error {
	e.got <- struct{}{}
	return nil
}

var benchPayload = strings.Repeat("x", 100)

// benchCallers is the number of concurrent callers of the parallel
// benchmarks.
const benchCallers = 64

// castWindow bounds how far casts run ahead of their handling, so that the
// receiver's buffers never overflow.
const castWindow = 8192

func benchServer(b *testing.B) *Embedded {
	b.Helper()
	e, err := StartEmbedded()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(e.Shutdown)
	return e
}

// benchSetup runs a server on its own transport and returns a client on
// another, both on an embedded server.
func benchSetup(b *testing.B) (*client.Client, *benchEndpoint) {
	b.Helper()
	e := benchServer(b)
	ctx := context.Background()
	quiet := transport.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	open := func() *transport.Transport {
		tr, err := transport.Open(ctx, e.URL(), quiet)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { tr.Close() })
		return tr
	}
	str, ctr := open(), open()
	ep := &benchEndpoint{got: make(chan struct{}, castWindow)}
	srv, err := server.New(str, target.Target{Topic: "bench", Server: "s1"}, []any{ep})
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Shutdown(ctx) })
	c, err := client.New(ctr, target.Target{Topic: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	return c, ep
}

// BenchmarkCall is one call round trip through the whole stack.
func BenchmarkCall(b *testing.B) {
	c, _ := benchSetup(b)
	ctx := context.Background()
	args := benchArgs{ID: "i-1", Size: 10, Payload: benchPayload}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := client.Call[benchResult](ctx, c, "echo", args); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCallParallel is BenchmarkCall with 64 concurrent callers.
func BenchmarkCallParallel(b *testing.B) {
	c, _ := benchSetup(b)
	ctx := context.Background()
	args := benchArgs{ID: "i-1", Size: 10, Payload: benchPayload}
	b.ReportAllocs()
	b.SetParallelism(parallelism())
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := client.Call[benchResult](ctx, c, "echo", args); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkCast sends casts and waits until the server has handled all of
// them (at most castWindow ahead): end-to-end cast throughput.
func BenchmarkCast(b *testing.B) {
	c, ep := benchSetup(b)
	ctx := context.Background()
	args := benchArgs{ID: "i-1", Size: 10, Payload: benchPayload}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i >= castWindow {
			<-ep.got
		}
		if err := c.Cast(ctx, "note", args); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < min(b.N, castWindow); i++ {
		<-ep.got
	}
}

func parallelism() int {
	p := benchCallers / max(1, runtimeGOMAXPROCS())
	return max(p, 1)
}

// barePayload is about the size of the request BenchmarkCall sends.
var barePayload = []byte(`{"oslo.version": "2.0", "oslo.message": "{\"method\": \"echo\", \"args\": {\"id\": \"i-1\", \"size\": 10, \"payload\": \"` +
	strings.Repeat("x", 100) + `\"}, \"namespace\": null, \"version\": null, \"_msg_id\": \"0123456789abcdef0123456789abcdef\", \"_reply_q\": \"_INBOX.abcdefghijklmnopqrstuv\", \"_unique_id\": \"0123456789abcdef0123456789abcdef\", \"_timeout\": null}"}`)

var bareReply = []byte(`{"oslo.version": "2.0", "oslo.message": "{\"result\": {\"id\": \"i-1\", \"size\": 10}, \"failure\": null, \"ending\": true, \"_msg_id\": \"0123456789abcdef0123456789abcdef\"}"}`)

func bareConns(b *testing.B) (cli, srv *natsgo.Conn) {
	b.Helper()
	e := benchServer(b)
	connect := func() *natsgo.Conn {
		nc, err := natsgo.Connect(e.URL())
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
	if _, err := nc.QueueSubscribe("bare", "q", func(m *natsgo.Msg) { m.Respond(bareReply) }); err != nil {
		b.Fatal(err)
	}
	nc.Flush()
}

// BenchmarkBareRequest is nats.go request-reply of messages of the same
// size on the same kind of server: the baseline of BenchmarkCall.
func BenchmarkBareRequest(b *testing.B) {
	cli, srv := bareConns(b)
	bareResponder(b, srv)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := cli.RequestWithContext(ctx, "bare", barePayload); err != nil {
			b.Fatal(err)
		}
	}
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
// waits until it got everything (at most castWindow ahead): the baseline
// of BenchmarkCast.
func BenchmarkBarePublish(b *testing.B) {
	cli, srv := bareConns(b)
	got := make(chan struct{}, castWindow)
	var n atomic.Int64
	if _, err := srv.QueueSubscribe("bare", "q", func(*natsgo.Msg) { n.Add(1); got <- struct{}{} }); err != nil {
		b.Fatal(err)
	}
	srv.Flush()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i >= castWindow {
			<-got
		}
		if err := cli.Publish("bare", barePayload); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < min(b.N, castWindow); i++ {
		<-got
	}
}

func runtimeGOMAXPROCS() int { return runtime.GOMAXPROCS(0) }

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
	args := benchArgs{ID: "i-1", Size: 10, Payload: benchPayload}
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
