package nats

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/oslo-go/messaging/drivers/nats/embedded"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
	"github.com/oslo-go/messaging/transport/driver"
)

func notifier(t testing.TB, url string, opts ...transport.Option) driver.Notifier {
	t.Helper()
	c, _ := openConn(t, url, opts...)
	return c.(driver.Notifier)
}

func notifyN(t testing.TB, n driver.Notifier, tg target.Target, prefix string, count int) {
	t.Helper()
	ctx := ctxFor(t, 20*time.Second)
	for i := range count {
		if err := n.Notify(ctx, tg, &driver.Message{Body: []byte(fmt.Sprintf("%s-%d", prefix, i))}); err != nil {
			t.Fatalf("Notify: %v", err)
		}
	}
}

// receive takes count notifications from l, acknowledging each, and fails
// on duplicates.
func receive(t testing.TB, l driver.Listener, count int) []string {
	t.Helper()
	ctx := ctxFor(t, 20*time.Second)
	var got []string
	seen := map[string]bool{}
	for len(got) < count {
		in, err := l.Next(ctx)
		if err != nil {
			t.Fatalf("Next: %v (got %d of %d: %v)", err, len(got), count, got)
		}
		body := string(in.Message().Body)
		if seen[body] {
			t.Fatalf("%s delivered twice", body)
		}
		seen[body] = true
		got = append(got, body)
		if err := in.Ack(); err != nil {
			t.Fatal(err)
		}
	}
	return got
}

// expectNothing fails if l yields a message within d.
func expectNothing(t testing.TB, l driver.Listener, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if in, err := l.Next(ctx); err == nil {
		t.Fatalf("unexpected notification %s", in.Message().Body)
	}
}

