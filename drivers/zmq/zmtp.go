package zmq

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/go-zeromq/zmq4"
)

// ZMTP 3 framing (https://rfc.zeromq.org/spec/23/). go-zeromq/zmq4 does the
// connection handshake (greeting, NULL mechanism READY exchange, socket
// type check); this file reads and writes the message frames that follow,
// with a size limit and write coalescing (see the package doc for why the
// driver does not use zmq4's socket layer).

const (
	flagMore    = 0x01
	flagLong    = 0x02
	flagCommand = 0x04

	// maxFrames bounds the frames of one message; valid driver messages
	// have at most maxFrameLen.
	maxFrames = 16
	// maxHandshake bounds the READY command read during the handshake.
	maxHandshake = 64 << 10
	// maxSpare is the largest write buffer kept for reuse.
	maxSpare = 256 << 10
	// readBufferSize is the size of a connection's read buffer.
	readBufferSize = 32 << 10
)

// errTooLarge reports a message over the max_message_size limit.
var errTooLarge = errors.New("zmq: message too large")

func appendZMTPFrame(dst, b []byte, more bool) []byte {
	var fl byte
	if more {
		fl = flagMore
	}
	if len(b) > 255 {
		dst = append(dst, fl|flagLong)
		dst = binary.BigEndian.AppendUint64(dst, uint64(len(b)))
	} else {
		dst = append(dst, fl, byte(len(b)))
	}
	return append(dst, b...)
}

func appendZMTPString(dst []byte, s string, more bool) []byte {
	var fl byte
	if more {
		fl = flagMore
	}
	if len(s) > 255 {
		dst = append(dst, fl|flagLong)
		dst = binary.BigEndian.AppendUint64(dst, uint64(len(s)))
	} else {
		dst = append(dst, fl, byte(len(s)))
	}
	return append(dst, s...)
}

// frameReader reads ZMTP messages from a buffered connection.
type frameReader struct {
	r       *bufio.Reader
	max     int // bound on the bytes of one message
	scratch []byte
	frames  [][]byte
}

func newFrameReader(r *bufio.Reader, max int) *frameReader {
	return &frameReader{r: r, max: max}
}

// next reads one message. The last frame is freshly allocated and may be
// kept; the others are valid until the next call. cmd reports a ZMTP
// command (one frame: name length, name, body).
func (fr *frameReader) next() (frames [][]byte, cmd bool, err error) {
	if cap(fr.scratch) > maxSpare {
		fr.scratch = nil
	}
	fr.scratch = fr.scratch[:0]
	fr.frames = fr.frames[:0]
	total := 0
	for {
		fl, err := fr.r.ReadByte()
		if err != nil {
			return nil, false, err
		}
		if fl&^(flagMore|flagLong|flagCommand) != 0 {
			return nil, false, fmt.Errorf("%w: reserved ZMTP flag bits set (%#x)", errBadFrame, fl)
		}
		var size uint64
		if fl&flagLong != 0 {
			var b [8]byte
			if _, err := io.ReadFull(fr.r, b[:]); err != nil {
				return nil, false, unexpectedEOF(err)
			}
			size = binary.BigEndian.Uint64(b[:])
		} else {
			b, err := fr.r.ReadByte()
			if err != nil {
				return nil, false, unexpectedEOF(err)
			}
			size = uint64(b)
		}
		if size > uint64(fr.max-total) {
			return nil, false, fmt.Errorf("%w: more than %d bytes", errTooLarge, fr.max)
		}
		n := int(size)
		total += n
		command := fl&flagCommand != 0
		if command && (fl&flagMore != 0 || len(fr.frames) > 0) {
			return nil, false, fmt.Errorf("%w: ZMTP command in a multipart message", errBadFrame)
		}
		if fl&flagMore == 0 {
			last := make([]byte, n)
			if _, err := io.ReadFull(fr.r, last); err != nil {
				return nil, false, unexpectedEOF(err)
			}
			fr.frames = append(fr.frames, last)
			return fr.frames, command, nil
		}
		if len(fr.frames) == maxFrames-1 {
			return nil, false, fmt.Errorf("%w: more than %d frames", errBadFrame, maxFrames)
		}
		start := len(fr.scratch)
		if cap(fr.scratch)-start < n {
			grown := make([]byte, start, max(2*cap(fr.scratch), start+n, 512))
			copy(grown, fr.scratch)
			fr.scratch = grown
		}
		fr.scratch = fr.scratch[:start+n]
		if _, err := io.ReadFull(fr.r, fr.scratch[start:]); err != nil {
			return nil, false, unexpectedEOF(err)
		}
		fr.frames = append(fr.frames, fr.scratch[start:start+n:start+n])
	}
}

