package rabbit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/oslo-go/messaging/transport/driver"
)

// The publish side: one AMQP connection per Conn (re-dialed on demand after
// a failure) with a few confirm-mode channels. A publisher holds a
// channel's lock only while amqp091 writes the frames; it then waits for
// the broker's confirm on its own DeferredConfirmation, so unrelated
// publishes never wait for each other's confirms. Exchanges (and, for
// notifications, the default queue) are declared once per connection.

var (
	// errNoRoute reports a mandatory publish the broker returned.
	errNoRoute = fmt.Errorf("rabbit: no queue for the message (NO_ROUTE): %w", driver.ErrUndeliverable)
	// errNack reports a publish the broker refused.
	errNack = errors.New("rabbit: broker refused the message (basic.nack)")
)

// publishing is one message to publish, with what it needs declared.
type publishing struct {
	exchange  exchangeSpec
	queue     *queueSpec // declared and bound with key first (notifications)
	key       string
	mandatory bool
	msg       amqp.Publishing
}

// publishError is a publish failure worth retrying.
type publishError struct {
	err         error
	channelOnly bool // the channel failed, the connection is fine
}

func (e *publishError) Error() string { return e.err.Error() }
func (e *publishError) Unwrap() error { return e.err }

type publisher struct {
	c    *conn
	sem  chan struct{} // held while dialing
	next atomic.Uint32

	cur atomic.Pointer[pubSession] // written under mu

	mu     sync.Mutex
	closed bool
}

func newPublisher(c *conn) *publisher {
	return &publisher{c: c, sem: make(chan struct{}, 1)}
}

// pubSession is one publish connection and its channels.
type pubSession struct {
	p     *publisher
	conn  *amqp.Connection
	dead  atomic.Bool
	slots []pubSlot

	declared sync.Map // key -> *declaration, once per connection
}

type declaration struct {
	done chan struct{}
	err  error
}

type pubSlot struct {
	mu sync.Mutex
	ch atomic.Pointer[pubChannel]
}

// pubChannel is a confirm-mode channel. Its watcher goroutine records the
// messages the broker returns (mandatory publishes without a queue) and
// learns when the channel closes.
type pubChannel struct {
	ch      *amqp.Channel
	done    chan struct{} // closed by the watcher when the channel is closed
	err     *amqp.Error   // why it closed; written before done is closed
	syncReq chan chan struct{}

	retMu     sync.Mutex
	returnSeq uint64
	returned  map[string]uint64 // routing key -> returnSeq of its last return
}

// session returns the live publish session, dialing one if needed.
func (p *publisher) session(ctx context.Context) (*pubSession, error) {
	if s := p.cur.Load(); s != nil && !s.dead.Load() {
		return s, nil
	}
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-p.c.done:
		return nil, driver.ErrClosed
	}
	defer func() { <-p.sem }()
	if s := p.cur.Load(); s != nil && !s.dead.Load() {
		return s, nil
	}
	ac, err := p.c.dial(ctx, "publish")
	if err != nil {
		return nil, err
	}
	s := &pubSession{p: p, conn: ac, slots: make([]pubSlot, p.c.o.publishChannels)}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		closeAMQP(ac)
		return nil, driver.ErrClosed
	}
	p.cur.Store(s)
	closes := ac.NotifyClose(make(chan *amqp.Error, 1))
	blocks := ac.NotifyBlocked(make(chan amqp.Blocking, 4))
	p.c.wg.Add(1)
	p.mu.Unlock()
	go s.watch(closes, blocks)
	// Open the channels now rather than on a first publish, which would
	// wait for the broker's channel.open-ok.
	for i := range s.slots {
		if _, err := s.channel(i); err != nil {
			break
		}
	}
	return s, nil
}

// watch drains the connection's notifications until it closes.
func (s *pubSession) watch(closes chan *amqp.Error, blocks chan amqp.Blocking) {
	defer s.p.c.wg.Done()
	log := s.p.c.log
	for closes != nil || blocks != nil {
		select {
		case err, ok := <-closes:
			if !ok {
				closes = nil
				s.dead.Store(true)
				continue
			}
			s.dead.Store(true)
			if err != nil && !s.p.c.closed.Load() {
				log.Warn("rabbit: publish connection lost", "error", err)
			}
		case b, ok := <-blocks:
			if !ok {
				blocks = nil
				continue
			}
			if b.Active {
				log.Error("rabbit: the broker has blocked the connection", "reason", b.Reason)
			} else {
				log.Info("rabbit: the broker has unblocked the connection")
			}
		}
	}
}

