// Package nats is the NATS driver, for the URL scheme nats://. Import it for
// its side effect:
//
//	import _ "github.com/oslo-go/messaging/drivers/nats"
//
//	tr, err := transport.Open(ctx, "nats://user:pass@h1:4222,user:pass@h2:4222/?tls=true")
//
// RPC travels over core NATS (queue groups, plain subscriptions, one
// reply inbox per connection); notifications travel over JetStream, so
// that they wait for listeners that are down. [StartEmbedded] runs a NATS
// server with JetStream inside the process, for programs and tests that
// need no broker at all.
//
// oslo.messaging never had a NATS driver: the subject layout below is this
// package's, and it is stable.
//
// # Subjects
//
// Every field of a target (exchange, topic, server) is exactly one subject
// token, escaped: bytes other than A-Z a-z 0-9 "-" "_" become "~" and two
// upper-case hex digits, and the empty string becomes "~". A topic such as
// "guestagent.5f2c" is the token "guestagent~2E5f2c"; "a b*>" is
// "a~20b~2A~3E". Escaped tokens are never empty and never hold ".", "*",
// ">", white space, "%", "+" or "=", so distinct targets never share a
// subject. With the subject prefix P ("oslo" by default, see
// [SubjectPrefix]):
//
//	P.rpc.<exchange>.<topic>            topic: queue group "rpc" (competing consumers)
//	P.rpc.<exchange>.<topic>.<server>   direct to one server: queue group "rpc"
//	P.fanout.<topic>                    fanout: plain subscription per server, any exchange
//	P.notify.<exchange>.<topic>         notifications (topic = <topic>.<priority>), JetStream
//	<inbox>.<msg id>[=<ms>]             replies and heartbeats of one call
//	<inbox>.~B                          chunks of the connection's large messages
//
// A server listening on a target subscribes to its topic and server
// subjects in the queue group "rpc" and to its fanout subject; exchanges
// isolate topics, fanout ignores the exchange (as in oslo, whose fanout
// exchange is named after the topic only). Two servers with the same
// topic and server name share the direct messages, as they would share the
// topic.server queue on RabbitMQ. <inbox> is nats.go's inbox,
// "_INBOX.<nuid>" (change the prefix with NATSOptions(nats.CustomInboxPrefix(...))).
//
// # Calls and replies
//
// Each connection has one reply subscription, on the wildcard <inbox>.*,
// made on first use: [driver.Conn.ReplyAddress] returns <inbox>, and a
// call request is published with the NATS reply subject <inbox>.<msg id>,
// followed by "=<ms>", the request's expiration in milliseconds (the
// call's remaining timeout), from which the server side rebuilds
// Message.Expiration and so the handler's deadline.
// A server answers, heartbeats included, on the request's NATS reply
// subject; the core correlates the replies by the message id in their
// body. No call makes a subscription of its own.
//
// Connections announce header support, so the NATS server answers a
// request sent to a subject nobody subscribes to with a "no responders"
// status (503) on the reply subject: such a call fails at once with an
// error matching transport.ErrNoServers (and transport.ErrUndeliverable)
// instead of waiting for its timeout. Except right after a reconnect:
// every client subscribes again when its own reconnection succeeds, so a
// caller back first would find "no responders" on targets whose servers
// are not back yet. A call request sent while disconnected or within
// [ReconnectGrace] (5 s) after a reconnect is kept for a moment, and "no
// responders" for it sends it again (after 25 ms, doubling up to 500 ms)
// until a server takes it, its expiration passes or the grace ends; only
// then does it fail with ErrNoServers. At most 4096 requests and 16 MiB
// are kept; requests beyond go without this second chance.
//
// Message headers: "Content-Type" carries the codec when it is not JSON.
// JSON messages carry no header at all.
//
// Bodies: JSON RPC requests and replies are the bare message dict
// ({"method": ..., "args": ..., "_msg_id": ...}, the layout of oslo's 1.0
// messages), not a JSON string inside oslo's 2.0 envelope: no Python peer
// reads this wire, and the envelope costs escaping every message on the
// way out and unescaping it on the way in (driver.UnwrappedMessages).
// Servers take both layouts, so senders of earlier releases, which
// enveloped every message, mix with these. Notifications keep the
// envelope.
//
// Core NATS keeps nothing: a cast to a topic no server listens on is
// dropped, and Send returns once nats.go has taken the message (there are
// no publisher confirmations). So Message.Mandatory (oslo's at_least_once,
// client.AtLeastOnce) cannot be honoured for casts: NATS cannot tell
// whether a cast reached a subscriber, and such a cast is sent as any
// other. A call to nobody fails with ErrNoServers and ErrUndeliverable
// whether it is mandatory or not.
//
// # RPC listeners
//
// A server's listener takes what NATS delivers into a backlog, from which
// the server's workers take messages as they become free. NATS does not
// wait for slow consumers, so the backlog is what a busy server holds: at
// most [ListenerBuffer] messages (65536) and [ListenerBufferBytes] bytes
// (64 MiB; one message larger than that still gets in when the backlog is
// empty), large bodies being fetched included. Beyond them messages are
// dropped, and logged (rate-limited) as a slow consumer: a dropped cast is
// lost, a dropped call times out. The backlog's storage grows with what it
// holds, from the server's MaxConcurrency. A call request that expired
// while it waited is dropped; the others reach the handler with what is
// left of their expiration. Memory is thus bounded whatever the backlog:
// by the backlog's bytes plus what the server's workers hold.
//
// When an RPC listener closes, the messages it had received but not yet
// handed to its server are published again on their subject (fanout
// copies excepted), so that another server of the topic takes them or the
// caller gets "no responders" at once.
//
// # Large messages
//
// Bodies up to [MaxMessageSize] (128 MiB, as RabbitMQ's max_message_size)
// travel; Send fails at once, with an error matching
// transport.ErrMessageTooLarge, for a larger one. Bodies larger than the
// server's max_payload (1 MiB by default) travel as a claim check: the
// message carries the first chunk and the header Oslo-Blob, and the
// receiver requests the other chunks from the sender on <inbox>.~B. The
// sender keeps such a body, under a random id, until it is fetched (fanout
// bodies, which several servers fetch, until they expire), at most the
// message's expiration or [LargeMessageTTL]. Notifications cannot exceed
// max_payload (ErrMessageTooLarge too).
//
// The receiver trusts nothing in the header, which anyone allowed to
// publish on the subject can write: it fetches only from a "~B" subject,
// drops a claim over max_message_size without fetching, grows the body as
// chunks arrive (never from the announced size), gives each chunk 2 s and
// the whole body 30 s (or the call's expiration), and fetches beside the
// listener, at most 4 bodies at a time per connection and 64 waiting per
// listener: a sender that never answers costs a fetch slot for 2 s, never
// a server's worker or another request.
//
// # Notifications (JetStream)
//
// Each exchange has one stream, created on first use when it does not
// exist (an existing stream is used as it is: change its limits with the
// nats CLI):
//
//	stream   <escaped P>+notify+<escaped exchange>     e.g. oslo+notify+openstack
//	subjects P.notify.<exchange>.*
//	         retention interest, discard old, file storage, 1 replica,
//	         max age 7 days, max bytes 1 GiB, max messages unlimited
//
// Each notification topic (priority included) has one durable pull
// consumer per pool, filtered on its subject, with explicit
// acknowledgement, ack wait 30 s, unlimited redeliveries and "deliver new"
// (a pool gets what is sent after it was first created):
//
//	consumer <escaped topic>                  the default pool, e.g. notifications~2Einfo
//	         <escaped topic>+<escaped pool>   a named pool
//
// [driver.Notifier.Notify] creates the default pool's consumer before it
// publishes (as the RabbitMQ notifier declares the default queue), so what
// is sent before any listener runs is kept for it; it returns once
// JetStream has stored the message. A listener consumes one consumer per
// target, pulling batches of up to [NotifyPrefetch] messages (pull
// requests of 5 s with 1 s idle heartbeats, so that a pull lost in a
// server restart is made again within about 2 s); listeners of one pool
// share its messages and every pool gets each message once. A message is acknowledged when the listener calls
// Ack after handling it; Requeue rejects it (Nak) for immediate
// redelivery; a listener that closes rejects what it holds. Messages stay
// until every consumer has acknowledged them (interest retention), or
// until the stream's limits drop them. A pool's consumer lives until it is
// deleted, unless [NotifyInactiveThreshold] is set; with interest
// retention a pool that is never consumed again keeps its messages until
// the limits drop them, so delete unused consumers (nats consumer rm).
//
// # Connections and reconnection
//
// Open, as sql.Open, fails only for a URL or options that cannot work. It
// tries the servers once (each within connect_timeout, all within Open's
// ctx) and returns, connected or not: a service started before its NATS
// server does not fail. A connection that could not be made is retried in
// the background every [ReconnectWait], up to [MaxReconnects] (forever by
// default). Operations wait for the first connection within their ctx
// (Send, ReplyAddress, Listen, Notify, ListenNotifications; so a call or a
// server's Start) and, when it ends first, fail with an error wrapping
// both the ctx's error and the last connection error (the dial error, a
// refused certificate, an authorization violation). Transport.Ping
// (driver.Pinger) makes a round trip to the server, waiting within its ctx
// for the connection. A refused authorization closes the connection for
// good after two tries, as nats.go does; operations then fail with
// ErrConnectionLost naming the reason. Close stops a dial or a handshake
// in progress.
//
// nats.go reconnects by itself (forever by default, see [MaxReconnects])
// and sends the subscriptions again: RPC listeners and the reply inbox
// resume without help, and notification listeners pull again (their
// consumers are durable; with file storage they survive a server restart,
// and a consumer deleted meanwhile is made again).
// When a connection drops, every call in flight on it fails at once with an
// error matching transport.ErrConnectionLost: its reply, if any, may be
// lost. While disconnected, calls and casts wait for the connection
// within their ctx (and, when it ends first, fail with an error naming the
// last connection error); a message sent with Retry 0 (replies, and
// client.Retry(0)) goes to nats.go's reconnect buffer (8 MiB by default)
// and is sent on reconnect. A connection that gives up reconnecting
// is dead: calls fail with transport.ErrConnectionLost and listeners return
// it from Next; reopen the transport. Close is idempotent and waits for
// nats.go's goroutines.
//
// # URL and options
//
//	nats://[user:pass@]host[:port][,[user:pass@]host[:port]...][/][?key=value&...]
//
// Each host has its own credentials; a user name without a password is a
// token. No host means 127.0.0.1:4222; the default port is 4222. The URL
// has no virtual host. Unknown query parameters are an error. Durations are
// Go durations ("500ms", "2m") or seconds ("30"). Every parameter has a Go
// option (pass it to transport.Open); the URL wins over the option.
//
//	query parameter            option                   default
//	subject_prefix             SubjectPrefix            oslo
//	name                       ConnectionName           the program's name
//	connect_timeout            ConnectTimeout           5s
//	reconnect_wait             ReconnectWait            2s
//	max_reconnects             MaxReconnects            -1 (forever)
//	ping_interval              PingInterval             2m (nats.go's)
//	reconnect_grace            ReconnectGrace           5s (0: no second chance)
//	listener_buffer            ListenerBuffer           65536 messages
//	listener_buffer_bytes      ListenerBufferBytes      67108864 (64 MiB)
//	max_message_size           MaxMessageSize           134217728 (128 MiB)
//	large_message_ttl          LargeMessageTTL          2m
//	tls                        TLSConfig                false
//	tls_ca_file                -                        system roots
//	tls_cert_file, tls_key_file -                       none (client certificate)
//	tls_server_name            -                        the host name
//	tls_insecure               -                        false (skip verification; logs a warning)
//	creds_file                 CredentialsFile          none (NATS JWT + nkey)
//	notify_max_age             NotifyMaxAge             168h (0: unlimited)
//	notify_max_bytes           NotifyMaxBytes           1073741824 (-1: unlimited)
//	notify_max_msgs            NotifyMaxMsgs            -1 (unlimited)
//	notify_replicas            NotifyReplicas           1
//	notify_storage             NotifyMemoryStorage      file (or memory)
//	notify_ack_wait            NotifyAckWait            30s
//	notify_max_deliver         NotifyMaxDeliver         -1 (unlimited)
//	notify_inactive_threshold  NotifyInactiveThreshold  0 (consumers kept)
//	notify_prefetch            NotifyPrefetch           16
//	-                          NATSOptions              raw nats.go options
//
// The notify_* settings apply to streams and consumers the driver creates.
//
// With tls=true (or any tls_* parameter, or a server that requires TLS)
// the server's certificate is verified against tls_ca_file, or the
// system's roots, and its name against the host name (or
// tls_server_name). Verification is skipped only when asked for with
// tls_insecure=true (or a TLSConfig with InsecureSkipVerify), and Open
// then logs a warning: anyone in between can read the credentials.
//
// Passwords and tokens never appear in errors or log lines: the driver
// logs servers by address and scrubs the URL's credentials (and those of
// any URL) from the texts of nats.go's errors.
//
// # Embedded server
//
// Package [github.com/oslo-go/messaging/drivers/nats/embedded] starts
// nats-server in the process: loopback, a random port (embedded.Port for a
// fixed one), JetStream on with its store in a temporary directory removed
// at Shutdown (embedded.StoreDir for a kept one, which a server started
// again on the same port finds as it was), and no logging unless
// embedded.WithLogger is given. It returns once the server accepts
// connections. It is a package of its own so that programs that do not use
// it do not link nats-server:
//
//	srv, err := embedded.Start()
//	if err != nil { ... }
//	defer srv.Shutdown()
//	tr, err := transport.Open(ctx, srv.URL())
//
// # Logging
//
// The driver logs through the transport's logger: connections,
// subscriptions and streams at Debug, reconnections at Info, disconnections
// and dropped messages at Warn, errors at Error. Lines that can repeat
// (failed reconnection tries, slow consumers, dropped messages, resent
// calls, asynchronous errors) appear once per 10 s with a count of those
// held back, which go to Debug.
package nats
