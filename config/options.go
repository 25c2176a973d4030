package config

import "time"

// The groups this package registers on every Config, in the order the
// sample lists them after DEFAULT.
const (
	RabbitGroup        = "oslo_messaging_rabbit"
	AMQPGroup          = "oslo_messaging_amqp"
	NotificationsGroup = "oslo_messaging_notifications"
	MetricsGroup       = "oslo_messaging_metrics"
	NATSGroup          = "oslo_messaging_nats"
	ZMQGroup           = "oslo_messaging_zmq"
	UpgradeLevelsGroup = "upgrade_levels"
)

// messagingGroup is one group of options this package registers.
type messagingGroup struct {
	name      string
	namespace string // the sample's "From ..." line
	opts      []Opt
}

// messagingGroups are registered by Load. DEFAULT, notifications, rabbit,
// amqp and metrics are oslo.messaging 14.0.3's (oslo_messaging.opts.list_opts
// and oslo_messaging._metrics), with its names (including the misspelt
// rabbit_quroum_* ones), types, bounds, defaults and help; NATS and ZeroMQ
// are the URL query options of this module's drivers.
var messagingGroups = []messagingGroup{
	{DefaultGroup, "oslo.messaging", defaultOpts},
	{AMQPGroup, "oslo.messaging", amqpOpts},
	{MetricsGroup, "oslo.messaging", metricsOpts},
	{NATSGroup, "oslo-go/messaging", natsOpts},
	{NotificationsGroup, "oslo.messaging", notificationsOpts},
	{RabbitGroup, "oslo.messaging", rabbitOpts},
	{ZMQGroup, "oslo-go/messaging", zmqOpts},
}

// defaultOpts lists oslo.messaging 14.0.3's options of [DEFAULT].
var defaultOpts = []Opt{
	{Name: "rpc_conn_pool_size", Kind: Int, Default: 30, Min: Bound(1), Deprecated: []DeprecatedName{{Group: "DEFAULT"}}, Help: "Size of RPC connection pool."},
	{Name: "conn_pool_min_size", Kind: Int, Default: 2, Help: "The pool size limit for connections expiration policy"},
	{Name: "conn_pool_ttl", Kind: Int, Default: 1200, Help: "The time-to-live in sec of idle connections in the pool"},
	{Name: "executor_thread_pool_size", Kind: Int, Default: 64, Deprecated: []DeprecatedName{{Name: "rpc_thread_pool_size"}}, Help: "Size of executor thread pool when executor is threading or eventlet."},
	{Name: "rpc_response_timeout", Kind: Int, Default: 60, Help: "Seconds to wait for a response from a call."},
	{Name: "transport_url", Kind: String, Default: "rabbit://", Secret: true, Help: "The network address and optional user credentials for connecting to the messaging backend, in URL format. The expected format is:\n\ndriver://[user:pass@]host:port[,[userN:passN@]hostN:portN]/virtual_host?query\n\nExample: rabbit://rabbitmq:password@127.0.0.1:5672//\n\nFor full details on the fields in the URL see the documentation of oslo_messaging.TransportURL at https://docs.openstack.org/oslo.messaging/latest/reference/transport.html"},
	{Name: "control_exchange", Kind: String, Default: "openstack", Help: "The default exchange under which topics are scoped. May be overridden by an exchange name specified in the transport_url option."},
	{Name: "rpc_ping_enabled", Kind: Bool, Default: false, Help: "Add an endpoint to answer to ping calls. Endpoint is named oslo_rpc_server_ping"},
}

// notificationsOpts lists oslo.messaging 14.0.3's options of [oslo_messaging_notifications].
var notificationsOpts = []Opt{
	{Name: "driver", Kind: MultiString, Default: []string{}, Deprecated: []DeprecatedName{{Group: "DEFAULT", Name: "notification_driver"}}, Help: "The Drivers(s) to handle sending notifications. Possible values are messaging, messagingv2, routing, log, test, noop"},
	{Name: "transport_url", Kind: String, Secret: true, Deprecated: []DeprecatedName{{Group: "DEFAULT", Name: "notification_transport_url"}}, Help: "A URL representing the messaging driver to use for notifications. If not set, we fall back to the same configuration used for RPC."},
	{Name: "topics", Kind: List, Default: []string{"notifications"}, Deprecated: []DeprecatedName{{Group: "rpc_notifier2", Name: "topics"}, {Group: "DEFAULT", Name: "notification_topics"}}, Help: "AMQP topic used for OpenStack notifications."},
	{Name: "retry", Kind: Int, Default: -1, Help: "The maximum number of attempts to re-send a notification message which failed to be delivered due to a recoverable error. 0 - No retry, -1 - indefinite"},
}

