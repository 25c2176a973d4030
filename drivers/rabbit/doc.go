// Package rabbit is the RabbitMQ driver, built on
// github.com/rabbitmq/amqp091-go. It speaks Python oslo.messaging's rabbit
// driver wire format, so Go and Python services on one broker call each
// other. Import it for its side effect:
//
//	import _ "github.com/oslo-go/messaging/drivers/rabbit"
//
//	tr, err := transport.Open(ctx, "rabbit://guest:guest@h1:5672,guest:guest@h2:5672/?amqp_durable_queues=true")
//
// It registers the URL schemes rabbit and kombu (kombu+x:// too). amqp://
// is oslo's AMQP 1.0 driver, drivers/amqp1.
//
// # URL
//
// oslo's multi-host form: scheme://[user:pass@]host[:port][,[user:pass@]host[:port]...]/virtual_host?option=value.
// Each host has its own credentials, guest/guest when it names none; the
// port defaults to 5672; an empty virtual host means "/"
// ("rabbit:///" is "/", "rabbit:///nova" is "nova"). A URL without hosts
// means guest:guest@localhost:5672. Query parameters are the options below
// and override the options given in Go; an unknown one fails Open with the
// list of known ones.
//
// # Topology
//
// Exactly what oslo.messaging 14 declares, with the same flags and
// arguments, so that Python peers on the same broker never get
// PRECONDITION_FAILED. "durable" is amqp_durable_queues or
// rabbit_quorum_queue; the exchange is the target's (the transport's
// control exchange, "openstack" by default).
//
//	object                          declared by        flags and arguments
//	exchange <exchange>             senders, servers   topic, durable, auto_delete=amqp_auto_delete
//	queue <topic>, <topic>.<server> servers            durable, auto_delete=amqp_auto_delete, x-ha-policy
//	                                                   or quorum arguments; bound with their own name
//	exchange <topic>_fanout         senders, servers   fanout, auto_delete, durable only with
//	                                                   rabbit_transient_quorum_queue
//	queue <topic>_fanout_<uuid hex> each server        x-expires (rabbit_transient_queues_ttl), deleted
//	                                                   when the server closes
//	queue reply_<uuid hex>          each Conn, on its  x-expires; default exchange only
//	                                first call
//	queue <topic>.<priority>        notifiers and      like <topic>; a pool's listeners share the
//	                                listeners          queue <pool>
//
// Calls and casts go to <exchange> with routing key <topic> or
// <topic>.<server>, fanout casts to <topic>_fanout with routing key "",
// replies to the default exchange with the caller's reply queue as routing
// key and the mandatory flag (direct_mandatory_flag), notifications to
// <exchange> with routing key <topic>.<priority>. Every message carries
// kombu's properties: content type application/json, content encoding
// utf-8, delivery mode 2 (persistent), priority 0; call requests also
// carry the call timeout as expiration, in milliseconds. (amqp091 leaves
// out properties with a zero value, so "priority: 0" and an empty header
// table are absent; kombu reads them as 0 and {}.) With
// kombu_compression=gzip bodies are zlib-compressed with the header
// compression: application/x-gzip, as kombu does; compressed bodies
// (gzip or bz2) are decompressed on receipt.
//
// # Guarantees
//
// Every publish is confirmed by the broker. Casts and notifications wait
// for their confirm before the send returns. A call request does not:
// Send returns once it is written and the call waits for its reply at
// once (the reply proves delivery), while the confirm is awaited in the
// background; a mandatory return fails the call as soon as it comes, and
// a nack or a connection lost before the confirm sends the request again
// in the background within the call's retry and deadline, as a send that
// waits does (the failure before the confirm counting as its first),
// failing the call when they run out. A server's reply does not hold its worker either: a reply the
// broker returns or refuses goes to the reply retrier when its confirm
// comes. At most 4,096 confirms per Conn are awaited in the background;
// beyond that sends wait for theirs. RPC requests are
// acknowledged when Listener.Next returns them (oslo's at-most-once: a
// server that dies while handling a request loses it, it never runs it
// twice); replies are consumed without acknowledgement (acknowledged on
// receipt); notifications are acknowledged by Incoming.Ack once handled
// and rejected with requeue by Incoming.Requeue.
//
// What a send that returns nil means:
//
//   - By default (as in oslo): the broker has the message. A message that
//     no queue takes (a topic nobody listens on, a server queue not
//     declared again yet after a broker restart) is dropped by the broker
//     without a word.
//   - With Message.Mandatory (client.AtLeastOnce, oslo's at_least_once):
//     the message is in at least one queue; when none takes it, the
//     broker returns it (basic.return, before its confirm) and the send
//     fails with an error wrapping transport.ErrUndeliverable, so the
//     caller can retry or report it.
//
// Neither says the message was handled, nor that it survives a broker
// restart: a message in a non-durable queue (amqp_durable_queues=false,
// the default) is lost when the broker stops; with durable queues it is
// kept (bodies are always persistent). So across a broker restart, an
// at-least-once cast that returned nil was delivered unless it was still
// waiting in a non-durable queue when the broker stopped; every other one
// returned an error.
//
// Replies are published to the default exchange, mandatory
// (direct_mandatory_flag). A reply whose queue does not exist (NO_ROUTE)
// is handed to a background retrier and Incoming.Reply returns: the
// retrier tries it every 0.25 s for kombu_missing_consumer_retry_timeout,
// as oslo does, but never past the caller's deadline (the reply ctx's, or
// the request's expiration), then drops it with a rate-limited warning and
// remembers the queue as gone for a minute (200 queues at most), so that
// later replies to it are dropped at once. The retrier holds at most 256
// replies and 64 MiB; a reply that does not fit is dropped with a warning.
// Other replies wait for the publish connection within the reply ctx and
// the caller's deadline.
//
// # Limits
//
// A message over max_message_size (default 128 MiB, RabbitMQ's own
// default) fails to send at once with an error wrapping
// transport.ErrMessageTooLarge, and so does one the broker refuses for its
// size (PRECONDITION_FAILED); neither is retried. Other refusals that
// retrying cannot cure (access refused, not allowed, an inequivalent
// declaration, credentials or virtual host refused at connection) fail at
// once too.
//
// Each consumer prefetches as many messages as its listener handles at
// once (the server's or notification listener's MaxConcurrency), unless
// rabbit_qos_prefetch_count is set: a backlog stays on the broker. (Set to
// 0, as oslo's default, the broker pushes the whole backlog into memory.)
//
// Compressed bodies are decompressed by two inflater goroutines per
// listener, so that a server's workers are not held up: first to learn
// the size (a body that decompresses to more than max_message_size is
// dropped without being held in memory), then into a buffer of exactly
// that size, taken from the listener's decompress_budget (default
// 256 MiB, at least max_message_size), which gets the bytes back when the
// body is garbage. A body that waits 5 s for room, or is corrupt, is
// dropped with a rate-limited warning: RPC requests are acknowledged,
// notifications rejected without requeue; never redelivered in a loop.
// Replies are decompressed with the same limits.
//
// # Connections and reconnection
//
// Open validates the URL and the options and returns without connecting,
// as sql.Open does: a service started before its broker does not fail. A
// Conn has one publish connection, shared by all senders, kept up by a
// connector goroutine from Open on: it connects, and after every loss
// reconnects at once, then with backoff. Senders wait for it within their
// ctx; when ctx ends first, the error wraps ctx's error and the last
// connection error (the core turns it into a transport.TimeoutError that
// says, for example, "connection refused"). Message.Retry counts the
// failed connection attempts a send waits through (negative: until ctx
// ends; 0: the last failed attempt counts as the send's). Ping waits for
// the connection.
//
// The publish connection has a few confirm-mode channels: a publisher
// holds a channel only while amqp091 writes its frames, then waits for its
// own confirm, so publishers never wait for each other's confirms.
// Exchanges are declared once per connection. The reply queue and each
// listener have a consume connection of their own, made when first
// needed (Listen and the first call wait for it within their ctx) and
// re-established by itself after a loss, its topology declared again.
// When the reply connection is lost the reply queue is declared again
// under the same name (it survives a lost connection, not a broker
// restart): calls in flight keep waiting for their replies until their
// own timeout, as in oslo.
//
// Connection attempts go over the listed brokers in failover order
// (kombu_failover_strategy; the list is shuffled once, as oslo does),
// after kombu_reconnect_delay, then with pauses growing from
// rabbit_retry_interval by rabbit_retry_backoff up to rabbit_interval_max.
// While no broker accepts TCP connections, the pauses are cut short as
// soon as one does (a TCP probe every 0.25 s), so that connections come
// back within moments of the broker, however long the backoff has grown.
// Warnings that repeat (broker unreachable, connection lost, message
// dropped) are logged once per 10 s with a count; the others go to Debug.
//
// Connections send AMQP heartbeats (heartbeat_timeout_threshold) and are
// named "<program>:<pid>:<uuid>" as oslo names them. A connection that
// receives nothing (no frame, no heartbeat) for the negotiated heartbeat
// timeout, two of the broker's heartbeat intervals, is closed and logged
// as dead (amqp091 alone waits one and a half times as long, silently),
// so a network black hole is noticed within heartbeat_timeout_threshold.
//
// # TLS
//
// With ssl, the broker's certificate chain is verified against
// ssl_ca_file, or without it against the system's CAs (as py-amqp does;
// this driver no longer skips verification without a CA file). The host
// name is verified too, unless ssl_enforce_hostname_verification is off;
// oslo 14 never verifies it without ssl_ca_file and, on Debian, not by
// default with one. ssl_insecure_skip_verify turns all verification off
// and Open logs a warning: anyone on the path can then pose as the
// broker and read the password. TLSConfig replaces all of this with a
// tls.Config of your own.
//
// # Options
//
// Options have oslo's [oslo_messaging_rabbit] names and defaults. Set them
// in the URL query or with the functions of this package (DurableQueues,
// QuorumQueues, ..., or Param for any name).
//
//	name                                  default      meaning
//	amqp_durable_queues                   false        durable RPC and notification queues and exchange
//	amqp_auto_delete                      false        auto-delete RPC and notification queues and exchange
//	rabbit_quorum_queue                   false        quorum RPC and notification queues (implies durable)
//	rabbit_quorum_delivery_limit          0            x-delivery-limit of quorum queues (0: none)
//	rabbit_quorum_max_memory_length       0            x-max-in-memory-length (alias rabbit_quroum_...)
//	rabbit_quorum_max_memory_bytes        0            x-max-in-memory-bytes (alias rabbit_quroum_...)
//	rabbit_transient_quorum_queue         false        quorum reply and fanout queues
//	rabbit_ha_queues                      false        x-ha-policy: all on every queue (not with quorum)
//	rabbit_transient_queues_ttl           1800         x-expires of reply and fanout queues, s (0: none)
//	rabbit_qos_prefetch_count             (capacity)   consumer prefetch; unset: the listener's MaxConcurrency (0: unlimited)
//	heartbeat_timeout_threshold           60           AMQP heartbeat timeout, s (alias heartbeat; 0: the broker's)
//	heartbeat_rate                        3            accepted; amqp091 beats at half the timeout
//	kombu_failover_strategy               round-robin  round-robin or shuffle
//	kombu_reconnect_delay                 1.0          pause before reconnecting, s (at most 4.5)
//	kombu_reconnect_splay                 0.0          random extra pause, up to this, s
//	rabbit_retry_interval                 1            first pause between connection attempts, s
//	rabbit_retry_backoff                  2            added to the pause after each failure, s
//	rabbit_interval_max                   30           longest pause, s
//	kombu_missing_consumer_retry_timeout  60           how long a reply to a missing queue is retried, s
//	kombu_compression                     (none)       gzip; bz2 is received but cannot be sent
//	direct_mandatory_flag                 true         replies are mandatory (missing queues detected)
//	ssl                                   false        TLS (amqps)
//	ssl_ca_file                           (system)     CAs to verify the broker; without it the system's
//	ssl_cert_file, ssl_key_file           (none)       client certificate and key
//	ssl_version                           (best)       tlsv1, tlsv1_1, tlsv1_2, tlsv1_3 or sslv23
//	ssl_enforce_hostname_verification     true         also verify the broker's host name
//	ssl_insecure_skip_verify              false        verify nothing, log a warning (Go only; tests)
//	rabbit_login_method                   AMQPLAIN     AMQPLAIN, PLAIN or EXTERNAL
//	enable_cancel_on_failover             false        consumer argument x-cancel-on-ha-failover
//	connection_name                       (program)    prefix of the connection names (Go only)
//	publish_channels                      2            confirm-mode channels for publishing (Go only)
//	max_message_size                      134217728    largest message sent or decompressed, bytes (Go only)
//	decompress_budget                     268435456    decompressed bytes a listener holds at once (Go only)
//	rpc_conn_pool_size, conn_pool_min_size, conn_pool_ttl, heartbeat_in_pthread,
//	ssl_enforce_fips_mode (false), use_queue_manager (false), rabbit_stream_fanout (false)
//	                                                   accepted for compatibility, no effect
//
// As oslo, Open refuses rabbit_quorum_queue (or
// rabbit_transient_quorum_queue) together with rabbit_ha_queues. If the
// broker refuses a durable exchange or queue because it exists as
// non-durable, the driver declares it non-durable, as oslo does.
//
// # Compatibility
//
// The wire format (bodies, properties, routing, topology) is the one of
// Python oslo.messaging 14.0 (Debian 12's python3-oslo.messaging), checked
// by the package tests against messages that version published. Options
// that newer oslo versions added (rabbit_transient_quorum_queue) follow
// those versions. Not supported: oslo's queue manager and stream fanout,
// sending with bz2 compression, the RABBIT-CR-DEMO login method.
package rabbit
