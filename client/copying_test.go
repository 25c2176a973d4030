package client_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oslo-go/messaging/client"
	"github.com/oslo-go/messaging/drivers/fake"
	"github.com/oslo-go/messaging/internal/wire"
	"github.com/oslo-go/messaging/server"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
	"github.com/oslo-go/messaging/transport/driver"
)

// copyingDriver is the fake driver behind a driver.MessageCopier (with
// unwrapped messages, as NATS and ZeroMQ): Send and
// Reply copy the message, hand the copy on, and then overwrite the body
// they were given, so that a core that still read or reused it once they
// returned would send or see garbage.
type copyingDriver struct{}

// unwrappedDriver is the fake driver with unwrapped messages, which it
// keeps (it is no MessageCopier): the core gives it bodies of their own,
// copied out of its pooled buffers.
type unwrappedDriver struct{}

func init() {
	transport.Register("copyfake", copyingDriver{})
	transport.Register("unwrappedfake", unwrappedDriver{})
}

func (copyingDriver) Open(ctx context.Context, u *driver.URL, cfg driver.Config) (driver.Conn, error) {
	c, err := fake.Driver{}.Open(ctx, u, cfg)
	if err != nil {
		return nil, err
	}
	return copyingConn{c}, nil
}

func (unwrappedDriver) Open(ctx context.Context, u *driver.URL, cfg driver.Config) (driver.Conn, error) {
	c, err := fake.Driver{}.Open(ctx, u, cfg)
	if err != nil {
		return nil, err
	}
	return unwrappedConn{c}, nil
}

type unwrappedConn struct{ driver.Conn }

func (unwrappedConn) UnwrappedMessages() bool { return true }

type copyingConn struct{ driver.Conn }

func (copyingConn) CopiesMessages() bool { return true }

// UnwrappedMessages: bare dicts, which the core encodes into pooled
// buffers (an enveloped body is in memory of its own).
func (copyingConn) UnwrappedMessages() bool { return true }

// copyOf returns a copy of m and overwrites m's body. Before copying it
// takes a buffer from the encoder's pool and encodes into it: a core that
// had released m's buffer before the driver returned would find m's body
// overwritten (the pool hands the goroutine back what it last put).
func copyOf(m *driver.Message) *driver.Message {
	other, err := wire.Encoder{Unwrapped: true}.RequestBody(&wire.Request{Method: "other", Args: map[string]any{"x": "!!!!!!!!"}}, wire.Header{UniqueID: "u"})
	if err != nil {
		panic(err)
	}
	defer other.Release()
	cp := *m
	cp.Body = append([]byte(nil), m.Body...)
	for i := range m.Body {
		m.Body[i] = '#'
	}
	return &cp
}

func (c copyingConn) Send(ctx context.Context, t target.Target, m *driver.Message) error {
	return c.Conn.Send(ctx, t, copyOf(m))
}

func (c copyingConn) Listen(ctx context.Context, t target.Target, o driver.ListenOptions) (driver.Listener, error) {
	l, err := c.Conn.Listen(ctx, t, o)
	if err != nil {
		return nil, err
	}
	return copyingListener{l}, nil
}

type copyingListener struct{ driver.Listener }

func (l copyingListener) Next(ctx context.Context) (driver.Incoming, error) {
	in, err := l.Listener.Next(ctx)
	if err != nil {
		return nil, err
	}
	return copyingIncoming{in}, nil
}

type copyingIncoming struct{ driver.Incoming }

func (in copyingIncoming) Reply(ctx context.Context, m *driver.Message) error {
	return in.Incoming.Reply(ctx, copyOf(m))
}

type copyArgs struct {
	N   int    `json:"n"`
	Pad string `json:"pad"`
}

type copyEndpoint struct {
	casts sync.Map // n -> pad
	got   atomic.Int64
}

func (e *copyEndpoint) Echo(_ context.Context, a copyArgs) (copyArgs, error) { return a, nil }

func (e *copyEndpoint) Note(_ context.Context, a copyArgs) error {
	e.casts.Store(a.N, a.Pad)
	e.got.Add(1)
	return nil
}

// padFor is a payload of its own for message n, of varying length.
func padFor(n int) string { return strings.Repeat(fmt.Sprintf("%d-", n), 1+n%13) }

// TestCopyingDriverBodies: with a driver that copies messages, the core
// encodes into pooled buffers and reuses casts' outgoing messages; with
// one that keeps them, it hands over copies of its pooled buffers. Either
// way many concurrent calls and casts of different sizes all arrive
// intact, and so do their replies.
func TestCopyingDriverBodies(t *testing.T) {
	for _, scheme := range []string{"copyfake", "unwrappedfake"} {
		t.Run(scheme, func(t *testing.T) { testBodies(t, scheme+":///"+strings.ReplaceAll(t.Name(), "/", "_")) })
	}
}

func testBodies(t *testing.T, url string) {
	ctx := context.Background()
	srvTr, err := transport.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer srvTr.Close()
	ep := &copyEndpoint{}
	srv, err := server.New(srvTr, target.Target{Topic: "copy", Server: "s"}, []any{ep})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	tr, err := transport.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	c, err := client.New(tr, target.Target{Topic: "copy"}, client.Timeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	const workers, each = 8, 200
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				n := w*each + i
				if err := c.Cast(ctx, "note", copyArgs{N: n, Pad: padFor(n)}); err != nil {
					errs <- fmt.Errorf("cast %d: %w", n, err)
					return
				}
				got, err := client.Call[copyArgs](ctx, c, "echo", copyArgs{N: n, Pad: padFor(n)})
				if err != nil || got.N != n || got.Pad != padFor(n) {
					errs <- fmt.Errorf("call %d: %+v, %v", n, got, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ep.got.Load() < workers*each && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if n := ep.got.Load(); n != workers*each {
		t.Fatalf("%d casts of %d handled", n, workers*each)
	}
	for n := range workers * each {
		if pad, _ := ep.casts.Load(n); pad != padFor(n) {
			t.Fatalf("cast %d arrived with %q", n, pad)
		}
	}
}