// amqpOpts lists oslo.messaging 14.0.3's options of [oslo_messaging_amqp],
// read by drivers/amqp1.
var amqpOpts = []Opt{
	{Name: "container_name", Deprecated: []DeprecatedName{{Group: "amqp1"}}, Help: "Name for the AMQP container. must be globally unique. Defaults to a generated UUID"},
	{Name: "idle_timeout", Kind: Int, Default: 0, Deprecated: []DeprecatedName{{Group: "amqp1"}}, Help: "Timeout for inactive connections (in seconds)"},
	{Name: "trace", Kind: Bool, Default: false, Deprecated: []DeprecatedName{{Group: "amqp1"}}, Help: "Debug: dump AMQP frames to stdout"},
	{Name: "ssl", Kind: Bool, Default: false, Help: "Attempt to connect via SSL. If no other ssl-related parameters are given, it will use the system's CA-bundle to verify the server's certificate."},
	{Name: "ssl_ca_file", Default: "", Deprecated: []DeprecatedName{{Group: "amqp1"}}, Help: "CA certificate PEM file used to verify the server's certificate"},
	{Name: "ssl_cert_file", Default: "", Deprecated: []DeprecatedName{{Group: "amqp1"}}, Help: "Self-identifying certificate PEM file for client authentication"},
	{Name: "ssl_key_file", Default: "", Deprecated: []DeprecatedName{{Group: "amqp1"}}, Help: "Private key PEM file used to sign ssl_cert_file certificate (optional)"},
	{Name: "ssl_key_password", Secret: true, Deprecated: []DeprecatedName{{Group: "amqp1"}}, Help: "Password for decrypting ssl_key_file (if encrypted)"},
	{Name: "ssl_verify_vhost", Kind: Bool, Default: false, Help: "By default SSL checks that the name in the server's certificate matches the hostname in the transport_url. In some configurations it may be preferable to use the virtual hostname instead, for example if the server uses the Server Name Indication TLS extension (rfc6066) to provide a certificate per virtual host. Set ssl_verify_vhost to True if the server's SSL certificate uses the virtual host name instead of the DNS name."},
	{Name: "sasl_mechanisms", Default: "", Deprecated: []DeprecatedName{{Group: "amqp1"}}, Help: "Space separated list of acceptable SASL mechanisms"},
	{Name: "sasl_config_dir", Default: "", Deprecated: []DeprecatedName{{Group: "amqp1"}}, Help: "Path to directory that contains the SASL configuration"},
	{Name: "sasl_config_name", Default: "", Deprecated: []DeprecatedName{{Group: "amqp1"}}, Help: "Name of configuration file (without .conf suffix)"},
	{Name: "sasl_default_realm", Default: "", Help: "SASL realm to use if no realm present in username"},
	{Name: "connection_retry_interval", Kind: Int, Default: 1, Min: Bound(1.0), Help: "Seconds to pause before attempting to re-connect."},
	{Name: "connection_retry_backoff", Kind: Int, Default: 2, Min: Bound(0.0), Help: "Increase the connection_retry_interval by this many seconds after each unsuccessful failover attempt."},
	{Name: "connection_retry_interval_max", Kind: Int, Default: 30, Min: Bound(1.0), Help: "Maximum limit for connection_retry_interval + connection_retry_backoff"},
	{Name: "link_retry_delay", Kind: Int, Default: 10, Min: Bound(1.0), Help: "Time to pause between re-connecting an AMQP 1.0 link that failed due to a recoverable error."},
	{Name: "default_reply_retry", Kind: Int, Default: 0, Min: Bound(-1.0), Help: "The maximum number of attempts to re-send a reply message which failed due to a recoverable error."},
	{Name: "default_reply_timeout", Kind: Int, Default: 30, Min: Bound(5.0), Help: "The deadline for an rpc reply message delivery."},
	{Name: "default_send_timeout", Kind: Int, Default: 30, Min: Bound(5.0), Help: "The deadline for an rpc cast or call message delivery. Only used when caller does not provide a timeout expiry."},
	{Name: "default_notify_timeout", Kind: Int, Default: 30, Min: Bound(5.0), Help: "The deadline for a sent notification message delivery. Only used when caller does not provide a timeout expiry."},
	{Name: "default_sender_link_timeout", Kind: Int, Default: 600, Min: Bound(1.0), Help: "The duration to schedule a purge of idle sender links. Detach link after expiry."},
	{Name: "addressing_mode", Default: "dynamic", Help: "Indicates the addressing mode used by the driver. Permitted values: 'legacy' - use legacy non-routable addressing 'routable' - use routable addresses 'dynamic' - use legacy addresses if the message bus does not support routing otherwise use routable addressing"},
	{Name: "pseudo_vhost", Kind: Bool, Default: true, Help: "Enable virtual host support for those message buses that do not natively support virtual hosting (such as qpidd). When set to true the virtual host name will be added to all message bus addresses, effectively creating a private 'subnet' per virtual host. Set to False if the message bus supports virtual hosting using the 'hostname' field in the AMQP 1.0 Open performative as the name of the virtual host."},
	{Name: "server_request_prefix", Default: "exclusive", Deprecated: []DeprecatedName{{Group: "amqp1"}}, Help: "address prefix used when sending to a specific server"},
	{Name: "broadcast_prefix", Default: "broadcast", Deprecated: []DeprecatedName{{Group: "amqp1"}}, Help: "address prefix used when broadcasting to all servers"},
	{Name: "group_request_prefix", Default: "unicast", Deprecated: []DeprecatedName{{Group: "amqp1"}}, Help: "address prefix when sending to any server in group"},
	{Name: "rpc_address_prefix", Default: "openstack.org/om/rpc", Help: "Address prefix for all generated RPC addresses"},
	{Name: "notify_address_prefix", Default: "openstack.org/om/notify", Help: "Address prefix for all generated Notification addresses"},
	{Name: "multicast_address", Default: "multicast", Help: "Appended to the address prefix when sending a fanout message. Used by the message bus to identify fanout messages."},
	{Name: "unicast_address", Default: "unicast", Help: "Appended to the address prefix when sending to a particular RPC/Notification server. Used by the message bus to identify messages sent to a single destination."},
	{Name: "anycast_address", Default: "anycast", Help: "Appended to the address prefix when sending to a group of consumers. Used by the message bus to identify messages that should be delivered in a round-robin fashion across consumers."},
	{Name: "default_notification_exchange", Help: "Exchange name used in notification addresses. Exchange name resolution precedence: Target.exchange if set else default_notification_exchange if set else control_exchange if set else 'notify'"},
	{Name: "default_rpc_exchange", Help: "Exchange name used in RPC addresses. Exchange name resolution precedence: Target.exchange if set else default_rpc_exchange if set else control_exchange if set else 'rpc'"},
	{Name: "reply_link_credit", Kind: Int, Default: 200, Min: Bound(1.0), Help: "Window size for incoming RPC Reply messages."},
	{Name: "rpc_server_credit", Kind: Int, Default: 100, Min: Bound(1.0), Help: "Window size for incoming RPC Request messages"},
	{Name: "notify_server_credit", Kind: Int, Default: 100, Min: Bound(1.0), Help: "Window size for incoming Notification messages"},
	{Name: "pre_settled", Kind: MultiString, Default: []string{"rpc-cast", "rpc-reply"}, Help: "Send messages of this type pre-settled. Pre-settled messages will not receive acknowledgement from the peer. Note well: pre-settled messages may be silently discarded if the delivery fails. Permitted values: 'rpc-call' - send RPC Calls pre-settled 'rpc-reply'- send RPC Replies pre-settled 'rpc-cast' - Send RPC Casts pre-settled 'notify' - Send Notifications pre-settled"},
}

