package zmq

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport/driver"
)

// maxResends bounds how often a call rejected by closing servers is sent
// to another one.
const maxResends = 3

// sendBacklog is how many bytes of requests a client connection queues
// while its server does not read them; more requests wait (backpressure).
const sendBacklog = 4 << 20

// errConnClosed is what writes to a closed or failed connection get.
var errConnClosed = errors.New("zmq: connection closed")

// Send routes m to the servers the matchmaker lists for t (see the package
// doc, "Routing").
func (c *conn) Send(ctx context.Context, t target.Target, m *driver.Message) error {
	if c.closed.Load() {
		return driver.ErrClosed
	}
	if n := requestSize(Key{Topic: t.Topic, Server: t.Server}, m); n > c.cfg.maxMessageSize {
		return fmt.Errorf("zmq: message of %d bytes is over max_message_size (%d): %w", n, c.cfg.maxMessageSize, driver.ErrMessageTooLarge)
	}
	if t.Fanout {
		return c.sendFanout(ctx, t, m)
	}
	k := kindCast
	if m.MsgID != "" {
		k = kindCall
	}
	return c.sendTo(ctx, Key{Topic: t.Topic, Server: t.Server}, k, m, nil, 0)
}

// waitRoom returns the first of peers whose send buffer has room for n
// bytes (or that failed: its error shows when sending), waiting within
// ctx.
func waitRoom(ctx context.Context, peers []*peer, n int) (*peer, error) {
	cases := make([]reflect.SelectCase, len(peers)+1)
	cases[0] = reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())}
	for {
		for i, p := range peers {
			ch := p.w.roomChan(n)
			if ch == nil {
				return p, nil
			}
			cases[i+1] = reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ch)}
		}
		if i, _, _ := reflect.Select(cases); i == 0 {
			return nil, ctx.Err()
		}
	}
}

// requestSize bounds the encoded size of a request.
func requestSize(k Key, m *driver.Message) int {
	return len(m.Body) + len(m.MsgID) + len(m.ContentType) + len(k.Topic) + len(k.Server) + frameOverhead
}

// sendTo sends a call or cast to one server of key, round-robin over its
// addresses, skipping addresses whose connection failed recently unless
// no other is left, and servers that are not reading (their connection's
// send buffer is full) unless all are: then it waits, within ctx, for the
// first of them to have room.
func (c *conn) sendTo(ctx context.Context, key Key, k kind, m *driver.Message, exclude *peer, resends int) error {
	r := c.route(key)
	addrs, err := c.resolve(ctx, r, m.Retry)
	if err != nil {
		return err
	}
	if len(addrs) == 0 {
		return noServers(m, "zmq: no server registered for %s", key)
	}
	start := int(r.rr.Add(1) - 1)
	retries := m.Retry
	size := requestSize(key, m)
	var full []*peer // servers skipped for a full send buffer
	// try sends on p; done reports that sendTo returns err.
	try := func(p *peer) (done bool, err error) {
		sent, err := p.send(ctx, k, key, m, resends)
		switch {
		case err == nil:
			return true, nil
		case ctx.Err() != nil:
			return true, fmt.Errorf("zmq: sending to %s: %w", p.addr, err)
		case !sent:
			return false, nil
		case retries == 0:
			return true, fmt.Errorf("zmq: sending to %s: %v: %w", p.addr, err, driver.ErrConnectionLost)
		}
		if retries > 0 {
			retries--
		}
		return false, nil
	}
	var tried uint64 // bit i: addrs[i] was tried (for the first 64)
	for pass := range 2 {
		for i := range addrs {
			j := (start + i) % len(addrs)
			addr := addrs[j]
			if j < 64 {
				if tried&(1<<j) != 0 {
					continue
				}
			}
			if c.quarantined(addr) != (pass == 1) {
				continue
			}
			if j < 64 {
				tried |= 1 << j
			}
			p, err := c.getPeer(ctx, addr)
			if err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if errors.Is(err, driver.ErrClosed) {
					return err
				}
				continue
			}
			if p == exclude {
				continue
			}
			if !p.w.hasRoom(size) {
				full = append(full, p)
				continue
			}
			if done, err := try(p); done {
				return err
			}
		}
	}
	for len(full) > 0 {
		p, err := waitRoom(ctx, full, size)
		if err != nil {
			return fmt.Errorf("zmq: sending to %s: the send buffers of its %d live server(s) are full (the servers are busy, not reading): %w", key, len(full), err)
		}
		if done, err := try(p); done {
			return err
		}
		full = slices.DeleteFunc(full, func(q *peer) bool { return q == p })
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if c.closed.Load() {
		return driver.ErrClosed
	}
	return noServers(m, "zmq: no live server for %s (%d registered, none reachable)", key, len(addrs))
}

