package zmq

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-zeromq/zmq4"

	"github.com/oslo-go/messaging/drivers/internal/inbox"
	"github.com/oslo-go/messaging/internal/backoff"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport/driver"
)

// Listen binds a ROUTER socket for t, registers it in the matchmaker under
// the topic and topic.server keys, and returns once both are done.
func (c *conn) Listen(ctx context.Context, t target.Target, o driver.ListenOptions) (driver.Listener, error) {
	if c.closed.Load() {
		return nil, driver.ErrClosed
	}
	ln, err := c.bind()
	if err != nil {
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	l := &listener{
		c:    c,
		t:    t,
		ln:   ln,
		addr: net.JoinHostPort(c.advertise, strconv.Itoa(port)),
		keys: []Key{{Topic: t.Topic}, {Topic: t.Topic, Server: t.Server}},
		inbox: inbox.New(inbox.Config[*incoming]{
			Limits: inbox.ForCapacity(o.Capacity, c.cfg.inboxMessages, c.cfg.inboxBytes),
			Size:   func(in *incoming) int { return len(in.msg.Body) + incomingOverhead },
		}),
		done:  make(chan struct{}),
		conns: map[*serverConn]struct{}{},
	}
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		ln.Close()
		return nil, driver.ErrClosed
	}
	c.listeners[l] = struct{}{}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		l.acceptLoop()
	}()
	c.mu.Unlock()
	// Registered means clients find the server: wait within ctx for the
	// matchmaker (Redis may not be reachable yet).
	if err := c.withMatchmaker(ctx, -1, func() error { return l.register(ctx) }); err != nil {
		l.Close()
		return nil, fmt.Errorf("zmq: listen on %s: %w", t.Topic, err)
	}
	if s, ok := c.mm.(*staticMatchmaker); ok {
		for _, k := range l.keys {
			if !s.lists(k, l.addr) {
				c.log.Warn("zmq: the static matchmaker does not list this server: clients will not find it", "key", k.String(), "addr", l.addr)
			}
		}
	}
	c.log.Debug("zmq: listening", "topic", t.Topic, "server", t.Server, "addr", l.addr)
	return l, nil
}

// bind listens on the bind address, on any free port or on a free port of
// the configured range.
func (c *conn) bind() (net.Listener, error) {
	host := c.cfg.bindAddress
	if c.cfg.minPort == 0 {
		ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return nil, fmt.Errorf("zmq: bind %s: %w", host, err)
		}
		return ln, nil
	}
	n := c.cfg.maxPort - c.cfg.minPort + 1
	start := rand.IntN(n)
	for i := range n {
		port := c.cfg.minPort + (start+i)%n
		ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err == nil {
			return ln, nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) && !errors.Is(err, syscall.EACCES) {
			return nil, fmt.Errorf("zmq: bind %s:%d: %w", host, port, err)
		}
	}
	return nil, fmt.Errorf("zmq: bind %s: no free port in %d-%d", host, c.cfg.minPort, c.cfg.maxPort)
}

// listener is one server's bound socket and the requests it received.
type listener struct {
	c    *conn
	t    target.Target
	ln   net.Listener
	addr string
	keys []Key

	inbox *inbox.Queue[*incoming] // requests waiting for Next

	// registering is held while the keys are registered and while Close
	// unregisters them, so that a refresh under way when Close begins
	// cannot register them again after Close removed them.
	registering sync.Mutex

	mu       sync.Mutex
	closed   bool
	closedAt int64 // unix nanoseconds
	done     chan struct{}
	conns    map[*serverConn]struct{}
}

// register adds (or refreshes) the listener's keys in the matchmaker.
func (l *listener) register(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, l.c.cfg.targetUpdate)
	defer cancel()
	l.registering.Lock()
	defer l.registering.Unlock()
	for _, k := range l.keys {
		if l.isClosed() {
			return nil
		}
		if err := l.c.mm.Register(ctx, k, l.addr, l.c.cfg.targetExpire); err != nil {
			return err
		}
	}
	return nil
}

