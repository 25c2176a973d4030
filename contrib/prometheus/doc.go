// Package osloprom exports the RPC metrics of oslo.metrics to Prometheus:
// the same families, label names, help texts and histogram buckets as
// oslo.metrics' oslo_messaging module, so dashboards and alerts written for
// Python OpenStack services work for Go services too.
//
//	m := osloprom.New(osloprom.ProcessName("trove-taskmanager"))
//	prometheus.MustRegister(m) // or reg.MustRegister(m) for a registry of your own
//	c, _ := client.New(tr, tg, client.WithMiddleware(m.ClientMiddleware()))
//	srv, _ := server.New(tr, stg, endpoints,
//		server.DispatchOptions(dispatcher.WithMiddleware(m.ServerMiddleware())))
//	m.AddServer(srv) // in-flight and dropped-reply series for srv
//	http.Handle("/metrics", promhttp.Handler())
//
// # Families
//
// Client (one series per call_type, exchange, topic, namespace, version,
// server, fanout, process, method, timeout):
//
//	oslo_messaging_rpc_client_invocation_start_total   counter
//	oslo_messaging_rpc_client_invocation_end_total     counter
//	oslo_messaging_rpc_client_processing_seconds       histogram
//	oslo_messaging_rpc_client_exception_total          counter, + exception
//
// Server (exchange, topic, server, endpoint, namespace, version, method,
// process):
//
//	oslo_messaging_rpc_server_invocation_start_total   counter
//	oslo_messaging_rpc_server_invocation_end_total     counter
//	oslo_messaging_rpc_server_processing_seconds       histogram
//	oslo_messaging_rpc_server_exception_total          counter, + exception
//
// The histograms have oslo.metrics' buckets, 0.01 to 100 seconds. As in
// oslo, a call or cast counts once at its start and once at its end, failed
// or not, and a failure also counts in the exception family; the client
// counts only what passes its own checks (target, version cap). A request
// the server cannot dispatch (NoSuchMethod, UnsupportedVersion) counts in
// no server family, as oslo.metrics' help text says; a request whose
// arguments do not fit counts, with exception TypeError.
//
// # Label values
//
// Label values are what oslo.metrics' exporter shows for a Python service
// with the same target: Python's str() of the value, so a field that is not
// set is "None" (namespace, version, server, and fanout unless true, which
// is "True"). Where Go differs:
//
//   - exchange is the exchange the message went to or came from, the
//     transport's control exchange when the target names none; Python
//     shows the target's attribute, "None" unless set.
//   - timeout is "None", as in every series oslo.messaging 14.0.3 reports
//     (it never passes the timeout to its metrics client).
//   - process is the ProcessName option (oslo's [oslo_messaging_metrics]
//     metrics_process_name, "" by default).
//   - endpoint is the endpoint's Go type name ("GuestManager"), where
//     Python has the endpoint's class name; namespace and version on the
//     server are the endpoint's.
//
// The exception label is the exception class name: for a remote error the
// class the server sent (RemoteError.Class, as "NoSuchMethod" or
// "ValueError"; Python shows "RemoteError" unless the module is in
// allowed_remote_exmods); for local failures oslo's names where oslo has
// one: a timeout is "MessagingTimeout", a message no queue took (or, on
// NATS, no server listens for) "MessageUndeliverable", a lost connection
// "MessageDeliveryFailure". Any other error is named as it would travel as
// an oslo failure (transport.FailureOf): its Kind's or WireError's class,
// its Go type name, or "Exception" for errors made by errors.New and
// fmt.Errorf. On the server the exception is the failure's class as the
// caller receives it; a handler panic is "RuntimeError".
//
// # Go-side series
//
// Beyond oslo.metrics, for operators of Go services:
//
//	oslo_messaging_rpc_client_in_flight             gauge, the client labels
//	oslo_messaging_rpc_server_in_flight             gauge, topic, server, process
//	oslo_messaging_rpc_server_replies_dropped_total counter, topic, server, process
//
// The server series are read, at each scrape, from the servers given to
// [Metrics.AddServer] ([server.Server.InFlight] and
// [server.Server.RepliesDropped]); servers with the same topic and server
// name add up.
//
// Python's prometheus_client also exports a _created series per counter
// and histogram; this package, like client_golang, does not.
package osloprom
