package client_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/oslo-go/messaging/client"
	"github.com/oslo-go/messaging/server"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
)

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

// benchSetup runs a server and returns a client on fake://.
func benchSetup(b *testing.B) (*client.Client, *benchEndpoint) {
	b.Helper()
	ctx := context.Background()
	quiet := transport.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	tr, err := transport.Open(ctx, "fake:///"+b.Name(), quiet)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { tr.Close() })
	e := &benchEndpoint{got: make(chan struct{}, 1<<16)}
	srv, err := server.New(tr, target.Target{Topic: "bench", Server: "s1"}, []any{e})
	if err != nil {
		b.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Shutdown(ctx) })
	c, err := client.New(tr, target.Target{Topic: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	return c, e
}

var benchPayload = strings.Repeat("x", 100)

// BenchmarkCall is one call round trip (encode, send, dispatch, reply,
// decode) on the in-memory driver: the library's own cost per call.
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

// BenchmarkCallParallel is BenchmarkCall with GOMAXPROCS callers.
func BenchmarkCallParallel(b *testing.B) {
	c, _ := benchSetup(b)
	ctx := context.Background()
	args := benchArgs{ID: "i-1", Size: 10, Payload: benchPayload}
	b.ReportAllocs()
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

// BenchmarkCast sends casts and waits until the server has handled all
// of them: end-to-end cast throughput on the in-memory driver.
func BenchmarkCast(b *testing.B) {
	c, e := benchSetup(b)
	ctx := context.Background()
	args := benchArgs{ID: "i-1", Size: 10, Payload: benchPayload}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := c.Cast(ctx, "note", args); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < b.N; i++ {
		<-e.got
	}
}