func (l *listener) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

func (l *listener) closedSince() (bool, int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed, l.closedAt
}

func (l *listener) acceptLoop() {
	c := l.c
	retry := backoff.Exponential(5*time.Millisecond, time.Second)
	for {
		nc, err := l.ln.Accept()
		if err != nil {
			if l.isClosed() || c.closed.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			c.lim.Warn(c.log, "accept", "zmq: accepting connections", "addr", l.addr, "error", err)
			if !backoff.Sleep(context.Background(), retry.Next(), l.done) {
				return
			}
			continue
		}
		retry.Reset()
		sc := &serverConn{l: l, nc: nc, remote: nc.RemoteAddr().String()}
		sc.ctx, sc.cancel = context.WithCancel(context.Background())
		sc.w.nc, sc.w.timeout = nc, c.cfg.heartbeatTimeout
		sc.w.onError = func(error) { sc.close() }
		sc.lastRecv.Store(time.Now().UnixNano())
		if !l.addConn(sc) {
			sc.cancel()
			nc.Close()
			continue
		}
	}
}

// addConn registers sc and starts its goroutine, unless the conn is
// closing.
func (l *listener) addConn(sc *serverConn) bool {
	c := l.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return false
	}
	l.mu.Lock()
	l.conns[sc] = struct{}{}
	l.mu.Unlock()
	c.sconns[sc] = struct{}{}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		sc.run()
	}()
	return true
}

// incomingOverhead is what a queued request costs besides its body.
const incomingOverhead = 256

// push queues a request for Next, waiting while the inbox is full: the
// connection is not read meanwhile, so that its client's writes wait in
// turn (backpressure). It reports false once the listener or the
// connection is closed.
func (sc *serverConn) push(in *incoming) bool {
	l := sc.l
	if ok, err := l.inbox.Offer(in); ok || err != nil {
		return ok
	}
	sc.stalled.Store(true)
	err := l.inbox.Push(sc.ctx, in)
	sc.lastRecv.Store(time.Now().UnixNano())
	sc.stalled.Store(false)
	return err == nil
}

// Next returns the next request; requests whose caller has stopped waiting
// are dropped.
func (l *listener) Next(ctx context.Context) (driver.Incoming, error) {
	in, err := l.inbox.Next(ctx, l.unexpired)
	if err != nil {
		return nil, err
	}
	return in, nil
}

// unexpired reports whether the caller of in still waits, logging the
// requests it drops.
func (l *listener) unexpired(in *incoming) bool {
	if in.expires != 0 && time.Now().UnixNano() > in.expires {
		l.c.log.Debug("zmq: dropping expired request", "msg_id", in.msg.MsgID)
		return false
	}
	return true
}

// Close stops the listener: it unregisters from the matchmaker, closes the
// socket, tells the connected clients (BYE) and hands back the calls not
// yet taken by Next (REJECT), which the clients send to another server.
// Connections stay open for the replies of requests in progress; they close
// once those calls have expired, or at Conn.Close. Close is idempotent.
func (l *listener) Close() error {
	c := l.c
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.closedAt = time.Now().UnixNano()
	close(l.done)
	left := l.inbox.Close()
	conns := make([]*serverConn, 0, len(l.conns))
	for sc := range l.conns {
		conns = append(conns, sc)
	}
	l.mu.Unlock()

	l.ln.Close()
	c.mu.Lock()
	delete(c.listeners, l)
	c.mu.Unlock()
	l.registering.Lock() // after a refresh under way; later ones see closed
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.dialTimeout)
	for _, k := range l.keys {
		if err := c.mm.Unregister(ctx, k, l.addr); err != nil {
			c.lim.Warn(c.log, "unregister", "zmq: unregistering", "key", k.String(), "addr", l.addr, "error", err)
		}
	}
	cancel()
	l.registering.Unlock()
	for _, sc := range conns {
		sc.send(appendControl(nil, kindBye))
	}
	dropped := 0
	for _, in := range left {
		if in.call {
			in.sc.send(appendReject(nil, in.msg.MsgID, rejectClosing))
		} else {
			dropped++
		}
	}
	if dropped > 0 {
		c.log.Warn("zmq: listener closed with casts not yet handled; dropped", "casts", dropped, "topic", l.t.Topic)
	}
	c.log.Debug("zmq: listener closed", "topic", l.t.Topic, "server", l.t.Server, "addr", l.addr)
	return nil
}

