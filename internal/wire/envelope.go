// Package wire is oslo.messaging's wire format: the 2.0 envelope
// {"oslo.version": "2.0", "oslo.message": "<JSON string>"} around the
// request, reply, failure and notification dicts (reference sections
// 2.3-2.6), or the bare dicts (1.0) where no Python peer reads the wire
// (Encoder.Unwrapped). It is the one place that encodes and decodes them:
// drivers carry the bytes, the engine (internal/engine) moves them. The
// decoders take either layout.
package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/oslo-go/messaging/internal/ids"
	"github.com/oslo-go/messaging/internal/pyjson"
	"github.com/oslo-go/messaging/serializer"
	"github.com/oslo-go/messaging/transport/driver"
)

const (
	envelopeVersion = "2.0"
	contextPrefix   = "_context_"
)

// Request is an RPC request to send: oslo's {method, args, namespace,
// version} plus the serialized request context.
type Request struct {
	Method string
	// Args are the keyword arguments: a struct (encoded with its json tags),
	// a map with string keys, or nil for none. They must encode to an object.
	Args      any
	Namespace string // "" omits the key (oslo's None)
	Version   string // "" omits the key
	// Context is the serialized request context, sent as _context_<key>.
	Context map[string]any
}

// IncomingRequest is a decoded RPC request.
type IncomingRequest struct {
	Method    string
	Namespace string
	Version   string
	Args      serializer.Raw
	Context   map[string]any
	// MsgID and ReplyTo are set on calls (oslo _msg_id and _reply_q).
	MsgID   string
	ReplyTo string
	// UniqueID is oslo's _unique_id, for duplicate suppression.
	UniqueID string
	// MonitorTimeout is the caller's call-monitor timeout (oslo _timeout);
	// zero when the caller does not monitor the call.
	MonitorTimeout time.Duration
}

// IsCall reports whether the request expects a reply.
func (r *IncomingRequest) IsCall() bool { return r.MsgID != "" && r.ReplyTo != "" }

// IncomingReply is a decoded reply: a result, a failure, or a heartbeat.
type IncomingReply struct {
	Result   serializer.Raw
	Failure  *Failure // nil on success
	Ending   bool
	MsgID    string
	UniqueID string
}

// IsHeartbeat reports whether the reply is a call-monitor heartbeat: no
// result, no failure, not ending.
func (r *IncomingReply) IsHeartbeat() bool {
	return !r.Ending && r.Failure == nil && r.Result.IsNull()
}

// Header holds the per-send fields of a request dict: _msg_id and
// _reply_q (calls only), _unique_id, and _timeout (the call-monitor
// timeout; zero sends null). An empty UniqueID makes the encoder write a
// new random one (ids.Hex), so that senders that do not need it keep no
// copy of it.
type Header struct {
	MsgID, ReplyTo, UniqueID string
	Monitor                  time.Duration
}

// ErrUnsupportedEnvelope reports a message in an envelope version other
// than 2.x (oslo's UnsupportedRpcEnvelopeVersion).
var ErrUnsupportedEnvelope = errors.New("transport: unsupported envelope version")

// Failure is oslo's serialized exception: {class, module, message, tb,
// args, kwargs}. Its fields are those of transport.RemoteError, which
// converts from it.
type Failure struct {
	Module    string
	Class     string
	Message   string
	Traceback []string
	Args      []any
	Kwargs    map[string]any
}

// NormalizeModule maps Python 2's name of the builtins module to Python
// 3's.
func NormalizeModule(m string) string {
	if m == "exceptions" {
		return "builtins"
	}
	return m
}

// wireBuf is the scratch space for building one message dict. It comes
// from a pool; only the finished body escapes. Its JSON encoder writes into
// it, so encoded values are not copied out and back.
type wireBuf struct {
	inner []byte
	enc   *json.Encoder
	// htmlEnc escapes <, > and & as json.Marshal does, for the request
	// context's values.
	htmlEnc *json.Encoder
	keys    []string // the request context's keys, sorted
}

var wireBufs = sync.Pool{New: func() any {
	w := &wireBuf{inner: make([]byte, 0, 1024)}
	w.enc = json.NewEncoder(w)
	w.enc.SetEscapeHTML(false) // as Python's json.dumps: <, > and & as they are
	w.htmlEnc = json.NewEncoder(w)
	return w
}}