// noServers is the error of a message no server could take: it wraps
// driver.ErrNoServers, and driver.ErrUndeliverable too when m is
// mandatory.
func noServers(m *driver.Message, format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	if m.Mandatory {
		return fmt.Errorf("%w: %w: %w", err, driver.ErrNoServers, driver.ErrUndeliverable)
	}
	return fmt.Errorf("%w: %w", err, driver.ErrNoServers)
}

// sendFanout sends one copy of m to every live server of the topic. A
// topic without servers is not an error (as on a broker).
func (c *conn) sendFanout(ctx context.Context, t target.Target, m *driver.Message) error {
	key := Key{Topic: t.Topic}
	addrs, err := c.resolve(ctx, c.route(key), m.Retry)
	if err != nil {
		return err
	}
	sent := 0
	for _, addr := range addrs {
		if c.quarantined(addr) {
			continue
		}
		p, err := c.getPeer(ctx, addr)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			continue
		}
		_, err = p.send(ctx, kindFanout, key, m, 0)
		if err == nil {
			sent++
		} else if ctx.Err() != nil {
			return fmt.Errorf("zmq: fanout to %s: sending to %s: %w", t.Topic, addr, err)
		}
	}
	if sent == 0 {
		if m.Mandatory {
			return fmt.Errorf("zmq: fanout to %s reached no server (%d registered): %w", t.Topic, len(addrs), driver.ErrUndeliverable)
		}
		c.log.Debug("zmq: fanout reached no server", "topic", t.Topic, "registered", len(addrs))
	}
	return nil
}

// route is the client's state for one key: the round-robin counter and the
// cached lookup.
type route struct {
	key      Key
	rr       atomic.Uint32
	lastUsed atomic.Int64 // unix nanoseconds

	mu         sync.Mutex
	addrs      []string
	fetched    time.Time // zero: look up before use
	refreshing bool
}

func (c *conn) route(k Key) *route {
	now := time.Now().UnixNano()
	c.rmu.RLock()
	r := c.routes[k]
	c.rmu.RUnlock()
	if r == nil {
		c.rmu.Lock()
		if r = c.routes[k]; r == nil {
			r = &route{key: k}
			c.routes[k] = r
		}
		c.rmu.Unlock()
	}
	r.lastUsed.Store(now)
	return r
}

// resolve returns the addresses of r's key: from the matchmaker, or from
// the cache while it is younger than lookup_cache (older entries are used
// while a background lookup refreshes them). Empty results are not cached.
// A failed lookup is tried again as retries allows (see withMatchmaker).
func (c *conn) resolve(ctx context.Context, r *route, retries int) ([]string, error) {
	ttl := c.cfg.lookupCache
	if ttl == 0 {
		return c.lookup(ctx, r.key, retries)
	}
	r.mu.Lock()
	if !r.fetched.IsZero() && len(r.addrs) > 0 {
		addrs := r.addrs
		if time.Since(r.fetched) > ttl && !r.refreshing {
			r.refreshing = true
			if !c.spawn(func() { c.refreshRoute(r) }) {
				r.refreshing = false
			}
		}
		r.mu.Unlock()
		return addrs, nil
	}
	r.mu.Unlock()
	addrs, err := c.lookup(ctx, r.key, retries)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.addrs, r.fetched = addrs, time.Now()
	r.mu.Unlock()
	return addrs, nil
}

