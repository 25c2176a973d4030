package rabbit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/oslo-go/messaging/transport/driver"
)

// The publish side: one AMQP connection per Conn (kept up by a connector
// goroutine, which re-dials after a failure) with a few confirm-mode
// channels. A publisher holds a
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
	// confirmed, when set, lets publish return once the frames are
	// written: the broker's confirm is awaited in the background and
	// confirmed is called with the publish's failure, never with nil: a
	// mandatory return at once; a nack or the channel lost before the
	// confirm after sending again within retry and until failed. Call
	// requests use it (their reply proves delivery), and replies (a
	// server's worker does not wait for the confirm). When too many
	// confirms are outstanding, publish waits as without it.
	confirmed func(error)
	// retry and until are the send's Retry and ctx deadline (zero: none),
	// for sending it again in the background when the connection or the
	// channel is lost before its confirm.
	retry int
	until time.Time
}

// maxBackgroundConfirms bounds the confirms a Conn awaits in the
// background (and so their goroutines and the messages they hold).
const maxBackgroundConfirms = 4096

// publishError is a publish failure worth retrying.
type publishError struct {
	err         error
	channelOnly bool // the channel failed, the connection is fine
}

func (e *publishError) Error() string { return e.err.Error() }
func (e *publishError) Unwrap() error { return e.err }

// publisher owns the publish connection. Its connector goroutine (run)
// connects when the Conn opens and again whenever the connection is lost,
// with backoff, whether or not anyone is publishing; publishers wait for
// it within their ctx.
type publisher struct {
	c    *conn
	next atomic.Uint32

	background chan struct{} // a slot per confirm awaited in the background

	cur atomic.Pointer[pubSession] // the live session; written under mu

	mu       sync.Mutex
	closed   bool
	changed  chan struct{} // closed and replaced when cur or the failures change
	lastErr  error         // why the last connection attempt failed; nil once one worked
	failures int           // connection attempts that failed, in all
}

func newPublisher(c *conn) *publisher {
	return &publisher{c: c, changed: make(chan struct{}), background: make(chan struct{}, maxBackgroundConfirms)}
}

// pubSession is one publish connection and its channels.
type pubSession struct {
	p     *publisher
	conn  *amqp.Connection
	dead  atomic.Bool
	lost  chan struct{} // closed by watch when the connection is gone
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

// broadcast wakes the waiters of waitSession. Call it with mu held.
func (p *publisher) broadcast() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// run connects, and reconnects after every loss, until the Conn closes:
// at once after a loss, then with the pauses of reconnectWait.
func (p *publisher) run() {
	defer p.c.wg.Done()
	for n := 0; ; {
		s, err := p.connect()
		if err != nil {
			if p.c.closed.Load() {
				return
			}
			p.mu.Lock()
			p.lastErr = err
			p.failures++
			p.broadcast()
			p.mu.Unlock()
			if p.c.pause(p.c.ctx, p.c.reconnectWait(n), err) != nil {
				return
			}
			n++
			continue
		}
		n = 0
		select {
		case <-s.lost:
		case <-p.c.done:
			return
		}
		p.mu.Lock()
		p.cur.CompareAndSwap(s, nil)
		p.broadcast()
		p.mu.Unlock()
	}
}

// connect dials a publish connection and makes it the live session.
func (p *publisher) connect() (*pubSession, error) {
	ac, err := p.c.dial(p.c.ctx, "publish")
	if err != nil {
		return nil, err
	}
	s := &pubSession{p: p, conn: ac, lost: make(chan struct{}), slots: make([]pubSlot, p.c.o.publishChannels)}
	closes := ac.NotifyClose(make(chan *amqp.Error, 1))
	blocks := ac.NotifyBlocked(make(chan amqp.Blocking, 4))
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		closeAMQP(ac)
		return nil, driver.ErrClosed
	}
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
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		closeAMQP(ac)
		return nil, driver.ErrClosed
	}
	p.cur.Store(s)
	p.lastErr = nil
	p.broadcast()
	return s, nil
}

// attempts counts the connection failures one publish (or Ping) has been
// through, against its retry limit.
type attempts struct {
	retry int   // negative: no limit
	used  int   // failures charged
	seen  int   // the publisher's failures already looked at; -1 at first
	last  error // the last failure
}

func newAttempts(retry int) attempts { return attempts{retry: retry, seen: -1} }

func (a *attempts) exhausted() bool { return a.retry >= 0 && a.used > a.retry }