// Write appends p; the encoder writes through it.
func (w *wireBuf) Write(p []byte) (int, error) {
	w.inner = append(w.inner, p...)
	return len(p), nil
}

// appendValue appends the JSON encoding of v to b, which must be w's
// buffer as built so far, and returns the extended buffer. A string, a
// bool, an integer or nil (a call's usual result), and a struct of such
// values (pyjson.AppendStruct: the usual arguments) are written as
// encoding/json writes them, without its encoder.
func (w *wireBuf) appendValue(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return pyjson.AppendString(b, v), nil
	case bool:
		return strconv.AppendBool(b, v), nil
	case int:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(b, v, 10), nil
	case int32:
		return strconv.AppendInt(b, int64(v), 10), nil
	case uint:
		return strconv.AppendUint(b, uint64(v), 10), nil
	case uint64:
		return strconv.AppendUint(b, v, 10), nil
	case uint32:
		return strconv.AppendUint(b, uint64(v), 10), nil
	}
	if out, ok := pyjson.AppendStruct(b, v); ok {
		return out, nil
	}
	return w.appendWith(w.enc, b, v)
}

// appendWith is appendValue with one of w's encoders.
func (w *wireBuf) appendWith(enc *json.Encoder, b []byte, v any) ([]byte, error) {
	w.inner = b
	if err := enc.Encode(v); err != nil { // writes nothing when it fails
		return b, err
	}
	b = w.inner
	return b[:len(b)-1], nil // Encode ends with a newline
}

func getWireBuf() *wireBuf { return wireBufs.Get().(*wireBuf) }

// release returns w to the pool unless it grew very large.
func (w *wireBuf) release() {
	if cap(w.inner) <= 64<<10 {
		w.inner = w.inner[:0]
		wireBufs.Put(w)
	}
}

const envelopeHead = `{"oslo.version": "2.0", "oslo.message": `

// envelope returns the body: the dict as a JSON string in the 2.0
// envelope. The buffer leaves room for a few escapes.
func (w *wireBuf) envelope() []byte {
	out := make([]byte, 0, len(envelopeHead)+len(w.inner)+len(w.inner)/8+16)
	out = append(out, envelopeHead...)
	out = pyjson.AppendString(out, unsafeString(w.inner))
	return append(out, '}')
}

// bytes returns a copy of the dict (an unwrapped body).
func (w *wireBuf) bytes() []byte { return bytes.Clone(w.inner) }

// unsafeString views b as a string without copying; b must not change
// while the string is in use.
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

func appendKey(b []byte, first bool, key string) []byte {
	if !first {
		b = append(b, ", "...)
	}
	b = pyjson.AppendString(b, key)
	return append(b, ": "...)
}

// Encoder encodes RPC messages in one codec and layout.
type Encoder struct {
	// Codec is the codec of the message dicts; nil means JSON.
	Codec serializer.Codec
	// Unwrapped makes JSON messages go as the bare dict, the layout of
	// oslo's 1.0 messages that every receiver (ours and oslo's) decodes,
	// rather than as a JSON string in the 2.0 envelope: it saves escaping
	// the dict on the way out and unescaping it on the way in. For wires
	// that no Python peer reads (driver.UnwrappedMessages). Other codecs
	// keep the envelope, a nested map that costs no second encoding.
	Unwrapped bool
}

// EncodeRequest returns the body for req in codec c, in the 2.0 envelope.
func EncodeRequest(c serializer.Codec, req *Request, h Header) ([]byte, error) {
	return Encoder{Codec: c}.Request(req, h)
}

// EncodeReply returns the body of a reply in the 2.0 envelope: a result
// (ending), a failure, or a heartbeat (ending false, nothing else).
func EncodeReply(c serializer.Codec, msgID string, result any, failure *Failure, ending bool) ([]byte, error) {
	return Encoder{Codec: c}.Reply(msgID, result, failure, ending)
}

func (e Encoder) codec() serializer.Codec {
	if e.Codec == nil {
		return serializer.JSON{}
	}
	return e.Codec
}

// Body is an encoded message body, either in memory of its own or, from
// Encoder.RequestBody and ReplyBody, in one of the encoder's pooled
// buffers until Release.
type Body struct {
	b []byte
	w *wireBuf // the pooled buffer holding b, or nil
}

// Bytes returns the body. For a pooled body they are valid until Release.
func (b Body) Bytes() []byte { return b.b }

