// Package zmq is the ZeroMQ driver: brokerless RPC over ZMTP 3 (the
// ZeroMQ wire protocol) with a matchmaker that maps targets to the
// addresses of live servers, modelled on OpenStack's original zmq driver
// (removed from oslo.messaging in 2018). Import it for its side effect:
//
//	import _ "github.com/oslo-go/messaging/drivers/zmq"
//
//	tr, err := transport.Open(ctx, "zmq+redis://127.0.0.1:6379/0")   // Redis matchmaker
//	tr, err := transport.Open(ctx, "zmq://")                         // in-process matchmaker
//	tr, err := transport.Open(ctx, "zmq://?static_targets=compute=10.0.0.5:9501;10.0.0.6:9501,compute.h5=10.0.0.5:9501")
//
// # Topology
//
// There is no broker. Every server (every Listen) binds its own TCP socket
// (a ZMTP ROUTER, on the bind address and any free port or a port of the
// configured range) and registers its address in the matchmaker under two
// keys: its topic, and its topic and server name. Clients look the keys up
// and connect directly: one ZMTP DEALER connection per server address,
// opened on first use and kept for every later message (draining and idle
// connections are closed, see below). Replies travel back on the
// connection the request came in on, the ROUTER answering the caller's
// DEALER, so Conn.ReplyAddress is only a label ("zmq:<id>") and there is
// no reply socket to bind.
//
// Routing of Send:
//
//   - call or cast to a topic: one server of the topic, round-robin over
//     the live addresses (competing consumers; the counter is per client
//     connection);
//   - call or cast to topic.server: that server;
//   - fanout cast: one copy to every live server of the topic.
//
// As in oslo's zmq driver, the exchange is not part of routing: topics are
// global within a matchmaker namespace (the Redis key prefix, the
// in-process namespace, the static table). A call or cast for which the
// matchmaker lists no reachable server fails at once with
// transport.ErrNoServers; a fanout cast to a topic without servers is
// dropped without error, as on a broker.
//
// # Delivery guarantees
//
// By default (oslo's at-most-once) a cast returns once it is queued on the
// connection to a live server; a cast queued on a connection that then
// fails is lost (logged). With client.AtLeastOnce (driver.Message
// Mandatory), a cast returns only once it is written to the connection of
// a live server, and a call, cast or fanout cast that no server can take
// (none registered, none reachable, or, for calls, every server rejected
// it) fails with an error wrapping transport.ErrUndeliverable (and
// transport.ErrNoServers, except for fanout). Neither mode says a server
// handled the message: there is no acknowledgement, and a server that
// dies with requests in its inbox or in its TCP buffers loses them.
//
// # Frames
//
// The driver speaks ZMTP 3.0 with the NULL security mechanism: the
// connection handshake (greeting, READY with Socket-Type and Identity) is
// done by github.com/go-zeromq/zmq4; the messages that follow are ZMTP
// multipart messages whose frames are this package's own (version 1):
//
//	frame 0                  [1][kind]         wire version, then the kind
//	CALL, CAST, FANOUT       msg_id            32 hex digits for calls, empty otherwise
//	                         content_type      empty means application/json
//	                         expiration        8 bytes, big-endian nanoseconds; 0 = none
//	                         topic             the target topic
//	                         server            the target server; empty for topic and fanout sends
//	                         body              the encoded oslo message, opaque to the driver
//	REPLY, HEARTBEAT         msg_id, content_type, body   (the final reply; a call-monitor heartbeat)
//	REJECT                   msg_id, reason    1 byte: 1 listener closing, 2 wrong target,
//	                                           3 reply over the server's max_message_size
//	PING, PONG, BYE          no further frames
//
// Kinds: CALL 1, CAST 2, FANOUT 3, REPLY 4, REJECT 5, PING 6, PONG 7, BYE 8,
// HEARTBEAT 9.
// Bodies are the core's encoded messages; the driver never reads them.
// JSON bodies are the bare message dict, without oslo's 2.0 envelope (no
// Python peer reads this wire; driver.UnwrappedMessages); receivers take
// either layout. A
// server checks the topic and server frames against its target, so an
// address reused by another server after a restart is never served by
// mistake (calls get REJECT reason 2 and go elsewhere). Messages larger
// than max_message_size are refused when sent, at once, with an error
// wrapping transport.ErrMessageTooLarge; a reply over it is replaced by a
// REJECT that fails the call the same way on the caller, and a peer that
// sends one anyway is disconnected; malformed messages are logged and
// dropped. ZMTP
// PING commands (libzmq heartbeats) are answered with PONG.
//
// # Matchmakers
//
// A matchmaker maps a Key (topic, or topic and server) to addresses
// ("host:port"). Registrations carry a TTL, target_expire, and each server
// re-registers every target_update, so that a server that dies without
// unregistering (killed, host lost) drops out when its TTL runs out. Close
// and Listener.Close unregister at once.
//
//   - in-process (matchmaker=inproc, the default of zmq://): a table in
//     memory, shared by the transports of one process that use the same
//     virtual host ("zmq:///ns"); for single-process programs and tests.
//
//   - redis (zmq+redis://host:port/db, or matchmaker=redis with the host in
//     the URL or redis_url=redis://... or rediss://...): one sorted set per key,
//     <prefix>topic/<topic> and <prefix>server/<topic>/<server> (names
//     path-escaped, prefix redis_prefix, default "oslo.messaging.zmq:"),
//     whose members are addresses scored with their expiry time from the
//     Redis server's own clock (no clock synchronisation needed). Lookups
//     return the members not yet expired, registrations drop the expired
//     ones, and each set has a TTL of its own so that the keys of a dead
//     topic disappear. Clients cache a lookup for lookup_cache (1 s) and
//     refresh it in the background, so the hot path does not touch Redis;
//     a lookup that finds nothing is not cached. So a new server of a topic
//     a client already sends to gets that client's topic and fanout
//     messages within lookup_cache; calls to its topic.server key reach it
//     as soon as its Listen returns.
//
//     Open does not wait for Redis (a service may start before it):
//     the connection checks Redis in the background, every
//     heartbeat_interval while it answers and with backoff (up to 5 s)
//     while it does not, logging the first failure (a warning) and the
//     recovery. While Redis is unreachable, matchmaker operations fail at
//     once with the last error: Listen (server Start) and Send wait for
//     Redis within their ctx (Send as Message.Retry allows; Retry 0 fails
//     at once) and then report that error along with the ctx's;
//     transport.Ping waits within its ctx for Redis to answer a PING.
//     Servers register again as soon as Redis answers after an outage or
//     on a new connection to it, so that a Redis restarted empty knows
//     them again within a second or so, not at the next target_update.
//
//     TLS (rediss:// or redis_ssl=true) verifies Redis's certificate
//     against the system's CAs, or redis_ssl_ca_file, and the host name of
//     the URL, as any TLS client does; redis_ssl_insecure (or skip_verify
//     in a rediss:// redis_url, or a RedisTLSConfig with
//     InsecureSkipVerify) turns verification off, which the driver logs as
//     a warning at Open. Credentials (in the URL or in redis_url) appear in
//     no error and no log line.
//
//   - static (matchmaker=static with static_targets or static_file): a
//     fixed table of keys "topic" and "topic.server" to addresses, from the
//     URL (static_targets=compute=h1:9501;h2:9501,compute.h1=h1:9501;
//     repeated static_targets parameters add up) or a JSON file
//     ({"compute": ["h1:9501", "h2:9501"], "compute.h1": ["h1:9501"]}).
//     Servers must bind the ports listed (min_port = max_port); a server
//     whose address the table does not list logs a warning.
//
// [WithMatchmaker] plugs in any other implementation of [Matchmaker].
//
// # Options
//
// URL query parameters (oslo's [oslo_messaging_zmq] names are accepted as
// aliases), and the Go options passed with transport.Open; the query
// overrides the Go options. Unknown parameters are an error that lists the
// known ones. Durations are Go durations ("500ms") or seconds ("300").
//
//	query                 Go option             default     meaning
//	matchmaker            WithMatchmaker,       inproc      inproc (alias dummy), redis or static
//	                      RedisMatchmaker,                  (redis for zmq+redis://)
//	                      StaticMatchmaker
//	redis_url             RedisMatchmaker       -           redis://[user:pass@]host:port/db, or rediss://
//	                                                        for TLS (its skip_verify=true as redis_ssl_insecure)
//	redis_prefix          RedisPrefix           oslo.messaging.zmq:   prefix of the Redis keys
//	redis_ssl             RedisTLSConfig        false       TLS to Redis (true with rediss://)
//	redis_ssl_ca_file     RedisTLSConfig        system CAs  CAs that verify Redis's certificate
//	redis_ssl_cert_file,  RedisTLSConfig        -           client certificate and key (PEM)
//	redis_ssl_key_file
//	redis_ssl_insecure    RedisTLSConfig        false       skip certificate verification (logs a warning)
//	static_targets        StaticMatchmaker      -           key=host:port[;host:port][,key=...]
//	static_file           -                     -           JSON file of key -> addresses
//	bind_address          BindAddress           127.0.0.1   address servers bind ("*": all)
//	(rpc_zmq_bind_address)
//	advertise_host        AdvertiseHost         bind address, or the host name for "*"
//	(rpc_zmq_host)                                          host registered in the matchmaker
//	min_port, max_port    PortRange             any free    port range of servers
//	(rpc_zmq_min_port, rpc_zmq_max_port)
//	target_expire         TargetExpire          15s         TTL of a registration
//	(zmq_target_expire)
//	target_update         TargetUpdate          5s          registration refresh interval
//	(zmq_target_update)
//	lookup_cache          LookupCache           1s redis,   how long a client reuses a lookup
//	                                            0 otherwise
//	heartbeat_interval    Heartbeat             1s          PING interval on client connections
//	heartbeat_timeout     Heartbeat             5s          silence after which a connection is dead
//	dial_timeout          DialTimeout           2s          connect and ZMTP handshake bound
//	max_message_size      MaxMessageSize        64 MiB      largest message accepted
//	inbox_messages        Inbox                 MaxConcurrency  requests a server holds for its workers
//	(rpc_zmq_topic_backlog)                     (at least 16)
//	inbox_bytes           Inbox                 16 MiB      bytes of requests a server holds
//
// oslo used target_expire=300 and target_update=180, which leave a dead
// server registered for minutes; the defaults here drop one within 15 s
// while costing one Redis script call per key every 5 s per server. In
// practice a dead server is skipped much sooner, see below.
//
// # Failure behaviour and liveness
//
// go-zeromq/zmq4 (v0.17) has no heartbeat (it answers ZMTP PING but never
// sends one, and has no ZMQ_HEARTBEAT_* options). Its sockets notice a
// closed TCP connection (the DEALER's Recv returns EOF once), but then drop
// the peer silently: a DEALER with no connection left returns nil from
// Send and the message is lost, and a DEALER connected to several servers
// sends every message to all of them rather than to one. Its reader goroutines
// can also stay blocked on a full internal queue after Close. This driver
// therefore uses zmq4 for the ZMTP handshake only, and handles the
// connections itself:
//
//   - A connection that fails (EOF, reset: a killed server process on a
//     live host) is seen at once by its reader: the calls pending on it fail
//     with transport.ErrConnectionLost, and its address is skipped
//     (quarantined) for target_expire, by which time a killed server's
//     registration has expired. Later sends go to the other servers of the
//     topic; an address is still tried when it is the only one left (a
//     server restarted on the same port is found again).
//   - Liveness probes: every heartbeat_interval each client connection sends
//     PING, which servers answer with PONG; a connection on which nothing
//     arrives for heartbeat_timeout (a hung process, a host gone from the
//     network) is declared dead as above. Servers close client connections
//     silent for heartbeat_timeout.
//   - A connection that cannot be made (refused, dial_timeout) marks the
//     address the same way and the send tries the next address; only when
//     none is reachable does it fail, with transport.ErrNoServers.
//   - A server whose listener closes (Listener.Close, server shutdown)
//     unregisters first, then sends BYE on its connections: clients stop
//     sending there and drop the address from their caches. Calls that
//     reached it but were not yet taken by the server are handed back with
//     REJECT and the client sends them to another server of the topic (at
//     most three times); casts not yet taken are dropped (logged). The
//     connections stay open for the replies of the calls in progress and
//     close once those calls have expired.
//   - A failed write during a call is retried on another server only when
//     Message.Retry allows it (it may have reached the server). Casts are
//     queued on the connection and written by a background flusher, so that
//     a burst of casts costs one write: Send returns before the write, and a
//     cast queued on a connection that then fails is lost (logged). Close
//     first writes what is queued on each connection (casts, and replies
//     on a server's connections), as a ZeroMQ socket's linger does, waiting
//     at most heartbeat_timeout for a peer that does not read.
//   - Calls are tracked until their final reply (heartbeats travel as
//     HEARTBEAT and keep the call tracked): a call whose server dies fails
//     with ErrConnectionLost, or at worst by its timeout: never a hang.
//   - Requests whose expiration passed while queued in a server are dropped
//     before Next returns them. Delivery is at most once: a server that
//     dies with requests queued loses them.
//
// Connections to servers a client no longer sends to are closed after
// 5 minutes idle.
//
// # Backpressure and memory
//
// A server holds at most inbox_messages requests and inbox_bytes bytes
// (plus one request, however large) that its workers have not taken.
// When its inbox is full it stops reading from its client connections, so
// the requests wait in the TCP buffers and then in the clients: each
// client connection queues at most 4 MiB of requests not yet written, and
// Send then waits, within its ctx, for the server to read (a cast that
// cannot be queued before its ctx ends fails with a timeout that says the
// server is busy). Nothing is dropped to keep memory bounded. A client
// sending to a topic skips a server whose connection is full when another
// server of the topic has room. A busy server keeps telling its clients
// it is alive (it sends PONG every heartbeat_interval on every client
// connection, read or not), so that a slow server is not taken for a dead
// one: servers' heartbeat_interval must be shorter than clients'
// heartbeat_timeout. Handlers that send to their own server's topic can
// fill the inbox they consume; with backpressure they then wait for each
// other until their ctx ends.
//
// # Not supported
//
// Notifications: the Conn does not implement driver.Notifier. oslo's
// notifications need durable queues that keep messages while no listener
// runs, pools, acknowledgement and requeue, which a brokerless transport
// cannot provide (oslo's own zmq driver did not carry them reliably
// either); use another transport for notifications (oslo's
// [oslo_messaging_notifications] transport_url). Also not supported: the
// Redis Sentinel and Cluster matchmakers, ZMTP CURVE or PLAIN security (the
// driver is for trusted networks, as oslo's was), PUB/SUB fanout through a
// proxy, and oslo's old zmq wire format (a libzmq peer can connect, since
// the framing is ZMTP, but must speak the frames above).
//
// # Logging
//
// Through the transport's logger, with Debug on the normal path; warnings
// that can repeat (per message, connection or retry: malformed messages,
// lost connections, failed lookups, accept errors) are logged once per
// 10 s with the count of those held back, the others at Debug. go-redis
// logs its own
// dial failures through its global logger (redis.SetLogger): the driver
// checks Redis with a dialer of its own while Redis is unreachable, so
// that go-redis dials, and logs, only for the operations that reveal an
// outage.
package zmq
