// Package driver defines the interfaces a message-broker driver implements,
// in the manner of database/sql/driver. Applications use package transport;
// only driver authors need this package.
//
// A driver moves opaque message bodies and a small header. It never sees
// methods, arguments or results: package transport encodes the oslo wire
// format, once, for every driver. What a driver owns is the broker-native
// plumbing: topology (queues, subjects, sockets), routing of topic, server
// and fanout targets, reply delivery, acknowledgement, reconnection.
//
// # Routing
//
// Targets given to a driver always have a non-empty Exchange (the core fills
// in the transport's control exchange). For Send:
//
//   - Fanout: every server listening on Topic receives the message
//     (Exchange is ignored, as in oslo).
//   - Server set: only the server listening on Topic with that Server name.
//   - otherwise: one of the servers listening on Topic (competing consumers).
//
// Listen consumes all three for its target: the topic, topic.server and the
// topic's fanout.
//
// # Calls and replies
//
// The core correlates replies; a driver delivers every reply addressed to
// its Conn to [Config.OnReply]. For a call the core first asks
// [Conn.ReplyAddress] for the address replies must be sent to (oslo's
// _reply_q), puts it and a fresh message id in the request, then calls Send
// with [Message.MsgID] and [Message.ReplyTo] set. The server side answers
// through [Incoming.Reply], whose message has MsgID and ReplyTo copied from
// the request by the core. A driver may use its broker's native reply
// addressing instead of ReplyTo.
//
// # Connecting
//
// Open validates the URL and the options and returns without waiting for
// the broker, as sql.Open does: a service started before its broker must
// not fail. The Conn connects in the background and reconnects after a
// loss, with backoff; operations wait for the connection within their ctx
// (Send, Listen) and report the last connection error when ctx ends
// before it came.
//
// # Bounded memory
//
// A Listener holds at most what [ListenOptions] allows: the broker's
// prefetch, the receive buffer and any decompression are bounded whatever
// the backlog, and messages over the driver's maximum size are dropped
// (acknowledged and logged), never requeued in a loop.
//
// # Optional interfaces
//
// A Conn may also implement [Notifier] (durable notifications) and
// [Pinger] (a connectivity check). The core probes for them, as
// database/sql probes for optional driver interfaces.
package driver

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/oslo-go/messaging/target"
)

// Errors drivers return; package transport re-exports them for callers.
var (
	// ErrClosed is returned by operations on a closed Conn or Listener.
	ErrClosed = errors.New("transport: closed")
	// ErrNoServers reports that no server listens on a call's target, for
	// brokers that can tell (NATS "no responders").
	ErrNoServers = errors.New("transport: no servers listening on target")
	// ErrConnectionLost reports that the connection a call's reply was
	// expected on went away; the call cannot complete.
	ErrConnectionLost = errors.New("transport: connection lost")
	// ErrUndeliverable reports that the broker could not route a message
	// (a mandatory message no queue took, a reply to a missing queue).
	ErrUndeliverable = errors.New("transport: message undeliverable")
	// ErrMessageTooLarge reports a message over the broker's or the
	// driver's maximum size. It is final: the message is not retried.
	ErrMessageTooLarge = errors.New("transport: message too large")
)

// Driver opens connections for one URL scheme. Register it with
// transport.Register from an init function.
type Driver interface {
	// Open connects to the broker named by u. It fails when u has query
	// parameters or options the driver does not know.
	Open(ctx context.Context, u *URL, cfg Config) (Conn, error)
}

// Config is what the core hands to a driver when opening a Conn.
type Config struct {
	// OnReply receives every reply addressed to the Conn and failures of
	// calls in flight. The core never blocks in it. Never nil.
	OnReply func(Reply)
	// Logger is the transport's logger. Never nil.
	Logger *slog.Logger
	// Options are driver-specific options passed to transport.Open (see
	// transport.WithDriverOption). A driver returns an error for an option
	// of a type it does not know.
	Options []any
}

// Reply is what a driver reports to Config.OnReply.
type Reply struct {
	// Message is a reply body, or nil when Err is set.
	Message *Message
	// MsgID names the call Err applies to. Empty with Err set means every
	// call in flight on this Conn.
	MsgID string
	// Err fails the call (or every call) instead of delivering a reply, for
	// example ErrNoServers or ErrConnectionLost.
	Err error
}

// Message is an encoded message and the few header fields drivers route by.
type Message struct {
	// Body is the encoded message. Drivers must not modify it and must not
	// keep it after the call that received it returns, except to deliver it.
	Body []byte
	// ContentType is the codec MIME type; empty means "application/json".
	ContentType string
	// MsgID is set on call requests and on replies: the oslo _msg_id that
	// correlates them. Empty on casts and notifications.
	MsgID string
	// ReplyTo is set on call requests and replies: where the replies go
	// (oslo _reply_q), as returned by the caller's Conn.ReplyAddress.
	ReplyTo string
	// Expiration is the time a call request may wait for a server before
	// it is useless (AMQP expiration); zero means no expiry.
	Expiration time.Duration
	// Retry bounds re-sending after connection failures: negative retries
	// until ctx ends, 0 sends once, N retries up to N times.
	Retry int
	// Heartbeat marks a reply that is a call-monitor heartbeat, not the
	// final reply: a driver that tracks calls in flight keeps tracking the
	// call.
	Heartbeat bool
	// Mandatory asks the broker to route the message to at least one
	// queue or consumer (oslo's at_least_once transport option): Send
	// fails with an error wrapping ErrUndeliverable when none takes it. A
	// driver that cannot tell documents it.
	Mandatory bool
}

