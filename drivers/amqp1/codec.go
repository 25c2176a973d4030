package amqp1

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/oslo-go/messaging/internal/pyjson"
)

// This file is the transcoder between the body the core hands to drivers,
// oslo's rabbit-style 2.0 envelope {"oslo.version": "2.0", "oslo.message":
// "<JSON of the request, reply or notification dict>"}, and the bodies of
// oslo's amqp1 driver (impl_amqp1.py marshal_request / marshal_response):
//
//	request       {"request": {method, args[, namespace][, version]}, "context": {...}[, "call_monitor_timeout": n]}
//	notification  {"request": <the 2.0 envelope of the notification dict, or the bare dict>, "context": {...}}
//	reply         {"response": <result>} or {"failure": "<JSON of the failure>"}
//	heartbeat     a message without a body
//
// The per-message fields the core keeps inside the dict travel as AMQP
// properties instead: _msg_id as message-id (of requests) and
// correlation-id (of replies), _reply_q as reply-to; _timeout becomes
// call_monitor_timeout; _context_<key> members become the "context" map;
// _unique_id is dropped on the way out and set to the message-id on the way
// in (oslo's amqp1 driver has no duplicate suppression). Values are moved
// as raw JSON, never re-encoded, so what Python wrote reaches the core as
// Python wrote it and the other way round.

const (
	contextPrefix = "_context_"
	envelopeHead  = `{"oslo.version": "2.0", "oslo.message": `
)

var errNotObject = errors.New("is not a JSON object")

// obj builds a JSON object in Python's json.dumps layout.
type obj struct {
	b []byte
	n int
}

func newObj(size int) *obj { return &obj{b: append(make([]byte, 0, size+2), '{')} }

func (o *obj) add(key string, raw []byte) {
	if o.n > 0 {
		o.b = append(o.b, ", "...)
	}
	o.n++
	o.b = pyjson.AppendString(o.b, key)
	o.b = append(o.b, ": "...)
	o.b = append(o.b, raw...)
}

func (o *obj) addString(key, value string) { o.add(key, pyjson.AppendString(nil, value)) }

func (o *obj) bytes() []byte { return append(o.b, '}') }

// envelope wraps a dict in the 2.0 envelope.
func envelope(dict []byte) []byte {
	out := make([]byte, 0, len(envelopeHead)+len(dict)+len(dict)/8+4)
	out = append(out, envelopeHead...)
	out = pyjson.AppendString(out, string(dict))
	return append(out, '}')
}

