package engine

import (
	"context"
	"errors"

	"github.com/oslo-go/messaging/internal/ids"
	"github.com/oslo-go/messaging/internal/wire"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport/driver"
)

// notifier returns the driver's notification interface.
func (e *Engine) notifier() (driver.Notifier, error) {
	if e.closed.Load() {
		return nil, driver.ErrClosed
	}
	n, ok := e.conn.(driver.Notifier)
	if !ok {
		return nil, ErrNotificationsUnsupported
	}
	return n, nil
}

// Notify sends n to tg, whose Topic is "<topic>.<priority>" as oslo's
// messaging drivers address notifications. v2 wraps the dict in the 2.0
// envelope (oslo's messagingv2 driver); otherwise it is sent bare (the
// messaging driver, format 1.0).
func (e *Engine) Notify(ctx context.Context, tg target.Target, n *wire.Notification, v2 bool, o SendOptions) error {
	nt, err := e.notifier()
	if err != nil {
		return err
	}
	if err := tg.ValidateSend(); err != nil {
		return err
	}
	body, err := wire.EncodeNotification(e.codec, n, ids.Hex(), v2)
	if err != nil {
		return err
	}
	m := wire.NewMessage(e.codec, body)
	m.Retry = o.Retry
	tg = e.ResolveTarget(tg)
	if err := nt.Notify(ctx, tg, m); err != nil {
		return e.sendError(ctx, err, Failed{Op: "notify", Method: n.EventType, Target: tg})
	}
	return nil
}

// NotificationListener yields notifications for a set of targets.
type NotificationListener struct {
	e  *Engine
	dl driver.Listener
}

// ListenNotifications starts consuming the notifications sent to targets
// (topics "<topic>.<priority>"). Listeners with the same pool share the
// messages; each pool, and the default pool "", gets every message once.
func (e *Engine) ListenNotifications(ctx context.Context, targets []target.Target, pool string, o driver.ListenOptions) (*NotificationListener, error) {
	nt, err := e.notifier()
	if err != nil {
		return nil, err
	}
	if len(targets) == 0 {
		return nil, errors.New("transport: no notification targets")
	}
	resolved := make([]target.Target, len(targets))
	for i, tg := range targets {
		if err := tg.ValidateListener(); err != nil {
			return nil, err
		}
		resolved[i] = e.ResolveTarget(tg)
	}
	dl, err := nt.ListenNotifications(ctx, resolved, pool, o)
	if err != nil {
		return nil, err
	}
	return &NotificationListener{e: e, dl: dl}, nil
}

// NotificationDelivery is one received notification; Ack or Requeue it
// once handled.
type NotificationDelivery struct {
	wire.IncomingNotification
	in driver.Incoming
}

// Ack acknowledges the notification (oslo acks after the endpoints ran).
func (d *NotificationDelivery) Ack() error { return d.in.Ack() }

// Requeue hands the notification back for redelivery.
func (d *NotificationDelivery) Requeue() error { return d.in.Requeue() }

// Next returns the next notification. Messages that do not decode are
// logged, acknowledged (so they do not come back forever) and dropped.
func (l *NotificationListener) Next(ctx context.Context) (*NotificationDelivery, error) {
	for {
		in, err := l.dl.Next(ctx)
		if err != nil {
			return nil, err
		}
		m := in.Message()
		n, err := wire.DecodeNotification(m.Body, m.ContentType, l.e.codec)
		if err != nil {
			l.e.logger.Warn("transport: dropping notification that does not decode", "error", err, "size", len(m.Body))
			if aerr := in.Ack(); aerr != nil {
				l.e.logger.Debug("transport: acknowledging a dropped notification", "error", aerr)
			}
			continue
		}
		return &NotificationDelivery{IncomingNotification: *n, in: in}, nil
	}
}

// Close stops consuming. It is idempotent.
func (l *NotificationListener) Close() error { return l.dl.Close() }
