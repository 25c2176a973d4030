package fake_test

import (
	"context"
	"testing"
	"time"

	"github.com/oslo-go/messaging/drivers/drivertest"
	_ "github.com/oslo-go/messaging/drivers/fake"
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

// TestConcurrentNextWakeUps: two Next calls wait, two messages arrive back
// to back; both calls return. (It guards the wake-ups of concurrent Next;
// the narrow window the token hand-off in Next closes, a waiter between
// its inbox check and its select when both messages arrive, is too short
// to hit on purpose.)
func TestConcurrentNextWakeUps(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tr, err := transport.Open(ctx, "fake:///"+t.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	tg := engine.Of(tr).ResolveTarget(target.Target{Topic: "t", Server: "s"})
	l, err := engine.Of(tr).Driver().Listen(ctx, tg, driver.ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
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
			if err := engine.Of(tr).Driver().Send(ctx, tg, &driver.Message{Body: []byte("{}")}); err != nil {
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