// waitSession returns the live session, waiting for the connector within
// ctx. Failed connection attempts it sees are charged to a: when the
// connection is down, the last failed attempt counts as this publish's
// first, and each further one as a retry.
func (p *publisher) waitSession(ctx context.Context, a *attempts) (*pubSession, error) {
	for {
		if s := p.cur.Load(); s != nil && !s.dead.Load() {
			return s, nil
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, driver.ErrClosed
		}
		if s := p.cur.Load(); s != nil && !s.dead.Load() {
			p.mu.Unlock()
			return s, nil
		}
		if p.lastErr != nil {
			switch {
			case a.seen < 0:
				a.used++
			case p.failures > a.seen:
				a.used += p.failures - a.seen
			}
			a.seen, a.last = p.failures, p.lastErr
		} else if a.seen < 0 {
			a.seen = p.failures
		}
		changed := p.changed
		p.mu.Unlock()
		if a.exhausted() || refused(a.last) {
			// The broker refused the credentials or the virtual host:
			// final until someone changes them, so say it now (the
			// connector goes on trying).
			return nil, a.last
		}
		select {
		case <-changed:
		case <-ctx.Done():
			if a.last != nil {
				return nil, fmt.Errorf("not connected: %w; last error: %w", ctx.Err(), a.last)
			}
			return nil, fmt.Errorf("not connected: %w", ctx.Err())
		}
	}
}