// rabbitOpts lists oslo.messaging 14.0.3's options of [oslo_messaging_rabbit].
var rabbitOpts = []Opt{
	{Name: "amqp_durable_queues", Kind: Bool, Default: false, Help: "Use durable queues in AMQP. If rabbit_quorum_queue is enabled, queues will be durable and this value will be ignored."},
	{Name: "amqp_auto_delete", Kind: Bool, Default: false, Deprecated: []DeprecatedName{{Group: "DEFAULT"}}, Help: "Auto-delete queues in AMQP."},
	{Name: "ssl", Kind: Bool, Default: false, Deprecated: []DeprecatedName{{Name: "rabbit_use_ssl"}}, Help: "Connect over SSL."},
	{Name: "ssl_version", Kind: String, Default: "", Deprecated: []DeprecatedName{{Name: "kombu_ssl_version"}}, Help: "SSL version to use (valid only if SSL enabled). Valid values are TLSv1 and SSLv23. SSLv2, SSLv3, TLSv1_1, and TLSv1_2 may be available on some distributions."},
	{Name: "ssl_key_file", Kind: String, Default: "", Deprecated: []DeprecatedName{{Name: "kombu_ssl_keyfile"}}, Help: "SSL key file (valid only if SSL enabled)."},
	{Name: "ssl_cert_file", Kind: String, Default: "", Deprecated: []DeprecatedName{{Name: "kombu_ssl_certfile"}}, Help: "SSL cert file (valid only if SSL enabled)."},
	{Name: "ssl_ca_file", Kind: String, Default: "", Deprecated: []DeprecatedName{{Name: "kombu_ssl_ca_certs"}}, Help: "SSL certification authority file (valid only if SSL enabled)."},
	{Name: "ssl_enforce_hostname_verification", Kind: Bool, Default: false, Help: "When true, verify the broker hostname against the certificate when ``ssl_ca_file`` is set. When false (default on stable branches), ``ssl`` with ``ssl_ca_file`` still validates the certificate chain but does not verify the broker hostname. ``ssl=true`` without ``ssl_ca_file`` never enables hostname verification."},
	{Name: "ssl_enforce_fips_mode", Kind: Bool, Default: false, Help: "Global toggle for enforcing the OpenSSL FIPS mode. This feature requires Python support. This is available in Python 3.9 in all environments and may have been backported to older Python versions on select environments. If the Python executable used does not support OpenSSL FIPS mode, an exception will be raised."},
	{Name: "heartbeat_in_pthread", Kind: Bool, Default: false, Help: "Run the health check heartbeat thread through a native python thread by default. If this option is equal to False then the health check heartbeat will inherit the execution model from the parent process. For example if the parent process has monkey patched the stdlib by using eventlet/greenlet then the heartbeat will be run through a green thread. This option should be set to True only for the wsgi services."},
	{Name: "kombu_reconnect_delay", Kind: Float, Default: 1.0, Min: Bound(0.0), Max: Bound(4.5), Deprecated: []DeprecatedName{{Group: "DEFAULT"}}, Help: "How long to wait (in seconds) before reconnecting in response to an AMQP consumer cancel notification."},
	{Name: "kombu_compression", Kind: String, Help: "EXPERIMENTAL: Possible values are: gzip, bz2. If not set compression will not be used. This option may not be available in future versions."},
	{Name: "kombu_missing_consumer_retry_timeout", Kind: Int, Default: 60, Deprecated: []DeprecatedName{{Name: "kombu_reconnect_timeout"}}, Help: "How long to wait a missing client before abandoning to send it its replies. This value should not be longer than rpc_response_timeout."},
	{Name: "kombu_failover_strategy", Kind: String, Default: "round-robin", Choices: []string{"round-robin", "shuffle"}, Help: "Determines how the next RabbitMQ node is chosen in case the one we are currently connected to becomes unavailable. Takes effect only if more than one RabbitMQ node is provided in config."},
	{Name: "rabbit_login_method", Kind: String, Default: "AMQPLAIN", Choices: []string{"PLAIN", "AMQPLAIN", "EXTERNAL", "RABBIT-CR-DEMO"}, Deprecated: []DeprecatedName{{Group: "DEFAULT"}}, Help: "The RabbitMQ login method."},
	{Name: "rabbit_retry_interval", Kind: Int, Default: 1, Help: "How frequently to retry connecting with RabbitMQ."},
	{Name: "rabbit_retry_backoff", Kind: Int, Default: 2, Deprecated: []DeprecatedName{{Group: "DEFAULT"}}, Help: "How long to backoff for between retries when connecting to RabbitMQ."},
	{Name: "rabbit_interval_max", Kind: Int, Default: 30, Help: "Maximum interval of RabbitMQ connection retries. Default is 30 seconds."},
	{Name: "rabbit_ha_queues", Kind: Bool, Default: false, Deprecated: []DeprecatedName{{Group: "DEFAULT"}}, Help: "Try to use HA queues in RabbitMQ (x-ha-policy: all). If you change this option, you must wipe the RabbitMQ database. In RabbitMQ 3.0, queue mirroring is no longer controlled by the x-ha-policy argument when declaring a queue. If you just want to make sure that all queues (except those with auto-generated names) are mirrored across all nodes, run: \"rabbitmqctl set_policy HA '^(?!amq\\.).*' '{\"ha-mode\": \"all\"}' \""},
	{Name: "rabbit_quorum_queue", Kind: Bool, Default: false, Help: "Use quorum queues in RabbitMQ (x-queue-type: quorum). The quorum queue is a modern queue type for RabbitMQ implementing a durable, replicated FIFO queue based on the Raft consensus algorithm. It is available as of RabbitMQ 3.8.0. If set this option will conflict with the HA queues (``rabbit_ha_queues``) aka mirrored queues, in other words the HA queues should be disabled, quorum queues durable by default so the amqp_durable_queues opion is ignored when this option enabled."},
	{Name: "rabbit_quorum_delivery_limit", Kind: Int, Default: 0, Help: "Each time a message is redelivered to a consumer, a counter is incremented. Once the redelivery count exceeds the delivery limit the message gets dropped or dead-lettered (if a DLX exchange has been configured) Used only when rabbit_quorum_queue is enabled, Default 0 which means dont set a limit."},
	{Name: "rabbit_quroum_max_memory_length", Kind: Int, Default: 0, Help: "By default all messages are maintained in memory if a quorum queue grows in length it can put memory pressure on a cluster. This option can limit the number of messages in the quorum queue. Used only when rabbit_quorum_queue is enabled, Default 0 which means dont set a limit."},
	{Name: "rabbit_quroum_max_memory_bytes", Kind: Int, Default: 0, Help: "By default all messages are maintained in memory if a quorum queue grows in length it can put memory pressure on a cluster. This option can limit the number of memory bytes used by the quorum queue. Used only when rabbit_quorum_queue is enabled, Default 0 which means dont set a limit."},
	{Name: "rabbit_transient_queues_ttl", Kind: Int, Default: 1800, Min: Bound(1), Help: "Positive integer representing duration in seconds for queue TTL (x-expires). Queues which are unused for the duration of the TTL are automatically deleted. The parameter affects only reply and fanout queues."},
	{Name: "rabbit_qos_prefetch_count", Kind: Int, Default: 0, Help: "Specifies the number of messages to prefetch. Setting to zero allows unlimited messages."},
	{Name: "heartbeat_timeout_threshold", Kind: Int, Default: 60, Help: "Number of seconds after which the Rabbit broker is considered down if heartbeat's keep-alive fails (0 disables heartbeat)."},
	{Name: "heartbeat_rate", Kind: Int, Default: 2, Help: "How often times during the heartbeat_timeout_threshold we check the heartbeat."},
	{Name: "direct_mandatory_flag", Kind: Bool, Default: true, DeprecatedForRemoval: true, DeprecatedReason: "Mandatory flag no longer deactivable.", Help: "(DEPRECATED) Enable/Disable the RabbitMQ mandatory flag for direct send. The direct send is used as reply, so the MessageUndeliverable exception is raised in case the client queue does not exist.MessageUndeliverable exception will be used to loop for a timeout to lets a chance to sender to recover.This flag is deprecated and it will not be possible to deactivate this functionality anymore"},
	{Name: "enable_cancel_on_failover", Kind: Bool, Default: false, Help: "Enable x-cancel-on-ha-failover flag so that rabbitmq server will cancel and notify consumerswhen queue is down"},
}

