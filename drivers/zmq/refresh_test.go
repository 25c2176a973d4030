package zmq

import (
	"context"
	"testing"
	"time"

	"github.com/oslo-go/messaging/internal/engine"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport/driver"
)

// heldMatchmaker holds the Register calls made once armed until release
// is closed.
type heldMatchmaker struct {
	Matchmaker
	armed    chan struct{} // closed: hold Register calls
	entered  chan struct{} // gets a value when a held Register starts
	release  chan struct{}
	returned chan struct{} // gets a value when a held Register has returned
}

func (m *heldMatchmaker) Register(ctx context.Context, k Key, addr string, ttl time.Duration) error {
	select {
	case <-m.armed:
	default:
		return m.Matchmaker.Register(ctx, k, addr, ttl)
	}
	select {
	case m.entered <- struct{}{}:
	default:
	}
	<-m.release
	err := m.Matchmaker.Register(ctx, k, addr, ttl)
	select {
	case m.returned <- struct{}{}:
	default:
	}
	return err
}

// TestCloseDuringRefresh: a server that closes while the periodic refresh
// is registering its keys leaves no registration behind (before, the
// refresh could register them again after Close had removed them, until
// they expired).
func TestCloseDuringRefresh(t *testing.T) {
	tr := openTr(t, "zmq:///"+t.Name())
	c := engine.Of(tr).Driver().(*conn)
	mm := &heldMatchmaker{Matchmaker: c.mm, armed: make(chan struct{}), entered: make(chan struct{}, 1), release: make(chan struct{}), returned: make(chan struct{}, 1)}
	c.mm = mm // before any listener: the refresh reads it under c.mu after Listen
	l, err := c.Listen(context.Background(), target.Target{Topic: "refresh", Server: "s"}, driver.ListenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if addrs, _ := mm.Lookup(context.Background(), Key{Topic: "refresh"}); len(addrs) != 1 {
		t.Fatalf("registered: %v", addrs)
	}
	close(mm.armed)
	c.refreshNow <- struct{}{}
	select {
	case <-mm.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the refresh did not register")
	}
	closed := make(chan struct{})
	go func() { l.Close(); close(closed) }()
	time.Sleep(100 * time.Millisecond) // Close would unregister now
	close(mm.release)
	for _, c := range []chan struct{}{mm.returned, closed} {
		select {
		case <-c:
		case <-time.After(5 * time.Second):
			t.Fatal("the held refresh or Close did not return")
		}
	}
	for _, k := range []Key{{Topic: "refresh"}, {Topic: "refresh", Server: "s"}} {
		if addrs, _ := mm.Lookup(context.Background(), k); len(addrs) != 0 {
			t.Fatalf("%s still registered after Close: %v", k, addrs)
		}
	}
}
