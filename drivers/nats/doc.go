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
// error matching transport.ErrNoServers instead of waiting for its
// timeout.
//
// Message headers: "Content-Type" carries the codec when it is not JSON.
// JSON messages carry no header at all.
//
// Core NATS keeps nothing: a cast to a topic no server listens on is
// dropped, and Send returns once nats.go has taken the message (there are
// no publisher confirmations). When an RPC listener closes, the messages
// it had received but not yet handed to its server are published again on
// their subject (fanout copies excepted), so that another server of the
// topic takes them or the caller gets "no responders" at once.
//
// Bodies larger than the server's max_payload (1 MiB by default) travel as
// a claim check: the message carries the first chunk and the header
// Oslo-Blob, and the receiver requests the other chunks from the sender on
// <inbox>.~B. The sender keeps such a body until it is fetched (fanout
// bodies, which several servers fetch, until they expire), at most the
// message's expiration or [LargeMessageTTL]. Notifications cannot exceed
// max_payload.
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
// nats.go reconnects by itself (forever by default, see [MaxReconnects])
// and sends the subscriptions again: RPC listeners and the reply inbox
// resume without help, and notification listeners pull again (their
// consumers are durable; with file storage they survive a server restart,
// and a consumer deleted meanwhile is made again).
// When a connection drops, every call in flight on it fails at once with an
// error matching transport.ErrConnectionLost: its reply, if any, may be
// lost. Messages published while disconnected are buffered (8 MiB by
// default) and sent on reconnect. A connection that gives up reconnecting
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
//	listener_buffer            ListenerBuffer           65536 messages
//	large_message_ttl          LargeMessageTTL          2m
//	tls                        TLSConfig                false
//	tls_ca_file                -                        system roots
//	tls_cert_file, tls_key_file -                       none (client certificate)
//	tls_server_name            -                        the host name
//	tls_insecure               -                        false (skip verification)
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
// and dropped messages at Warn, errors at Error.
package nats
