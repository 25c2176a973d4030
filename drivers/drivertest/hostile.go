package drivertest

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oslo-go/messaging/client"
	"github.com/oslo-go/messaging/internal/engine"
	"github.com/oslo-go/messaging/internal/ids"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
	"github.com/oslo-go/messaging/transport/driver"
)

// The hostile-input subtests put messages on the broker that no good
// client sends, through the driver (as an attacker with access to the
// broker could), and check that the server keeps serving good calls
// promptly, with memory bounded.

// Attack is a driver-specific hostile input (a compression bomb, a forged
// header): Send puts it on the broker for the server target tg (exchange
// resolved), using the broker's own client. The suite then checks that the
// server keeps serving and that the process's heap stays bounded.
type Attack struct {
	Name string
	Send func(t *testing.T, tg target.Target)
}

// envelope wraps a message dict as oslo's 2.0 envelope.
func envelope(inner string) string {
	q := strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(inner)
	return `{"oslo.version": "2.0", "oslo.message": "` + q + `"}`
}

// hostileBodies are request bodies that must be dropped (logged) or
// answered with a failure, never crash or stall a server.
func hostileBodies() []struct{ name, body, contentType string } {
	deep := strings.Repeat("[", 100_000) + strings.Repeat("]", 100_000)
	deepObj := strings.Repeat(`{"a":`, 100_000) + "1" + strings.Repeat("}", 100_000)
	call := func(extra string) string {
		return envelope(`{"method": "echo", "args": {"text": "x"}, "_unique_id": "` + ids.Hex() + `"` + extra + `}`)
	}
	return []struct{ name, body, contentType string }{
		{"empty", "", ""},
		{"garbage", "\x00\xffgarbage{", ""},
		{"json array", `[1, 2, 3]`, ""},
		{"json string", `"hello"`, ""},
		{"json object without method", `{"foo": 1}`, ""},
		{"envelope version 9.9", `{"oslo.version": "9.9", "oslo.message": "{}"}`, ""},
		{"envelope version number", `{"oslo.version": 2.0, "oslo.message": "{}"}`, ""},
		{"oslo.message an object", `{"oslo.version": "2.0", "oslo.message": {"method": "echo"}}`, ""},
		{"oslo.message invalid JSON", envelope(`{"method": "echo", `), ""},
		{"method a number", envelope(`{"method": 5, "args": {}}`), ""},
		{"method null", envelope(`{"method": null, "args": {}}`), ""},
		{"args an array", envelope(`{"method": "echo", "args": [1]}`), ""},
		{"args a string", envelope(`{"method": "echo", "args": "x"}`), ""},
		{"args wrong types", call(`, "args": {"text": 5, "n": "x"}`), ""},
		{"unknown method", envelope(`{"method": "no_such_method", "args": {}}`), ""},
		{"_msg_id a number", call(`, "_msg_id": 7, "_reply_q": "reply_x"`), ""},
		{"_timeout huge", call(`, "_timeout": 1e400`), ""},
		{"_timeout negative", call(`, "_timeout": -5`), ""},
		{"deep array args", envelope(`{"method": "echo", "args": {"extra": {"a": ` + deep + `}}}`), ""},
		{"deep object context", envelope(`{"method": "echo", "args": {}, "_context_x": ` + deepObj + `}`), ""},
		{"deep top level", deep, ""},
		{"NaN and huge numbers", envelope(`{"method": "echo", "args": {"n": NaN, "extra": {"big": 123456789012345678901234567890, "inf": -Infinity}}}`), ""},
		{"invalid UTF-8", envelope("{\"method\": \"ech\xffo\", \"args\": {\"text\": \"\xfe\"}}"), ""},
		{"unknown content type", `{}`, "application/x-unknown"},
		{"msgpack garbage", "\xc1\xc1\xc1", "application/x-msgpack"},
	}
}

// testHostileRequests sends every hostile body to a server, as casts and
// as calls with a real reply address, then checks good calls are served.
func (s *suite) testHostileRequests(t *testing.T) {
	tr, str, inj := s.open(t), s.open(t), s.open(t)
	tg := target.Target{Topic: topic(t), Server: "s1"}
	s.startServer(t, str, tg, []any{newEcho("s1")})
	c := newClient(t, tr, target.Target{Topic: tg.Topic}, client.Timeout(s.d(10*time.Second)))
	s.mustServe(t, c, "before")

	e := engine.Of(inj)
	rtg := e.ResolveTarget(target.Target{Topic: tg.Topic})
	ctx := s.ctx(t, 60*time.Second)
	replyTo, err := e.Driver().ReplyAddress(ctx)
	if err != nil {
		t.Fatal(err)
	}
	peak := watchHeap(t)
	for _, hb := range hostileBodies() {
		for _, asCall := range []bool{false, true} {
			m := &driver.Message{Body: []byte(hb.body), ContentType: hb.contentType}
			if asCall {
				m.MsgID, m.ReplyTo, m.Expiration = ids.Hex(), replyTo, s.d(10*time.Second)
			}
			if err := e.Driver().Send(ctx, rtg, m); err != nil {
				// A driver that cannot even send it (one that transcodes
				// the body, as amqp1) keeps it off the broker; its own
				// Attacks inject such bodies raw.
				t.Logf("%s: the driver refuses to send it: %v", hb.name, err)
			}
		}
	}
	s.mustServe(t, c, "after the hostile bodies")
	if grew := peak(); grew > 256<<20 {
		t.Errorf("the heap grew by %d MiB during the hostile bodies", grew>>20)
	}
}

