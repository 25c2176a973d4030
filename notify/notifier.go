package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/oslo-go/messaging/internal/engine"
	"github.com/oslo-go/messaging/internal/ids"
	"github.com/oslo-go/messaging/internal/wire"
	"github.com/oslo-go/messaging/serializer"
	"github.com/oslo-go/messaging/transport"
)

// DefaultTopic is the topic notifications go to when Topics is not given
// (oslo's [oslo_messaging_notifications] topics default).
const DefaultTopic = "notifications"

// DefaultDriver is the driver used when Driver is not given. oslo's
// configuration default is no driver at all (nothing is sent); its
// console script and most services pick messagingv2.
const DefaultDriver = "messagingv2"

// Notifier sends notifications (oslo's Notifier). It is immutable and safe
// for concurrent use; Prepare returns a copy with another publisher id or
// retry that shares the drivers.
type Notifier struct {
	c           *core
	publisherID string
	retry       int
}

// core is what a Notifier and its prepared copies share.
type core struct {
	e       *engine.Engine
	topics  []string
	names   []string // driver names, deduplicated, in the order given
	drivers []notifyDriver
	ser     serializer.Serializer
	logger  *slog.Logger
	// extraKeys are the ContextKeys sent besides safeContextKeys.
	extraKeys map[string]bool
}

// An Option configures a Notifier; see New.
type Option interface {
	applyNotifier(*notifierOptions)
}

// A PrepareOption is an Option that Prepare also accepts: PublisherID and
// Retry.
type PrepareOption interface {
	Option
	applyPrepare(*sendSettings)
}

type sendSettings struct {
	publisherID string
	retry       int
}

type notifierOptions struct {
	send         sendSettings
	topics       []string
	topicsSet    bool
	drivers      []string
	driversSet   bool
	routingFiles []string
	routingRules []RoutingRule
	recorder     *Recorder
	ser          serializer.Serializer
	logger       *slog.Logger
	contextKeys  []string
}

type optionFunc func(*notifierOptions)

func (f optionFunc) applyNotifier(o *notifierOptions) { f(o) }

type prepareFunc func(*sendSettings)

func (f prepareFunc) applyNotifier(o *notifierOptions) { f(&o.send) }
func (f prepareFunc) applyPrepare(s *sendSettings)     { f(s) }

// PublisherID sets the publisher_id of the notifications, for example
// "compute.host1". The default is "".
func PublisherID(id string) PrepareOption {
	return prepareFunc(func(s *sendSettings) { s.publisherID = id })
}

// Retry bounds re-sending a notification after connection failures: -1
// (the default, as oslo's [oslo_messaging_notifications] retry) retries
// until the ctx given to the send ends, 0 sends once, N retries N times.
// Any negative value means -1.
func Retry(n int) PrepareOption {
	return prepareFunc(func(s *sendSettings) { s.retry = n })
}

// Topics sets the topics every notification is sent to, each as the
// routing key "<topic>.<priority>"; the default is "notifications".
func Topics(topics ...string) Option {
	return optionFunc(func(o *notifierOptions) {
		o.topics = append([]string(nil), topics...)
		o.topicsSet = true
	})
}

// Driver sets the notification drivers, by oslo's names: "messagingv2"
// (the default: format 2.0, in the envelope), "messaging" (format 1.0, no
// envelope), "log", "noop", "routing" (see RoutingConfig and RoutingRules)
// and "test" (see Record). Every driver gets every notification.
func Driver(names ...string) Option {
	return optionFunc(func(o *notifierOptions) {
		o.drivers = append([]string(nil), names...)
		o.driversSet = true
	})
}

// WithSerializer sets the serializer; the default is serializer.NoOp. The
// notifier runs SerializeEntity on the payload and SerializeContext on the
// ctx of each send (the request context sent as _context_* keys).
func WithSerializer(s serializer.Serializer) Option {
	if s == nil {
		s = serializer.NoOp{}
	}
	return optionFunc(func(o *notifierOptions) { o.ser = s })
}

// WithLogger sets the logger; the default is the transport's. The notifier
// logs details at Debug. The "log" driver writes notifications to this
// logger.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(o *notifierOptions) { o.logger = l })
}

// ContextKeys adds request-context keys that notifications carry besides
// oslo's allowlist (_sanitize_context: user_id, project_id, request_id,
// roles, ...), which drops every other key. Tracing uses it for its trace
// context keys (traceparent, tracestate). Several ContextKeys add up.
func ContextKeys(keys ...string) Option {
	return optionFunc(func(o *notifierOptions) { o.contextKeys = append(o.contextKeys, keys...) })
}

