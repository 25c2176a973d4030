// Package notify sends and receives notifications: the Go form of
// oslo.messaging's notify package (Notifier, the notification drivers,
// get_notification_listener and get_batch_notification_listener), on the
// wire compatible with Python services.
//
//	n, err := notify.New(tr, notify.PublisherID("trove-taskmanager.host1"))
//	ctx = serializer.WithRequestContext(ctx, serializer.RequestContext{"request_id": "req-1"})
//	err = n.Info(ctx, "trove.instance.create.end", map[string]any{"instance_id": id})
//
//	l, err := notify.NewListener(tr, []target.Target{{Topic: "notifications"}}, []any{&Handler{}},
//		notify.Pool("billing"))
//	err = l.Start(ctx)
//	...
//	err = l.Shutdown(ctx)
//
// # Mapping from oslo.messaging
//
//	oslo                                     Go
//	Notifier(transport, publisher_id, ...)   New(tr, PublisherID(id), Driver(...), Topics(...), Retry(n), WithSerializer(s))
//	notifier.prepare(publisher_id, retry)    (*Notifier).Prepare(PublisherID(id), Retry(n))
//	notifier.info(ctxt, event_type, payload) (*Notifier).Info(ctx, eventType, payload); ctxt travels in ctx
//	notifier.is_enabled()                    (*Notifier).IsEnabled
//	get_notification_listener(...)           NewListener(tr, targets, endpoints, Pool, AllowRequeue, ...)
//	get_batch_notification_listener(...)     NewListener(..., Batch(size, timeout))
//	NotificationFilter(...)                  Endpoint(impl, WithFilter(Filter{...}))
//	NotificationResult.REQUEUE               returning ErrRequeue (or any error)
//	server.start / stop+wait                 (*Listener).Start / Shutdown (Close cancels)
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
// Endpoint methods are named after priorities and receive the publisher
// id, the event type, the payload decoded into the method's parameter
// type, and the Metadata (message_id, timestamp); ctx carries the request
// context (serializer.RequestContextFrom). The listener consumes only
// "<topic>.<priority>" for the priorities some endpoint handles.
//
// A notification is acknowledged after every endpoint for its priority
// has run (at-least-once). An endpoint that returns an error stops the
// dispatch; with AllowRequeue the notification is requeued for
// redelivery, without it (the default, as oslo) it is logged and
// acknowledged. ErrRequeue requests a requeue without an error log. A
// notification whose priority is unknown is logged and acknowledged;
// redeliveries of acknowledged notifications (same _unique_id) are
// dropped.
//
// Shutdown stops consuming and waits for the handlers in flight (a batch
// listener first hands over its partial batch); what was received but not
// handled goes back to the broker. Close also cancels the handlers' ctx.
//
// Listeners with the same Pool share the notifications; every pool, and
// the listeners without a pool, gets each notification once. Notifications
// sent while no listener runs are kept by the broker (the queue
// "<topic>.<priority>", which the sender declares) and delivered when one
// starts.
//
// # Differences from oslo
//
//   - Send methods return the drivers' errors instead of logging them.
//   - The request context: as oslo's _sanitize_context (Debian's 14.0.3
//     and later), only allowlisted keys of the ctx's RequestContext
//     (user_id, project_id, roles, request_id, global_request_id, is_admin,
//     ...; never auth_token) reach the serializer's SerializeContext, whose
//     result is sent. A custom serializer that takes the context from
//     elsewhere must filter it itself, as in oslo.
//   - The log driver masks secret-looking keys of the payload but not
//     secrets inside string values, and logs SAMPLE (below Debug) where
//     oslo drops it.
//   - A batch's timeout runs from its first notification, not from the
//     start of polling, and batch endpoints get the payload undecoded
//     (serializer.Raw) without the serializer's DeserializeEntity.
//   - A redelivered duplicate (same _unique_id) is acknowledged and
//     dropped; oslo drops it without acknowledging it.
//   - Filters are Go regular expressions (RE2), applied like re.match;
//     Context filters see the received context before DeserializeContext.
//   - An unset publisher id is sent as "" rather than null.
package notify
