package zmq_test

import (
	"context"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"testing"

	"github.com/go-zeromq/zmq4"

	"github.com/oslo-go/messaging/client"
	"github.com/oslo-go/messaging/server"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
)

// The benchmarks run a client and a server on two transports (so every
// message crosses a loopback TCP connection) with the in-process
// matchmaker, next to bare zmq4 DEALER/ROUTER request-reply:
//
//	go test -run XXX -bench . -benchmem ./drivers/zmq/

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

// castWindow bounds how far casts run ahead of their handling.
const castWindow = 8192

func benchSetup(b *testing.B) (*client.Client, *benchEndpoint) {
	b.Helper()
	ctx := context.Background()
	quiet := transport.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	url := "zmq:///" + b.Name()
	open := func() *transport.Transport {
		tr, err := transport.Open(ctx, url, quiet)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { tr.Close() })
		return tr
	}
	str, ctr := open(), open()
	e := &benchEndpoint{got: make(chan struct{}, castWindow)}
	srv, err := server.New(str, target.Target{Topic: "bench", Server: "s1"}, []any{e}, server.MaxConcurrency(benchCallers))
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Shutdown(ctx); srv.Close() })
	c, err := client.New(ctr, target.Target{Topic: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	return c, e
}

func parallelism() int { return (benchCallers + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0) }

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

// BenchmarkCallParallel is calls from 64 concurrent callers.
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

// BenchmarkCast is one-way casts, handled by the server (at most castWindow
// in flight).
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

// BenchmarkBareZMQ4RoundTrip is the baseline: a zmq4 DEALER sends a
// 200-byte message to a zmq4 ROUTER that echoes it, no encoding, no
// dispatch.
func BenchmarkBareZMQ4RoundTrip(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	router := zmq4.NewRouter(ctx)
	defer router.Close()
	if err := router.Listen("tcp://127.0.0.1:0"); err != nil {
		b.Fatal(err)
	}
	go func() {
		for {
			m, err := router.Recv()
			if err != nil {
				return
			}
			if router.Send(m) != nil {
				return
			}
		}
	}()
	dealer := zmq4.NewDealer(ctx)
	defer dealer.Close()
	if err := dealer.Dial("tcp://" + router.Addr().String()); err != nil {
		b.Fatal(err)
	}
	payload := []byte(strings.Repeat("x", 200))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := dealer.Send(zmq4.NewMsg(payload)); err != nil {
			b.Fatal(err)
		}
		if _, err := dealer.Recv(); err != nil {
			b.Fatal(err)
		}
	}
}