// lookup asks the matchmaker for k, as withMatchmaker retries.
func (c *conn) lookup(ctx context.Context, k Key, retries int) (addrs []string, err error) {
	err = c.withMatchmaker(ctx, retries, func() (err error) {
		addrs, err = c.mm.Lookup(ctx, k)
		return err
	})
	return addrs, err
}

func (c *conn) refreshRoute(r *route) {
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.dialTimeout)
	defer cancel()
	addrs, err := c.mm.Lookup(ctx, r.key)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.refreshing = false
	r.fetched = time.Now() // on failure too: keep the old addresses, retry after lookup_cache
	if err != nil {
		if c.ctx.Err() == nil {
			c.lim.Warn(c.log, "lookup-failed", "zmq: matchmaker lookup failed; using the addresses found before", "key", r.key.String(), "error", err)
		}
		return
	}
	r.addrs = addrs
}

// invalidate makes the next send to a key that listed addr look it up
// again.
func (c *conn) invalidate(addr string) {
	if c.cfg.lookupCache == 0 {
		return
	}
	c.rmu.RLock()
	defer c.rmu.RUnlock()
	for _, r := range c.routes {
		r.mu.Lock()
		for _, a := range r.addrs {
			if a == addr {
				r.fetched = time.Time{}
				break
			}
		}
		r.mu.Unlock()
	}
}

// Quarantine: an address whose connection failed is skipped for
// target_expire (by then a dead server's registration is gone), unless no
// other address is left; a successful connection lifts it.

func (c *conn) quarantined(addr string) bool {
	if c.nquarantine.Load() == 0 {
		return false
	}
	c.qmu.Lock()
	_, ok := c.quarantine[addr]
	c.qmu.Unlock()
	return ok
}

func (c *conn) quarantineAddr(addr string) {
	c.qmu.Lock()
	c.quarantine[addr] = time.Now().Add(c.cfg.targetExpire)
	c.nquarantine.Store(int32(len(c.quarantine)))
	c.qmu.Unlock()
}

func (c *conn) unquarantine(addr string) {
	if c.nquarantine.Load() == 0 {
		return
	}
	c.qmu.Lock()
	delete(c.quarantine, addr)
	c.nquarantine.Store(int32(len(c.quarantine)))
	c.qmu.Unlock()
}

func (c *conn) expireQuarantine(now time.Time) {
	if c.nquarantine.Load() == 0 {
		return
	}
	c.qmu.Lock()
	for a, until := range c.quarantine {
		if now.After(until) {
			delete(c.quarantine, a)
		}
	}
	c.nquarantine.Store(int32(len(c.quarantine)))
	c.qmu.Unlock()
}

// peer is the client's connection (ZMTP DEALER) to one server address. Its
// goroutine dials, then reads replies until the connection ends.
type peer struct {
	c    *conn
	addr string

	ready chan struct{} // closed once dialled, or failed (err set)
	err   error
	done  chan struct{} // closed by die

	w        connWriter
	lastRecv atomic.Int64 // unix nanoseconds
	lastSend atomic.Int64 // unix nanoseconds
	draining atomic.Bool  // the server said BYE: no new sends
	retired  atomic.Bool  // closed by us (server gone, or idle): no error to report

	mu       sync.Mutex
	nc       net.Conn
	dead     bool
	pending  map[string]*pendingCall // calls without a reply yet
	deadline int64                   // unix nanoseconds: latest expiry of a call sent
}

// pendingCall is a call sent on a peer that has no reply yet.
type pendingCall struct {
	msgID    string
	key      Key
	m        *driver.Message // to resend it after a REJECT
	deadline time.Time       // zero: none
	resends  int
	sending  bool // being written: a failure is reported by send, not die
}