// TestNotifyBeforeListener: notifications sent while no listener runs
// (from a connection closed since) reach the default listener when it
// starts; a pool made later does not get them.
func TestNotifyBeforeListener(t *testing.T) {
	e := startEmbedded(t)
	tg := target.Target{Exchange: "openstack", Topic: uniqueTopic(t) + ".info"}
	c, _ := openConn(t, e.URL())
	notifyN(t, c.(driver.Notifier), tg, "early", 5)
	c.Close()

	n := notifier(t, e.URL())
	ctx := ctxFor(t, 20*time.Second)
	def, err := n.ListenNotifications(ctx, []target.Target{tg}, "", driver.ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer def.Close()
	got := receive(t, def, 5)
	if strings.Join(got, ",") != "early-0,early-1,early-2,early-3,early-4" {
		t.Fatalf("got %v, want the 5 early ones in order", got)
	}
	late, err := n.ListenNotifications(ctx, []target.Target{tg}, "late", driver.ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer late.Close()
	expectNothing(t, late, 300*time.Millisecond)
}

// TestNotifyPools: every pool and the default pool get each notification
// once; the listeners of a pool share them.
func TestNotifyPools(t *testing.T) {
	e := startEmbedded(t)
	tg := target.Target{Exchange: "openstack", Topic: uniqueTopic(t) + ".info"}
	n := notifier(t, e.URL(), NotifyPrefetch(1))
	ctx := ctxFor(t, 30*time.Second)
	listen := func(pool string) driver.Listener {
		t.Helper()
		l, err := notifier(t, e.URL(), NotifyPrefetch(1)).ListenNotifications(ctx, []target.Target{tg}, pool, driver.ListenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		return l
	}
	groups := map[string][]driver.Listener{
		"p1":      {listen("p1"), listen("p1")},
		"p2":      {listen("p2")},
		"default": {listen("")},
	}
	const count = 40
	notifyN(t, n, tg, "m", count)

	type rec struct {
		group string
		idx   int
		body  string
	}
	recs := make(chan rec, 1024)
	var wg sync.WaitGroup
	lctx, stop := context.WithCancel(ctx)
	for g, ls := range groups {
		for i, l := range ls {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					in, err := l.Next(lctx)
					if err != nil {
						return
					}
					time.Sleep(time.Millisecond) // some handling time, so that both p1 listeners get work
					in.Ack()
					recs <- rec{g, i, string(in.Message().Body)}
				}
			}()
		}
	}
	perGroup := map[string]map[string]bool{}
	perListener := map[[2]any]int{}
	total := 0
	deadline := time.After(20 * time.Second)
	for total < count*len(groups) {
		select {
		case r := <-recs:
			if perGroup[r.group] == nil {
				perGroup[r.group] = map[string]bool{}
			}
			if perGroup[r.group][r.body] {
				t.Fatalf("%s got %s twice", r.group, r.body)
			}
			perGroup[r.group][r.body] = true
			perListener[[2]any{r.group, r.idx}]++
			total++
		case <-deadline:
			t.Fatalf("got %d of %d: %v", total, count*len(groups), perListener)
		}
	}
	// Nothing more comes.
	select {
	case r := <-recs:
		t.Fatalf("extra delivery %+v", r)
	case <-time.After(300 * time.Millisecond):
	}
	stop()
	wg.Wait()
	if perListener[[2]any{"p1", 0}] == 0 || perListener[[2]any{"p1", 1}] == 0 {
		t.Fatalf("pool p1 not shared: %v", perListener)
	}
}

// TestNotifyRequeue: Requeue redelivers at once; a listener closing with
// unacknowledged messages hands them back at once; a message never
// acknowledged comes back after the ack wait.
func TestNotifyRequeue(t *testing.T) {
	const ackWait = 3 * time.Second
	e := startEmbedded(t)
	tg := target.Target{Exchange: "openstack", Topic: uniqueTopic(t) + ".error"}
	n := notifier(t, e.URL(), NotifyAckWait(ackWait))
	ctx := ctxFor(t, 30*time.Second)
	l1, err := n.ListenNotifications(ctx, []target.Target{tg}, "", driver.ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	notifyN(t, n, tg, "r", 1)
	in, err := l1.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := in.Requeue(); err != nil {
		t.Fatal(err)
	}
	if err := in.Ack(); err != nil { // settled already: a no-op
		t.Fatal(err)
	}
	in, err = l1.Next(ctx)
	if err != nil || string(in.Message().Body) != "r-0" {
		t.Fatalf("after requeue: %v, %v", in, err)
	}
	if d := time.Since(start); d > ackWait*2/3 {
		t.Fatalf("requeued message came back after %v, not at once", d)
	}
	// Not acknowledged: back after the ack wait.
	start = time.Now()
	in, err = l1.Next(ctx)
	if err != nil || string(in.Message().Body) != "r-0" {
		t.Fatalf("after ack wait: %v, %v", in, err)
	}
	if d := time.Since(start); d < ackWait*2/3 {
		t.Fatalf("unacknowledged message came back after %v, before the ack wait", d)
	}
	// Close with it unacknowledged: another listener gets it at once.
	start = time.Now()
	l1.Close()
	l2, err := notifier(t, e.URL()).ListenNotifications(ctx, []target.Target{tg}, "", driver.ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if got := receive(t, l2, 1); got[0] != "r-0" {
		t.Fatalf("got %v", got)
	}
	if d := time.Since(start); d > ackWait*2/3 {
		t.Fatalf("message of a closed listener came back after %v, not at once", d)
	}
	expectNothing(t, l2, ackWait+500*time.Millisecond)
}

// TestNotifyTargets: one listener on several targets, in two exchanges.
func TestNotifyTargets(t *testing.T) {
	e := startEmbedded(t)
	tp := uniqueTopic(t)
	info := target.Target{Exchange: "openstack", Topic: tp + ".info"}
	errT := target.Target{Exchange: "openstack", Topic: tp + ".error"}
	other := target.Target{Exchange: "nova", Topic: tp + ".info"}
	n := notifier(t, e.URL())
	ctx := ctxFor(t, 20*time.Second)
	l, err := n.ListenNotifications(ctx, []target.Target{info, errT, other}, "", driver.ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	notifyN(t, n, info, "info", 2)
	notifyN(t, n, errT, "error", 2)
	notifyN(t, n, other, "nova", 2)
	notifyN(t, n, target.Target{Exchange: "cinder", Topic: tp + ".info"}, "cinder", 1)
	got := receive(t, l, 6)
	want := map[string]bool{"info-0": true, "info-1": true, "error-0": true, "error-1": true, "nova-0": true, "nova-1": true}
	for _, g := range got {
		if !want[g] {
			t.Fatalf("unexpected %s in %v", g, got)
		}
	}
	expectNothing(t, l, 300*time.Millisecond)
}

// TestNotifyErrors: oversized notifications and servers without JetStream
// give clear errors.
func TestNotifyErrors(t *testing.T) {
	e := startEmbedded(t, embedded.MaxPayload(32<<10))
	n := notifier(t, e.URL())
	ctx := ctxFor(t, 20*time.Second)
	tg := target.Target{Exchange: "openstack", Topic: uniqueTopic(t) + ".info"}
	err := n.Notify(ctx, tg, &driver.Message{Body: make([]byte, 64<<10)})
	if err == nil || !strings.Contains(err.Error(), "max_payload") {
		t.Fatalf("oversized: %v", err)
	}
	noJS := startEmbedded(t, embedded.JetStream(false))
	n = notifier(t, noJS.URL())
	err = n.Notify(ctx, tg, &driver.Message{Body: []byte("x")})
	if err == nil || !strings.Contains(err.Error(), "JetStream") || !strings.HasPrefix(err.Error(), "nats: ") {
		t.Fatalf("without JetStream: %v", err)
	}
	if _, err := n.ListenNotifications(ctx, []target.Target{tg}, "", driver.ListenOptions{}); err == nil || !strings.Contains(err.Error(), "JetStream") {
		t.Fatalf("listening without JetStream: %v", err)
	}
}

// TestNotifyRecreates: a stream or consumer deleted behind the driver's
// back is made again.
func TestNotifyRecreates(t *testing.T) {
	e := startEmbedded(t)
	tg := target.Target{Exchange: "openstack", Topic: uniqueTopic(t) + ".info"}
	n := notifier(t, e.URL())
	ctx := ctxFor(t, 30*time.Second)
	notifyN(t, n, tg, "a", 1)

	nc, err := natsgo.Connect(e.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	stream := subjects{prefix: DefaultSubjectPrefix}.streamName("openstack")
	if err := js.DeleteStream(ctx, stream); err != nil {
		t.Fatal(err)
	}
	notifyN(t, n, tg, "b", 1) // the stream comes back

	l, err := n.ListenNotifications(ctx, []target.Target{tg}, "", driver.ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// The default consumer was made again before "b-0" was stored.
	if got := receive(t, l, 1); got[0] != "b-0" {
		t.Fatalf("got %v", got)
	}
	// Delete the listener's consumer: it is made again and consumed.
	st, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	name := consumerName(tg.Topic, "")
	if err := st.DeleteConsumer(ctx, name); err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := st.Consumer(ctx, name); err == nil {
			break
		} else if !errors.Is(err, jetstream.ErrConsumerNotFound) {
			t.Fatal(err)
		}
		select {
		case <-ctx.Done():
			t.Fatal("consumer not made again")
		case <-time.After(50 * time.Millisecond):
		}
	}
	notifyN(t, n, tg, "c", 1)
	if got := receive(t, l, 1); got[0] != "c-0" {
		t.Fatalf("got %v", got)
	}
}

// TestNotifyCloseWithUnsettled closes a listener holding notifications it
// took but never settled: they go back to the stream, and the next
// listener gets each of them once.
func TestNotifyCloseWithUnsettled(t *testing.T) {
	e := startEmbedded(t)
	tg := target.Target{Exchange: "openstack", Topic: uniqueTopic(t) + ".info"}
	n := notifier(t, e.URL())
	notifyN(t, n, tg, "held", 2)
	ctx := ctxFor(t, 20*time.Second)
	l1, err := n.ListenNotifications(ctx, []target.Target{tg}, "", driver.ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := l1.Next(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := l1.Close(); err != nil {
		t.Fatal(err)
	}
	l2, err := n.ListenNotifications(ctx, []target.Target{tg}, "", driver.ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	got := receive(t, l2, 2) // fails on duplicates
	slices.Sort(got)         // redelivery order is not guaranteed
	if strings.Join(got, ",") != "held-0,held-1" {
		t.Fatalf("after closing a listener with unsettled messages: %v", got)
	}
	expectNothing(t, l2, 300*time.Millisecond)
}
