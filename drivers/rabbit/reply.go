package rabbit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/oslo-go/messaging/transport/driver"
)

// Replies whose reply queue does not exist are retried by a retrier in the
// background, as oslo retries them (every 0.25 s for
// kombu_missing_consumer_retry_timeout), so that no server worker waits
// for them: a caller's reply queue may be missing for a moment (the broker
// restarted and the caller has not declared it again yet) or for good (the
// caller is gone, or the request was forged).
const (
	// maxPendingReplies and maxPendingReplyBytes bound what the retrier
	// holds; a reply that does not fit is dropped.
	maxPendingReplies    = 256
	maxPendingReplyBytes = 64 << 20
	replyRetryInterval   = 250 * time.Millisecond
	// replyAttemptTimeout bounds one retry, so that a broker that does
	// not confirm does not hold the others up.
	replyAttemptTimeout = 2 * time.Second
)

type replyRetrier struct {
	c *conn

	mu      sync.Mutex
	pending []*pendingReply
	bytes   int
	running bool // the run goroutine is running
}

type pendingReply struct {
	pb    *publishing
	msgID string
	until time.Time // when to give up
	full  bool      // until is the whole retry timeout (not the caller's deadline)
	done  bool      // delivered or dropped; removed at the end of the round
}

func newReplyRetrier(c *conn) *replyRetrier { return &replyRetrier{c: c} }

// add queues pb for retries until until. It returns nil once queued, or
// an error wrapping ErrUndeliverable when the retrier is full.
func (r *replyRetrier) add(pb publishing, msgID string, until time.Time) error {
	n := len(pb.msg.Body)
	c := r.c
	r.mu.Lock()
	if len(r.pending) >= maxPendingReplies || r.bytes+n > maxPendingReplyBytes {
		held := len(r.pending)
		r.mu.Unlock()
		c.warnings.Warn(c.log, "reply retries full", "rabbit: reply queue does not exist and too many replies are being retried; reply dropped",
			"reply_q", pb.key, "msg_id", msgID, "retrying", held)
		return fmt.Errorf("rabbit: reply queue %s does not exist and %d replies are being retried already; reply dropped: %w",
			pb.key, held, driver.ErrUndeliverable)
	}
	r.pending = append(r.pending, &pendingReply{pb: &pb, msgID: msgID, until: until,
		full: !until.Before(time.Now().Add(c.o.missingConsumerRetry - time.Millisecond))})
	r.bytes += n
	start := !r.running
	r.running = true
	r.mu.Unlock()
	c.log.Debug("rabbit: reply queue does not exist; retrying the reply in the background", "reply_q", pb.key, "msg_id", msgID, "until", until)
	if start && !c.register(func() { c.wg.Add(1) }) {
		return driver.ErrClosed
	}
	if start {
		go r.run()
	}
	return nil
}

func (r *replyRetrier) run() {
	defer r.c.wg.Done()
	timer := time.NewTimer(replyRetryInterval)
	defer timer.Stop()
	for {
		select {
		case <-r.c.done:
			return
		case <-timer.C:
		}
		if !r.round() {
			return
		}
		timer.Reset(replyRetryInterval)
	}
}

// round tries each pending reply once. It returns false, with running
// cleared, when none is left.
func (r *replyRetrier) round() bool {
	c := r.c
	r.mu.Lock()
	due := append([]*pendingReply(nil), r.pending...)
	r.mu.Unlock()
	for _, p := range due {
		if c.closed.Load() {
			return true // run sees done
		}
		now := time.Now()
		switch {
		case c.obsolete.contains(p.pb.key):
			p.done = true
			c.log.Debug("rabbit: dropping reply to a reply queue that is gone", "reply_q", p.pb.key, "msg_id", p.msgID)
		case !now.Before(p.until):
			p.done = true
			if p.full {
				c.obsolete.add(p.pb.key)
			}
			c.warnings.Warn(c.log, "reply abandoned", "rabbit: reply queue does not exist; abandoning the reply",
				"reply_q", p.pb.key, "msg_id", p.msgID)
		default:
			err := r.attempt(p, now)
			switch {
			case err == nil:
				p.done = true
				c.log.Debug("rabbit: reply delivered after retries", "reply_q", p.pb.key, "msg_id", p.msgID)
			case errors.Is(err, driver.ErrUndeliverable):
				// Still no queue: next round.
			case errors.Is(err, driver.ErrMessageTooLarge), errors.Is(err, driver.ErrClosed):
				p.done = true
			default:
				// The connection is down or slow: the others wait for the
				// next round.
				c.log.Debug("rabbit: retrying a reply failed", "reply_q", p.pb.key, "msg_id", p.msgID, "error", err)
				return r.compact()
			}
		}
	}
	return r.compact()
}

func (r *replyRetrier) attempt(p *pendingReply, now time.Time) error {
	limit := now.Add(replyAttemptTimeout)
	if p.until.Before(limit) {
		limit = p.until
	}
	ctx, cancel := context.WithDeadline(r.c.ctx, limit)
	defer cancel()
	return r.c.pub.publish(ctx, 0, p.pb)
}

// compact removes the finished replies; it reports whether any is left,
// clearing running when none is.
func (r *replyRetrier) compact() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	kept := r.pending[:0]
	for _, p := range r.pending {
		if p.done {
			r.bytes -= len(p.pb.msg.Body)
			continue
		}
		kept = append(kept, p)
	}
	clear(r.pending[len(kept):])
	r.pending = kept
	if len(kept) == 0 {
		r.running = false
		return false
	}
	return true
}
