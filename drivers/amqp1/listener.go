package amqp1

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/Azure/go-amqp"

	"github.com/oslo-go/messaging/internal/ids"
	"github.com/oslo-go/messaging/transport/driver"
)

// listener consumes a set of addresses, one receiver link each, and
// re-attaches them when their connection is re-established or a link is
// detached. Each link has its own credit (flow control): go-amqp holds at
// most that many messages per link, and a link gets more only as Next
// takes them (RPC requests, accepted then) or as notifications are
// acknowledged.
type listener struct {
	c      *conn
	notify bool
	credit int
	addrs  func(addresser) []string

	in     chan delivery // from the links' pumps to Next
	ctx    context.Context
	cancel context.CancelFunc
	closed atomic.Bool
	wg     sync.WaitGroup
}

type delivery struct {
	rcv *amqp.Receiver
	msg *amqp.Message
}

func (c *conn) startListener(ctx context.Context, notify bool, credit int, addrs func(addresser) []string) (driver.Listener, error) {
	if c.closed.Load() {
		return nil, driver.ErrClosed
	}
	l := &listener{c: c, notify: notify, credit: credit, addrs: addrs, in: make(chan delivery)}
	l.ctx, l.cancel = context.WithCancel(c.ctx)
	c.mu.Lock()
	if c.closed.Load() {
		c.mu.Unlock()
		l.cancel()
		return nil, driver.ErrClosed
	}
	c.listeners[l] = struct{}{}
	c.mu.Unlock()
	first := make(chan error, 1)
	l.wg.Add(1)
	go l.run(first)
	select {
	case err := <-first:
		if err != nil {
			l.Close()
			return nil, err
		}
		return l, nil
	case <-ctx.Done():
		l.Close()
		return nil, ctx.Err()
	}
}

// attach opens a receiver link on each address.
func (l *listener) attach(s *session) ([]*amqp.Receiver, error) {
	var rcvs []*amqp.Receiver
	for _, addr := range l.addrs(s.addr) {
		ctx, cancel := context.WithTimeout(l.ctx, 30*time.Second)
		rcv, err := s.sess.NewReceiver(ctx, addr, &amqp.ReceiverOptions{
			Name:                      "openstack.org/om/receiver/[" + addr + "]/" + ids.Hex(),
			TargetAddress:             addr,
			Credit:                    int32(l.credit),
			RequestedSenderSettleMode: amqp.SenderSettleModeMixed.Ptr(),
			SettlementMode:            amqp.ReceiverSettleModeFirst.Ptr(),
		})
		cancel()
		if err != nil {
			closeReceivers(rcvs)
			return nil, s.classify(err, addr, nil)
		}
		rcvs = append(rcvs, rcv)
	}
	return rcvs, nil
}

func closeReceivers(rcvs []*amqp.Receiver) {
	for _, r := range rcvs {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		r.Close(ctx)
		cancel()
	}
}

// run attaches the links, pumps their messages to Next, and re-attaches
// them when they fail, until the listener closes. The result of the first
// attachment goes to first.
func (l *listener) run(first chan<- error) {
	defer l.wg.Done()
	for {
		s, err := l.c.current(l.ctx)
		if err != nil {
			if first != nil {
				first <- err
			}
			return
		}
		rcvs, err := l.attach(s)
		if first != nil {
			first <- err
			first = nil
			if err != nil {
				return
			}
		}
		if err == nil {
			l.pump(rcvs)
			if l.ctx.Err() != nil {
				return
			}
			l.c.log.Warn("amqp1: listener link lost; re-attaching", "host", s.host.addr())
		} else {
			l.c.log.Warn("amqp1: attaching listener links failed", "host", s.host.addr(), "error", err)
		}
		// A link failure on a live connection: re-attach after
		// link_retry_delay. A lost connection: as soon as it is back.
		t := time.NewTimer(l.c.o.linkRetryDelay)
		select {
		case <-s.ctx.Done():
		case <-t.C:
		case <-l.ctx.Done():
		}
		t.Stop()
		if l.ctx.Err() != nil {
			return
		}
	}
}