// openEnvelope returns the dict inside a 2.0 envelope and true, or body
// itself and false when body is an object without "oslo.version" (a bare,
// format 1.0 dict).
func openEnvelope(body []byte) ([]byte, bool, error) {
	var version, message []byte
	err := pyjson.Fields(body, func(key string, value []byte) error {
		switch key {
		case "oslo.version":
			version = value
		case "oslo.message":
			message = value
		}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("amqp1: message %w: %v", errNotObject, err)
	}
	if version == nil {
		return bytes.TrimSpace(body), false, nil
	}
	v, err := pyjson.UnquoteString(version)
	if err != nil || !strings.HasPrefix(v, "2.") {
		return nil, false, fmt.Errorf("amqp1: unsupported envelope version %s", version)
	}
	if message == nil {
		return nil, false, errors.New("amqp1: envelope without oslo.message")
	}
	inner, err := pyjson.AppendUnquoted(make([]byte, 0, len(message)), message)
	if err != nil {
		return nil, false, fmt.Errorf("amqp1: oslo.message is not a string: %v", err)
	}
	return inner, true, nil
}

func isNull(raw []byte) bool { return raw == nil || string(raw) == "null" }

// encodeRequest turns the core's request body (RPC call or cast) into
// oslo's amqp1 request body.
func encodeRequest(body []byte) ([]byte, error) {
	inner, _, err := openEnvelope(body)
	if err != nil {
		return nil, err
	}
	req, ctx := newObj(len(inner)), newObj(64)
	var monitor []byte
	err = pyjson.Fields(inner, func(key string, value []byte) error {
		switch {
		case key == "_msg_id" || key == "_reply_q" || key == "_unique_id":
		case key == "_timeout":
			monitor = value
		case strings.HasPrefix(key, contextPrefix):
			ctx.add(key[len(contextPrefix):], value)
		default:
			req.add(key, value)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("amqp1: request %w: %v", errNotObject, err)
	}
	if !isNull(monitor) {
		if _, err := monitorSeconds(monitor); err != nil {
			return nil, err
		}
	}
	out := newObj(len(req.b) + len(ctx.b) + 48)
	out.add("request", req.bytes())
	out.add("context", ctx.bytes())
	if !isNull(monitor) {
		out.add("call_monitor_timeout", monitor)
	}
	return out.bytes(), nil
}

// splitContext returns dict without its _context_<key> and _unique_id
// members, and the context as an object; dict is returned as it is when it
// has none.
func splitContext(dict []byte) (rest, ctx []byte, err error) {
	r, c := newObj(len(dict)), newObj(64)
	removed := false
	err = pyjson.Fields(dict, func(key string, value []byte) error {
		switch {
		case key == "_unique_id":
			removed = true
		case strings.HasPrefix(key, contextPrefix):
			removed = true
			c.add(key[len(contextPrefix):], value)
		default:
			r.add(key, value)
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("amqp1: notification %w: %v", errNotObject, err)
	}
	if !removed {
		return dict, c.bytes(), nil
	}
	return r.bytes(), c.bytes(), nil
}

// encodeNotification turns the core's notification body into oslo's
// amqp1 notification body: the dict, in the 2.0 envelope when the core
// sent one (messagingv2), under "request", the context beside it.
func encodeNotification(body []byte) ([]byte, error) {
	inner, enveloped, err := openEnvelope(body)
	if err != nil {
		return nil, err
	}
	dict, ctx, err := splitContext(inner)
	if err != nil {
		return nil, err
	}
	if enveloped {
		dict = envelope(dict)
	}
	out := newObj(len(dict) + len(ctx) + 32)
	out.add("request", dict)
	out.add("context", ctx)
	return out.bytes(), nil
}

// encodeReply turns the core's reply body into oslo's amqp1 reply body. It
// returns a nil body for a call-monitor heartbeat (oslo sends those without
// a body).
func encodeReply(body []byte, heartbeat bool) ([]byte, error) {
	inner, _, err := openEnvelope(body)
	if err != nil {
		return nil, err
	}
	var result, failure []byte
	ending := false
	err = pyjson.Fields(inner, func(key string, value []byte) error {
		switch key {
		case "result":
			result = value
		case "failure":
			failure = value
		case "ending":
			ending = string(value) == "true"
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("amqp1: reply %w: %v", errNotObject, err)
	}
	if heartbeat || !ending && isNull(result) && isNull(failure) {
		return nil, nil
	}
	if !isNull(failure) && failure[0] != '"' {
		return nil, errors.New("amqp1: reply failure is not a string")
	}
	out := newObj(len(result) + len(failure) + 16)
	if !isNull(failure) {
		out.add("failure", failure)
	} else {
		if result == nil {
			result = []byte("null")
		}
		out.add("response", result)
	}
	return out.bytes(), nil
}

// monitorSeconds reads a call-monitor timeout, a JSON number of seconds.
func monitorSeconds(raw []byte) (time.Duration, error) {
	s, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsNaN(s) || s < 0 || s > 1e9 {
		return 0, fmt.Errorf("amqp1: call_monitor_timeout %.40s is not a number of seconds", raw)
	}
	return time.Duration(s * float64(time.Second)), nil
}

// incomingRequest is a decoded amqp1 request body.
type incomingRequest struct {
	body    []byte        // the core's envelope
	monitor time.Duration // call_monitor_timeout; 0: none
}

// requestFields reads the members of an amqp1 request or notification
// body.
func requestFields(wire []byte) (request, ctx, monitor []byte, err error) {
	err = pyjson.Fields(wire, func(key string, value []byte) error {
		switch key {
		case "request":
			request = value
		case "context":
			ctx = value
		case "call_monitor_timeout":
			monitor = value
		}
		return nil
	})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("amqp1: body %w: %v", errNotObject, err)
	}
	if len(request) == 0 || request[0] != '{' {
		return nil, nil, nil, errors.New("amqp1: body has no \"request\" object")
	}
	if !isNull(ctx) && ctx[0] != '{' {
		return nil, nil, nil, errors.New("amqp1: \"context\" is not an object")
	}
	return request, ctx, monitor, nil
}

// addContext adds the members of ctx (an object or null) to o as
// _context_<key>.
func addContext(o *obj, ctx []byte) error {
	if isNull(ctx) {
		return nil
	}
	return pyjson.Fields(ctx, func(key string, value []byte) error {
		o.add(contextPrefix+key, value)
		return nil
	})
}

// copyMembers adds the members of dict to o.
func copyMembers(o *obj, dict []byte) error {
	return pyjson.Fields(dict, func(key string, value []byte) error {
		o.add(key, value)
		return nil
	})
}

// decodeRequest turns an amqp1 request body, with the request's
// message-id and reply-to, into the core's envelope.
func decodeRequest(wire []byte, msgID, replyTo string) (*incomingRequest, error) {
	request, ctx, monitor, err := requestFields(wire)
	if err != nil {
		return nil, err
	}
	dict, _, err := openEnvelope(request)
	if err != nil {
		return nil, err
	}
	in := &incomingRequest{}
	o := newObj(len(dict) + len(ctx) + 160)
	if err := copyMembers(o, dict); err != nil {
		return nil, fmt.Errorf("amqp1: request %w: %v", errNotObject, err)
	}
	if msgID != "" && replyTo != "" {
		o.addString("_msg_id", msgID)
		o.addString("_reply_q", replyTo)
		if isNull(monitor) {
			o.add("_timeout", []byte("null"))
		} else {
			if in.monitor, err = monitorSeconds(monitor); err != nil {
				return nil, err
			}
			o.add("_timeout", monitor)
		}
	}
	if msgID != "" {
		o.addString("_unique_id", msgID)
	}
	if err := addContext(o, ctx); err != nil {
		return nil, fmt.Errorf("amqp1: context %w: %v", errNotObject, err)
	}
	in.body = envelope(o.bytes())
	return in, nil
}

// decodeNotification turns an amqp1 notification body into the core's
// body: the 2.0 envelope when the sender used one, the bare dict
// otherwise, with the context as _context_<key> members.
func decodeNotification(wire []byte) ([]byte, error) {
	request, ctx, _, err := requestFields(wire)
	if err != nil {
		return nil, err
	}
	dict, enveloped, err := openEnvelope(request)
	if err != nil {
		return nil, err
	}
	if isNull(ctx) || len(bytes.TrimSpace(ctx[1:len(ctx)-1])) == 0 {
		// No context to merge: hand over what the sender wrote, once it
		// is known to hold an object.
		if err := pyjson.Fields(dict, func(string, []byte) error { return nil }); err != nil {
			return nil, fmt.Errorf("amqp1: notification %w: %v", errNotObject, err)
		}
		return bytes.Clone(request), nil
	}
	o := newObj(len(dict) + len(ctx) + 64)
	if err := copyMembers(o, dict); err != nil {
		return nil, fmt.Errorf("amqp1: notification %w: %v", errNotObject, err)
	}
	if err := addContext(o, ctx); err != nil {
		return nil, fmt.Errorf("amqp1: context %w: %v", errNotObject, err)
	}
	if enveloped {
		return envelope(o.bytes()), nil
	}
	return o.bytes(), nil
}

// decodeReply turns an amqp1 reply body (nil for a heartbeat), with its
// correlation-id, into the core's reply envelope.
func decodeReply(wire []byte, correlationID string) ([]byte, error) {
	o := newObj(len(wire) + 96)
	if wire == nil {
		o.add("result", []byte("null"))
		o.add("failure", []byte("null"))
		o.add("ending", []byte("false"))
		o.addString("_msg_id", correlationID)
		return envelope(o.bytes()), nil
	}
	var response, failure []byte
	err := pyjson.Fields(wire, func(key string, value []byte) error {
		switch key {
		case "response":
			response = value
		case "failure":
			failure = value
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("amqp1: reply %w: %v", errNotObject, err)
	}
	if !isNull(failure) {
		if failure[0] != '"' {
			return nil, errors.New("amqp1: reply failure is not a string")
		}
		response = nil
	}
	if response == nil {
		response = []byte("null")
	}
	if failure == nil {
		failure = []byte("null")
	}
	o.add("result", response)
	o.add("failure", failure)
	o.add("ending", []byte("true"))
	o.addString("_msg_id", correlationID)
	return envelope(o.bytes()), nil
}
