package transport

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/oslo-go/messaging/internal/pyjson"
	"github.com/oslo-go/messaging/serializer"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport/driver"
)

// ErrNotificationsUnsupported is returned by Notify and
// ListenNotifications on a transport whose driver carries no
// notifications.
var ErrNotificationsUnsupported = errors.New("transport: the driver does not carry notifications")

// Notification is oslo's notification dict (reference 1.9, 2.6):
// {message_id, publisher_id, event_type, priority, payload, timestamp} and
// the request context.
type Notification struct {
	MessageID   string // uuid4 with dashes
	PublisherID string
	EventType   string
	Priority    string // upper case on the wire: "INFO", "WARN", ...
	Payload     any    // a value the codec encodes
	Timestamp   string // "YYYY-MM-DD HH:MM:SS[.ffffff]" UTC
	Context     map[string]any
}

// IncomingNotification is a received notification.
type IncomingNotification struct {
	MessageID   string
	PublisherID string
	EventType   string
	Priority    string // as sent (oslo senders use upper case)
	Payload     serializer.Raw
	Timestamp   string
	Context     map[string]any
	UniqueID    string
}

// notifier returns the driver's notification interface.
func (t *Transport) notifier() (driver.Notifier, error) {
	if t.closed.Load() {
		return nil, ErrClosed
	}
	n, ok := t.conn.(driver.Notifier)
	if !ok {
		return nil, ErrNotificationsUnsupported
	}
	return n, nil
}

// Notify sends n to tg, whose Topic is "<topic>.<priority>" as oslo's
// messaging drivers address notifications. v2 wraps the dict in the 2.0
// envelope (oslo's messagingv2 driver); otherwise it is sent bare (the
// messaging driver, format 1.0).
func (t *Transport) Notify(ctx context.Context, tg target.Target, n *Notification, v2 bool, o SendOptions) error {
	nt, err := t.notifier()
	if err != nil {
		return err
	}
	if err := tg.ValidateSend(); err != nil {
		return err
	}
	body, err := encodeNotification(t.codec, n, newUniqueID(), v2)
	if err != nil {
		return err
	}
	m := newMessage(t.codec, body)
	m.Retry = o.Retry
	if err := nt.Notify(ctx, t.ResolveTarget(tg), m); err != nil {
		return sendError(ctx, err, "")
	}
	return nil
}

// NotificationListener yields notifications for a set of targets.
type NotificationListener struct {
	t  *Transport
	dl driver.Listener
}

// ListenNotifications starts consuming the notifications sent to targets
// (topics "<topic>.<priority>"). Listeners with the same pool share the
// messages; each pool, and the default pool "", gets every message once.
func (t *Transport) ListenNotifications(ctx context.Context, targets []target.Target, pool string) (*NotificationListener, error) {
	nt, err := t.notifier()
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
		resolved[i] = t.ResolveTarget(tg)
	}
	dl, err := nt.ListenNotifications(ctx, resolved, pool)
	if err != nil {
		return nil, err
	}
	return &NotificationListener{t: t, dl: dl}, nil
}

// NotificationDelivery is one received notification; Ack or Requeue it
// once handled.
type NotificationDelivery struct {
	IncomingNotification
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
		n, err := DecodeNotification(m.Body, m.ContentType, l.t.codec)
		if err != nil {
			l.t.logger.Warn("transport: dropping notification that does not decode", "error", err, "size", len(m.Body))
			if aerr := in.Ack(); aerr != nil {
				l.t.logger.Debug("transport: acknowledging a dropped notification", "error", aerr)
			}
			continue
		}
		return &NotificationDelivery{IncomingNotification: *n, in: in}, nil
	}
}

// Close stops consuming. It is idempotent.
func (l *NotificationListener) Close() error { return l.dl.Close() }