// metricsOpts lists oslo.messaging 14.0.3's options of [oslo_messaging_metrics].
var metricsOpts = []Opt{
	{Name: "metrics_enabled", Kind: Bool, Default: false, Help: "Boolean to send rpc metrics to oslo.metrics."},
	{Name: "metrics_buffer_size", Kind: Int, Default: 1000, Help: "Buffer size to store in oslo.messaging."},
	{Name: "metrics_socket_file", Kind: String, Default: "/var/tmp/metrics_collector.sock", Help: "Unix domain socket file to be used to send rpc related metrics"},
	{Name: "metrics_process_name", Kind: String, Default: "", Help: "Process name which is used to identify which process produce metrics"},
	{Name: "metrics_thread_stop_timeout", Kind: Int, Default: 10, Help: "Sending thread stop once metrics_thread_stop_timeout seconds after the last successful metrics send. So that this thread will not be the blocker when process is shutting down. If the process is still running, sending thread will be restarted at the next metrics queueing time"},
}

// natsOpts are drivers/nats's URL query parameters, with its defaults.
var natsOpts = []Opt{
	{Name: "subject_prefix", Kind: String, Default: "oslo", Help: "First token(s) of the driver's subjects; deployments that share a NATS account but not their topics use distinct prefixes."},
	{Name: "name", Kind: String, Help: "Client name the NATS server shows. Defaults to the program's name."},
	{Name: "connect_timeout", Kind: Duration, Default: 5 * time.Second, Min: Bound(0), Help: "Bound on dialing one server."},
	{Name: "reconnect_wait", Kind: Duration, Default: 2 * time.Second, Min: Bound(0), Help: "Pause between reconnection attempts to the same server."},
	{Name: "max_reconnects", Kind: Int, Default: -1, Min: Bound(-1), Help: "Reconnection attempts after a connection is lost; -1 tries forever."},
	{Name: "ping_interval", Kind: Duration, Min: Bound(0), Help: "How often the client pings the server to detect a dead connection. Defaults to nats.go's (2 minutes)."},
	{Name: "listener_buffer", Kind: Int, Default: 65536, Min: Bound(1), Help: "Received RPC messages an RPC listener holds before its server takes them; more are dropped as a slow consumer."},
	{Name: "large_message_ttl", Kind: Duration, Default: 2 * time.Minute, Min: Bound(0), Help: "How long the sender of a message larger than the server's max_payload keeps its body for the receiver to fetch, when the message has no expiration."},
	{Name: "tls", Kind: Bool, Default: false, Help: "Connect with TLS."},
	{Name: "tls_ca_file", Kind: String, Default: "", Help: "CA certificates (PEM) to verify the server with, instead of the system's."},
	{Name: "tls_cert_file", Kind: String, Default: "", Help: "Client certificate (PEM); with tls_key_file."},
	{Name: "tls_key_file", Kind: String, Default: "", Help: "Client key (PEM); with tls_cert_file."},
	{Name: "tls_server_name", Kind: String, Default: "", Help: "Name to verify the server's certificate against, instead of the host name."},
	{Name: "tls_insecure", Kind: Bool, Default: false, Help: "Do not verify the server's certificate."},
	{Name: "creds_file", Kind: String, Default: "", Help: "NATS credentials file (user JWT and nkey seed)."},
	{Name: "notify_max_age", Kind: Duration, Default: 7 * 24 * time.Hour, Min: Bound(0), Help: "Max age of the messages of a notification stream the driver creates; 0 is unlimited."},
	{Name: "notify_max_bytes", Kind: Int, Default: 1 << 30, Min: Bound(-1), Help: "Max bytes of a notification stream the driver creates; -1 is unlimited."},
	{Name: "notify_max_msgs", Kind: Int, Default: -1, Min: Bound(-1), Help: "Max messages of a notification stream the driver creates; -1 is unlimited."},
	{Name: "notify_replicas", Kind: Int, Default: 1, Min: Bound(1), Help: "Replicas of a notification stream the driver creates."},
	{Name: "notify_storage", Kind: String, Default: "file", Choices: []string{"file", "memory"}, Help: "Storage of a notification stream the driver creates."},
	{Name: "notify_ack_wait", Kind: Duration, Default: 30 * time.Second, Min: Bound(0), Help: "How long JetStream waits for a listener's acknowledgement before redelivering a notification."},
	{Name: "notify_max_deliver", Kind: Int, Default: -1, Min: Bound(-1), Help: "Deliveries of one notification before JetStream gives up; -1 is unlimited."},
	{Name: "notify_inactive_threshold", Kind: Duration, Default: time.Duration(0), Min: Bound(0), Help: "How long a notification pool's consumer lives unused; 0 keeps it forever."},
	{Name: "notify_prefetch", Kind: Int, Default: 16, Min: Bound(1), Help: "Notifications a listener pulls at once."},
}

