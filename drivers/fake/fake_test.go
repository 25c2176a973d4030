package fake_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/oslo-go/messaging/drivers/drivertest"
	_ "github.com/oslo-go/messaging/drivers/fake"
	"github.com/oslo-go/messaging/drivers/internal/inbox"
	"github.com/oslo-go/messaging/internal/engine"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
	"github.com/oslo-go/messaging/transport/driver"
)

func TestConformance(t *testing.T) {
	drivertest.Run(t, drivertest.Config{
		URL:           func(t testing.TB) string { return "fake:///" + t.Name() },
		Notifications: true,
	})
}

// openDriver opens a transport for t and returns its driver connection
// and tg resolved.
func openDriver(t *testing.T, ctx context.Context, tg target.Target) (driver.Conn, target.Target) {
	t.Helper()
	tr, err := transport.Open(ctx, "fake:///"+t.Name())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return engine.Of(tr).Driver(), engine.Of(tr).ResolveTarget(tg)
}

func listen(t *testing.T, ctx context.Context, d driver.Conn, tg target.Target, capacity int) driver.Listener {
	t.Helper()
	l, err := d.Listen(ctx, tg, driver.ListenOptions{Capacity: capacity})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// TestConcurrentNextWakeUps: two Next calls wait, two messages arrive back
// to back; both calls return. (It guards the wake-ups of concurrent Next;
// the narrow window the token hand-off in Next closes, a waiter between
// its inbox check and its select when both messages arrive, is too short
// to hit on purpose.)
func TestConcurrentNextWakeUps(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, tg := openDriver(t, ctx, target.Target{Topic: "t", Server: "s"})
	l := listen(t, ctx, d, tg, 0)
	for round := range 50 {
		got := make(chan error, 2)
		for range 2 {
			go func() {
				_, err := l.Next(ctx)
				got <- err
			}()
		}
		time.Sleep(2 * time.Millisecond) // both wait in Next
		for range 2 {
			if err := d.Send(ctx, tg, &driver.Message{Body: []byte("{}")}); err != nil {
				t.Fatal(err)
			}
		}
		for range 2 {
			select {
			case err := <-got:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(2 * time.Second):
				t.Fatalf("round %d: a Next stayed asleep with a message queued", round)
			}
		}
	}
}

// TestPrefetch: a listener holds at most its buffer (inbox.ForCapacity of
// its capacity); what does not fit waits in the broker's queue, where a
// free listener of the topic takes it, and a busy listener holds no more
// than its buffer, in order.
func TestPrefetch(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, tg := openDriver(t, ctx, target.Target{Topic: "t"})
	busy, free := listen(t, ctx, d, tg, 1), listen(t, ctx, d, tg, 1)
	const n = 1000
	for i := range n {
		if err := d.Send(ctx, tg, &driver.Message{Body: []byte(strconv.Itoa(i))}); err != nil {
			t.Fatal(err)
		}
	}
	// busy never calls Next: it keeps only its buffer; free gets the rest.
	want := 0
	for range n - inbox.MinItems {
		in, err := free.Next(ctx)
		if err != nil {
			t.Fatalf("free listener after %d messages: %v", want, err)
		}
		got, _ := strconv.Atoi(string(in.Message().Body))
		if got < want {
			t.Fatalf("message %d after %d: out of order", got, want)
		}
		want = got
	}
	short, cancelShort := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancelShort()
	if in, err := free.Next(short); err == nil {
		t.Fatalf("free listener got message %s: the busy one held fewer than %d", in.Message().Body, inbox.MinItems)
	}
	for i := range inbox.MinItems {
		if _, err := busy.Next(ctx); err != nil {
			t.Fatalf("busy listener message %d: %v", i, err)
		}
	}
}