// drop abandons session s after a connection failure.
func (p *publisher) drop(s *pubSession) {
	s.dead.Store(true)
	p.mu.Lock()
	p.cur.CompareAndSwap(s, nil)
	p.mu.Unlock()
	closeAMQP(s.conn)
}

func (p *publisher) close() {
	p.mu.Lock()
	p.closed = true
	s := p.cur.Swap(nil)
	p.mu.Unlock()
	if s != nil {
		s.dead.Store(true)
		closeAMQP(s.conn)
	}
}

// channel returns the channel of slot i, opening one if needed.
func (s *pubSession) channel(i int) (*pubChannel, error) {
	slot := &s.slots[i]
	if pc := slot.ch.Load(); pc != nil && !pc.ch.IsClosed() {
		return pc, nil
	}
	slot.mu.Lock()
	defer slot.mu.Unlock()
	if pc := slot.ch.Load(); pc != nil && !pc.ch.IsClosed() {
		return pc, nil
	}
	ch, err := s.conn.Channel()
	if err != nil {
		return nil, err
	}
	if err := ch.Confirm(false); err != nil {
		ch.Close()
		return nil, err
	}
	pc := &pubChannel{ch: ch, done: make(chan struct{}), syncReq: make(chan chan struct{}), returned: map[string]uint64{}}
	closes := ch.NotifyClose(make(chan *amqp.Error, 1))
	returns := ch.NotifyReturn(make(chan amqp.Return))
	s.p.mu.Lock()
	if s.p.closed {
		s.p.mu.Unlock()
		ch.Close()
		return nil, driver.ErrClosed
	}
	s.p.c.wg.Add(1)
	s.p.mu.Unlock()
	go pc.watch(s.p.c, closes, returns)
	slot.ch.Store(pc)
	return pc, nil
}

// watch records returns and answers sync requests until the channel
// closes. The broker sends basic.return before the basic.ack of the same
// message, and amqp091 hands both over from one reader goroutine; so a
// publisher that has its confirm and then syncs with this goroutine sees
// the return of its message, if any.
func (pc *pubChannel) watch(c *conn, closes chan *amqp.Error, returns chan amqp.Return) {
	defer c.wg.Done()
	defer close(pc.done)
	for {
		select {
		case r, ok := <-returns:
			if !ok {
				returns = nil
				continue
			}
			pc.retMu.Lock()
			pc.returnSeq++
			pc.returned[r.RoutingKey] = pc.returnSeq
			if len(pc.returned) > 1024 {
				for k, seq := range pc.returned {
					if seq+1024 < pc.returnSeq {
						delete(pc.returned, k)
					}
				}
			}
			pc.retMu.Unlock()
			c.log.Debug("rabbit: message returned", "exchange", r.Exchange, "routing_key", r.RoutingKey, "reply_code", r.ReplyCode, "reply_text", r.ReplyText)
		case req := <-pc.syncReq:
			close(req)
		case err, ok := <-closes:
			if ok {
				pc.err = err
				continue
			}
			return
		}
	}
}

// returnMark returns the current return sequence number.
func (pc *pubChannel) returnMark() uint64 {
	pc.retMu.Lock()
	defer pc.retMu.Unlock()
	return pc.returnSeq
}

// returnedSince reports whether a message to key was returned after mark.
func (pc *pubChannel) returnedSince(key string, mark uint64) bool {
	req := make(chan struct{})
	select {
	case pc.syncReq <- req:
		<-req
	case <-pc.done:
	}
	pc.retMu.Lock()
	defer pc.retMu.Unlock()
	return pc.returned[key] > mark
}

// declare declares what pb needs, once per connection.
func (s *pubSession) declare(pb *publishing) error {
	if pb.exchange.name != "" {
		if err := s.once("x\x00"+pb.exchange.name, func(d *declarer) error { return d.exchange(pb.exchange) }); err != nil {
			return err
		}
	}
	if pb.queue != nil {
		q := *pb.queue
		key := "q\x00" + pb.exchange.name + "\x00" + q.name + "\x00" + pb.key
		return s.once(key, func(d *declarer) error {
			if err := d.queue(q); err != nil {
				return err
			}
			return d.bind(bindSpec{queue: q.name, exchange: pb.exchange.name, key: pb.key})
		})
	}
	return nil
}

func (s *pubSession) once(key string, fn func(*declarer) error) error {
	if v, ok := s.declared.Load(key); ok {
		d := v.(*declaration)
		<-d.done
		if d.err == nil {
			return nil
		}
	}
	d := &declaration{done: make(chan struct{})}
	if v, loaded := s.declared.LoadOrStore(key, d); loaded {
		prev := v.(*declaration)
		<-prev.done
		if prev.err == nil {
			return nil
		}
		if !s.declared.CompareAndSwap(key, prev, d) {
			return s.once(key, fn)
		}
	}
	dc := &declarer{conn: s.conn, log: s.p.c.log}
	d.err = fn(dc)
	dc.close()
	close(d.done)
	if d.err != nil {
		s.declared.CompareAndDelete(key, d)
	}
	return d.err
}