// testBogusReplyAddresses sends 64 calls whose reply addresses do not
// exist; the server must go on serving good calls at once.
func (s *suite) testBogusReplyAddresses(t *testing.T) {
	tr, str, inj := s.open(t), s.open(t), s.open(t)
	tg := target.Target{Topic: topic(t), Server: "s1"}
	s.startServer(t, str, tg, []any{newEcho("s1")})
	c := newClient(t, tr, target.Target{Topic: tg.Topic}, client.Timeout(s.d(10*time.Second)))
	s.mustServe(t, c, "before")
	e := engine.Of(inj)
	rtg := e.ResolveTarget(target.Target{Topic: tg.Topic})
	ctx := s.ctx(t, 30*time.Second)
	for i := range 64 {
		id := ids.Hex()
		body := envelope(`{"method": "echo", "args": {"text": "` + strings.Repeat("x", 200) + `"}, "_msg_id": "` + id +
			`", "_reply_q": "reply_gone_` + ids.Hex() + `", "_timeout": null, "_unique_id": "` + ids.Hex() + `"}`)
		m := &driver.Message{Body: []byte(body), MsgID: id, ReplyTo: fmt.Sprintf("reply_gone_%d_%s", i, ids.Hex()), Expiration: time.Minute}
		if err := e.Driver().Send(ctx, rtg, m); err != nil {
			t.Logf("send %d: the driver refuses a call with a foreign reply address: %v", i, err)
			break
		}
	}
	// Good calls keep being answered while the undeliverable replies are
	// dealt with: each within a few seconds, not after a reply timeout.
	for i := range 5 {
		start := time.Now()
		s.mustServe(t, c, fmt.Sprintf("good call %d after 64 bogus reply addresses", i))
		if el := time.Since(start); el > s.d(3*time.Second) {
			t.Fatalf("good call %d took %v after 64 bogus reply addresses", i, el)
		}
	}
}

// testOversize sends a call and a cast over the driver's maximum message
// size: each must fail at once with ErrMessageTooLarge.
func (s *suite) testOversize(t *testing.T) {
	if s.cfg.MaxMessageSize <= 0 {
		t.Skip("the driver has no maximum message size (Config.MaxMessageSize)")
	}
	tr, str := s.open(t), s.open(t)
	tg := target.Target{Topic: topic(t), Server: "s1"}
	s.startServer(t, str, tg, []any{newEcho("s1")})
	c := newClient(t, tr, target.Target{Topic: tg.Topic}, client.Timeout(s.d(60*time.Second)))
	big := EchoArgs{Text: strings.Repeat("x", s.cfg.MaxMessageSize+1)}
	for _, op := range []string{"call", "cast"} {
		start := time.Now()
		var err error
		if op == "call" {
			err = c.Call(s.ctx(t, 60*time.Second), "echo", big, nil)
		} else {
			err = c.Cast(s.ctx(t, 60*time.Second), "record", big)
		}
		if !errors.Is(err, transport.ErrMessageTooLarge) {
			t.Errorf("oversize %s: %v, want ErrMessageTooLarge", op, err)
		}
		if el := time.Since(start); el > s.d(10*time.Second) {
			t.Errorf("oversize %s took %v", op, el)
		}
	}
	s.mustServe(t, c, "after the oversize messages")
}

// testAttacks runs the driver's own attacks.
func (s *suite) testAttacks(t *testing.T) {
	for _, a := range s.cfg.Attacks {
		t.Run(a.Name, func(t *testing.T) {
			tr, str := s.open(t), s.open(t)
			tg := target.Target{Topic: topic(t), Server: "s1"}
			s.startServer(t, str, tg, []any{newEcho("s1")})
			c := newClient(t, tr, target.Target{Topic: tg.Topic}, client.Timeout(s.d(10*time.Second)))
			s.mustServe(t, c, "before")
			peak := watchHeap(t)
			a.Send(t, engine.Of(tr).ResolveTarget(target.Target{Topic: tg.Topic}))
			for i := range 3 {
				start := time.Now()
				s.mustServe(t, c, fmt.Sprintf("good call %d after the attack", i))
				if el := time.Since(start); el > s.d(3*time.Second) {
					t.Errorf("good call %d took %v after the attack", i, el)
				}
			}
			limit := int64(512 << 20)
			if s.cfg.MemoryLimit > 0 {
				limit = s.cfg.MemoryLimit
			}
			if grew := peak(); grew > limit {
				t.Errorf("the heap grew by %d MiB during the attack (limit %d MiB)", grew>>20, limit>>20)
			}
		})
	}
}

// mustServe makes a good call and fails the test if it does not succeed.
func (s *suite) mustServe(t *testing.T, c *client.Client, when string) {
	t.Helper()
	got, err := client.Call[EchoResult](s.ctx(t, 15*time.Second), c, "echo", EchoArgs{Text: "probe"})
	if err != nil || got.Text != "probe" {
		t.Fatalf("good call %s: %+v, %v", when, got, err)
	}
}

// watchHeap samples the heap until the test ends; the function it returns
// reports the largest growth above the heap in use at the start.
func watchHeap(t *testing.T) (peak func() int64) {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base := int64(ms.HeapAlloc)
	var max atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				if d := int64(ms.HeapAlloc) - base; d > max.Load() {
					max.Store(d)
				}
			}
		}
	}()
	var once sync.Once
	end := func() { once.Do(func() { close(stop); wg.Wait() }) }
	t.Cleanup(end)
	return func() int64 { end(); return max.Load() }
}
