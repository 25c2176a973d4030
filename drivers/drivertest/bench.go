package drivertest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/oslo-go/messaging/client"
	"github.com/oslo-go/messaging/internal/probe"
	"github.com/oslo-go/messaging/server"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
)

// The benchmarks run a client and a server on two transports opened from
// cfg.URL, through the whole stack, with a 100-byte payload. A driver's
// package wraps them:
//
//	func BenchmarkCall(b *testing.B) { drivertest.BenchCall(b, cfg) }

// BenchCallers is the number of concurrent callers of BenchCallParallel.
const BenchCallers = 64

// BenchCastWindow bounds how far BenchCast's casts run ahead of their
// handling, so that no receiver buffer overflows.
const BenchCastWindow = 1024

// BenchArgs are the arguments of the benchmarks' calls and casts.
type BenchArgs struct {
	ID      string `json:"id"`
	Size    int    `json:"size"`
	Payload string `json:"payload"`
}

// BenchResult is what the benchmarks' calls return.
type BenchResult struct {
	ID   string `json:"id"`
	Size int    `json:"size"`
}

type benchEndpoint struct{ got chan struct{} }

// Echo answers a benchmark call.
func (e *benchEndpoint) Echo(_ context.Context, a BenchArgs) (BenchResult, error) {
	return BenchResult{ID: a.ID, Size: a.Size}, nil
}

// Note receives a benchmark cast.
func (e *benchEndpoint) Note(context.Context, BenchArgs) error {
	e.got <- struct{}{}
	return nil
}

var benchArgs = BenchArgs{ID: "i-1", Size: 10, Payload: strings.Repeat("x", 100)}

// benchSetup starts a server on one transport and returns a client on
// another.
func benchSetup(b *testing.B, cfg Config) (*client.Client, *benchEndpoint) {
	b.Helper()
	ctx := context.Background()
	opts := append([]transport.Option{transport.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))}, cfg.Options...)
	open := func() *transport.Transport {
		tr, err := transport.Open(ctx, cfg.URL(b), opts...)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { tr.Close() })
		return tr
	}
	str, ctr := open(), open()
	e := &benchEndpoint{got: make(chan struct{}, BenchCastWindow)}
	srv, err := server.New(str, target.Target{Topic: "bench", Server: "s1"}, []any{e}, server.MaxConcurrency(BenchCallers))
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

// BenchCall measures one call round trip: encode, send, dispatch, reply,
// decode.
func BenchCall(b *testing.B, cfg Config) {
	c, _ := benchSetup(b, cfg)
	ctx := context.Background()
	b.ReportAllocs()
	probe.Report() // not the warm-up calls
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := client.Call[BenchResult](ctx, c, "echo", benchArgs); err != nil {
			b.Fatal(err)
		}
	}
	reportStages(b)
}

// reportStages prints where the benchmark's sequential calls spent their
// time, when it is built with the probe tag (go test -tags probe).
func reportStages(b *testing.B) {
	if r := probe.Report(); r != "" && b.N > 1 {
		fmt.Fprintf(os.Stderr, "%s, %d calls, per call:\n%s", b.Name(), b.N, r)
	}
}

// BenchCallParallel is BenchCall with BenchCallers concurrent callers.
func BenchCallParallel(b *testing.B, cfg Config) {
	c, _ := benchSetup(b, cfg)
	ctx := context.Background()
	b.ReportAllocs()
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((BenchCallers + procs - 1) / procs)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := client.Call[BenchResult](ctx, c, "echo", benchArgs); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchCast measures casts end to end: each one sent and handled, with at
// most a window of them in flight.
func BenchCast(b *testing.B, cfg Config) {
	c, e := benchSetup(b, cfg)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i >= BenchCastWindow {
			<-e.got
		}
		if err := c.Cast(ctx, "note", benchArgs); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < min(b.N, BenchCastWindow); i++ {
		<-e.got
	}
}
