package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"time"

	"github.com/oslo-go/messaging/drivers/fake"
	"github.com/oslo-go/messaging/drivers/nats"
	"github.com/oslo-go/messaging/drivers/rabbit"
	"github.com/oslo-go/messaging/internal/ids"
	"github.com/oslo-go/messaging/internal/wire"
	"github.com/oslo-go/messaging/serializer"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
	"github.com/oslo-go/messaging/transport/driver"
)

// fanoutDrivers are the drivers ping --all opens a connection of its own
// with, by URL driver name (package transport does not hand out its
// registered drivers). The ZeroMQ driver is not among them: its servers
// do not answer calls that come through the fanout.
var fanoutDrivers = map[string]driver.Driver{
	"rabbit": rabbit.Driver{}, "amqp": rabbit.Driver{}, "kombu": rabbit.Driver{},
	"nats": nats.Driver{}, "fake": fake.Driver{},
}

// pingAll sends one ping call to the topic's fanout and reports every
// answer that arrives within f.wait.
//
// The library's client refuses fanout calls, as oslo's does, so this
// goes one level down: a driver connection of its own, whose replies all
// come here rather than to a waiter that takes the first. The request is
// oslo's, with _msg_id and _reply_q; every server consumes the fanout and
// answers a call whatever queue it came from (Python oslo.messaging and
// this library alike).
func (f *pingFlags) pingAll(ctx context.Context, tr *transport.Transport, out *pingOutput, stderr io.Writer) error {
	u := *tr.URL()
	d, ok := fanoutDrivers[u.Driver()]
	if !ok {
		return fmt.Errorf("--all is not available for the driver %q (name the servers with --server)", u.Driver())
	}
	// The transport reads control_exchange; the driver refuses it.
	u.Query = maps.Clone(u.Query)
	delete(u.Query, "control_exchange")
	replies := make(chan driver.Reply, 256)
	conn, err := d.Open(ctx, &u, driver.Config{
		OnReply: func(r driver.Reply) {
			select {
			case replies <- r:
			default: // more answers than anyone reads: drop
			}
		},
		Logger: f.conn.logger(stderr).With(slog.String("command", "ping --all")),
	})
	if err != nil {
		return err
	}
	defer conn.Close()

	ctx, cancel := context.WithTimeout(ctx, f.wait)
	defer cancel()
	replyTo, err := conn.ReplyAddress(ctx)
	if err != nil {
		return &unreachableError{url: transport.RedactURL(&u), err: err}
	}
	exchange := f.exchange
	if exchange == "" {
		exchange = tr.ControlExchange()
	}
	msgID := ids.Hex()
	body, err := wire.EncodeRequest(serializer.JSON{}, &wire.Request{Method: pingMethod, Args: map[string]any{}},
		wire.Header{MsgID: msgID, ReplyTo: replyTo, UniqueID: ids.Hex()})
	if err != nil {
		return err
	}
	msg := wire.NewMessage(serializer.JSON{}, body)
	msg.MsgID, msg.ReplyTo, msg.Expiration, msg.Retry = msgID, replyTo, f.wait, 0
	t0 := time.Now()
	if err := conn.Send(ctx, target.Target{Exchange: exchange, Topic: f.topic, Fanout: true}, msg); err != nil {
		return fmt.Errorf("sending the ping to the fanout of %s: %w", f.topic, err)
	}
	var remote error
	answered := 0
	for {
		select {
		case r := <-replies:
			if r.Err != nil || r.Message == nil {
				continue // a driver's failure of calls in flight: the wait goes on
			}
			rep, err := wire.DecodeReply(r.Message.Body, r.Message.ContentType)
			if err != nil || rep.MsgID != msgID || rep.IsHeartbeat() {
				continue
			}
			var answerErr error
			if rep.Failure != nil {
				re := transport.RemoteError(*rep.Failure)
				answerErr = &re
				remote = answerErr
			}
			answered++
			out.answer(pingAnswer{Topic: f.topic}, time.Since(t0), answerErr)
		case <-ctx.Done():
			switch {
			case remote != nil:
				return remote
			case answered == 0:
				return fmt.Errorf("no server of %s answered within %v: %w", f.topic, f.wait, transport.ErrTimeout)
			case answered < f.expect:
				return fmt.Errorf("%d servers of %s answered within %v, expected %d: %w", answered, f.topic, f.wait, f.expect, transport.ErrTimeout)
			}
			return nil
		}
	}
}