// Release returns a pooled body's buffer for reuse; nothing may use its
// bytes afterwards. It does nothing for a body in memory of its own, or
// after the first time.
func (b *Body) Release() {
	if b.w != nil {
		b.w.release()
		b.w, b.b = nil, nil
	}
}

// Detach returns the bytes in memory of their own, releasing a pooled
// buffer, for a receiver that keeps them; b is then in memory of its own
// too, and Release does nothing.
func (b *Body) Detach() []byte {
	if b.w != nil {
		b.b = bytes.Clone(b.b)
		b.w.release()
		b.w = nil
	}
	return b.b
}

// finish returns the body of the dict built in w: w itself when the dict
// is the body (unwrapped), else the envelope, and w released.
func (e Encoder) finish(w *wireBuf) Body {
	if e.Unwrapped {
		return Body{b: w.inner, w: w}
	}
	defer w.release()
	return Body{b: w.envelope()}
}

// Request returns the body for req.
func (e Encoder) Request(req *Request, h Header) ([]byte, error) {
	b, err := e.RequestBody(req, h)
	return b.Detach(), err
}

// RequestBody is Request with the body in a pooled buffer where it can
// be: unwrapped JSON, the dict itself. The caller releases it once the
// body is no longer used.
func (e Encoder) RequestBody(req *Request, h Header) (Body, error) {
	if c := e.codec(); c.Name() != serializer.JSONContentType {
		b, err := encodeGeneric(c, requestMap(req, h))
		return Body{b: b}, err
	}
	w := getWireBuf()
	b := append(w.inner[:0], '{')
	b = appendKey(b, true, "method")
	b = pyjson.AppendString(b, req.Method)
	b = appendKey(b, false, "args")
	b, err := w.appendArgs(b, req.Args)
	if err != nil {
		w.release()
		return Body{}, err
	}
	if req.Namespace != "" {
		b = appendKey(b, false, "namespace")
		b = pyjson.AppendString(b, req.Namespace)
	}
	if req.Version != "" {
		b = appendKey(b, false, "version")
		b = pyjson.AppendString(b, req.Version)
	}
	if h.MsgID != "" {
		b = appendKey(b, false, "_msg_id")
		b = pyjson.AppendString(b, h.MsgID)
		b = appendKey(b, false, "_reply_q")
		b = pyjson.AppendString(b, h.ReplyTo)
		b = appendKey(b, false, "_timeout")
		b = appendSeconds(b, h.Monitor)
	}
	b = appendKey(b, false, "_unique_id")
	if h.UniqueID != "" {
		b = pyjson.AppendString(b, h.UniqueID)
	} else {
		b = appendNewID(b)
	}
	b, err = w.appendContext(b, req.Context)
	if err != nil {
		w.release()
		return Body{}, err
	}
	w.inner = append(b, '}')
	return e.finish(w), nil
}

// appendArgs appends the keyword arguments, which must form an object.
func (w *wireBuf) appendArgs(b []byte, args any) ([]byte, error) {
	if args == nil {
		return append(b, "{}"...), nil
	}
	start := len(b)
	b, err := w.appendValue(b, args)
	if err != nil {
		return nil, fmt.Errorf("transport: encoding arguments: %w", err)
	}
	switch v := b[start:]; {
	case string(v) == "null":
		return append(b[:start], "{}"...), nil
	case len(v) == 0 || v[0] != '{':
		return nil, fmt.Errorf("transport: arguments must encode to an object (a struct or a map), got %T", args)
	}
	return b, nil
}

// reservedContextKeys are clobbered by oslo receivers (unpack_context).
var reservedContextKeys = map[string]bool{"msg_id": true, "reply_q": true, "client_timeout": true}