// encodeNotification returns the body of a notification.
func encodeNotification(c serializer.Codec, n *Notification, uniqueID string, v2 bool) ([]byte, error) {
	if c.Name() != serializer.JSONContentType {
		m := map[string]any{
			"message_id": n.MessageID, "publisher_id": n.PublisherID, "event_type": n.EventType,
			"priority": n.Priority, "payload": n.Payload, "timestamp": n.Timestamp, "_unique_id": uniqueID,
		}
		if len(n.Context) > 0 {
			m["_context"] = n.Context
		}
		if !v2 {
			return c.Marshal(m)
		}
		return encodeGeneric(c, m)
	}
	w := getWireBuf()
	defer w.release()
	b := append(w.inner[:0], '{')
	for i, kv := range [][2]string{{"message_id", n.MessageID}, {"publisher_id", n.PublisherID}, {"event_type", n.EventType}, {"priority", n.Priority}} {
		b = appendKey(b, i == 0, kv[0])
		b = pyjson.AppendString(b, kv[1])
	}
	b = appendKey(b, false, "payload")
	b, err := w.appendValue(b, n.Payload)
	if err != nil {
		return nil, fmt.Errorf("transport: encoding notification payload: %w", err)
	}
	b = appendKey(b, false, "timestamp")
	b = pyjson.AppendString(b, n.Timestamp)
	b = appendKey(b, false, "_unique_id")
	b = pyjson.AppendString(b, uniqueID)
	if b, err = appendContext(b, n.Context); err != nil {
		return nil, err
	}
	w.inner = append(b, '}')
	if !v2 {
		return w.bytes(), nil
	}
	return w.envelope(), nil
}

// DecodeNotification decodes a notification body: a 2.0 envelope
// (messagingv2) or a bare dict (messaging, format 1.0).
func DecodeNotification(body []byte, contentType string, codecs ...serializer.Codec) (*IncomingNotification, error) {
	c, err := codecFor(contentType, codecs)
	if err != nil {
		return nil, err
	}
	if c.Name() != serializer.JSONContentType {
		return decodeGenericNotification(c, body)
	}
	inner, err := openEnvelope(body)
	if err != nil {
		return nil, err
	}
	n := &IncomingNotification{}
	hasEvent := false
	err = pyjson.Fields(inner, func(key string, value []byte) error {
		var err error
		switch key {
		case "message_id":
			n.MessageID, err = stringField(key, value)
		case "publisher_id":
			n.PublisherID, err = stringField(key, value)
		case "event_type":
			hasEvent = true
			n.EventType, err = stringField(key, value)
		case "priority":
			n.Priority, err = stringField(key, value)
		case "timestamp":
			n.Timestamp, err = stringField(key, value)
		case "_unique_id":
			n.UniqueID, err = stringField(key, value)
		case "payload":
			n.Payload = serializer.Raw{Data: value}
		default:
			if k, ok := strings.CutPrefix(key, contextPrefix); ok {
				v, err := pyjson.Parse(value)
				if err != nil {
					return err
				}
				if n.Context == nil {
					n.Context = make(map[string]any, 8)
				}
				n.Context[k] = v
			}
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if !hasEvent || n.Priority == "" {
		return nil, errors.New("transport: decoding notification: no event_type or priority")
	}
	return n, nil
}

func decodeGenericNotification(c serializer.Codec, body []byte) (*IncomingNotification, error) {
	var m map[string]any
	if err := c.Unmarshal(body, &m); err != nil {
		return nil, fmt.Errorf("transport: decoding notification: %w", err)
	}
	if _, wrapped := m["oslo.version"]; wrapped {
		var err error
		if m, err = openGeneric(c, body); err != nil {
			return nil, err
		}
	}
	n := &IncomingNotification{}
	n.MessageID, _ = m["message_id"].(string)
	n.PublisherID, _ = m["publisher_id"].(string)
	n.EventType, _ = m["event_type"].(string)
	n.Priority, _ = m["priority"].(string)
	n.Timestamp, _ = m["timestamp"].(string)
	n.UniqueID, _ = m["_unique_id"].(string)
	if ctx, ok := m["_context"].(map[string]any); ok {
		n.Context = ctx
	}
	if p, ok := m["payload"]; ok && p != nil {
		data, err := c.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("transport: decoding notification: %w", err)
		}
		n.Payload = serializer.Raw{Data: data, Codec: c}
	}
	if n.EventType == "" || n.Priority == "" {
		return nil, errors.New("transport: decoding notification: no event_type or priority")
	}
	return n, nil
}