// forget drops the declarations of the session, after the broker said
// an exchange is gone (an auto-delete fanout exchange whose last queue
// went away).
func (s *pubSession) forget(*publishing) {
	s.declared.Range(func(k, v any) bool {
		select {
		case <-v.(*declaration).done:
			s.declared.CompareAndDelete(k, v)
		default:
		}
		return true
	})
}

// publish sends pb, retrying after failures as m.Retry says: retry < 0
// until ctx ends, 0 never, N at most N times. Channel failures (a channel
// closed by the broker while the connection is fine) are retried at once
// a few times on a new channel.
func (p *publisher) publish(ctx context.Context, retry int, pb *publishing) error {
	connFailures, chanFailures := 0, 0
	for {
		err := p.publishOnce(ctx, pb)
		if err == nil {
			return nil
		}
		var pe *publishError
		if !errors.As(err, &pe) {
			return err
		}
		if pe.channelOnly && chanFailures < 3 {
			chanFailures++
			continue
		}
		if retry >= 0 && connFailures >= retry {
			if connFailures == 0 {
				return fmt.Errorf("rabbit: sending to exchange %q with routing key %q: %w", pb.exchange.name, pb.key, pe.err)
			}
			return fmt.Errorf("rabbit: sending to exchange %q with routing key %q failed after %d retries: %w", pb.exchange.name, pb.key, connFailures, pe.err)
		}
		p.c.log.Debug("rabbit: publish failed; retrying", "exchange", pb.exchange.name, "routing_key", pb.key, "error", pe.err, "retry", connFailures+1)
		// The first retry reconnects at once; later ones back off.
		wait := p.c.reconnectWait(connFailures)
		if connFailures == 0 {
			wait = 0
		}
		connFailures++
		if err := p.c.sleep(ctx, wait); err != nil {
			return err
		}
	}
}

func (p *publisher) publishOnce(ctx context.Context, pb *publishing) error {
	if p.c.closed.Load() {
		return driver.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s, err := p.session(ctx)
	if err != nil {
		var de *dialError
		if errors.As(err, &de) && ctx.Err() == nil {
			return &publishError{err: err}
		}
		return err
	}
	pc, err := s.channel(int(p.next.Add(1) % uint32(len(s.slots))))
	if err != nil {
		return p.failure(s, nil, pb, err)
	}
	if err := s.declare(pb); err != nil {
		switch amqpCode(err) {
		case amqp.AccessRefused, amqp.PreconditionFailed, amqp.NotAllowed:
			return err // a configuration problem: retrying does not help
		}
		return p.failure(s, nil, pb, err)
	}
	var mark uint64
	if pb.mandatory {
		mark = pc.returnMark()
	}
	dc, err := pc.ch.PublishWithDeferredConfirm(pb.exchange.name, pb.key, pb.mandatory, false, pb.msg)
	if err != nil {
		return p.failure(s, pc, pb, err)
	}
	select {
	case <-dc.Done():
	case <-ctx.Done():
		return ctx.Err()
	case <-p.c.done:
		return driver.ErrClosed
	}
	if !dc.Acked() {
		if pc.ch.IsClosed() {
			return p.failure(s, pc, pb, amqp.ErrClosed)
		}
		return &publishError{err: errNack, channelOnly: true}
	}
	if pb.mandatory && pc.returnedSince(pb.key, mark) {
		return errNoRoute
	}
	return nil
}

// failure classifies a failed publish on session s (and channel pc).
func (p *publisher) failure(s *pubSession, pc *pubChannel, pb *publishing, err error) error {
	connLost := func() error {
		p.drop(s)
		return &publishError{err: fmt.Errorf("rabbit: publish connection lost: %w", err)}
	}
	if s.conn.IsClosed() || s.dead.Load() {
		return connLost()
	}
	if pc != nil {
		if !pc.ch.IsClosed() {
			// The frames could not be written: the connection is
			// going down.
			return connLost()
		}
		<-pc.done // the watcher sees the close right after IsClosed turns true
		if pc.err != nil {
			err = pc.err
		}
		if s.conn.IsClosed() {
			return connLost()
		}
	}
	if amqpCode(err) == amqp.NotFound {
		s.forget(pb)
	}
	return &publishError{err: err, channelOnly: true}
}
