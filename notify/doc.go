// Package notify sends notifications: the Go form of oslo.messaging's
// Notifier and its notification drivers, on the wire compatible with
// Python services. Package notify/listener receives them (oslo's
// get_notification_listener).
//
//	n, err := notify.New(tr, notify.PublisherID("trove-taskmanager.host1"))
//	ctx = serializer.WithRequestContext(ctx, serializer.RequestContext{"request_id": "req-1"})
//	err = n.Info(ctx, "trove.instance.create.end", map[string]any{"instance_id": id})
//
// # Mapping from oslo.messaging
//
//	oslo                                     Go
//	Notifier(transport, publisher_id, ...)   New(tr, PublisherID(id), Driver(...), Topics(...), Retry(n), WithSerializer(s))
//	notifier.prepare(publisher_id, retry)    (*Notifier).Prepare(PublisherID(id), Retry(n))
//	notifier.info(ctxt, event_type, payload) (*Notifier).Info(ctx, eventType, payload); ctxt travels in ctx
//	notifier.is_enabled()                    (*Notifier).IsEnabled
//	get_notification_listener(...)           listener.New(tr, targets, endpoints, listener.Pool(p), listener.AllowRequeue(true), ...)
//	get_batch_notification_listener(...)     listener.New(..., listener.Batch(size, timeout))
//	NotificationFilter(...), filter_rule     listener.Filtered(impl, listener.Filter{...})
//	NotificationResult.REQUEUE               returning listener.ErrRequeue (or any error)
//	server.start / stop+wait                 (*listener.Listener).Start / Shutdown (Close cancels)
//	_impl_test.NOTIFICATIONS                 Recorder, with Record(r) and Driver("test")
//	oslo-messaging-send-notification         cmd/oslo-messaging-send-notification
//
// # Wire format
//
// A notification is oslo's dict {message_id, publisher_id, event_type,
// priority, payload, timestamp} plus the request context as _context_*
// keys and a _unique_id. message_id is a dashed UUID4; priority is upper
// case (AUDIT, DEBUG, INFO, WARN, ERROR, CRITICAL, SAMPLE); timestamp is
// Python's str() of a naive UTC datetime, "2026-05-13 12:00:00.123456",
// without the fraction when the microseconds are 0 (FormatTimestamp). The
// messaging drivers send one copy to every topic as the routing key
// "<topic>.<priority in lower case>" on the control exchange.
//
// # Drivers
//
//   - messagingv2 (the default): format 2.0, the dict inside the
//     {"oslo.version": "2.0", "oslo.message": "..."} envelope.
//   - messaging: format 1.0, the bare dict, for old consumers.
//   - log: writes the notification as JSON (secret-looking payload keys
//     masked) to the notifier's slog.Logger at the priority's level
//     (AUDIT at LevelAudit, CRITICAL at LevelCritical, SAMPLE at
//     LevelSample), with the attribute logger=
//     "oslo.messaging.notification.<event_type>".
//   - noop: drops notifications; IsEnabled is false when it is the only
//     driver.
//   - routing: hands each notification to the drivers whose rules accept
//     its priority and event type (RoutingConfig, RoutingRules).
//   - test: records notifications in a Recorder, for tests.
//
// A send goes to every driver and every topic. oslo logs the failures and
// never raises; here they are returned, joined, and callers that treat
// notifications as best effort may ignore the error. With the default
// Retry(-1) a send to an unreachable broker is retried until ctx ends, so
// give the ctx a deadline.
//
// # Listener
//
// Package notify/listener dispatches notifications to endpoints whose
// methods are named after priorities, with pools, filters, requeueing and
// batches. The messaging drivers declare the queue "<topic>.<priority>"
// they send to, so the broker keeps what is sent while no listener runs.
//
// # Differences from oslo
//
//   - Send methods return the drivers' errors instead of logging them.
//   - The request context: as oslo's _sanitize_context (Debian's 14.0.3
//     and later), only allowlisted keys of the ctx's RequestContext
//     (user_id, project_id, roles, request_id, global_request_id, is_admin,
//     ...; never auth_token), and the keys given to ContextKeys (a trace
//     context's traceparent and tracestate), reach the serializer's
//     SerializeContext, whose result is sent. A custom serializer that takes the context from
//     elsewhere must filter it itself, as in oslo.
//   - The log driver masks secret-looking keys of the payload but not
//     secrets inside string values, and logs SAMPLE (below Debug) where
//     oslo drops it.
//   - An unset publisher id is sent as "" rather than null.
package notify