// appendContext appends the request context as _context_<key> members in
// key order, each value as json.Marshal encodes it.
func (w *wireBuf) appendContext(b []byte, ctx map[string]any) ([]byte, error) {
	if len(ctx) == 0 {
		return b, nil
	}
	keys := w.keys[:0]
	for k := range ctx {
		if !reservedContextKeys[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	defer func() {
		clear(keys) // the pooled buffer keeps no reference to them
		w.keys = keys[:0]
	}()
	for _, k := range keys {
		// The key is contextPrefix+k, written without building the string.
		b = append(b, `, "`+contextPrefix...)
		n := len(b)
		b = pyjson.AppendString(b, k)
		b = append(b[:n], b[n+1:]...) // drop the opening quote of k's literal
		b = append(b, ": "...)
		var err error
		if b, err = w.appendWith(w.htmlEnc, b, ctx[k]); err != nil {
			return nil, fmt.Errorf("transport: encoding request context key %q: %w", k, err)
		}
	}
	return b, nil
}

// appendNewID appends a new random id as a JSON string (hex digits need no
// escaping).
func appendNewID(b []byte) []byte {
	b = append(b, '"')
	b = ids.AppendHex(b)
	return append(b, '"')
}

// appendSeconds writes d in seconds as a JSON number (an integer when
// whole, as Python peers send it), or null for zero.
func appendSeconds(b []byte, d time.Duration) []byte {
	if d <= 0 {
		return append(b, "null"...)
	}
	if d%time.Second == 0 {
		return strconv.AppendInt(b, int64(d/time.Second), 10)
	}
	return strconv.AppendFloat(b, d.Seconds(), 'f', -1, 64)
}

// Reply returns the body of a reply: a result (ending), a failure, or a
// heartbeat (ending false, nothing else).
func (e Encoder) Reply(msgID string, result any, failure *Failure, ending bool) ([]byte, error) {
	b, err := e.ReplyBody(msgID, result, failure, ending)
	return b.Detach(), err
}

// ReplyBody is Reply with the body in a pooled buffer where it can be, as
// RequestBody.
func (e Encoder) ReplyBody(msgID string, result any, failure *Failure, ending bool) (Body, error) {
	var f []byte
	if failure != nil {
		var err error
		if f, err = encodeFailure(failure); err != nil {
			return Body{}, err
		}
	}
	if c := e.codec(); c.Name() != serializer.JSONContentType {
		m := map[string]any{"result": nil, "failure": nil, "ending": ending, "_msg_id": msgID, "_unique_id": ids.Hex()}
		if failure == nil && ending {
			m["result"] = result
		}
		if failure != nil {
			m["failure"] = string(f)
		}
		b, err := encodeGeneric(c, m)
		return Body{b: b}, err
	}
	w := getWireBuf()
	b := append(w.inner[:0], '{')
	b = appendKey(b, true, "result")
	if failure == nil && ending {
		var err error
		if b, err = w.appendValue(b, result); err != nil {
			w.release()
			return Body{}, fmt.Errorf("transport: encoding result: %w", err)
		}
	} else {
		b = append(b, "null"...)
	}
	b = appendKey(b, false, "failure")
	if failure != nil {
		b = pyjson.AppendString(b, unsafeString(f))
	} else {
		b = append(b, "null"...)
	}
	b = appendKey(b, false, "ending")
	b = strconv.AppendBool(b, ending)
	b = appendKey(b, false, "_msg_id")
	b = pyjson.AppendString(b, msgID)
	b = appendKey(b, false, "_unique_id")
	b = appendNewID(b)
	w.inner = append(b, '}')
	return e.finish(w), nil
}

// wireFailure is oslo's serialize_remote_exception layout, keys in order.
type wireFailure struct {
	Class   string         `json:"class"`
	Module  string         `json:"module"`
	Message string         `json:"message"`
	TB      []string       `json:"tb"`
	Args    []any          `json:"args"`
	Kwargs  map[string]any `json:"kwargs"`
}

func encodeFailure(f *Failure) ([]byte, error) {
	w := wireFailure{Class: f.Class, Module: f.Module, Message: f.Message, TB: f.Traceback, Args: f.Args, Kwargs: f.Kwargs}
	if w.TB == nil {
		w.TB = []string{}
	}
	if w.Args == nil {
		w.Args = []any{f.Message}
	}
	if w.Kwargs == nil {
		w.Kwargs = map[string]any{}
	}
	b, err := json.Marshal(w)
	if err != nil {
		// Args or kwargs that do not encode (NaN, channels, ...): keep the
		// failure, drop them.
		w.Args, w.Kwargs = []any{f.Message}, map[string]any{}
		return json.Marshal(w)
	}
	return b, nil
}

// DecodeFailure decodes oslo's failure JSON string.
func DecodeFailure(data []byte) (*Failure, error) {
	var w struct {
		Class   string         `json:"class"`
		Module  string         `json:"module"`
		Message string         `json:"message"`
		TB      []string       `json:"tb"`
		Args    []any          `json:"args"`
		Kwargs  map[string]any `json:"kwargs"`
	}
	if err := pyjson.Unmarshal(data, &w); err != nil {
		return nil, fmt.Errorf("transport: decoding failure: %w", err)
	}
	return &Failure{
		Module: NormalizeModule(w.Module), Class: w.Class, Message: w.Message,
		Traceback: w.TB, Args: w.Args, Kwargs: w.Kwargs,
	}, nil
}

// openEnvelope returns the message dict inside body. A body without
// "oslo.version" is an unwrapped (1.0) message and is returned as is.
func openEnvelope(body []byte) ([]byte, error) {
	if unwrappedLayout(body) {
		return body, nil
	}
	// Every oslo sender, Python's json.dumps and ours, writes the envelope
	// as envelopeHead, the string, then "}": unquote it in one pass.
	if n := len(envelopeHead); len(body) >= n+3 && string(body[:n+1]) == envelopeHead+`"` &&
		string(body[len(body)-2:]) == `"}` {
		content := body[n+1 : len(body)-2]
		if inner, ok := pyjson.AppendUnquotedContent(make([]byte, 0, len(content)), content); ok {
			return inner, nil
		}
	}
	return openEnvelopeSlow(body)
}

// unwrappedLayout reports whether body starts as Encoder writes an
// unwrapped request or reply: with the dict's first key. Such a body is
// taken as the dict even if "oslo.version" follows: an envelope holds no
// other keys.
func unwrappedLayout(body []byte) bool {
	return bytes.HasPrefix(body, []byte(`{"method": `)) || bytes.HasPrefix(body, []byte(`{"result": `))
}

// openEnvelopeSlow is openEnvelope for any layout of the envelope.
func openEnvelopeSlow(body []byte) ([]byte, error) {
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
		return nil, fmt.Errorf("transport: decoding message: %w", err)
	}
	if version == nil {
		return body, nil
	}
	v, err := pyjson.UnquoteString(version)
	if err != nil || !strings.HasPrefix(v, "2.") {
		return nil, fmt.Errorf("%w %s", ErrUnsupportedEnvelope, version)
	}
	if message == nil {
		return nil, errors.New("transport: decoding message: envelope without oslo.message")
	}
	inner, err := pyjson.AppendUnquoted(make([]byte, 0, len(message)), message)
	if err != nil {
		return nil, fmt.Errorf("transport: decoding message: oslo.message is not a string: %w", err)
	}
	return inner, nil
}

// stringField decodes a string value, treating null as "". The result may
// share value's memory: message buffers are never modified once received
// (see driver.Incoming).
func stringField(key string, value []byte) (string, error) {
	if string(value) == "null" {
		return "", nil
	}
	s, err := pyjson.UnquoteStringView(value)
	if err != nil {
		return "", fmt.Errorf("transport: decoding message: %s is not a string", key)
	}
	return s, nil
}

// DecodeRequest decodes an RPC request body with the codec named by
// contentType ("" is JSON).
func DecodeRequest(body []byte, contentType string, codecs ...serializer.Codec) (*IncomingRequest, error) {
	r := new(IncomingRequest)
	if err := DecodeRequestInto(r, body, contentType, codecs...); err != nil {
		return nil, err
	}
	return r, nil
}

// DecodeRequestInto is DecodeRequest into r, which must be zero, for
// callers that allocate r with other values.
func DecodeRequestInto(r *IncomingRequest, body []byte, contentType string, codecs ...serializer.Codec) error {
	c, err := CodecFor(contentType, codecs)
	if err != nil {
		return err
	}
	if c.Name() != serializer.JSONContentType {
		g, err := decodeGenericRequest(c, body)
		if err != nil {
			return err
		}
		*r = *g
		return nil
	}
	inner, err := openEnvelope(body)
	if err != nil {
		return err
	}
	err = pyjson.Fields(inner, func(key string, value []byte) error {
		var err error
		switch key {
		case "method":
			r.Method, err = stringField(key, value)
		case "args":
			if string(value) != "null" {
				if value[0] != '{' {
					return errors.New("transport: decoding message: args is not an object")
				}
				r.Args = serializer.Raw{Data: value}
			}
		case "namespace":
			r.Namespace, err = stringField(key, value)
		case "version":
			r.Version, err = stringField(key, value)
		case "_msg_id":
			r.MsgID, err = stringField(key, value)
		case "_reply_q":
			r.ReplyTo, err = stringField(key, value)
		case "_unique_id":
			r.UniqueID, err = stringField(key, value)
		case "_timeout":
			r.MonitorTimeout, err = secondsField(value)
		default:
			if k, ok := strings.CutPrefix(key, contextPrefix); ok {
				v, err := pyjson.Parse(value)
				if err != nil {
					return err
				}
				if r.Context == nil {
					r.Context = make(map[string]any, 8)
				}
				r.Context[k] = v
			}
		}
		return err
	})
	if err != nil {
		return err
	}
	if r.Method == "" {
		return errors.New("transport: decoding message: no method")
	}
	return nil
}

func secondsField(value []byte) (time.Duration, error) {
	if string(value) == "null" {
		return 0, nil
	}
	f, err := strconv.ParseFloat(string(value), 64)
	if err != nil || math.IsNaN(f) || f < 0 {
		return 0, fmt.Errorf("transport: decoding message: _timeout %s is not a number of seconds", value)
	}
	if f > float64(math.MaxInt64/int64(time.Second)) {
		return 0, nil
	}
	return time.Duration(f * float64(time.Second)), nil
}

// DecodeReply decodes a reply body with the codec named by contentType.
func DecodeReply(body []byte, contentType string, codecs ...serializer.Codec) (*IncomingReply, error) {
	r := new(IncomingReply)
	if err := DecodeReplyInto(r, body, contentType, codecs...); err != nil {
		return nil, err
	}
	return r, nil
}

// DecodeReplyInto is DecodeReply into r, which must be zero, for callers
// that need the reply only while they handle it.
func DecodeReplyInto(r *IncomingReply, body []byte, contentType string, codecs ...serializer.Codec) error {
	c, err := CodecFor(contentType, codecs)
	if err != nil {
		return err
	}
	if c.Name() != serializer.JSONContentType {
		g, err := decodeGenericReply(c, body)
		if err != nil {
			return err
		}
		*r = *g
		return nil
	}
	inner, err := openEnvelope(body)
	if err != nil {
		return err
	}
	hasFailure := false
	err = pyjson.Fields(inner, func(key string, value []byte) error {
		var err error
		switch key {
		case "result":
			r.Result = serializer.Raw{Data: value}
		case "failure":
			hasFailure = true
			if string(value) != "null" {
				var s string
				if s, err = pyjson.UnquoteString(value); err == nil {
					r.Failure, err = DecodeFailure([]byte(s))
				}
			}
		case "ending":
			r.Ending = string(value) == "true"
		case "_msg_id":
			r.MsgID, err = stringField(key, value)
		case "_unique_id":
			r.UniqueID, err = stringField(key, value)
		}
		return err
	})
	if err != nil {
		return err
	}
	if !hasFailure {
		return errors.New("transport: decoding reply: no failure key")
	}
	return nil
}

// ReplyMsgID returns the _msg_id of a JSON reply body that may not decode
// as a whole, or "".
func ReplyMsgID(body []byte) string {
	inner, err := openEnvelope(body)
	if err != nil {
		return ""
	}
	var id string
	_ = pyjson.Fields(inner, func(key string, value []byte) error {
		if key == "_msg_id" {
			id, _ = stringField(key, value)
			return errStop
		}
		return nil
	})
	return id
}

var errStop = errors.New("stop")

// CodecFor picks the codec for a content type among JSON and codecs.
func CodecFor(contentType string, codecs []serializer.Codec) (serializer.Codec, error) {
	if contentType == "" || contentType == serializer.JSONContentType {
		return serializer.JSON{}, nil
	}
	for _, c := range codecs {
		if c != nil && c.Name() == contentType {
			return c, nil
		}
	}
	return nil, fmt.Errorf("transport: no codec for content type %q", contentType)
}

// The generic path serves codecs other than JSON (msgpack): the dicts are
// encoded as maps, and the context travels under "_context" as one map.

func requestMap(req *Request, h Header) map[string]any {
	if h.UniqueID == "" {
		h.UniqueID = ids.Hex()
	}
	m := map[string]any{"method": req.Method, "_unique_id": h.UniqueID}
	m["args"] = req.Args
	if req.Args == nil {
		m["args"] = map[string]any{}
	}
	if req.Namespace != "" {
		m["namespace"] = req.Namespace
	}
	if req.Version != "" {
		m["version"] = req.Version
	}
	if h.MsgID != "" {
		m["_msg_id"], m["_reply_q"] = h.MsgID, h.ReplyTo
		m["_timeout"] = nil
		if h.Monitor > 0 {
			m["_timeout"] = h.Monitor.Seconds()
		}
	}
	if len(req.Context) > 0 {
		ctx := make(map[string]any, len(req.Context))
		for k, v := range req.Context {
			if !reservedContextKeys[k] {
				ctx[k] = v
			}
		}
		m["_context"] = ctx
	}
	return m
}

func encodeGeneric(c serializer.Codec, inner map[string]any) ([]byte, error) {
	return c.Marshal(map[string]any{"oslo.version": envelopeVersion, "oslo.message": inner})
}

type genericEnvelope struct {
	Version string         `json:"oslo.version"`
	Message map[string]any `json:"oslo.message"`
}

func openGeneric(c serializer.Codec, body []byte) (map[string]any, error) {
	var env genericEnvelope
	if err := c.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("transport: decoding message: %w", err)
	}
	if !strings.HasPrefix(env.Version, "2.") {
		return nil, fmt.Errorf("%w %q", ErrUnsupportedEnvelope, env.Version)
	}
	if env.Message == nil {
		return nil, errors.New("transport: decoding message: envelope without oslo.message")
	}
	return env.Message, nil
}

