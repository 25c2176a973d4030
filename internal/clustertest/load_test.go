//go:build cluster

package clustertest

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/oslo-go/messaging/client"
	_ "github.com/oslo-go/messaging/drivers/nats"
	_ "github.com/oslo-go/messaging/drivers/rabbit"
	"github.com/oslo-go/messaging/internal/ids"
	"github.com/oslo-go/messaging/notify"
	"github.com/oslo-go/messaging/notify/listener"
	"github.com/oslo-go/messaging/server"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
)

// The load the cluster tests run while they kill nodes: 64 callers, a
// stream of casts with at_least_once, a stream of notifications. Every
// message is numbered; the endpoints record what arrives.

// sink is the endpoint of the load: calls are echoed, casts and
// notifications recorded by number.
type sink struct {
	mu     sync.Mutex
	casts  map[int]bool
	notifs map[int]bool
}

func newSink() *sink { return &sink{casts: map[int]bool{}, notifs: map[int]bool{}} }

type numbered struct {
	N int `json:"n"`
}

// Echo answers a call.
func (s *sink) Echo(_ context.Context, a numbered) (int, error) { return a.N, nil }

// Record receives a cast.
func (s *sink) Record(_ context.Context, a numbered) error {
	s.mu.Lock()
	s.casts[a.N] = true
	s.mu.Unlock()
	return nil
}

// Info receives a notification.
func (s *sink) Info(_ context.Context, _, _ string, p numbered, _ listener.Metadata) error {
	s.mu.Lock()
	s.notifs[p.N] = true
	s.mu.Unlock()
	return nil
}

func (s *sink) counts() (casts, notifs map[int]bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return clone(s.casts), clone(s.notifs)
}