func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// connWriter writes messages to a connection without holding a lock
// during I/O: a sender appends its message to the pending buffer under the
// lock, and one goroutine at a time writes the buffer (and whatever other
// senders append meanwhile) with the lock released. Concurrent senders'
// messages thus go out in one write. With a background flusher (see
// flushLoop) every sender leaves the write to it: commitLater returns at
// once (casts, replies), commitWait waits until the message is written
// (calls); a sender that finds a write under way or scheduled only
// appends. The flusher runs once the senders have yielded, so a burst of
// messages from many goroutines costs one write rather than one each.
// Without one, the sender that finds no write in progress writes itself.
//
// Backpressure: when the peer reads slower than we write (a server whose
// inbox is full stops reading), requests wait in beginRoom while limit
// bytes are queued and not yet written, and a write that times out while
// the peer shows it is alive (see alive) goes on in the background
// flusher instead of failing the connection.
type connWriter struct {
	nc      net.Conn
	timeout time.Duration // write deadline of one write; 0: none
	onError func(error)   // called once, outside the lock, when a write fails
	kick    chan struct{} // wakes flushLoop; nil: no background flusher
	// alive, when set, reports whether the peer is alive although a write
	// timed out: the background flusher then keeps writing.
	alive func() bool
	limit int // bytes queued and not written that make beginRoom wait; 0: none

	mu        sync.Mutex
	buf       []byte
	spare     []byte
	flushing  bool
	scheduled bool          // flushLoop has been kicked
	queued    int64         // bytes ever appended to buf
	written   int64         // bytes ever written
	progress  chan struct{} // closed when written grows or err is set; nil: nobody waits
	err       error
}

// begin locks the writer and returns the pending buffer to append to; the
// caller must call commit, commitWait or commitLater next.
func (w *connWriter) begin() ([]byte, error) {
	w.mu.Lock()
	if w.err != nil {
		err := w.err
		w.mu.Unlock()
		return nil, err
	}
	return w.buf, nil
}

// hasRoom reports whether a message of n bytes can be queued without
// waiting (a failed writer has room: its error is reported at once).
func (w *connWriter) hasRoom(n int) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err != nil || w.roomFor(n)
}

// roomChan returns nil when a message of n bytes can be queued now (see
// hasRoom), or else a channel closed at the next write or failure.
func (w *connWriter) roomChan(n int) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil || w.roomFor(n) {
		return nil
	}
	if w.progress == nil {
		w.progress = make(chan struct{})
	}
	return w.progress
}

// roomFor is hasRoom with w.mu held.
func (w *connWriter) roomFor(n int) bool {
	backlog := w.queued - w.written
	return w.limit <= 0 || backlog == 0 || backlog+int64(n) <= int64(w.limit)
}

// beginRoom is begin for a message of n bytes that first waits, within
// ctx, until the bytes queued and not written leave room for it.
func (w *connWriter) beginRoom(ctx context.Context, n int) ([]byte, error) {
	w.mu.Lock()
	for w.err == nil && !w.roomFor(n) {
		if err := w.waitProgress(ctx); err != nil {
			return nil, err
		}
	}
	if w.err != nil {
		err := w.err
		w.mu.Unlock()
		return nil, err
	}
	return w.buf, nil
}

// waitProgress waits for the next write or failure, with w.mu held and
// held again when it returns nil; when ctx ends first it returns an error
// wrapping ctx's, with w.mu released.
func (w *connWriter) waitProgress(ctx context.Context) error {
	if w.progress == nil {
		w.progress = make(chan struct{})
	}
	ch := w.progress
	w.mu.Unlock()
	select {
	case <-ch:
		w.mu.Lock()
		return nil
	case <-ctx.Done():
		w.mu.Lock()
		backlog := w.queued - w.written
		w.mu.Unlock()
		return fmt.Errorf("waiting for the server to read %d bytes queued on the connection (it is busy): %w", backlog, ctx.Err())
	}
}

// advanced wakes the waiters for progress; w.mu is held.
func (w *connWriter) advanced() {
	if w.progress != nil {
		close(w.progress)
		w.progress = nil
	}
}

// store makes buf, appended to since begin, the pending buffer; w.mu is
// held.
func (w *connWriter) store(buf []byte) {
	w.queued += int64(len(buf) - len(w.buf))
	w.buf = buf
}

// commit stores the appended buffer, writes it unless another sender is
// writing, and unlocks. It returns an error only when the write that
// carried the caller's message failed; a failure of a later write (of
// other senders' messages) is reported to onError alone.
func (w *connWriter) commit(buf []byte) error {
	w.store(buf)
	if w.flushing {
		w.mu.Unlock()
		return nil
	}
	return w.flush(time.Time{})
}

