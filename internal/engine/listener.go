package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/oslo-go/messaging/internal/wire"
	"github.com/oslo-go/messaging/serializer"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport/driver"
)

// Listener yields the RPC requests sent to one server target.
type Listener struct {
	e  *Engine
	dl driver.Listener
}

// Listen starts consuming the requests for tg: its topic (shared with the
// other servers of the topic), topic.server, and the topic's fanout. It
// returns once consuming.
func (e *Engine) Listen(ctx context.Context, tg target.Target, o driver.ListenOptions) (*Listener, error) {
	if e.closed.Load() {
		return nil, driver.ErrClosed
	}
	if err := tg.ValidateServer(); err != nil {
		return nil, err
	}
	dl, err := e.conn.Listen(ctx, e.ResolveTarget(tg), o)
	if err != nil {
		return nil, err
	}
	return &Listener{e: e, dl: dl}, nil
}

// Next returns the next request. Messages that do not decode are logged
// and dropped. It returns driver.ErrClosed after Close. Several goroutines may
// wait in Next at once; each message goes to one of them.
func (l *Listener) Next(ctx context.Context) (*Delivery, error) {
	for {
		in, err := l.dl.Next(ctx)
		if err != nil {
			return nil, err
		}
		m := in.Message()
		var received time.Time
		if m.Expiration > 0 {
			received = time.Now() // before decoding, which the caller's wait includes
		}
		codec, err := wire.CodecFor(m.ContentType, []serializer.Codec{l.e.codec})
		if err != nil {
			l.e.logger.Warn("transport: dropping request", "error", err, "size", len(m.Body))
			continue
		}
		d := newDelivery(m)
		d.e, d.in, d.codec = l.e, in, codec
		if err := wire.DecodeRequestInto(&d.IncomingRequest, m.Body, m.ContentType, codec); err != nil {
			l.e.logger.Warn("transport: dropping request that does not decode", "error", err, "size", len(m.Body))
			continue
		}
		if m.Expiration > 0 {
			d.Deadline = received.Add(m.Expiration)
		}
		return d, nil
	}
}

// Close stops consuming. It is idempotent.
func (l *Listener) Close() error { return l.dl.Close() }

// Delivery is one received request and the means to answer it.
type Delivery struct {
	wire.IncomingRequest
	// Deadline is when the caller stops waiting, from the request's
	// expiration; zero when unknown.
	Deadline time.Time

	e     *Engine
	in    driver.Incoming
	codec serializer.Codec // the request's: replies use it too
	// final is the message of the first final-reply send, allocated with
	// the Delivery of what looks like a call (callDelivery); heartbeats,
	// any later send (a driver may still hold a message it delivers) and
	// the replies of other requests get their own. Nil once used.
	final *driver.Message
}

// callDelivery is a Delivery with room for its final reply's message, so
// that a call costs one allocation for both and a cast the Delivery alone.
type callDelivery struct {
	Delivery
	msg driver.Message
}

// newDelivery allocates the Delivery of m: with room for a reply when m
// has an expiration or a reply address, as calls do on every driver.
func newDelivery(m *driver.Message) *Delivery {
	if m.Expiration <= 0 && m.ReplyTo == "" {
		return new(Delivery)
	}
	cd := new(callDelivery)
	cd.final = &cd.msg
	return &cd.Delivery
}

// Reply sends the final reply of a call: result, or err as an oslo failure
// (see transport.FailureOf). It does nothing for casts.
func (d *Delivery) Reply(ctx context.Context, result any, err error) error {
	if !d.IsCall() {
		return nil
	}
	var failure *wire.Failure
	if err != nil {
		failure = d.e.errs.FailureOf(err)
	}
	body, encErr := d.encoder().ReplyBody(d.MsgID, result, failure, true)
	if encErr != nil {
		// The result does not encode: tell the caller rather than leave it
		// waiting.
		body, encErr = d.encoder().ReplyBody(d.MsgID, nil, d.e.errs.FailureOf(encErr), true)
		if encErr != nil {
			return encErr
		}
	}
	sendErr := d.send(ctx, body, false)
	if errors.Is(sendErr, driver.ErrMessageTooLarge) && failure == nil {
		// The result is too large to send: tell the caller why rather
		// than leave it waiting for its timeout.
		body, encErr = d.encoder().ReplyBody(d.MsgID, nil, d.e.errs.FailureOf(sendErr), true)
		if encErr == nil && d.send(ctx, body, false) == nil {
			return fmt.Errorf("%w (a failure reply was sent instead)", sendErr)
		}
	}
	return sendErr
}

// Heartbeat sends a call-monitor heartbeat (a reply with ending false).
func (d *Delivery) Heartbeat(ctx context.Context) error {
	if !d.IsCall() {
		return nil
	}
	body, err := d.encoder().ReplyBody(d.MsgID, nil, nil, false)
	if err != nil {
		return err
	}
	return d.send(ctx, body, true)
}

// send sends body, and releases it once the driver has returned.
func (d *Delivery) send(ctx context.Context, body wire.Body, heartbeat bool) error {
	defer body.Release() // detached by e.body, it does nothing
	b := d.e.body(&body)
	var m *driver.Message
	if !heartbeat && d.final != nil {
		m, d.final = d.final, nil
		*m = wire.MessageOf(d.codec, b)
	} else {
		m = wire.NewMessage(d.codec, b)
	}
	m.MsgID, m.ReplyTo, m.Heartbeat = d.MsgID, d.ReplyTo, heartbeat
	return d.in.Reply(ctx, m)
}

// encoder encodes the replies: in the request's codec, in the layout of
// the engine's driver.
func (d *Delivery) encoder() wire.Encoder {
	return wire.Encoder{Codec: d.codec, Unwrapped: d.e.enc.Unwrapped}
}