func decodeGenericRequest(c serializer.Codec, body []byte) (*IncomingRequest, error) {
	m, err := openGeneric(c, body)
	if err != nil {
		return nil, err
	}
	r := &IncomingRequest{}
	r.Method, _ = m["method"].(string)
	r.Namespace, _ = m["namespace"].(string)
	r.Version, _ = m["version"].(string)
	r.MsgID, _ = m["_msg_id"].(string)
	r.ReplyTo, _ = m["_reply_q"].(string)
	r.UniqueID, _ = m["_unique_id"].(string)
	if f, ok := toFloat(m["_timeout"]); ok && f > 0 {
		r.MonitorTimeout = time.Duration(f * float64(time.Second))
	}
	if ctx, ok := m["_context"].(map[string]any); ok {
		r.Context = ctx
	}
	if a, ok := m["args"]; ok && a != nil {
		if _, isMap := a.(map[string]any); !isMap {
			return nil, errors.New("transport: decoding message: args is not a map")
		}
		data, err := c.Marshal(a)
		if err != nil {
			return nil, fmt.Errorf("transport: decoding message: %w", err)
		}
		r.Args = serializer.Raw{Data: data, Codec: c}
	}
	if r.Method == "" {
		return nil, errors.New("transport: decoding message: no method")
	}
	return r, nil
}

