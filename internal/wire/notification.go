package wire

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/oslo-go/messaging/internal/pyjson"
	"github.com/oslo-go/messaging/serializer"
)

// Priorities are oslo's notification priorities (PRIORITIES), lower case,
// in oslo's order. On the wire a priority is upper case.
var Priorities = [...]string{"audit", "debug", "info", "warn", "error", "critical", "sample"}

// IsPriority reports whether p (lower case) is one of Priorities.
func IsPriority(p string) bool { return slices.Contains(Priorities[:], p) }

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

// EncodeNotification returns the body of a notification: in the 2.0
// envelope when v2 (oslo's messagingv2 driver), bare otherwise (messaging).
func EncodeNotification(c serializer.Codec, n *Notification, uniqueID string, v2 bool) ([]byte, error) {
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
	if b, err = w.appendContext(b, n.Context); err != nil {
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
	c, err := CodecFor(contentType, codecs)
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