// accepts reports whether a request routed for topic and server is for l
// (an address reused by another listener would not be).
func (l *listener) accepts(f *frame) bool {
	return string(f.topic) == l.t.Topic && (len(f.server) == 0 || string(f.server) == l.t.Server)
}

// maxExpiration caps the expiration of a received request.
const maxExpiration = 365 * 24 * time.Hour

// serverConn is one client connection accepted by a listener (the ROUTER
// side): requests come in, replies go back on it.
type serverConn struct {
	l      *listener
	nc     net.Conn
	remote string
	w      connWriter

	ctx    context.Context // ends when the connection closes
	cancel context.CancelFunc

	ready       atomic.Bool  // handshake done
	stalled     atomic.Bool  // not reading: waiting for room in the inbox
	lastRecv    atomic.Int64 // unix nanoseconds
	maxDeadline atomic.Int64 // latest expiry of a call received
	closeOnce   sync.Once
}

func (sc *serverConn) run() {
	c := sc.l.c
	defer sc.cleanup()
	br := bufio.NewReaderSize(sc.nc, readBufferSize)
	if err := handshake(sc.nc, br, zmq4.Router, c.id, c.cfg.dialTimeout); err != nil {
		c.log.Debug("zmq: client handshake failed", "remote", sc.remote, "error", err)
		return
	}
	sc.lastRecv.Store(time.Now().UnixNano())
	sc.w.kick = make(chan struct{}, 1)
	if !c.spawn(func() { sc.w.flushLoop(sc.ctx.Done()) }) {
		sc.w.kick = nil
	}
	sc.ready.Store(true)
	err := sc.readLoop(br)
	if c.closed.Load() {
		return
	}
	c.log.Debug("zmq: client connection ended", "remote", sc.remote, "error", err)
}

func (sc *serverConn) readLoop(br *bufio.Reader) error {
	l := sc.l
	c := l.c
	fr := newFrameReader(br, c.cfg.maxMessageSize)
	for {
		frames, cmd, err := fr.next()
		if err != nil {
			if errors.Is(err, errTooLarge) || errors.Is(err, errBadFrame) {
				c.lim.Warn(c.log, "bad-client", "zmq: closing client connection", "remote", sc.remote, "error", err)
			}
			return err
		}
		now := time.Now().UnixNano()
		sc.lastRecv.Store(now)
		if cmd {
			answerCommand(&sc.w, frames[0])
			continue
		}
		f, err := decodeFrames(frames)
		if err != nil {
			c.lim.Warn(c.log, "malformed-request", "zmq: dropping malformed message from client", "remote", sc.remote, "error", err)
			continue
		}
		switch f.kind {
		case kindCall, kindCast, kindFanout:
			call := f.kind == kindCall
			if !l.accepts(&f) {
				c.log.Debug("zmq: request for another target", "topic", string(f.topic), "server", string(f.server), "listening", l.t.Topic+"."+l.t.Server)
				if call {
					sc.send(appendReject(nil, string(f.msgID), rejectWrongTarget))
				}
				continue
			}
			in := &incoming{sc: sc, call: call}
			f.expiration = min(f.expiration, maxExpiration)
			in.msg = driver.Message{Body: f.body, ContentType: contentType(f.contentType), Expiration: f.expiration}
			if call {
				in.msg.MsgID = string(f.msgID)
			}
			if f.expiration > 0 {
				in.expires = now + int64(f.expiration)
			}
			if call {
				sc.noteDeadline(in.expires)
			}
			if !sc.push(in) {
				if call {
					sc.send(appendReject(nil, in.msg.MsgID, rejectClosing))
				} else {
					c.lim.Warn(c.log, "cast-after-close", "zmq: cast for a closed listener dropped", "topic", l.t.Topic)
				}
			}
		case kindPing:
			sc.send(appendControl(nil, kindPong))
		case kindPong:
		default:
			c.log.Debug("zmq: ignoring message from client", "remote", sc.remote, "kind", f.kind.String())
		}
	}
}

