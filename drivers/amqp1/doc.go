// Package amqp1 is the AMQP 1.0 driver, built on github.com/Azure/go-amqp.
// It speaks the wire format of Python oslo.messaging's amqp1 driver
// (impl_amqp1.py and amqp1_driver/, on Qpid Proton and pyngus), so Go and
// Python services share a qpidd broker or a qpid-dispatch-router mesh.
// Import it for its side effect:
//
//	import _ "github.com/oslo-go/messaging/drivers/amqp1"
//
//	tr, err := transport.Open(ctx, "amqp://user:pass@qpid1:5672,qpid2:5672/?addressing_mode=dynamic")
//
// It registers the URL scheme amqp, as oslo does (RabbitMQ is rabbit://).
//
// # URL
//
// scheme://[user:pass@]host[:port][,...]/virtual_host?option=value. The
// port defaults to 5672; a URL without hosts means localhost:5672. Hosts
// with credentials authenticate with SASL PLAIN, others with ANONYMOUS;
// sasl_mechanisms narrows the choice, and EXTERNAL is used when it is
// allowed and the one of those two that applies is not. Connection attempts start at a random host and go on in
// order, as in oslo. Query parameters are the options below and override
// the options given in Go (Param, AddressingMode, ...); an unknown one
// fails Open with the list of known ones.
//
// # Addresses
//
// As oslo's addressing.py. In legacy mode (qpidd), with the default
// prefixes:
//
//	fanout       broadcast[.<vhost>].<exchange>.<topic>.all
//	to a server  exclusive[.<vhost>].<exchange>.<topic>.<server>
//	to a topic   unicast[.<vhost>].<exchange>.<topic>
//
// In routable mode (qpid-dispatch-router):
//
//	openstack.org/om/rpc/{multicast,unicast,anycast}[/<vhost>]/<exchange>/<topic>[/<server>]
//	openstack.org/om/notify/anycast[/<vhost>]/<exchange>/<topic>.<priority>
//
// Notifications go to the anycast address of <topic>.<priority> (legacy:
// unicast.<exchange>.<topic>.<priority>). The default mode, dynamic, picks
// legacy when the peer's Open frame announces the product "qpid-cpp" (or
// no product) and routable otherwise. The virtual host is part of the
// addresses with pseudo_vhost (the default); without it, it is sent as the
// Open frame's hostname. A server attaches one receiver to each of its
// unicast, multicast and anycast addresses; replies come to one dynamic
// receiver per connection (target "rpc-response"), whose address is the
// reply-to of every call.
//
// # Messages
//
// Bodies are AMQP values holding a JSON string:
//
//	request       {"request": {"method", "args"[, "namespace"][, "version"]}, "context": {...}[, "call_monitor_timeout": n]}
//	reply         {"response": <result>} or {"failure": "<oslo's failure JSON>"}
//	heartbeat     no body (a call-monitor keep-alive)
//	notification  {"request": {"oslo.version": "2.0", "oslo.message": "..."}, "context": {...}}
//
// A call carries its message id as message-id, the reply address as
// reply-to and its timeout as the header TTL; replies and heartbeats carry
// the request's message-id as correlation-id, heartbeats the caller's
// call-monitor timeout as TTL. Every message names its address in "to".
// (oslo also writes absolute-expiry-time, from a monotonic clock; this
// driver writes none and ignores it.) The core hands drivers the
// rabbit-style 2.0 envelope; the driver transcodes between it and these
// bodies, moving JSON values untouched (docs/DECISIONS.md, 15).
//
// # Delivery
//
// By default (pre_settled=rpc-cast,rpc-reply) calls and notifications are
// sent unsettled and wait for the peer's outcome; casts, replies and
// heartbeats are pre-settled. An outcome of released, or modified without
// delivery-failed or undeliverable-here, means the message went no further
// than the next hop: it is sent again after link_retry_delay, as long as
// Message.Retry allows (negative: until the context ends). rejected, and
// modified with those flags, fail the send with
// transport.ErrUndeliverable. Sends without a context deadline are bounded
// by default_send_timeout (default_notify_timeout, default_reply_timeout
// for replies, which are re-sent default_reply_retry times).
//
// Each receiver link has credit (rpc_server_credit, notify_server_credit,
// reply_link_credit): the message bus sends no more than that many
// messages ahead of what the listener took. RPC requests are accepted when
// Listener.Next returns them (oslo's at-most-once); a request that does
// not decode is rejected. Notifications are accepted by Incoming.Ack and
// released by Incoming.Requeue. Listener pools of notifications are not
// supported, as in oslo: ListenNotifications with a pool fails with
// ErrPoolsUnsupported (errors.ErrUnsupported).
//
// # Connections
//
// A Conn has one AMQP connection and session. Sender links are attached
// per address on first use and detached when unused for
// default_sender_link_timeout. Open does not wait for the broker: the
// driver connects in the background (trying each host once, then as after
// a loss), operations wait for the connection within their ctx, and
// Transport.Ping reports it. go-amqp does not reconnect; the driver
// does: when the connection is lost it waits connection_retry_interval,
// then dials the next host, multiplying the pause by
// connection_retry_backoff after each failure up to
// connection_retry_interval_max (at least 0.1 s). On the new connection
// listeners re-attach their links; a link the peer detaches is
// re-attached after link_retry_delay. Calls in flight when the connection
// is lost fail with transport.ErrConnectionLost (their reply address went
// with it), and sends waiting for a connection resume on the new one.
//
// # Options
//
// oslo's [oslo_messaging_amqp] options, with their defaults:
//
//	container_name                 (generated)  AMQP container id; oslo's openstack.org/om/container/<node>/<command>/<pid>/<uuid>
//	idle_timeout                   0            idle-time-out in s (0: none)
//	ssl, ssl_ca_file               false, ""    TLS (amqps); without a CA file the system's CAs verify the peer
//	ssl_cert_file, ssl_key_file    ""           client certificate and key (PEM)
//	ssl_key_password               ""           refused: give an unencrypted key or use TLSConfig
//	ssl_verify_vhost               false        verify the certificate against the virtual host
//	sasl_mechanisms                ""           allowed mechanisms (ANONYMOUS, PLAIN, EXTERNAL)
//	sasl_default_realm             ""           appended to user names without a realm
//	connection_retry_interval      1            s
//	connection_retry_backoff       2            factor
//	connection_retry_interval_max  30           s
//	link_retry_delay               10           s
//	default_reply_retry            0            re-sends of a reply (-1: until its timeout)
//	default_reply_timeout          30           s
//	default_send_timeout           30           s
//	default_notify_timeout         30           s
//	default_sender_link_timeout    600          s
//	addressing_mode                dynamic      dynamic, legacy or routable
//	pseudo_vhost                   true         the virtual host in addresses
//	server_request_prefix          exclusive    legacy prefixes
//	broadcast_prefix               broadcast
//	group_request_prefix           unicast
//	rpc_address_prefix             openstack.org/om/rpc       routable prefixes
//	notify_address_prefix          openstack.org/om/notify
//	multicast_address              multicast
//	unicast_address                unicast
//	anycast_address                anycast
//	default_notification_exchange  ""           routable notification exchange
//	default_rpc_exchange           ""           routable RPC exchange (see below)
//	reply_link_credit              200
//	rpc_server_credit              100
//	notify_server_credit           100
//	pre_settled                    rpc-cast,rpc-reply  also rpc-call, notify; repeat the key or separate with ","
//	trace, sasl_config_dir, sasl_config_name  accepted, no effect (Proton frame tracing, Cyrus SASL)
//
// oslo applies default_rpc_exchange only to targets that name no exchange.
// Targets reach drivers with the control exchange filled in, so here it
// replaces every target's exchange in routable addresses.
//
// # What was verified, against what
//
// No production AMQP 1.0 intermediary could be installed where this
// driver was written (Debian 12 ships neither qpidd nor
// qpid-dispatch-router, its ActiveMQ lacks the AMQP module, and RabbitMQ
// 3.10's AMQP 1.0 plugin refuses oslo's dynamic reply link). The tests use
// internal/intermediary: a small message bus on Qpid Proton 0.37's Python
// binding, in a broker flavour (announces product "qpid-cpp"; queues that
// keep messages, topics for broadcast.*) and a router flavour (announces
// "qpid-dispatch-router"; routed addresses that release unsettled messages
// without a consumer, a stored notification waypoint). Against it:
//
//   - the conformance suite (drivers/drivertest, with NoPools) in both
//     flavours, under -race, with goroutine-leak checks;
//   - Python oslo.messaging 14.0.3's amqp1 driver (Debian's, with
//     pyngus 2.3 and Proton 0.37) as client, server and notification
//     listener, both directions, in both flavours, hence both addressing
//     modes chosen dynamically: call, call to a server, fanout, cast,
//     remote errors, call-monitor heartbeats, notifications;
//   - the messages on the wire (addresses, settlement, properties, TTLs,
//     bodies), as the intermediary received them;
//   - a kill and restart of the intermediary while Go calls Python, after
//     which calls in both directions succeed again.
//
// Behaviour specific to real qpidd and qpid-dispatch-router deployments
// (link routing to brokers, multi-router meshes, SASL and TLS set-ups) is
// not covered by these tests.
package amqp1