// commitWait stores the appended buffer, unlocks, and returns once the
// caller's message is written, or its write failed, or ctx ended (the
// message may then still be written later). The background flusher writes
// it, together with what other senders append until it runs; without one
// the caller writes the buffer itself when no write is in progress, within
// ctx's deadline.
// maxYields is how many times commitWait lets the background flusher run
// before it waits for the write on ctx.
const maxYields = 3

func (w *connWriter) commitWait(ctx context.Context, buf []byte) error {
	w.store(buf)
	end := w.queued
	switch {
	case w.flushing || w.scheduled:
	case w.kick != nil:
		w.schedule()
		w.mu.Lock()
	default:
		dl, _ := ctx.Deadline()
		if err := w.flush(dl); err != nil {
			return err
		}
		w.mu.Lock()
	}
	// A write under way when the writer fails (fail, from the read side)
	// may carry the message: wait for its outcome, so that a message the
	// peer got is not reported unsent. The flusher, just woken, usually
	// writes within a yield or two: waiting on ctx only after them spares
	// the caller's ctx its Done channel (and a lazy ctx its timer).
	for yields := 0; w.written < end && (w.err == nil || w.flushing); yields++ {
		if yields < maxYields {
			w.mu.Unlock()
			runtime.Gosched()
			w.mu.Lock()
			continue
		}
		if err := w.waitProgress(ctx); err != nil {
			return err
		}
	}
	err := w.err
	if w.written >= end {
		err = nil
	}
	w.mu.Unlock()
	return err
}

// commitLater stores the appended buffer and unlocks; the background
// flusher (or a sender's commit) writes it.
func (w *connWriter) commitLater(buf []byte) {
	if w.kick == nil {
		w.commit(buf)
		return
	}
	w.store(buf)
	if w.flushing || w.scheduled {
		w.mu.Unlock()
		return
	}
	w.schedule()
}

// schedule kicks the background flusher and unlocks w.mu.
func (w *connWriter) schedule() {
	w.scheduled = true
	w.mu.Unlock()
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// flushLoop is the background flusher; it returns when done is closed.
func (w *connWriter) flushLoop(done <-chan struct{}) {
	for {
		select {
		case <-w.kick:
		case <-done:
			return
		}
		w.mu.Lock()
		w.scheduled = false
		if w.flushing || w.err != nil || len(w.buf) == 0 {
			w.mu.Unlock()
			continue
		}
		w.flush(time.Time{})
	}
}

// flush writes the pending buffer until it stays empty; called locked,
// returns unlocked. A write that times out goes on while the peer is alive
// (see writeOut).
func (w *connWriter) flush(deadline time.Time) error {
	w.flushing = true
	var mine, failed error
	for first := true; len(w.buf) > 0 && w.err == nil; first = false {
		out := w.buf
		w.buf, w.spare = w.spare[:0], nil
		w.mu.Unlock()
		rest, err := w.writeOut(out, deadline)
		w.mu.Lock()
		w.written += int64(len(out) - len(rest))
		w.advanced()
		if err != nil {
			w.err, w.buf, failed = err, nil, err
			if first {
				mine = err
			}
		}
		if cap(out) <= maxSpare {
			w.spare = out[:0]
		}
	}
	w.flushing = false
	w.mu.Unlock()
	if failed != nil && w.onError != nil {
		w.onError(failed)
	}
	return mine
}

// writeOut writes b, each write bounded by the write timeout (and by
// deadline, when set). It returns what is left unwritten on an error; a
// write that times out is retried while alive reports true and deadline
// has not passed.
func (w *connWriter) writeOut(b []byte, deadline time.Time) ([]byte, error) {
	for {
		if w.timeout > 0 || !deadline.IsZero() {
			dl := time.Now().Add(w.timeout)
			if w.timeout <= 0 || !deadline.IsZero() && deadline.Before(dl) {
				dl = deadline
			}
			w.nc.SetWriteDeadline(dl)
		}
		n, err := w.nc.Write(b)
		b = b[n:]
		if err == nil || len(b) == 0 {
			return b, nil
		}
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			return b, err
		}
		if w.alive == nil || !w.alive() || !deadline.IsZero() && !time.Now().Before(deadline) {
			return b, err
		}
	}
}