// New returns a notifier sending through tr with the drivers and topics of
// opts (by default the messagingv2 driver to the topic "notifications").
// It fails on an unknown driver name, on an empty topic, on a routing
// configuration that does not load, and when the test driver is chosen
// without Record.
func New(tr *transport.Transport, opts ...Option) (*Notifier, error) {
	if tr == nil {
		return nil, errors.New("notify: nil transport")
	}
	o := notifierOptions{
		send:    sendSettings{retry: -1},
		topics:  []string{DefaultTopic},
		drivers: []string{DefaultDriver},
		ser:     serializer.NoOp{},
	}
	for _, opt := range opts {
		if opt != nil {
			opt.applyNotifier(&o)
		}
	}
	if o.logger == nil {
		o.logger = engine.Of(tr).Logger()
	}
	if len(o.topics) == 0 {
		return nil, errors.New("notify: Topics needs at least one topic")
	}
	for _, t := range o.topics {
		if t == "" {
			return nil, errors.New("notify: empty topic")
		}
	}
	if len(o.drivers) == 0 {
		return nil, errors.New("notify: Driver needs at least one driver name")
	}
	c := &core{e: engine.Of(tr), topics: o.topics, ser: o.ser, logger: o.logger}
	for _, k := range o.contextKeys {
		if c.extraKeys == nil {
			c.extraKeys = map[string]bool{}
		}
		c.extraKeys[k] = true
	}
	for _, name := range o.drivers {
		if slices.Contains(c.names, name) {
			continue
		}
		d, err := newDriver(name, c, &o)
		if err != nil {
			return nil, err
		}
		c.names = append(c.names, name)
		c.drivers = append(c.drivers, d)
	}
	return &Notifier{c: c, publisherID: o.send.publisherID, retry: normRetry(o.send.retry)}, nil
}

func normRetry(n int) int {
	if n < 0 {
		return -1
	}
	return n
}

// Prepare returns a copy of the notifier with opts (PublisherID, Retry)
// applied; the copy shares the drivers (oslo's prepare).
func (n *Notifier) Prepare(opts ...PrepareOption) *Notifier {
	s := sendSettings{publisherID: n.publisherID, retry: n.retry}
	for _, opt := range opts {
		if opt != nil {
			opt.applyPrepare(&s)
		}
	}
	return &Notifier{c: n.c, publisherID: s.publisherID, retry: normRetry(s.retry)}
}

// PublisherID returns the publisher id the notifier sends.
func (n *Notifier) PublisherID() string { return n.publisherID }

// Drivers returns the names of the notifier's drivers.
func (n *Notifier) Drivers() []string { return slices.Clone(n.c.names) }

// IsEnabled reports whether the notifier sends notifications anywhere: it
// is false when its only driver is "noop" (oslo's is_enabled).
func (n *Notifier) IsEnabled() bool {
	return !(len(n.c.names) == 1 && n.c.names[0] == "noop")
}

// Audit sends a notification with priority AUDIT. Like every send method
// it returns the failures of all drivers and topics joined (oslo logs them
// and never raises); callers that treat notifications as best effort may
// ignore it. ctx bounds the send and carries the request context sent with
// the notification (see serializer.WithRequestContext).
func (n *Notifier) Audit(ctx context.Context, eventType string, payload any) error {
	return n.send(ctx, "AUDIT", eventType, payload)
}

// Debug sends a notification with priority DEBUG; see Audit.
func (n *Notifier) Debug(ctx context.Context, eventType string, payload any) error {
	return n.send(ctx, "DEBUG", eventType, payload)
}

// Info sends a notification with priority INFO; see Audit.
func (n *Notifier) Info(ctx context.Context, eventType string, payload any) error {
	return n.send(ctx, "INFO", eventType, payload)
}

// Warn sends a notification with priority WARN (oslo's warn and warning);
// see Audit.
func (n *Notifier) Warn(ctx context.Context, eventType string, payload any) error {
	return n.send(ctx, "WARN", eventType, payload)
}

// Error sends a notification with priority ERROR; see Audit.
func (n *Notifier) Error(ctx context.Context, eventType string, payload any) error {
	return n.send(ctx, "ERROR", eventType, payload)
}

// Critical sends a notification with priority CRITICAL; see Audit.
func (n *Notifier) Critical(ctx context.Context, eventType string, payload any) error {
	return n.send(ctx, "CRITICAL", eventType, payload)
}