// ListenOptions tell a driver how much a listener's consumer may hold.
type ListenOptions struct {
	// Capacity is how many messages the consumer handles at once (the
	// server's MaxConcurrency). Drivers size their prefetch or receive
	// buffer from it unless the user configured one; 0 means the driver's
	// default.
	Capacity int
}

// Conn is a connection to the broker. It must be safe for concurrent use by
// many goroutines, and Close must be idempotent.
type Conn interface {
	// Send delivers a cast, a call request or a fanout cast to t. It
	// returns once the broker has accepted the message, except that for
	// a call request (MsgID set) it may return once the request is
	// written and report a later refusal to Config.OnReply as
	// Reply{MsgID: m.MsgID, Err: err}: the core registers the call
	// before Send, and the reply proves delivery.
	Send(ctx context.Context, t target.Target, m *Message) error
	// ReplyAddress returns the address that replies to this Conn's calls
	// are sent to, setting up reply consumption on first use.
	ReplyAddress(ctx context.Context) (string, error)
	// Listen starts consuming RPC messages for t (topic, topic.server and
	// fanout). It returns once consuming: a message sent after Listen
	// returns is received.
	Listen(ctx context.Context, t target.Target, o ListenOptions) (Listener, error)
	// Close releases the connection. Calls in flight fail, listeners stop.
	Close() error
}

// Listener yields messages pull-style. Next may be called from several
// goroutines at once (a server's workers each wait in Next), and Close from
// any goroutine.
type Listener interface {
	// Next blocks until a message arrives, ctx ends, or the listener is
	// closed (ErrClosed). Drivers reconnect internally; Next returns
	// another error only when the listener cannot go on.
	Next(ctx context.Context) (Incoming, error)
	// Close stops consuming. Messages not yet returned by Next are left to
	// the broker (requeued where the broker supports it).
	Close() error
}

// Incoming is one received message. Its body, and the bodies of replies
// handed to Config.OnReply, belong to the core from then on: a driver must
// not modify or reuse that memory (the core keeps views into it).
type Incoming interface {
	// Message returns the received message.
	Message() *Message
	// Reply sends a reply to the caller of a call request: m.MsgID and
	// m.ReplyTo come from the request. It may be called several times
	// (heartbeats, then the final reply) and from any goroutine. It is a
	// no-op for casts.
	Reply(ctx context.Context, m *Message) error
	// Ack acknowledges a notification after it was handled. RPC requests
	// are acknowledged by the driver before Next returns them (oslo's
	// at-most-once), and Ack is a no-op for them.
	Ack() error
	// Requeue hands a notification back to the broker for redelivery.
	Requeue() error
}

// Notifier is implemented by a Conn that carries notifications.
//
// A notification is sent to Target{Exchange, Topic: "<topic>.<priority>"}.
// Messages sent while no listener runs must be kept until one starts (the
// broker queue <topic>.<priority> on RabbitMQ), and a listener must Ack
// after handling.
type Notifier interface {
	// Notify publishes one notification.
	Notify(ctx context.Context, t target.Target, m *Message) error
	// ListenNotifications consumes the given targets (topics already
	// suffixed with the priority). Listeners with the same non-empty pool
	// share the messages; every pool, and the default (empty) pool, gets
	// each message once.
	ListenNotifications(ctx context.Context, targets []target.Target, pool string, o ListenOptions) (Listener, error)
}

// UnwrappedMessages is implemented by a Conn whose wire no Python
// oslo.messaging peer reads (oslo has no such driver: NATS, ZeroMQ). When
// UnwrappedMessages returns true, the core sends JSON RPC requests and
// replies as the bare message dict (the layout of oslo's 1.0 messages)
// rather than as a JSON string inside oslo's 2.0 envelope, which saves
// escaping every message on the way out and unescaping it on the way in.
// Receivers of this library decode both layouts, so senders of either
// kind mix on one wire.
type UnwrappedMessages interface {
	UnwrappedMessages() bool
}

// MessageCopier is implemented by a Conn that is done with a message when
// the method sending it returns: its Send, and the Reply of its
// Incomings, copy m.Body (and whatever else of m they keep, to resend it
// later) before they return, and keep neither m nor their ctx afterwards.
// When CopiesMessages returns true the core encodes into pooled buffers
// and reuses them, and the memory of m, for its next messages.
type MessageCopier interface {
	CopiesMessages() bool
}

// Pinger is implemented by a Conn that can check its connection to the
// broker (transport.Transport.Ping).
type Pinger interface {
	// Ping returns nil when the Conn is connected, or once it connects
	// before ctx ends; otherwise the last connection error.
	Ping(ctx context.Context) error
}