// drain returns once every message queued so far is written, or the
// writer failed, or ctx ended. It writes them itself unless a write is
// under way (the background flusher's, or a sender's), whose progress it
// then waits for; its own writes end at ctx's deadline, which fails the
// writer. Close uses it so that casts and replies left to the background
// flusher are not dropped with the connection.
func (w *connWriter) drain(ctx context.Context) error {
	w.mu.Lock()
	end := w.queued
	for w.written < end && w.err == nil {
		if w.flushing {
			if err := w.waitProgress(ctx); err != nil {
				return err
			}
			continue
		}
		dl, _ := ctx.Deadline()
		w.flush(dl) // a failure is in w.err
		w.mu.Lock()
	}
	err := w.err
	if w.written >= end {
		err = nil
	}
	w.mu.Unlock()
	return err
}

// write appends and writes one encoded message.
func (w *connWriter) write(msg []byte) error {
	buf, err := w.begin()
	if err != nil {
		return err
	}
	return w.commit(append(buf, msg...))
}

// fail makes later writes fail with err.
func (w *connWriter) fail(err error) {
	w.mu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.buf = nil
	w.advanced()
	w.mu.Unlock()
}

// handshakeConn routes zmq4's handshake reads through the connection's
// buffered reader, so that bytes read ahead stay available to the frame
// reader.
type handshakeConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *handshakeConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// nullMechanism is ZMTP's NULL security mechanism (zmq4 keeps its own
// unexported). It reads the peer's READY command with a bounded reader,
// which zmq4's does not.
type nullMechanism struct{ r *bufio.Reader }

func (nullMechanism) Type() zmq4.SecurityType { return zmq4.NullSecurity }

func (m nullMechanism) Handshake(conn *zmq4.Conn, _ bool) error {
	raw, err := conn.Meta.MarshalZMTP()
	if err != nil {
		return err
	}
	if err := conn.SendCmd(zmq4.CmdReady, raw); err != nil {
		return err
	}
	frames, cmd, err := newFrameReader(m.r, maxHandshake).next()
	if err != nil {
		return err
	}
	if !cmd {
		return errors.New("zmq: expected the peer's READY command")
	}
	name, body, err := splitCommand(frames[0])
	if err != nil || name != zmq4.CmdReady {
		return fmt.Errorf("zmq: expected the peer's READY command, got %q", name)
	}
	return parseMetadata(body, conn.Peer.Meta)
}

func (nullMechanism) Encrypt(w io.Writer, data []byte) (int, error) { return w.Write(data) }
func (nullMechanism) Decrypt(w io.Writer, data []byte) (int, error) { return w.Write(data) }

// splitCommand splits a ZMTP command frame into name and body.
func splitCommand(b []byte) (name string, body []byte, err error) {
	if len(b) == 0 || int(b[0]) > len(b)-1 {
		return "", nil, fmt.Errorf("%w: bad ZMTP command", errBadFrame)
	}
	n := int(b[0])
	return string(b[1 : 1+n]), b[1+n:], nil
}

// parseMetadata parses ZMTP metadata properties into md.
func parseMetadata(p []byte, md zmq4.Metadata) error {
	for len(p) > 0 {
		n := int(p[0])
		p = p[1:]
		if n == 0 || len(p) < n+4 {
			return fmt.Errorf("%w: bad ZMTP metadata", errBadFrame)
		}
		name := string(p[:n])
		vlen := binary.BigEndian.Uint32(p[n:])
		p = p[n+4:]
		if uint64(vlen) > uint64(len(p)) {
			return fmt.Errorf("%w: bad ZMTP metadata", errBadFrame)
		}
		v := string(p[:vlen])
		p = p[vlen:]
		switch strings.ToLower(name) {
		case "socket-type":
			name = "Socket-Type"
		case "identity":
			name = "Identity"
		}
		md[name] = v
	}
	return nil
}

// handshake performs the ZMTP 3 handshake on nc as a socket of type typ
// (ROUTER for servers, DEALER for clients), within timeout. Reads go
// through br, which the connection's frame reader uses afterwards.
func handshake(nc net.Conn, br *bufio.Reader, typ zmq4.SocketType, id string, timeout time.Duration) (err error) {
	defer func() {
		if r := recover(); r != nil { // zmq4 parsing a hostile greeting
			err = fmt.Errorf("zmq: ZMTP handshake: %v", r)
		}
	}()
	if timeout > 0 {
		nc.SetDeadline(time.Now().Add(timeout))
		defer nc.SetDeadline(time.Time{})
	}
	_, err = zmq4.Open(&handshakeConn{Conn: nc, r: br}, nullMechanism{r: br}, typ, zmq4.SocketIdentity(id), typ == zmq4.Router, nil)
	if err != nil {
		return fmt.Errorf("zmq: ZMTP handshake with %s: %w", nc.RemoteAddr(), err)
	}
	return nil
}
