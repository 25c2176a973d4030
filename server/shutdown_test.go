package server_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oslo-go/messaging/internal/wire"
	"github.com/oslo-go/messaging/serializer"
	"github.com/oslo-go/messaging/server"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
	"github.com/oslo-go/messaging/transport/driver"
)

// stuckDriver hands its listener one call, whose replies never get
// through (a broker that went away): Reply blocks until its ctx ends.
type stuckDriver struct{}

type stuckConn struct {
	mu       sync.Mutex
	replyCtx []context.Context
	sent     bool
}

var stuck = &stuckConn{}

func (stuckDriver) Open(context.Context, *driver.URL, driver.Config) (driver.Conn, error) {
	stuck.mu.Lock()
	defer stuck.mu.Unlock()
	stuck.sent, stuck.replyCtx = false, nil
	return stuck, nil
}

func init() { transport.Register("stuck", stuckDriver{}) }

func (c *stuckConn) Send(context.Context, target.Target, *driver.Message) error { return nil }
func (c *stuckConn) ReplyAddress(context.Context) (string, error)               { return "r", nil }
func (c *stuckConn) Close() error                                               { return nil }
func (c *stuckConn) Listen(context.Context, target.Target, driver.ListenOptions) (driver.Listener, error) {
	return &stuckListener{c: c, done: make(chan struct{})}, nil
}

type stuckListener struct {
	c    *stuckConn
	once sync.Once
	done chan struct{}
}

func (l *stuckListener) Next(ctx context.Context) (driver.Incoming, error) {
	l.c.mu.Lock()
	first := !l.c.sent
	l.c.sent = true
	l.c.mu.Unlock()
	if first {
		body, err := wire.EncodeRequest(serializer.JSON{}, &wire.Request{Method: "quick"}, wire.Header{MsgID: "m1", ReplyTo: "r", UniqueID: "u1"})
		if err != nil {
			return nil, err
		}
		return &stuckIncoming{c: l.c, m: &driver.Message{Body: body, MsgID: "m1", ReplyTo: "r", Expiration: time.Minute}}, nil
	}
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-l.done:
		return nil, driver.ErrClosed
	}
}

func (l *stuckListener) Close() error { l.once.Do(func() { close(l.done) }); return nil }

type stuckIncoming struct {
	c *stuckConn
	m *driver.Message
}

func (in *stuckIncoming) Message() *driver.Message { return in.m }
func (in *stuckIncoming) Ack() error               { return nil }
func (in *stuckIncoming) Requeue() error           { return nil }
func (in *stuckIncoming) Reply(ctx context.Context, _ *driver.Message) error {
	in.c.mu.Lock()
	in.c.replyCtx = append(in.c.replyCtx, ctx)
	in.c.mu.Unlock()
	<-ctx.Done()
	return ctx.Err()
}

type quick struct{}

func (quick) Quick(context.Context) (string, error) { return "done", nil }

// TestShutdownDuringOutage: a reply that cannot get through does not keep
// Shutdown past its ctx; Shutdown says what it gave up; the reply was sent
// with the caller's deadline.
func TestShutdownDuringOutage(t *testing.T) {
	tr, err := transport.Open(context.Background(), "stuck://")
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	srv, err := server.New(tr, target.Target{Topic: "t", Server: "s"}, []any{quick{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	for { // the reply is being sent
		stuck.mu.Lock()
		n := len(stuck.replyCtx)
		stuck.mu.Unlock()
		if n == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	stuck.mu.Lock()
	rctx := stuck.replyCtx[0]
	stuck.mu.Unlock()
	if dl, ok := rctx.Deadline(); !ok || time.Until(dl) > time.Minute {
		t.Errorf("reply ctx deadline %v, %v: want the caller's (1 minute)", dl, ok)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = srv.Shutdown(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "1 requests still in flight") {
		t.Fatalf("Shutdown: %v", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("Shutdown took %v", el)
	}
	if rctx.Err() == nil {
		t.Fatal("the reply was not given up when Shutdown's ctx ended")
	}
	srv.Close()
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown after the worker ended: %v", err)
	}
}
