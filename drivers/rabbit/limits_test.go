package rabbit

import (
	"bytes"
	"compress/zlib"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/oslo-go/messaging/client"
	"github.com/oslo-go/messaging/internal/engine"
	"github.com/oslo-go/messaging/server"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
	"github.com/oslo-go/messaging/transport/driver"
)

// TestAtLeastOnce: with client.AtLeastOnce a cast or a call that no queue
// takes fails at once with ErrUndeliverable; without it the cast is
// confirmed and silently dropped by the broker, as in oslo.
func TestAtLeastOnce(t *testing.T) {
	needBroker(t)
	tr := openTransport(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	nobody := uniqueName("nobody")
	for _, tg := range []target.Target{{Topic: nobody}, {Topic: nobody, Server: "s1"}, {Topic: nobody, Fanout: true}} {
		c, _ := client.New(tr, tg, client.AtLeastOnce(true), client.Timeout(10*time.Second))
		start := time.Now()
		if err := c.Cast(ctx, "record", faultArgs{}); !errors.Is(err, transport.ErrUndeliverable) {
			t.Errorf("at-least-once cast to %v with no queue: %v, want ErrUndeliverable", tg, err)
		}
		if !tg.Fanout {
			if err := c.Call(ctx, "echo", faultArgs{}, nil); !errors.Is(err, transport.ErrUndeliverable) {
				t.Errorf("at-least-once call to %v with no queue: %v, want ErrUndeliverable", tg, err)
			}
		}
		if el := time.Since(start); el > 2*time.Second {
			t.Errorf("undeliverable sends to %v took %v", tg, el)
		}
		plain, _ := client.New(tr, tg)
		if err := plain.Cast(ctx, "record", faultArgs{}); err != nil {
			t.Errorf("cast to %v with no queue, without at-least-once: %v", tg, err)
		}
	}
	// With a server the same casts go through, per Prepare too.
	topic := uniqueName("alo")
	ep := startEcho(t, openTransport(t), topic)
	c, _ := client.New(tr, target.Target{Topic: topic})
	for i, cc := range []*client.Client{c.Prepare(client.AtLeastOnce(true)), c.Prepare(client.AtLeastOnce(true), client.Server("s1"))} {
		if err := cc.Cast(ctx, "record", faultArgs{Text: strconv.Itoa(i)}); err != nil {
			t.Fatalf("at-least-once cast %d to a server: %v", i, err)
		}
		if got := <-ep.casts; got != strconv.Itoa(i) {
			t.Fatalf("cast %d: got %q", i, got)
		}
	}
}

// TestMessageTooLarge: sends over max_message_size fail at once with
// ErrMessageTooLarge, without a broker and without retries; a result too
// large to send comes back to the caller as a failure.
func TestMessageTooLarge(t *testing.T) {
	tr := openTransportURL(t, fmt.Sprintf("rabbit://127.0.0.1:%d/", deadPort(t)), MaxMessageSize(1<<20))
	d := engine.Of(tr).Driver()
	big := &driver.Message{Body: bytes.Repeat([]byte("x"), 1<<20+1)}
	tg := engine.Of(tr).ResolveTarget(target.Target{Topic: "t"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	if err := d.Send(ctx, tg, big); !errors.Is(err, transport.ErrMessageTooLarge) {
		t.Fatalf("oversize send: %v", err)
	}
	if err := d.(driver.Notifier).Notify(ctx, tg, big); !errors.Is(err, transport.ErrMessageTooLarge) {
		t.Fatalf("oversize notification: %v", err)
	}
	if err := d.(*conn).reply(ctx, &driver.Message{Body: big.Body, MsgID: "m", ReplyTo: "reply_x"}, time.Time{}); !errors.Is(err, transport.ErrMessageTooLarge) {
		t.Fatalf("oversize reply: %v", err)
	}
	if el := time.Since(start); el > 100*time.Millisecond {
		t.Fatalf("oversize sends took %v", el)
	}

	needBroker(t)
	topic := uniqueName("toolarge")
	srv := startServer(ctx, t, openTransport(t, MaxMessageSize(1<<20)), topic, &bigEndpoint{})
	defer shutdown(t, srv)
	c, _ := client.New(openTransport(t), target.Target{Topic: topic}, client.Timeout(10*time.Second))
	start = time.Now()
	_, err := client.Call[string](ctx, c, "big", bigArgs{Size: 2 << 20})
	var re *transport.RemoteError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "max_message_size") {
		t.Fatalf("call whose result is too large: %v, want a remote error saying so", err)
	}
	t.Logf("call whose result is too large failed after %v: %v", time.Since(start).Round(time.Millisecond), err)
	if got, err := client.Call[string](ctx, c, "big", bigArgs{Size: 10}); err != nil || len(got) != 10 {
		t.Fatalf("call after: %q, %v", got, err)
	}
}

type bigEndpoint struct{}

type bigArgs struct {
	Size int `json:"size"`
}

func (bigEndpoint) Big(_ context.Context, a bigArgs) (string, error) {
	return strings.Repeat("x", a.Size), nil
}

// slowEndpoint handles casts slowly.
type slowEndpoint struct{ handled atomic.Int64 }

func (e *slowEndpoint) Work(ctx context.Context, _ faultArgs) error {
	e.handled.Add(1)
	select {
	case <-time.After(100 * time.Millisecond):
	case <-ctx.Done():
	}
	return nil
}

// TestBacklogMemory puts 5,000 casts of 10 KB in a server's queue while
// its 4 handlers take 0.1 s each: the server holds only what its
// prefetch allows (its MaxConcurrency per queue), not the backlog.
func TestBacklogMemory(t *testing.T) {
	needBroker(t)
	const (
		casts    = 5000
		size     = 10 << 10
		capacity = 4
	)
	topic := uniqueName("backlog")
	_, ch := rawChannel(t)
	t.Cleanup(func() {
		ch.QueueDelete(topic, false, false, false)
		ch.QueueDelete(topic+".s1", false, false, false)
	})
	ep := &slowEndpoint{}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	srv := startServer(ctx, t, openTransport(t), topic, ep, server.MaxConcurrency(capacity))
	base := liveHeap()
	body := []byte(`{"oslo.version": "2.0", "oslo.message": "{\"method\": \"work\", \"args\": {\"text\": \"` + strings.Repeat("x", size) + `\"}}"}`)
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	for i := range casts {
		dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, "openstack", topic, false, false, amqp.Publishing{ContentType: jsonContentType, Body: body})
		if err != nil {
			t.Fatal(err)
		}
		if i == casts-1 {
			dc.Wait()
		}
	}
	time.Sleep(2 * time.Second) // let the broker push what the prefetch allows
	grew := liveHeap() - base
	qi, err := ch.QueueDeclarePassive(topic, false, false, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("backlog of %d casts of %d KB, %d handlers of 0.1 s: %d handled, %d still queued on the broker, live heap grew by %.1f MiB, RSS %s",
		casts, size>>10, capacity, ep.handled.Load(), qi.Messages, float64(grew)/(1<<20), rss())
	if qi.Messages < casts/2 {
		t.Errorf("only %d of %d casts left on the broker: the server took the backlog", qi.Messages, casts)
	}
	if grew > 8<<20 {
		t.Errorf("live heap grew by %d MiB with a backlog of %d MiB", grew>>20, casts*size>>20)
	}
	ch.QueuePurge(topic, false)
	shutdown(t, srv)
}

// liveHeap returns the bytes of live heap objects, after a collection.
func liveHeap() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// rss returns the process's resident set size, as /proc says it.
func rss() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "?"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

// TestInflater checks the limits of decompression without a broker: a
// body over the limit is refused without being held, bodies wait for
// room in the budget and get it back when collected, and give up when
// none comes.
func TestInflater(t *testing.T) {
	zipped := func(n int) []byte {
		var b bytes.Buffer
		w := zlib.NewWriter(&b)
		w.Write(bytes.Repeat([]byte("a"), n))
		w.Close()
		return b.Bytes()
	}
	h := amqp.Table{compressionHeader: contentGzip}
	mib := zipped(1 << 20)
	f := &inflater{limit: 1 << 20, budget: newBudget(2 << 20), wait: 300 * time.Millisecond}
	ctx := context.Background()

	base := liveHeap()
	if _, err := f.inflate(ctx, h, gzipBomb(64), nil); !errors.Is(err, driver.ErrMessageTooLarge) {
		t.Fatalf("64 MiB bomb: %v, want ErrMessageTooLarge", err)
	}
	if held := f.budget.held(); held != 0 {
		t.Fatalf("a refused body holds %d bytes of the budget", held)
	}
	body, err := f.inflate(ctx, h, mib, nil)
	if err != nil || len(body) != 1<<20 {
		t.Fatalf("1 MiB body: %d bytes, %v", len(body), err)
	}
	other, err := f.inflate(ctx, h, mib, nil)
	if err != nil {
		t.Fatal(err)
	}
	if held := f.budget.held(); held != 2<<20 {
		t.Fatalf("budget holds %d bytes, want 2 MiB", held)
	}
	// The budget is full: a third body waits, then gives up.
	start := time.Now()
	if _, err := f.inflate(ctx, h, mib, nil); !errors.Is(err, errNoBudget) {
		t.Fatalf("body with the budget full: %v, want errNoBudget", err)
	}
	if el := time.Since(start); el < 250*time.Millisecond {
		t.Fatalf("gave up after %v without waiting", el)
	}
	// Once a held body is garbage, its bytes come back.
	runtime.KeepAlive(body)
	body = nil
	got, err := f.inflate(ctx, h, mib, nil)
	if err != nil || len(got) != 1<<20 {
		t.Fatalf("body after one was freed: %d bytes, %v", len(got), err)
	}
	if grew := liveHeap() - base; grew > 3<<20 {
		t.Errorf("live heap grew by %d MiB for 2 MiB of bodies", grew>>20)
	}
	// done ends a wait.
	done := make(chan struct{})
	close(done)
	start = time.Now()
	if _, err := f.inflate(ctx, h, mib, done); !errors.Is(err, errNoBudget) || time.Since(start) > 250*time.Millisecond {
		t.Fatalf("wait ended by done: %v after %v", err, time.Since(start))
	}
	runtime.KeepAlive(other)
	runtime.KeepAlive(got)
	// Corrupt and unknown bodies.
	for _, tt := range []struct {
		header string
		body   []byte
	}{{contentGzip, []byte("\x78\x9cgarbage")}, {contentGzip, zipped(100)[:10]}, {contentBzip2, []byte("BZh9garbage")}, {"application/x-lzma", []byte("{}")}} {
		if _, err := f.inflate(ctx, amqp.Table{compressionHeader: tt.header}, tt.body, nil); err == nil {
			t.Errorf("%s body %q accepted", tt.header, tt.body)
		}
	}
}

// TestCallConfirmInBackground: Send of a call request returns once the
// request is written, without its confirm; a mandatory request no queue
// takes fails its call through OnReply when the return comes.
func TestCallConfirmInBackground(t *testing.T) {
	needBroker(t)
	tr := openTransport(t)
	e := engine.Of(tr)
	c := e.Driver().(*conn)
	got := make(chan driver.Reply, 1)
	c.onReply = func(r driver.Reply) { got <- r } // before any traffic on this Conn
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req := &driver.Message{Body: []byte(`{}`), MsgID: "m1", ReplyTo: "reply_nobody", Mandatory: true}
	if err := c.Send(ctx, e.ResolveTarget(target.Target{Topic: uniqueName("nobody")}), req); err != nil {
		t.Fatalf("Send of a call request: %v, want nil (the confirm is awaited in the background)", err)
	}
	select {
	case r := <-got:
		if r.MsgID != "m1" || !errors.Is(r.Err, driver.ErrUndeliverable) {
			t.Fatalf("OnReply got %+v, want the call m1 failed with ErrUndeliverable", r)
		}
	case <-ctx.Done():
		t.Fatal("the returned request did not fail its call")
	}
	for len(c.pub.background) != 0 { // released right after OnReply
		if ctx.Err() != nil {
			t.Fatalf("%d background confirms still held", len(c.pub.background))
		}
		time.Sleep(time.Millisecond)
	}
}

// TestNackedCallRetries: a call request the broker nacks after Send has
// returned (its confirm is awaited in the background) is sent again as a
// send that waits for its confirm is (a cast here): as many times for the
// same Retry, the background nack counting as the first. The queue rejects
// every publish and dead-letters it, so the dead-letter queue counts the
// sends.
func TestNackedCallRetries(t *testing.T) {
	needBroker(t)
	for _, retry := range []int{0, 2} {
		t.Run("retry="+strconv.Itoa(retry), func(t *testing.T) {
			tr := openTransport(t)
			e := engine.Of(tr)
			c := e.Driver().(*conn)
			got := make(chan driver.Reply, 1)
			c.onReply = func(r driver.Reply) { got <- r }
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			tg := e.ResolveTarget(target.Target{Topic: uniqueName("nacked")})
			// The topic exchange, declared by a first (unroutable) cast.
			if err := c.Send(ctx, tg, &driver.Message{Body: []byte(`{}`), Retry: 0}); err != nil {
				t.Fatal(err)
			}
			_, ch := rawChannel(t)
			dlx, dead := uniqueName("dlx"), uniqueName("dead")
			if err := ch.ExchangeDeclare(dlx, "fanout", false, true, false, false, nil); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ch.ExchangeDelete(dlx, false, false) })
			if _, err := ch.QueueDeclare(dead, false, false, false, false, nil); err != nil {
				t.Fatal(err)
			}
			if err := ch.QueueBind(dead, "", dlx, false, nil); err != nil {
				t.Fatal(err)
			}
			args := amqp.Table{"x-max-length": int32(0), "x-overflow": "reject-publish-dlx", "x-dead-letter-exchange": dlx}
			if _, err := ch.QueueDeclare(tg.Topic, false, false, false, false, args); err != nil {
				t.Fatal(err)
			}
			if err := ch.QueueBind(tg.Topic, tg.Topic, tg.Exchange, false, nil); err != nil {
				t.Fatal(err)
			}
			// sent waits until the dead-letter count stops changing.
			sent := func() int {
				last := -1
				for {
					time.Sleep(300 * time.Millisecond)
					q, err := ch.QueueDeclarePassive(dead, false, false, false, false, nil)
					if err != nil {
						t.Fatal(err)
					}
					if q.Messages == last {
						return last
					}
					last = q.Messages
				}
			}

			if err := c.Send(ctx, tg, &driver.Message{Body: []byte(`{}`), Retry: retry}); err == nil {
				t.Fatal("a cast the broker nacks succeeded")
			}
			casts := sent()
			req := &driver.Message{Body: []byte(`{}`), MsgID: "m1", ReplyTo: "reply_nobody", Retry: retry, Expiration: 25 * time.Second}
			if err := c.Send(ctx, tg, req); err != nil {
				t.Fatalf("Send of a call request: %v, want nil (the confirm is awaited in the background)", err)
			}
			select {
			case r := <-got:
				if r.MsgID != "m1" || r.Err == nil {
					t.Fatalf("OnReply got %+v, want the call m1 failed", r)
				}
				t.Logf("call failed: %v", r.Err)
			case <-ctx.Done():
				t.Fatal("the nacked request did not fail its call")
			}
			calls := sent() - casts
			t.Logf("Retry %d: the cast was sent %d times, the call request %d times", retry, casts, calls)
			if casts < 1 || calls != casts {
				t.Fatalf("Retry %d: the call request was sent %d times, the cast %d times; want the same", retry, calls, casts)
			}
		})
	}
}
