package nats

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	natsgo "github.com/nats-io/nats.go"

	"github.com/oslo-go/messaging/transport/driver"
)

// After a reconnect every client subscribes again, each when its own
// reconnect succeeds: a caller back first finds "no responders" on targets
// whose servers are not back yet. So call requests sent while disconnected
// or within the reconnect grace after a reconnect are kept for a moment,
// and a "no responders" answer to one of them within the grace sends it
// again, with backoff, until a server takes it, its expiration passes or
// the grace ends (then the call fails with ErrNoServers, as it would have
// at once). Outside that window nothing is kept and calls to nobody fail at
// once.

const (
	// resendKeep is how long a request is kept after it was published:
	// "no responders" comes back within a round trip.
	resendKeep = 2 * time.Second
	// maxResendCalls and maxResendBytes bound what is kept; requests beyond
	// them are not resent.
	maxResendCalls = 4096
	maxResendBytes = 16 << 20
	// resendFirst and resendMax bound the pause before sending again.
	resendFirst = 25 * time.Millisecond
	resendMax   = 500 * time.Millisecond
)

// resendState holds the call requests sent around a reconnect, by message
// id.
type resendState struct {
	n     atomic.Int32 // len(calls), read without the lock by every reply
	mu    sync.Mutex
	calls map[string]*pendingCall
	bytes int
	sweep *time.Timer // armed while calls is not empty
}

type pendingCall struct {
	msg      natsgo.Msg
	deadline time.Time // the request's expiration; zero: none
	keep     time.Time // dropped after this unless sent again
	tries    int
}

// inGrace reports whether a call finding no server now may be sent again.
func (c *conn) inGrace(now time.Time) bool {
	g := c.cfg.reconnectGrace
	if g <= 0 {
		return false
	}
	if c.disconnected.Load() {
		return true
	}
	at := c.reconnectedAt.Load()
	return at != 0 && now.Sub(time.Unix(0, at)) < g
}

// track keeps a copy of the call request msg when it is sent within the
// reconnect grace; it reports whether it did.
func (s *resendState) track(c *conn, msgID string, msg *natsgo.Msg, expiration time.Duration) bool {
	// Outside any reconnect (the common case) no clock is read.
	if msgID == "" || c.cfg.reconnectGrace <= 0 || !c.disconnected.Load() && c.reconnectedAt.Load() == 0 {
		return false
	}
	now := time.Now()
	if !c.inGrace(now) {
		return false
	}
	p := &pendingCall{
		msg:  natsgo.Msg{Subject: msg.Subject, Reply: msg.Reply, Header: msg.Header, Data: bytes.Clone(msg.Data)},
		keep: now.Add(resendKeep),
	}
	if expiration > 0 {
		p.deadline = now.Add(expiration)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.calls) >= maxResendCalls || s.bytes+len(p.msg.Data) > maxResendBytes {
		return false
	}
	if s.calls == nil {
		s.calls = map[string]*pendingCall{}
	}
	if old := s.calls[msgID]; old != nil {
		s.bytes -= len(old.msg.Data)
	}
	s.calls[msgID] = p
	s.bytes += len(p.msg.Data)
	s.n.Store(int32(len(s.calls)))
	if s.sweep == nil {
		s.sweep = time.AfterFunc(resendKeep, s.expire)
	}
	return true
}

// forget drops the request of msgID: a server took it, or it was not sent.
func (s *resendState) forget(msgID string) {
	if s.n.Load() == 0 {
		return
	}
	s.mu.Lock()
	s.removeLocked(msgID)
	s.mu.Unlock()
}

func (s *resendState) removeLocked(msgID string) {
	if p := s.calls[msgID]; p != nil {
		s.bytes -= len(p.msg.Data)
		delete(s.calls, msgID)
		s.n.Store(int32(len(s.calls)))
	}
}

// expire drops the requests kept too long, and runs again while some are
// left.
func (s *resendState) expire() {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, p := range s.calls {
		if now.After(p.keep) {
			s.removeLocked(id)
		}
	}
	s.sweep = nil
	if len(s.calls) > 0 {
		s.sweep = time.AfterFunc(resendKeep/2, s.expire)
	}
}

func (s *resendState) clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sweep != nil {
		s.sweep.Stop()
		s.sweep = nil
	}
	s.calls, s.bytes = nil, 0
	s.n.Store(0)
}

// again handles "no responders" for the call msgID: when its request is
// kept and the reconnect grace lasts, it sends it again after a pause and
// reports true; otherwise the call fails (false).
func (s *resendState) again(c *conn, msgID string) bool {
	if s.n.Load() == 0 {
		return false
	}
	now := time.Now()
	s.mu.Lock()
	p := s.calls[msgID]
	if p == nil || !c.inGrace(now) || !p.deadline.IsZero() && now.After(p.deadline) {
		s.removeLocked(msgID)
		s.mu.Unlock()
		return false
	}
	pause := min(resendFirst<<min(p.tries, 8), resendMax)
	p.tries++
	p.keep = now.Add(pause + resendKeep)
	tries := p.tries
	s.mu.Unlock()
	c.warn.Log(c.log, slog.LevelInfo, "resend", "nats: a call found no server right after a reconnect; sending it again while its servers reconnect",
		"msg_id", msgID, "subject", p.msg.Subject, "tries", tries)
	return c.spawn(func() {
		t := time.NewTimer(pause)
		defer t.Stop()
		select {
		case <-t.C:
		case <-c.ctx.Done():
			return
		}
		s.mu.Lock()
		kept := s.calls[msgID] == p
		msg := p.msg
		s.mu.Unlock()
		if !kept {
			return
		}
		if !p.deadline.IsZero() {
			// The request's expiration is what is left of it.
			left := time.Until(p.deadline)
			i := strings.LastIndexByte(msg.Reply, '.')
			if left <= 0 || i < 0 {
				s.forget(msgID)
				return
			}
			msg.Reply = replySubject(msg.Reply[:i], msgID, left)
		}
		if err := c.nc.PublishMsg(&msg); err != nil {
			s.forget(msgID)
			c.onReply(driver.Reply{MsgID: msgID, Err: c.natsError("sending call "+msgID+" again", err)})
		}
	})
}