func clone(m map[int]bool) map[int]bool {
	out := make(map[int]bool, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// load is the traffic of one run.
type load struct {
	topic, ntopic string
	sink          *sink

	stop    chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	calls   []callResult
	castOK  map[int]bool // Cast returned nil
	castErr map[int]error
	notOK   map[int]bool
	notErr  map[int]error
}

type callResult struct {
	at  time.Time
	dur time.Duration
	err error
}

func quiet(t testing.TB) *slog.Logger {
	if testing.Verbose() && os.Getenv("CLUSTER_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	return slog.New(slog.DiscardHandler)
}

func open(t testing.TB, url string) *transport.Transport {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tr, err := transport.Open(ctx, url, transport.WithLogger(quiet(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	if err := tr.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	return tr
}

// startLoad starts the server and the listener on a transport of
// serverURL, and the traffic on one of clientURL.
func startLoad(t *testing.T, serverURL, clientURL string, callers int) *load {
	t.Helper()
	l := &load{topic: "cl_" + ids.Hex()[:10], ntopic: "cln_" + ids.Hex()[:10], sink: newSink(), stop: make(chan struct{}),
		castOK: map[int]bool{}, castErr: map[int]error{}, notOK: map[int]bool{}, notErr: map[int]error{}}
	ctx := context.Background()
	srvTr, cliTr := open(t, serverURL), open(t, clientURL)
	srv, err := server.New(srvTr, target.Target{Topic: l.topic, Server: "s1"}, []any{l.sink}, server.MaxConcurrency(callers))
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	lis, err := listener.New(srvTr, []target.Target{{Topic: l.ntopic}}, []any{l.sink})
	if err != nil {
		t.Fatal(err)
	}
	if err := lis.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lis.Close() })
	n, err := notify.New(cliTr, notify.Topics(l.ntopic), notify.PublisherID("cluster-test"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cliTr, target.Target{Topic: l.topic}, client.Timeout(3*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	caster := c.Prepare(client.AtLeastOnce(true), client.Timeout(10*time.Second))
	for i := range callers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for k := 0; ; k++ {
				select {
				case <-l.stop:
					return
				default:
				}
				start := time.Now()
				_, err := client.Call[int](ctx, c, "echo", numbered{N: i*1_000_000 + k})
				l.mu.Lock()
				l.calls = append(l.calls, callResult{at: start, dur: time.Since(start), err: err})
				l.mu.Unlock()
				if err != nil {
					time.Sleep(50 * time.Millisecond)
				}
			}
		}()
	}
	stream := func(every time.Duration, send func(seq int) error, ok map[int]bool, failed map[int]error) {
		defer l.wg.Done()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for seq := 0; ; seq++ {
			select {
			case <-l.stop:
				return
			case <-tick.C:
			}
			err := send(seq)
			l.mu.Lock()
			if err == nil {
				ok[seq] = true
			} else {
				failed[seq] = err
			}
			l.mu.Unlock()
		}
	}
	l.wg.Add(2)
	go stream(10*time.Millisecond, func(seq int) error { return caster.Cast(ctx, "record", numbered{N: seq}) }, l.castOK, l.castErr)
	go stream(20*time.Millisecond, func(seq int) error {
		nctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		return n.Info(nctx, "cluster.test", numbered{N: seq})
	}, l.notOK, l.notErr)
	return l
}

// finish stops the traffic, waits for what is in flight to arrive, and
// reports: callers' outages, casts and notifications lost.
type report struct {
	calls, callErrors int
	maxOutage         time.Duration // longest time without a successful call, over all callers' timeline
	lastOKBeforeEnd   time.Duration // how long before the end the last call succeeded
	castsSent         int
	castErrors        int
	castsLost         []int // Cast returned nil, never received
	notifsSent        int
	notifErrors       int
	notifsLost        []int
}

func (l *load) finish(t *testing.T, drain time.Duration) report {
	t.Helper()
	close(l.stop)
	l.wg.Wait()
	stopped := time.Now() // before the drain: the drain is not an outage
	var r report
	deadline := time.Now().Add(drain)
	for {
		casts, notifs := l.sink.counts()
		r.castsLost, r.notifsLost = nil, nil
		for seq := range l.castOK {
			if !casts[seq] {
				r.castsLost = append(r.castsLost, seq)
			}
		}
		for seq := range l.notOK {
			if !notifs[seq] {
				r.notifsLost = append(r.notifsLost, seq)
			}
		}
		if len(r.castsLost)+len(r.notifsLost) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	sort.Ints(r.castsLost)
	sort.Ints(r.notifsLost)
	r.castsSent, r.castErrors = len(l.castOK), len(l.castErr)
	r.notifsSent, r.notifErrors = len(l.notOK), len(l.notErr)
	var lastOK time.Time
	r.calls, r.callErrors, r.maxOutage, lastOK = summarize(l.calls)
	r.lastOKBeforeEnd = stopped.Sub(lastOK)
	kinds := map[string]int{}
	for _, c := range l.calls {
		if c.err != nil {
			msg := c.err.Error()
			kinds[msg[:min(len(msg), 90)]]++
		}
	}
	for k, n := range kinds {
		if n >= 10 {
			t.Logf("call errors: %d x %s", n, k)
		}
	}
	return r
}

// summarize counts calls and their failures, and finds the longest time
// during which no call succeeded.
func summarize(calls []callResult) (n, failed int, maxOutage time.Duration, lastOK time.Time) {
	calls = append([]callResult(nil), calls...)
	sort.Slice(calls, func(i, j int) bool { return calls[i].at.Before(calls[j].at) })
	for _, c := range calls {
		if c.err != nil {
			failed++
			continue
		}
		if !lastOK.IsZero() && c.at.Sub(lastOK) > maxOutage {
			maxOutage = c.at.Sub(lastOK)
		}
		if end := c.at.Add(c.dur); end.After(lastOK) {
			lastOK = end
		}
	}
	return len(calls), failed, maxOutage, lastOK
}

func (r report) String() string {
	return fmt.Sprintf("calls %d (%d failed, longest outage seen by callers %v); casts %d sent (%d returned an error, %d lost silently); notifications %d sent (%d returned an error, %d lost)",
		r.calls, r.callErrors, r.maxOutage.Round(time.Millisecond), r.castsSent, r.castErrors, len(r.castsLost), r.notifsSent, r.notifErrors, len(r.notifsLost))
}

// check asserts what the modes promise: no notification lost and, where
// the driver can tell (castsGuaranteed: at_least_once casts on RabbitMQ),
// no cast lost silently.
func (r report) check(t *testing.T, castsGuaranteed bool) {
	t.Helper()
	t.Log(r)
	if len(r.castsLost) > 0 && castsGuaranteed {
		t.Errorf("%d casts lost silently (Cast returned nil): %v", len(r.castsLost), head(r.castsLost))
	}
	if len(r.notifsLost) > 0 {
		t.Errorf("%d notifications lost: %v", len(r.notifsLost), head(r.notifsLost))
	}
	if r.lastOKBeforeEnd > 5*time.Second {
		t.Errorf("the last successful call was %v before the end: the server did not resume", r.lastOKBeforeEnd)
	}
	if r.castsSent == 0 || r.notifsSent == 0 || r.calls == 0 {
		t.Errorf("no traffic: %v", r)
	}
}

func head(s []int) []int {
	if len(s) > 20 {
		return s[:20]
	}
	return s
}

// waitServed waits until a call succeeds: the server resumed by itself.
func waitServed(t *testing.T, tr *transport.Transport, topic string, limit time.Duration) time.Duration {
	t.Helper()
	c, _ := client.New(tr, target.Target{Topic: topic}, client.Timeout(2*time.Second))
	start := time.Now()
	for time.Since(start) < limit {
		if _, err := client.Call[int](context.Background(), c, "echo", numbered{N: -1}); err == nil {
			return time.Since(start)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no call served within %v", limit)
	return 0
}
