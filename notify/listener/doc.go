// Package listener receives notifications and dispatches them to
// endpoints: the Go form of oslo.messaging's get_notification_listener and
// get_batch_notification_listener, on the wire compatible with Python
// services. Package notify sends them.
//
//	l, err := listener.New(tr, []target.Target{{Topic: "notifications"}}, []any{&Billing{}},
//		listener.Pool("billing"))
//	err = l.Start(ctx)
//	...
//	err = l.Shutdown(ctx)
//
// # Mapping from oslo.messaging
//
//	oslo                                  Go
//	get_notification_listener(...)        New(tr, targets, endpoints, Pool(p), AllowRequeue(true), MaxConcurrency(n), WithSerializer(s))
//	get_batch_notification_listener(...)  New(..., Batch(size, timeout))
//	endpoint.info(ctxt, ..., metadata)    Info(ctx, publisherID, eventType string, payload P, md Metadata) error; ctxt in ctx
//	NotificationFilter(...), filter_rule  Filtered(impl, Filter{...})
//	NotificationResult.HANDLED            returning nil
//	NotificationResult.REQUEUE            returning ErrRequeue (or any error), honoured with AllowRequeue
//	listener.start / stop+wait            (*Listener).Start / Shutdown (Close also cancels the handlers)
//
// # Endpoints
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
//   - A batch's timeout runs from its first notification, not from the
//     start of polling, and batch endpoints get the payload undecoded
//     (serializer.Raw) without the serializer's DeserializeEntity.
//   - A redelivered duplicate (same _unique_id) is acknowledged and
//     dropped; oslo drops it without acknowledging it.
//   - Filters are Go regular expressions (RE2), applied like re.match;
//     Context filters see the received context before DeserializeContext.
package listener