// noteDeadline records the expiry of a call received (0: none).
func (sc *serverConn) noteDeadline(expires int64) {
	if expires == 0 {
		expires = math.MaxInt64
	}
	for {
		cur := sc.maxDeadline.Load()
		if expires <= cur || sc.maxDeadline.CompareAndSwap(cur, expires) {
			return
		}
	}
}

// send writes an encoded message; a failed write closes the connection
// (onError).
func (sc *serverConn) send(msg []byte) error { return sc.w.write(msg) }

// keepalive queues an unsolicited PONG, written by the background flusher.
func (sc *serverConn) keepalive() {
	if buf, err := sc.w.begin(); err == nil {
		sc.w.commitLater(appendControl(buf, kindPong))
	}
}

func (sc *serverConn) close() {
	sc.closeOnce.Do(func() {
		sc.cancel()
		sc.w.fail(errConnClosed)
		sc.nc.Close()
	})
}

func (sc *serverConn) cleanup() {
	sc.close()
	c := sc.l.c
	c.mu.Lock()
	delete(c.sconns, sc)
	c.mu.Unlock()
	sc.l.mu.Lock()
	delete(sc.l.conns, sc)
	sc.l.mu.Unlock()
}

// incoming is one request received by a listener.
type incoming struct {
	sc      *serverConn
	msg     driver.Message
	call    bool
	expires int64 // unix nanoseconds; 0: none
}

func (in *incoming) Message() *driver.Message { return &in.msg }

// Reply sends m on the connection the call came in on. It fails with
// driver.ErrConnectionLost when that connection is gone (the caller died
// or gave up). The reply is written by the connection's background
// flusher, with the other replies queued meanwhile, so that a worker does
// not wait for the write; a write that fails closes the connection (the
// caller's calls then fail with driver.ErrConnectionLost).
func (in *incoming) Reply(_ context.Context, m *driver.Message) error {
	if !in.call {
		return nil
	}
	sc := in.sc
	if sc.l.c.closed.Load() {
		return driver.ErrClosed
	}
	msgID := m.MsgID
	if msgID == "" {
		msgID = in.msg.MsgID
	}
	if n := len(m.Body) + len(msgID) + len(m.ContentType) + frameOverhead; n > sc.l.c.cfg.maxMessageSize {
		// Tell the caller rather than leave it waiting for its timeout.
		sc.send(appendReject(nil, msgID, rejectTooLarge))
		return fmt.Errorf("zmq: reply of %d bytes to %s is over max_message_size (%d); the caller was told: %w", n, sc.remote, sc.l.c.cfg.maxMessageSize, driver.ErrMessageTooLarge)
	}
	buf, err := sc.w.begin()
	if err == nil {
		sc.w.commitLater(appendReply(buf, msgID, m.ContentType, m.Body, m.Heartbeat))
	}
	if err != nil {
		return fmt.Errorf("zmq: reply to %s: %v: %w", sc.remote, err, driver.ErrConnectionLost)
	}
	return nil
}

// Ack is a no-op: requests are taken at most once.
func (in *incoming) Ack() error { return nil }

// Requeue is a no-op: there is no broker to requeue to.
func (in *incoming) Requeue() error { return nil }