// zmqOpts are drivers/zmq's URL query parameters, with its defaults, and
// the names oslo's old ZeroMQ driver gave some of them.
var zmqOpts = []Opt{
	{Name: "matchmaker", Kind: String, Choices: []string{"inproc", "dummy", "redis", "static"}, Help: "Where servers register and clients look them up: inproc (one process; the default of zmq://), redis (the default of zmq+redis://) or static."},
	{Name: "redis_url", Kind: String, Secret: true, Help: "The Redis matchmaker's server, redis://[user:pass@]host:port/db, when the transport URL does not name it."},
	{Name: "redis_prefix", Kind: String, Default: "oslo.messaging.zmq:", Help: "Prefix of the Redis matchmaker's keys."},
	{Name: "static_targets", Kind: MultiString, Default: []string{}, Help: "The static matchmaker's table: key=host:port[;host:port][,key=...], keys topic or topic.server."},
	{Name: "static_file", Kind: String, Help: "JSON file of the static matchmaker's table (key -> addresses)."},
	{Name: "bind_address", Kind: String, Default: "127.0.0.1", Deprecated: []DeprecatedName{{Name: "rpc_zmq_bind_address"}, {Group: "DEFAULT", Name: "rpc_zmq_bind_address"}}, Help: "Address servers bind (\"*\": every interface)."},
	{Name: "advertise_host", Kind: String, Deprecated: []DeprecatedName{{Name: "rpc_zmq_host"}, {Group: "DEFAULT", Name: "rpc_zmq_host"}}, Help: "Host servers register in the matchmaker. Defaults to the bind address, or the host name when binding every interface."},
	{Name: "min_port", Kind: Int, Min: Bound(1), Max: Bound(65535), Deprecated: []DeprecatedName{{Name: "rpc_zmq_min_port"}, {Group: "DEFAULT", Name: "rpc_zmq_min_port"}}, Help: "Lowest port servers bind; with max_port. Defaults to any free port."},
	{Name: "max_port", Kind: Int, Min: Bound(1), Max: Bound(65535), Deprecated: []DeprecatedName{{Name: "rpc_zmq_max_port"}, {Group: "DEFAULT", Name: "rpc_zmq_max_port"}}, Help: "Highest port servers bind; with min_port."},
	{Name: "target_expire", Kind: Duration, Default: 15 * time.Second, Min: Bound(0), Deprecated: []DeprecatedName{{Name: "zmq_target_expire"}, {Group: "DEFAULT", Name: "zmq_target_expire"}}, Help: "Lifetime of a server's registration unless refreshed."},
	{Name: "target_update", Kind: Duration, Default: 5 * time.Second, Min: Bound(0), Deprecated: []DeprecatedName{{Name: "zmq_target_update"}, {Group: "DEFAULT", Name: "zmq_target_update"}}, Help: "How often servers refresh their registrations; shorter than target_expire."},
	{Name: "lookup_cache", Kind: Duration, Min: Bound(0), Help: "How long a client reuses a matchmaker lookup. Defaults to 1s with Redis, 0 otherwise."},
	{Name: "heartbeat_interval", Kind: Duration, Default: time.Second, Min: Bound(0), Help: "PING interval on client connections."},
	{Name: "heartbeat_timeout", Kind: Duration, Default: 5 * time.Second, Min: Bound(0), Help: "Silence after which a connection is dead; longer than heartbeat_interval."},
	{Name: "dial_timeout", Kind: Duration, Default: 2 * time.Second, Min: Bound(0), Help: "Bound on connecting to a server, ZMTP handshake included."},
	{Name: "max_message_size", Kind: Int, Default: 64 << 20, Min: Bound(1024), Help: "Largest message accepted, in bytes."},
}