// pump hands the messages of rcvs to Next until one of the links fails or
// the listener closes, then detaches them all.
func (l *listener) pump(rcvs []*amqp.Receiver) {
	lost := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	for _, rcv := range rcvs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				msg, err := rcv.Receive(l.ctx, nil)
				if err != nil {
					once.Do(func() { close(lost) })
					return
				}
				select {
				case l.in <- delivery{rcv: rcv, msg: msg}:
				case <-lost:
					release(rcv, msg)
					return
				case <-l.ctx.Done():
					release(rcv, msg)
					return
				}
			}
		}()
	}
	select {
	case <-lost:
	case <-l.ctx.Done():
	}
	closeReceivers(rcvs) // ends the Receive calls
	wg.Wait()
}

// release hands msg back to the message bus.
func release(rcv *amqp.Receiver, msg *amqp.Message) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	rcv.ReleaseMessage(ctx, msg)
}

// Next returns the next message. RPC requests are accepted before they are
// returned (at most once, as oslo); bodies that do not decode are rejected
// and skipped.
func (l *listener) Next(ctx context.Context) (driver.Incoming, error) {
	for {
		var d delivery
		select {
		case d = <-l.in:
		case <-l.ctx.Done():
			return nil, driver.ErrClosed
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		body := wireBody(d.msg)
		if body == nil {
			l.c.log.Warn("amqp1: rejecting message without a body", "address", d.rcv.Address())
			settle(d.rcv, d.msg, false)
			continue
		}
		if l.notify {
			b, err := decodeNotification(body)
			if err != nil {
				l.c.log.Warn("amqp1: rejecting notification that does not decode", "address", d.rcv.Address(), "error", err)
				settle(d.rcv, d.msg, false)
				continue
			}
			return &incoming{l: l, d: d, msg: &driver.Message{Body: b}}, nil
		}
		msgID, reply := idString(d.msg.Properties, false), replyTo(d.msg.Properties)
		req, err := decodeRequest(body, msgID, reply)
		if err != nil {
			l.c.log.Warn("amqp1: rejecting request that does not decode", "address", d.rcv.Address(), "error", err)
			settle(d.rcv, d.msg, false)
			continue
		}
		if err := settle(d.rcv, d.msg, true); err != nil {
			// Not acknowledged: the message bus delivers it again.
			l.c.log.Debug("amqp1: could not accept a request; left to the message bus", "error", err)
			continue
		}
		m := &driver.Message{Body: req.body}
		if msgID != "" && reply != "" {
			m.MsgID, m.ReplyTo = msgID, reply
		}
		if d.msg.Header != nil {
			m.Expiration = d.msg.Header.TTL
		}
		return &incoming{l: l, d: d, msg: m, monitor: req.monitor, settled: true}, nil
	}
}

// Close detaches the links and waits for the listener's goroutines.
// Messages not yet returned by Next are released or left unsettled, and
// the message bus delivers them again.
func (l *listener) Close() error {
	if l.closed.Swap(true) {
		return nil
	}
	l.cancel()
	l.wg.Wait()
	l.c.mu.Lock()
	delete(l.c.listeners, l)
	l.c.mu.Unlock()
	return nil
}

type incoming struct {
	l       *listener
	d       delivery
	msg     *driver.Message
	monitor time.Duration
	settled bool
	mu      sync.Mutex
}

func (in *incoming) Message() *driver.Message { return in.msg }

func (in *incoming) Reply(ctx context.Context, m *driver.Message) error {
	if in.l.notify {
		return nil
	}
	return in.l.c.reply(ctx, m, in.monitor)
}

// settleOnce runs fn unless the message was settled already.
func (in *incoming) settleOnce(fn func(context.Context) error) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.settled {
		return nil
	}
	in.settled = true
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := fn(ctx); err != nil {
		var le *amqp.LinkError
		if errors.As(err, &le) || in.l.ctx.Err() != nil {
			return nil // the link is gone: the message bus delivers it again
		}
		return err
	}
	return nil
}

// Ack accepts a notification.
func (in *incoming) Ack() error {
	return in.settleOnce(func(ctx context.Context) error { return in.d.rcv.AcceptMessage(ctx, in.d.msg) })
}

// Requeue releases a notification: the message bus delivers it again.
func (in *incoming) Requeue() error {
	return in.settleOnce(func(ctx context.Context) error { return in.d.rcv.ReleaseMessage(ctx, in.d.msg) })
}