func decodeGenericReply(c serializer.Codec, body []byte) (*IncomingReply, error) {
	m, err := openGeneric(c, body)
	if err != nil {
		return nil, err
	}
	r := &IncomingReply{}
	r.Ending, _ = m["ending"].(bool)
	r.MsgID, _ = m["_msg_id"].(string)
	r.UniqueID, _ = m["_unique_id"].(string)
	if _, ok := m["failure"]; !ok {
		return nil, errors.New("transport: decoding reply: no failure key")
	}
	if s, ok := m["failure"].(string); ok {
		if r.Failure, err = DecodeFailure([]byte(s)); err != nil {
			return nil, err
		}
	}
	if res := m["result"]; res != nil {
		data, err := c.Marshal(res)
		if err != nil {
			return nil, fmt.Errorf("transport: decoding reply: %w", err)
		}
		r.Result = serializer.Raw{Data: data, Codec: c}
	}
	return r, nil
}

func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint64:
		return float64(n), true
	case int:
		return float64(n), true
	case int8, int16, int32, uint8, uint16, uint32:
		f, err := strconv.ParseFloat(fmt.Sprint(n), 64)
		return f, err == nil
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

// NewMessage wraps a body into a driver message with the codec's type.
func NewMessage(c serializer.Codec, body []byte) *driver.Message {
	m := MessageOf(c, body)
	return &m
}

// MessageOf is NewMessage as a value, for callers that allocate the
// message with other values.
func MessageOf(c serializer.Codec, body []byte) driver.Message {
	m := driver.Message{Body: body}
	if c.Name() != serializer.JSONContentType {
		m.ContentType = c.Name()
	}
	return m
}