func (c *conn) getPeer(ctx context.Context, addr string) (*peer, error) {
	c.mu.RLock()
	p := c.peers[addr]
	c.mu.RUnlock()
	if p == nil {
		c.mu.Lock()
		if c.closing {
			c.mu.Unlock()
			return nil, driver.ErrClosed
		}
		if p = c.peers[addr]; p == nil {
			p = &peer{c: c, addr: addr, ready: make(chan struct{}), done: make(chan struct{}), pending: map[string]*pendingCall{}}
			p.w.timeout, p.w.onError, p.w.limit = c.cfg.heartbeatTimeout, p.die, sendBacklog
			p.w.alive = func() bool { return time.Now().UnixNano()-p.lastRecv.Load() < c.cfg.heartbeatTimeout.Nanoseconds() }
			c.peers[addr] = p
			c.allPeers[p] = struct{}{}
			c.wg.Add(1)
			go func() {
				defer c.wg.Done()
				p.run()
			}()
		}
		c.mu.Unlock()
	}
	select {
	case <-p.ready:
	default:
		select {
		case <-p.ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if p.err != nil {
		return nil, p.err
	}
	return p, nil
}

func (p *peer) connected() bool {
	select {
	case <-p.ready:
		return p.err == nil
	default:
		return false
	}
}

func (p *peer) run() {
	c := p.c
	nc, br, err := p.dial()
	if err != nil {
		p.err = err
		close(p.ready)
		c.removePeer(p)
		if !c.closed.Load() {
			c.quarantineAddr(p.addr)
			c.log.Debug("zmq: cannot connect to server", "addr", p.addr, "error", err)
		}
		return
	}
	p.mu.Lock()
	if p.dead { // Close ran meanwhile
		p.mu.Unlock()
		nc.Close()
		p.err = driver.ErrClosed
		close(p.ready)
		return
	}
	p.nc, p.w.nc = nc, nc
	p.mu.Unlock()
	p.w.kick = make(chan struct{}, 1)
	if !c.spawn(func() { p.w.flushLoop(p.done) }) {
		p.w.kick = nil
	}
	now := time.Now().UnixNano()
	p.lastRecv.Store(now)
	p.lastSend.Store(now)
	c.unquarantine(p.addr)
	close(p.ready)
	c.log.Debug("zmq: connected to server", "addr", p.addr)
	p.die(p.readLoop(br))
}

func (p *peer) dial() (net.Conn, *bufio.Reader, error) {
	c := p.c
	d := net.Dialer{Timeout: c.cfg.dialTimeout}
	nc, err := d.DialContext(c.ctx, "tcp", p.addr)
	if err != nil {
		return nil, nil, fmt.Errorf("zmq: connecting to %s: %w", p.addr, err)
	}
	br := bufio.NewReaderSize(nc, readBufferSize)
	if err := handshake(nc, br, zmq4.Dealer, c.id, c.cfg.dialTimeout); err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, br, nil
}

// send writes one request. sent reports whether any of it may have reached
// the server (when it did not, another server can be tried). A call is
// pending from before its write; if the write fails the call is not failed
// by die but by the error returned here, which lets sendTo try another
// server when Message.Retry allows; if the connection fails after the
// write, the call fails with driver.ErrConnectionLost.
func (p *peer) send(ctx context.Context, k kind, key Key, m *driver.Message, resends int) (sent bool, err error) {
	now := time.Now()
	p.lastSend.Store(now.UnixNano())
	var pc *pendingCall
	if k == kindCall {
		pc = &pendingCall{msgID: m.MsgID, key: key, m: m, resends: resends, sending: true}
		dl := int64(math.MaxInt64)
		if m.Expiration > 0 {
			pc.deadline = now.Add(m.Expiration)
			dl = pc.deadline.UnixNano()
		}
		p.mu.Lock()
		if p.dead {
			p.mu.Unlock()
			return false, errConnClosed
		}
		p.pending[m.MsgID] = pc
		p.deadline = max(p.deadline, dl)
		p.mu.Unlock()
	}
	buf, err := p.w.beginRoom(ctx, requestSize(key, m))
	if err == nil {
		buf = appendRequest(buf, k, m.MsgID, m.ContentType, m.Expiration, key.Topic, key.Server, m.Body)
		sent = true
		if pc == nil && !m.Mandatory {
			p.w.commitLater(buf) // casts: written by the background flusher
			return sent, nil
		}
		err = p.w.commitWait(ctx, buf) // on failure p dies (onError)
	}
	if pc != nil {
		p.mu.Lock()
		pc.sending = false
		lost := p.dead && err == nil // written, then die skipped it
		if err != nil && p.pending != nil {
			delete(p.pending, pc.msgID)
		}
		p.mu.Unlock()
		if lost && !p.c.closed.Load() {
			p.c.onReply(driver.Reply{MsgID: pc.msgID, Err: p.lostError()})
		}
	}
	return sent, err
}

func (p *peer) lostError() error {
	return fmt.Errorf("zmq: connection to server %s lost: %w", p.addr, driver.ErrConnectionLost)
}

// take removes and returns the pending call msgID.
func (p *peer) take(msgID []byte) *pendingCall {
	if len(msgID) == 0 {
		return nil
	}
	p.mu.Lock()
	pc := p.pending[string(msgID)]
	if pc != nil {
		delete(p.pending, pc.msgID)
	}
	p.mu.Unlock()
	return pc
}

func (p *peer) lastDeadline() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.deadline
}

func (p *peer) ping() {
	if buf, err := p.w.begin(); err == nil {
		p.w.commitLater(appendControl(buf, kindPing))
	}
}

// retire closes a peer that is no longer needed: its server left (BYE) or
// it was idle, and every call sent on it has expired.
func (p *peer) retire(why string) {
	p.retired.Store(true)
	p.c.log.Debug("zmq: closing connection to server", "addr", p.addr, "reason", why)
	p.die(errConnClosed)
}

// readLoop reads replies and control messages until the connection fails.
func (p *peer) readLoop(br *bufio.Reader) error {
	c := p.c
	fr := newFrameReader(br, c.cfg.maxMessageSize)
	for {
		frames, cmd, err := fr.next()
		if err != nil {
			return err
		}
		p.lastRecv.Store(time.Now().UnixNano())
		if cmd {
			answerCommand(&p.w, frames[0])
			continue
		}
		f, err := decodeFrames(frames)
		if err != nil {
			c.lim.Warn(c.log, "malformed-reply", "zmq: dropping malformed message from server", "addr", p.addr, "error", err)
			continue
		}
		switch f.kind {
		case kindReply, kindBeat:
			msgID := ""
			if f.kind == kindBeat {
				// The call goes on: it stays pending on this connection,
				// so a server that dies now still fails it at once.
				msgID = string(f.msgID)
			} else if pc := p.take(f.msgID); pc != nil {
				msgID = pc.msgID
			} else {
				msgID = string(f.msgID)
			}
			c.onReply(driver.Reply{Message: &driver.Message{
				Body: f.body, ContentType: contentType(f.contentType), MsgID: msgID, ReplyTo: c.replyAddr,
				Heartbeat: f.kind == kindBeat,
			}})
		case kindReject:
			pc := p.take(f.msgID)
			switch {
			case pc == nil:
			case f.reason == rejectTooLarge:
				c.onReply(driver.Reply{MsgID: pc.msgID, Err: fmt.Errorf("zmq: server %s: the reply to call %s is over its max_message_size: %w", p.addr, pc.msgID, driver.ErrMessageTooLarge)})
			default:
				c.resend(p, pc, f.reason)
			}
		case kindPong:
		case kindPing:
			if buf, err := p.w.begin(); err == nil {
				p.w.commitLater(appendControl(buf, kindPong))
			}
		case kindBye:
			p.drain()
		default:
			c.log.Debug("zmq: ignoring message from server", "addr", p.addr, "kind", f.kind.String())
		}
	}
}

// drain takes p out of rotation after the server's BYE; replies to the
// calls already sent still arrive on it.
func (p *peer) drain() {
	c := p.c
	p.draining.Store(true)
	c.mu.Lock()
	if c.peers[p.addr] == p {
		delete(c.peers, p.addr)
	}
	c.mu.Unlock()
	c.invalidate(p.addr)
	c.log.Debug("zmq: server closing its listener", "addr", p.addr)
}

// resend sends a call that a closing server did not take to another server.
func (c *conn) resend(from *peer, pc *pendingCall, reason byte) {
	if reason == rejectWrongTarget {
		c.invalidate(from.addr)
	}
	fail := func(err error) { c.onReply(driver.Reply{MsgID: pc.msgID, Err: err}) }
	if pc.resends >= maxResends {
		fail(noServers(pc.m, "zmq: call %s rejected by %d servers", pc.msgID, pc.resends+1))
		return
	}
	m := *pc.m
	if !pc.deadline.IsZero() {
		if m.Expiration = time.Until(pc.deadline); m.Expiration <= 0 {
			return // the caller has timed out
		}
	}
	c.log.Debug("zmq: resending call a closing server did not take", "msg_id", pc.msgID, "from", from.addr)
	c.spawn(func() {
		ctx, cancel := c.ctx, context.CancelFunc(func() {})
		if !pc.deadline.IsZero() {
			ctx, cancel = context.WithDeadline(c.ctx, pc.deadline)
		}
		defer cancel()
		if err := c.sendTo(ctx, pc.key, kindCall, &m, from, pc.resends+1); err != nil && c.ctx.Err() == nil && ctx.Err() == nil {
			fail(err)
		}
	})
}

// die closes p's connection and fails the calls waiting on it with
// driver.ErrConnectionLost (unless the conn is closing or p retired).
func (p *peer) die(cause error) {
	c := p.c
	p.mu.Lock()
	if p.dead {
		p.mu.Unlock()
		return
	}
	p.dead = true
	close(p.done)
	pend := make([]*pendingCall, 0, len(p.pending))
	for _, pc := range p.pending {
		if !pc.sending {
			pend = append(pend, pc)
		}
	}
	p.pending = nil
	nc := p.nc
	p.mu.Unlock()
	p.w.fail(errConnClosed)
	if nc != nil {
		nc.Close()
	}
	c.removePeer(p)
	if c.closed.Load() {
		return
	}
	if !p.retired.Load() {
		c.quarantineAddr(p.addr)
		c.invalidate(p.addr)
		args := []any{"addr", p.addr, "calls_failed", len(pend), "error", cause}
		if len(pend) > 0 || !p.draining.Load() {
			c.lim.Warn(c.log, "conn-lost", "zmq: connection to server lost", args...)
		} else {
			c.log.Debug("zmq: connection to server lost", args...)
		}
	}
	for _, pc := range pend {
		c.onReply(driver.Reply{MsgID: pc.msgID, Err: p.lostError()})
	}
}

func (c *conn) removePeer(p *peer) {
	c.mu.Lock()
	if c.peers[p.addr] == p {
		delete(c.peers, p.addr)
	}
	delete(c.allPeers, p)
	c.mu.Unlock()
}

// answerCommand answers a ZMTP PING command (sent by libzmq peers with
// heartbeats enabled) with PONG; other commands are ignored.
func answerCommand(w *connWriter, frame []byte) {
	name, body, err := splitCommand(frame)
	if err != nil || name != zmq4.CmdPing || len(body) < 2 {
		return
	}
	ctx := body[2:] // TTL (2 bytes), then the context PONG echoes
	if len(ctx) > 16 {
		ctx = ctx[:16]
	}
	if buf, err := w.begin(); err == nil {
		cmd := append([]byte{byte(len(zmq4.CmdPong))}, zmq4.CmdPong...)
		cmd = append(cmd, ctx...)
		buf = append(buf, flagCommand, byte(len(cmd)))
		w.commit(append(buf, cmd...))
	}
}

// contentType returns b as a string, without allocating for the usual
// values.
func contentType(b []byte) string {
	switch string(b) {
	case "":
		return ""
	case "application/json":
		return "application/json"
	case "application/msgpack":
		return "application/msgpack"
	case "application/x-msgpack":
		return "application/x-msgpack"
	}
	return string(b)
}
