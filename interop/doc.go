// Package interop holds the interoperability tests between this library
// and Python oslo.messaging: a Go service and a Python OpenStack service on
// one RabbitMQ must call each other, and exchange notifications, as if both
// were oslo.messaging. The package has no code of its own; everything is in
// its tests and in the Python scripts under python/.
//
// # Running
//
//	go test ./interop/            # about 25 s
//	go test -v -run TestGoClientPythonServer ./interop/
//
// The tests need RabbitMQ on 127.0.0.1:5672 (guest/guest) and Python
// oslo.messaging for /usr/bin/python3 (Debian's python3-oslo.messaging,
// 14.0.3; a python3 earlier on PATH is not used). `make services` sets both
// up. Without them the tests skip with a loud message, or fail when the
// environment variable CI is set. Every test uses topics of its own
// (interop_<test>_<random>) and deletes the queues that would outlive it,
// so the broker may be shared with other tests running at the same time.
//
// # Python scripts
//
// The Go tests start these scripts, which talk back in JSON lines on
// stdout (servers and listeners run until their stdin closes); each has
// --help and can be run by hand against any broker:
//
//   - python/rpc_server.py: an oslo RPC server (threading executor, ping
//     enabled) of the interop service described in its docstring:
//     namespace "interop" at versions 1.2 and 2.0, with methods that echo
//     arguments and the request context, raise builtin and application
//     exceptions, sleep, and record casts. service_test.go is the Go
//     implementation of the same service.
//   - python/rpc_client.py: an oslo RPC client running named scenarios
//     against the service (or all of them), one result or exception per
//     line.
//   - python/notifications.py: "send" sends notifications with oslo's
//     Notifier; "listen" runs oslo's notification listener (optionally in
//     a pool) and prints what it gets.
//   - python/oslo_bench.py: oslo's sequential call rate (see below).
//   - python/interop_errors.py: an application exception module (as
//     nova.exception), whose classes travel by module and name.
//
// # What is covered
//
// TestGoClientPythonServer: the Go client calls two Python servers. Namespace
// and version routing (1.0, 1.2, 1.2.0 to the 1.2 endpoint, 2.0 to the 2.0
// endpoint); UnsupportedVersion (higher minor, other major, other namespace)
// and NoSuchMethod (unknown and "_"-private methods) with oslo's messages,
// matched by errors.Is with dispatcher.ErrUnsupportedVersion and
// dispatcher.ErrNoSuchMethod; request context keys of every JSON type, as
// the Python endpoint sees them (plus oslo's client_timeout); nested kwargs,
// with the Python types they become; what only Python produces (NaN,
// Infinity, integers beyond 64 bits, tuples, sets, datetimes); ValueError,
// Exception and an application exception (module interop_errors, kwargs
// included) as *transport.RemoteError with Python's traceback, and rebuilt
// with transport.AllowRemoteError; the call timeout; call monitoring (a 3 s
// method with a 2 s monitor lives on Python's heartbeats; a monitor under 2 s
// gets none, as oslo refuses heartbeat intervals under 1 s); ping in the null
// namespace; calls to one server; casts (to one server), fanout casts (to
// both).
//
// TestPythonClientGoServer: the same list in the other direction, with
// Python's RPCClient and two Go servers, and with an oslo server as the
// reference: every scenario must give the Python client the same answer from
// the Go servers as from a Python server, except where noted below.
//
// TestPythonAndGoServersShareTopic: two Python servers and a Go server on
// one topic, declared in turn (Python, Go, Python), with the default options
// and with durable quorum queues: no PRECONDITION_FAILED, the declared
// exchanges and queues are the ones oslo declares, calls from a Go and from a
// Python client are all answered with the same results whoever serves them,
// every server gets some, and a fanout cast reaches all three.
//
// TestPythonNotifierGoListener: Python's Notifier (messagingv2 and the
// envelope-less messaging driver, every priority, a prepared publisher id)
// to a Go listener.Listener, first while it is down (delivered when it
// starts), then while it runs: payload, context, publisher id, event type,
// priority, message id and timestamp intact.
//
// TestGoNotifierPythonListeners: the Go notify.Notifier to Python listeners:
// an unpooled one gets every notification; a pool shared by a Python and a
// Go listener gets each once, split between them.
//
// TestObjectsPythonClientGoServer, TestObjectsGoClientPythonServer and
// TestObjectsGoServerBackportsThroughPythonConductor: oslo.versionedobjects
// (package objects) against Python's oslo.versionedobjects 3.0.1 with a
// Nova-like Instance: a Go server changes an object and Python sees the
// change set; a Go client caps a newer object for an older Python server,
// or, uncapped, gets IncompatibleObjectVersion, or has the Python server
// ask a Go conductor for a backport; a Go server backports through a
// Python conductor.
//
// # Where Go and Python differ
//
// The tests assert these, so that a change shows:
//
//   - A Go server sends no traceback with its failures (Python sends its
//     formatted traceback, which oslo appends to str(exception)), and no
//     exception kwargs (a Go error has none; return a *transport.RemoteError
//     to send some).
//   - A Go handler's request context holds only the caller's keys; a Python
//     endpoint's ctxt also has client_timeout (oslo's call monitor value).
//   - Go's encoding/json writes a float64 with an integral value (2.0) as 2,
//     which Python decodes as an int; json.Number("2.0") keeps the float.
//     Go cannot send NaN or Infinity (encoding fails before sending); it
//     receives them.
//   - A Go server heartbeats monitored calls every monitor/2, whatever the
//     monitor; an oslo server only when int(monitor) >= 2 s.
//   - A Go server replies to a result it cannot encode (NaN, a channel)
//     with a builtins.Exception failure naming the encoding error.
//   - Python oslo.messaging 14.0.3 sends only an allowlist of context keys
//     with notifications (user, project_id, request_id, roles, is_admin, ...;
//     not auth_token nor custom keys; later versions send oslo.context's
//     redacted copy). The Go notifier sends the whole request context, auth
//     token included: TestGoNotifierSendsNoAuthToken fails until it stops.
//
// # Speed
//
// TestSpeedComparison runs python/oslo_bench.py and cmd/rpcbench with the
// same workload (sequential calls, 100-byte payload) alternately on the
// broker and logs both rates and their ratio. It runs only when asked:
//
//	INTEROP_BENCH=3 INTEROP_BENCH_DURATION=10s go test -run TestSpeedComparison -v ./interop/
//
// or by hand:
//
//	/usr/bin/python3 interop/python/oslo_bench.py --url rabbit://guest:guest@127.0.0.1:5672/ --duration 10
//	go run ./cmd/rpcbench -url rabbit://guest:guest@127.0.0.1:5672/ -mode call -c 1 -size 100 -duration 10s
package interop
