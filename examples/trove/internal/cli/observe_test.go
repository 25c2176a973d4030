package cli

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oslo-go/messaging/client"
	_ "github.com/oslo-go/messaging/drivers/fake"
	"github.com/oslo-go/messaging/target"
)

type echo struct{}

func (echo) Echo(_ context.Context, a struct {
	Text string `json:"text"`
}) (string, error) {
	return a.Text, nil
}

// syncBuf is an io.Writer for the span exporter, read by the test.
type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestObservability: with --metrics-listen and --trace=stdout a service
// serves oslo.metrics' families on /metrics and exports its spans.
func TestObservability(t *testing.T) {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	opts := Options{Observe: Observability{MetricsListen: "127.0.0.1:0", Trace: "stdout"}}
	tr, err := OpenTransport(ctx, "fake:///"+t.Name(), log)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	var spans syncBuf
	if err := opts.Observe.Start(ctx, "trove-test", tr, &spans, log); err != nil {
		t.Fatal(err)
	}
	svc, err := opts.Service("trove-test", "echo", echo{}, log, tr)
	if err != nil {
		t.Fatal(err)
	}
	launched := make(chan error, 1)
	go func() { launched <- opts.Launch(ctx, log, svc) }()
	c, err := client.New(tr, target.Target{Topic: "echo"}, opts.Observe.ClientOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := client.Call[string](ctx, c, "echo", map[string]any{"text": "hi"}); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond) // until the service started
	}
	for opts.Observe.http.URL() == "" {
		time.Sleep(10 * time.Millisecond)
	}
	resp, err := http.Get(opts.Observe.http.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`oslo_messaging_rpc_client_invocation_end_total{call_type="call",exchange="trove",fanout="None",method="echo",namespace="None",process="trove-test",server="None",timeout="None",topic="echo",version="None"} `,
		`oslo_messaging_rpc_server_invocation_end_total{endpoint="echo",exchange="trove",method="echo",namespace="None",process="trove-test",server="` + Host() + `",topic="echo",version="None"} `,
		`oslo_messaging_rpc_server_in_flight{process="trove-test",server="` + Host() + `",topic="echo"} 0`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s\n%s", want, body)
		}
	}
	stop()
	if err := <-launched; err != nil {
		t.Fatal(err)
	}
	// The spans were flushed at the end: the call's client and server spans.
	if out := spans.String(); strings.Count(out, `"echo"`) < 2 || !strings.Contains(out, `"SpanKind":3`) || !strings.Contains(out, `"SpanKind":2`) {
		t.Fatalf("spans:\n%s", out)
	}
}
