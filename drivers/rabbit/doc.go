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
// Every publish waits for the broker's confirm. RPC requests are
// acknowledged before Listener.Next returns them (oslo's at-most-once);
// replies are consumed without acknowledgement (acknowledged on receipt);
// notifications are acknowledged by Incoming.Ack once handled and rejected
// with requeue by Incoming.Requeue. A reply whose reply queue does not
// exist is retried every 0.25 s for kombu_missing_consumer_retry_timeout,
// then dropped, and its queue remembered as gone for a minute (200 queues
// at most) so that later replies to it are dropped at once.
//
// # Connections and reconnection
//
// A Conn has one publish connection, shared by all senders, with a few
// confirm-mode channels: a publisher holds a channel only while amqp091
// writes its frames, then waits for its own confirm, so publishers never
// wait for each other's confirms. Exchanges are declared once per
// connection. The reply queue and each listener have a consume connection
// of their own. Connections send AMQP heartbeats
// (heartbeat_timeout_threshold) and are named "<program>:<pid>:<uuid>" as
// oslo names them.
//
// Connection attempts go over the listed brokers in failover order
// (kombu_failover_strategy; the list is shuffled once, as oslo does). A
// lost consume connection is re-established by itself: after
// kombu_reconnect_delay, then with pauses growing from
// rabbit_retry_interval by rabbit_retry_backoff up to rabbit_interval_max;
// its topology is declared again and consuming resumes. When the reply
// connection is lost, every call in flight fails at once with
// transport.ErrConnectionLost rather than at its timeout. A send on a lost
// publish connection reconnects at once, then backs off the same way;
// Message.Retry bounds the retries (negative: until the context ends).
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
//	rabbit_qos_prefetch_count             0            consumer prefetch of listeners (0: unlimited)
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
//	ssl_ca_file                           (none)       CAs to verify the broker; without it no verification
//	ssl_cert_file, ssl_key_file           (none)       client certificate and key
//	ssl_version                           (best)       tlsv1, tlsv1_1, tlsv1_2, tlsv1_3 or sslv23
//	ssl_enforce_hostname_verification     true         with ssl_ca_file, also verify the host name
//	rabbit_login_method                   AMQPLAIN     AMQPLAIN, PLAIN or EXTERNAL
//	enable_cancel_on_failover             false        consumer argument x-cancel-on-ha-failover
//	connection_name                       (program)    prefix of the connection names (Go only)
//	publish_channels                      2            confirm-mode channels for publishing (Go only)
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