// Sample sends a notification with priority SAMPLE, for frequent small
// measurements; see Audit.
func (n *Notifier) Sample(ctx context.Context, eventType string, payload any) error {
	return n.send(ctx, "SAMPLE", eventType, payload)
}

// Notify sends a notification with the given priority, one of audit,
// debug, info, warn (or warning), error, critical and sample in any case;
// see Audit. It is for programs that choose the priority at run time.
func (n *Notifier) Notify(ctx context.Context, priority, eventType string, payload any) error {
	p := strings.ToLower(priority)
	if p == "warning" {
		p = "warn"
	}
	if !wire.IsPriority(p) {
		return fmt.Errorf("notify: unknown priority %q (want one of %s)", priority, strings.Join(wire.Priorities[:], ", "))
	}
	return n.send(ctx, strings.ToUpper(p), eventType, payload)
}

// send builds oslo's notification dict once and hands it to every driver.
func (n *Notifier) send(ctx context.Context, priority, eventType string, payload any) error {
	c := n.c
	if !serializer.IsNoOp(c.ser) {
		var err error
		if payload, err = c.ser.SerializeEntity(ctx, payload); err != nil {
			return fmt.Errorf("notify: serializing payload: %w", err)
		}
	}
	// As oslo's _sanitize_context, before the serializer sees the context.
	sctx := serializer.WithRequestContext(ctx, sanitizeContext(serializer.RequestContextFrom(ctx), c.extraKeys))
	rc, err := c.ser.SerializeContext(sctx)
	if err != nil {
		return fmt.Errorf("notify: serializing request context: %w", err)
	}
	msg := &wire.Notification{
		MessageID:   ids.UUID(),
		PublisherID: n.publisherID,
		EventType:   eventType,
		Priority:    priority,
		Payload:     payload,
		Timestamp:   FormatTimestamp(time.Now()),
		Context:     rc,
	}
	var errs []error
	for _, d := range c.drivers {
		if err := d.notify(ctx, msg, n.retry); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// safeContextKeys are the request-context keys a notification carries:
// oslo.messaging's _sanitize_context allowlist (Debian's 14.0.3 and later).
// Everything else, auth_token above all, stays off the notification bus,
// which many consumers read.
var safeContextKeys = map[string]bool{
	"user_id": true, "project_id": true, "domain_id": true, "user_domain_id": true, "project_domain_id": true,
	"is_admin": true, "request_id": true, "roles": true,
	"user_name": true, "project_name": true, "domain_name": true, "user_domain_name": true, "project_domain_name": true,
	"service_user_id": true, "service_user_domain_id": true, "service_user_domain_name": true,
	"service_project_id": true, "service_project_name": true, "service_project_domain_id": true,
	"service_project_domain_name": true, "service_roles": true,
	"global_request_id": true, "system_scope": true,
	"user": true, "domain": true, "user_domain": true, "project_domain": true,
}

// sanitizeContext returns the keys of rc that are safe (safeContextKeys)
// or in extra.
func sanitizeContext(rc serializer.RequestContext, extra map[string]bool) serializer.RequestContext {
	if len(rc) == 0 {
		return rc
	}
	safe := make(serializer.RequestContext, len(rc))
	for k, v := range rc {
		if safeContextKeys[k] || extra[k] {
			safe[k] = v
		}
	}
	return safe
}

// timestampLayout is Python's str(datetime) without the fraction.
const timestampLayout = "2006-01-02 15:04:05"

// FormatTimestamp formats t as oslo's notification timestamp: Python's
// str() of a naive UTC datetime, "YYYY-MM-DD HH:MM:SS.ffffff", with no
// fraction when the microseconds are 0. Nanoseconds are truncated.
func FormatTimestamp(t time.Time) string {
	t = t.UTC()
	s := t.Format(timestampLayout)
	if us := t.Nanosecond() / 1000; us != 0 {
		s += fmt.Sprintf(".%06d", us)
	}
	return s
}

// ParseTimestamp parses an oslo notification timestamp (see
// FormatTimestamp) as UTC. It also accepts the ISO 8601 "T" separator.
func ParseTimestamp(s string) (time.Time, error) {
	// Parsing accepts a fraction after the seconds the layout does not name.
	if t, err := time.ParseInLocation(timestampLayout, strings.Replace(s, "T", " ", 1), time.UTC); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("notify: bad timestamp %q: want \"YYYY-MM-DD HH:MM:SS[.ffffff]\"", s)
}
