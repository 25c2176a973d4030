package rabbit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/oslo-go/messaging/internal/engine"
	"github.com/oslo-go/messaging/transport"
	"github.com/oslo-go/messaging/transport/driver"
)

// TestMissingReplyQueue checks the background retries of replies to a
// missing reply queue and the obsolete reply queue cache.
func TestMissingReplyQueue(t *testing.T) {
	needBroker(t)
	tr := openTransport(t, MissingConsumerRetryTimeout(600*time.Millisecond))
	c := engine.Of(tr).Driver().(*conn)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	gone := "reply_" + strings.Repeat("0", 32)
	m := &driver.Message{Body: []byte(`{}`), MsgID: "m1", ReplyTo: gone}
	// The reply goes to the background: the worker is free at once.
	start := time.Now()
	if err := c.reply(ctx, m, time.Time{}); err != nil {
		t.Fatalf("reply to a missing queue: %v", err)
	}
	if e := time.Since(start); e > time.Second {
		t.Fatalf("reply to a missing queue held the caller %v", e)
	}
	// After the retry timeout the queue is known to be gone: the next
	// reply is dropped at once.
	deadline := time.Now().Add(5 * time.Second)
	for !c.obsolete.contains(gone) {
		if time.Now().After(deadline) {
			t.Fatal("the retrier did not give up on the missing queue")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if e := time.Since(start); e < 500*time.Millisecond {
		t.Fatalf("gave up after %v, want about 0.6 s of retries", e)
	}
	start = time.Now()
	if err := c.reply(ctx, m, time.Time{}); !errors.Is(err, driver.ErrUndeliverable) || time.Since(start) > 50*time.Millisecond {
		t.Fatalf("second reply: %v after %v", err, time.Since(start))
	}
	// A queue that appears during the retries gets the reply.
	_, ch := rawChannel(t)
	late := "reply_" + strings.Repeat("1", 32)
	long := openTransport(t)
	if err := engine.Of(long).Driver().(*conn).reply(ctx, &driver.Message{Body: []byte(`{}`), MsgID: "m2", ReplyTo: late}, time.Time{}); err != nil {
		t.Fatalf("reply to a queue declared later: %v", err)
	}
	time.Sleep(300 * time.Millisecond)
	if _, err := ch.QueueDeclare(late, false, true, false, false, nil); err != nil {
		t.Fatal(err)
	}
	defer ch.QueueDelete(late, false, false, false)
	deadline = time.Now().Add(5 * time.Second)
	for {
		qi, err := ch.QueueDeclarePassive(late, false, true, false, false, nil)
		if err != nil {
			t.Fatal(err)
		}
		if qi.Messages == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("late queue: %+v, want the retried reply", qi)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestObsoleteCache(t *testing.T) {
	o := newObsoleteCache(3, 50*time.Millisecond)
	for _, q := range []string{"a", "b", "c", "d"} {
		o.add(q)
	}
	if o.contains("a") || !o.contains("b") || !o.contains("d") {
		t.Fatal("oldest entry not evicted")
	}
	time.Sleep(60 * time.Millisecond)
	if o.contains("b") {
		t.Fatal("entry did not expire")
	}
	for i := range 1000 {
		o.add(string(rune('a' + i%7)))
	}
	if len(o.expires) > 3 || len(o.order) > 6 {
		t.Fatalf("cache grew: %d entries, %d in order", len(o.expires), len(o.order))
	}
}

// TestReplyRetrierBounded: the retrier holds at most maxPendingReplies
// replies; the next one to a missing queue is dropped when its return
// comes, with a warning. Reply does not wait for the confirm, so it
// returns nil for all of them.
func TestReplyRetrierBounded(t *testing.T) {
	needBroker(t)
	log, logs := recordLogs(t)
	tr := openTransport(t, transport.WithLogger(log))
	c := engine.Of(tr).Driver().(*conn)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	for i := range maxPendingReplies {
		m := &driver.Message{Body: []byte(`{}`), MsgID: fmt.Sprint(i), ReplyTo: fmt.Sprintf("reply_gone_%d", i)}
		if err := c.reply(ctx, m, time.Now().Add(time.Minute)); err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
	}
	pending := func() int {
		c.retrier.mu.Lock()
		defer c.retrier.mu.Unlock()
		return len(c.retrier.pending)
	}
	for pending() < maxPendingReplies {
		if ctx.Err() != nil {
			t.Fatalf("the retrier holds %d replies, want %d", pending(), maxPendingReplies)
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("%d replies to missing queues handed to the retrier in %v", maxPendingReplies, time.Since(start).Round(time.Millisecond))
	m := &driver.Message{Body: []byte(`{}`), MsgID: "over", ReplyTo: "reply_gone_over"}
	if err := c.reply(ctx, m, time.Time{}); err != nil {
		t.Fatalf("reply with the retrier full: %v", err)
	}
	for len(logs.matching("level=WARN", "too many replies are being retried")) == 0 && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	if n := pending(); n > maxPendingReplies {
		t.Fatalf("the retrier holds %d replies, more than %d", n, maxPendingReplies)
	}
	if len(logs.matching("level=WARN", "too many replies are being retried")) != 1 {
		t.Fatal("no warning for the dropped reply")
	}
}