// watch drains the connection's notifications until it closes.
func (s *pubSession) watch(closes chan *amqp.Error, blocks chan amqp.Blocking) {
	defer s.p.c.wg.Done()
	c := s.p.c
	for closes != nil || blocks != nil {
		select {
		case err, ok := <-closes:
			if !ok { // amqp091 closes it after sending the error, if any
				closes = nil
				s.dead.Store(true)
				close(s.lost)
				continue
			}
			s.dead.Store(true)
			if err != nil && !c.closed.Load() {
				c.warnings.Warn(c.log, "publish lost", "rabbit: publish connection lost; reconnecting", "error", err)
			}
		case b, ok := <-blocks:
			if !ok {
				blocks = nil
				continue
			}
			if b.Active {
				c.log.Error("rabbit: the broker has blocked the connection", "reason", b.Reason)
			} else {
				c.log.Info("rabbit: the broker has unblocked the connection")
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
	p.broadcast()
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

// publish sends pb, retrying after connection failures as retry says:
// negative until ctx ends, 0 never, N at most N times. While the
// publish connection is down it waits for the connector, each failed
// connection attempt counting as a retry. Channel failures (a channel
// closed by the broker while the connection is fine) are retried at once
// a few times on a new channel. Refusals that retrying cannot cure (a
// message over the size limit, access refused, a precondition failed)
// are final at once.
func (p *publisher) publish(ctx context.Context, retry int, pb *publishing) error {
	if n := len(pb.msg.Body); n > p.c.o.maxMessageSize {
		return fmt.Errorf("rabbit: sending to exchange %q with routing key %q: message of %d bytes is over max_message_size (%d): %w",
			pb.exchange.name, pb.key, n, p.c.o.maxMessageSize, driver.ErrMessageTooLarge)
	}
	return p.publishWith(ctx, newAttempts(retry), 0, pb)
}

// publishWith is publish after the attempts a has used and chanFailures
// failures of the channel alone.
func (p *publisher) publishWith(ctx context.Context, a attempts, chanFailures int, pb *publishing) error {
	for {
		s, err := p.waitSession(ctx, &a)
		if err == nil {
			err = p.publishOnce(ctx, s, pb)
			if err == nil {
				return nil
			}
		}
		var pe *publishError
		if !errors.As(err, &pe) {
			return fmt.Errorf("rabbit: sending to exchange %q with routing key %q: %w", pb.exchange.name, pb.key, err)
		}
		if pe.channelOnly && chanFailures < 3 {
			chanFailures++
			continue
		}
		a.used++
		a.last = pe.err
		if a.exhausted() {
			if a.used == 1 {
				return fmt.Errorf("rabbit: sending to exchange %q with routing key %q: %w", pb.exchange.name, pb.key, pe.err)
			}
			return fmt.Errorf("rabbit: sending to exchange %q with routing key %q failed after %d retries: %w", pb.exchange.name, pb.key, a.used-1, pe.err)
		}
		p.c.log.Debug("rabbit: publish failed; retrying", "exchange", pb.exchange.name, "routing_key", pb.key, "error", pe.err, "retry", a.used)
		if pe.channelOnly {
			// The connection is fine: back off before the next channel.
			if err := p.c.sleep(ctx, p.c.reconnectWait(a.used-1)); err != nil {
				return fmt.Errorf("rabbit: sending to exchange %q with routing key %q: %w; last error: %w", pb.exchange.name, pb.key, err, pe.err)
			}
		}
		// Otherwise the session was dropped: waitSession waits for the
		// connector.
	}
}

func (p *publisher) publishOnce(ctx context.Context, s *pubSession, pb *publishing) error {
	if p.c.closed.Load() {
		return driver.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	pc, err := s.channel(int(p.next.Add(1) % uint32(len(s.slots))))
	if err != nil {
		return p.failure(s, nil, pb, err)
	}
	if err := s.declare(pb); err != nil {
		if finalCode(err) {
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
	if pb.confirmed != nil && p.startBackground() {
		go p.awaitConfirm(s, pc, pb, dc, mark)
		return nil
	}
	select {
	case <-dc.Done():
	case <-ctx.Done():
		return ctx.Err()
	case <-p.c.done:
		return driver.ErrClosed
	}
	return p.outcome(s, pc, pb, dc, mark)
}

// outcome is the result of a publish whose confirm has arrived.
func (p *publisher) outcome(s *pubSession, pc *pubChannel, pb *publishing, dc *amqp.DeferredConfirmation, mark uint64) error {
	if !dc.Acked() {
		if pc.ch.IsClosed() {
			return p.failure(s, pc, pb, amqp.ErrClosed)
		}
		return &publishError{err: errNack, channelOnly: true}
	}
	// The broker sends basic.return before the confirm of the same
	// message.
	if pb.mandatory && pc.returnedSince(pb.key, mark) {
		return errNoRoute
	}
	return nil
}

// startBackground takes a slot for a confirm awaited in the background;
// it fails when all are taken or the Conn is closing.
func (p *publisher) startBackground() bool {
	select {
	case p.background <- struct{}{}:
	default:
		return false
	}
	if !p.c.register(func() { p.c.wg.Add(1) }) {
		<-p.background
		return false
	}
	return true
}

// awaitConfirm waits for the confirm of a publish that has returned and
// reports its failure to pb.confirmed. A Conn that closes first reports
// nothing: its calls fail with ErrClosed in the core.
func (p *publisher) awaitConfirm(s *pubSession, pc *pubChannel, pb *publishing, dc *amqp.DeferredConfirmation, mark uint64) {
	defer func() {
		<-p.background
		p.c.wg.Done()
	}()
	select {
	case <-dc.Done():
	case <-p.c.done:
		return
	}
	err := p.outcome(s, pc, pb, dc, mark)
	var pe *publishError
	if errors.As(err, &pe) {
		// A nack (a quorum queue without a leader nacks), or the
		// connection or the channel gone before the confirm: send again
		// as publish does for a send that waits, within the send's Retry
		// and deadline (the request may have reached the broker, as
		// there). What is left of them fails the call.
		//
		// The failure before the confirm counts as publish counts the
		// first failure of a send that waits: a nack or a channel failure
		// as the first of the channel's, a connection loss as the first
		// attempt. Connection failures the publisher saw before it are
		// not charged again.
		a := newAttempts(pb.retry)
		chanFailures := 0
		if pe.channelOnly {
			chanFailures = 1
		} else {
			a.used, a.last = 1, pe.err
		}
		p.mu.Lock()
		a.seen = p.failures
		p.mu.Unlock()
		if a.exhausted() {
			pb.confirmed(fmt.Errorf("rabbit: sending to exchange %q with routing key %q: %w", pb.exchange.name, pb.key, pe.err))
			return
		}
		ctx, cancel := p.c.ctx, context.CancelFunc(func() {})
		if !pb.until.IsZero() {
			ctx, cancel = context.WithDeadline(ctx, pb.until)
		}
		again := *pb
		again.confirmed = nil
		err = p.publishWith(ctx, a, chanFailures, &again)
		cancel()
		if err != nil && p.c.closed.Load() {
			return
		}
		if err != nil {
			pb.confirmed(err) // publish's error names the exchange and key
		}
		return
	}
	if err != nil {
		pb.confirmed(fmt.Errorf("rabbit: sending to exchange %q with routing key %q: %w", pb.exchange.name, pb.key, err))
	}
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
	switch {
	case isSizeRefusal(err):
		return fmt.Errorf("rabbit: the broker refused the message of %d bytes: %w (%v)", len(pb.msg.Body), driver.ErrMessageTooLarge, err)
	case finalCode(err):
		return err
	case amqpCode(err) == amqp.NotFound:
		s.forget(pb)
	}
	return &publishError{err: err, channelOnly: true}
}

// finalCode reports a channel error that retrying cannot cure: access
// refused, a precondition failed (an inequivalent declaration, a message
// over the broker's max_message_size), not allowed, not implemented.
func finalCode(err error) bool {
	switch amqpCode(err) {
	case amqp.AccessRefused, amqp.PreconditionFailed, amqp.NotAllowed, amqp.NotImplemented, amqp.ResourceLocked:
		return true
	}
	return false
}

// refused reports a connection the broker refused (credentials, SASL
// mechanism, virtual host): retrying at once cannot cure it.
func refused(err error) bool {
	if err == nil {
		return false
	}
	switch amqpCode(err) {
	case amqp.AccessRefused, amqp.NotAllowed:
		return true
	}
	return false
}

// isSizeRefusal reports the broker's refusal of a message over its
// max_message_size ("PRECONDITION_FAILED - message size 136315031 is
// larger than configured max size 134217728").
func isSizeRefusal(err error) bool {
	var ae *amqp.Error
	return errors.As(err, &ae) && ae.Code == amqp.PreconditionFailed && strings.Contains(ae.Reason, "message size")
}
