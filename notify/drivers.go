package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/oslo-go/messaging/internal/engine"
	"github.com/oslo-go/messaging/internal/wire"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
	"github.com/oslo-go/messaging/transport/driver"
)

// notifyDriver is one of oslo's notification drivers.
type notifyDriver interface {
	notify(ctx context.Context, n *wire.Notification, retry int) error
}

// driverNames are the drivers New knows, in the order errors list them.
var driverNames = []string{"messagingv2", "messaging", "log", "noop", "routing", "test"}

func newDriver(name string, c *core, o *notifierOptions) (notifyDriver, error) {
	switch name {
	case "messagingv2", "messaging":
		if _, ok := c.e.Driver().(driver.Notifier); !ok {
			return nil, fmt.Errorf("notify: driver %q: %w", name, transport.ErrNotificationsUnsupported)
		}
		return &messagingDriver{c: c, v2: name == "messagingv2"}, nil
	case "log":
		return logDriver{logger: c.logger}, nil
	case "noop":
		return noopDriver{}, nil
	case "test":
		if o.recorder == nil {
			return nil, errors.New("notify: the test driver needs a Recorder: pass notify.Record(r)")
		}
		return o.recorder, nil
	case "routing":
		return newRoutingDriver(c, o)
	}
	return nil, fmt.Errorf("notify: unknown driver %q (want one of %s)", name, strings.Join(driverNames, ", "))
}

// messagingDriver sends through the transport to "<topic>.<priority>" for
// every topic (oslo's MessagingDriver and MessagingV2Driver).
type messagingDriver struct {
	c  *core
	v2 bool
}

func (d *messagingDriver) notify(ctx context.Context, n *wire.Notification, retry int) error {
	prio := strings.ToLower(n.Priority)
	var errs []error
	for _, topic := range d.c.topics {
		tg := target.Target{Topic: topic + "." + prio}
		if err := d.c.e.Notify(ctx, tg, n, d.v2, engine.SendOptions{Retry: retry}); err != nil {
			errs = append(errs, fmt.Errorf("notify: sending %s notification %s to %s: %w", n.Priority, n.EventType, tg.Topic, err))
		}
	}
	return errors.Join(errs...)
}

type noopDriver struct{}

func (noopDriver) notify(context.Context, *wire.Notification, int) error { return nil }

// Log levels of the priorities that slog does not name.
const (
	// LevelAudit is the level the log driver writes AUDIT notifications at
	// (oslo.log's AUDIT level sat just above INFO).
	LevelAudit = slog.LevelInfo + 1
	// LevelCritical is the level of CRITICAL notifications.
	LevelCritical = slog.LevelError + 4
	// LevelSample is the level of SAMPLE notifications, below Debug so that
	// default handlers drop them (oslo's log driver drops them).
	LevelSample = slog.LevelDebug - 4
)

// LoggerName is the prefix of the "logger" attribute of the log driver's
// records, followed by "." and the event type (oslo's logger name).
const LoggerName = "oslo.messaging.notification"

func logLevel(priority string) slog.Level {
	switch priority {
	case "AUDIT":
		return LevelAudit
	case "DEBUG":
		return slog.LevelDebug
	case "INFO":
		return slog.LevelInfo
	case "WARN":
		return slog.LevelWarn
	case "ERROR":
		return slog.LevelError
	case "CRITICAL":
		return LevelCritical
	}
	return LevelSample
}

// logDriver writes notifications to a slog.Logger (oslo's LogDriver): the
// message is the notification as JSON with passwords masked, the attribute
// "logger" is "oslo.messaging.notification.<event_type>".
type logDriver struct{ logger *slog.Logger }

// logRecord is oslo's notification dict in oslo's key order.
type logRecord struct {
	MessageID   string `json:"message_id"`
	PublisherID string `json:"publisher_id"`
	EventType   string `json:"event_type"`
	Priority    string `json:"priority"`
	Payload     any    `json:"payload"`
	Timestamp   string `json:"timestamp"`
}

func (d logDriver) notify(ctx context.Context, n *wire.Notification, _ int) error {
	level := logLevel(n.Priority)
	if !d.logger.Enabled(ctx, level) {
		return nil
	}
	payload, err := maskedPayload(n.Payload)
	if err != nil {
		return fmt.Errorf("notify: log driver: encoding payload: %w", err)
	}
	b, err := json.Marshal(logRecord{n.MessageID, n.PublisherID, n.EventType, n.Priority, payload, n.Timestamp})
	if err != nil {
		return fmt.Errorf("notify: log driver: %w", err)
	}
	d.logger.Log(ctx, level, string(b), slog.String("logger", LoggerName+"."+n.EventType))
	return nil
}

// maskedPayload returns the payload in generic JSON form with the values of
// secret-looking keys replaced by "***" (oslo_utils' mask_dict_password,
// which the log driver applies).
func maskedPayload(p any) (any, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return mask(v), nil
}

// sanitizeKeys are oslo_utils.strutils._SANITIZE_KEYS: a key containing one
// of them (case-insensitively) has its value masked.
var sanitizeKeys = []string{
	"adminpass", "admin_pass", "password", "admin_password", "auth_token", "new_pass", "auth_password",
	"secret_uuid", "secret", "sys_pswd", "token", "configdrive", "chappassword", "encrypted_key",
	"private_key", "encryption_key_id", "fernetkey", "sslkey", "passphrase", "cephclusterfsid",
	"octaviaheartbeatkey", "rabbitcookie", "cephmanilaclientkey", "pacemakerremoteauthkey",
	"designaterndckey", "cephadminkey", "heatauthencryptionkey", "cephclientkey", "keystonecredential",
	"barbicansimplecryptokek", "cephrgwkey", "swifthashsuffix", "migrationsshkey", "cephmdskey", "cephmonkey",
}

func secretKey(k string) bool {
	k = strings.ToLower(k)
	for _, s := range sanitizeKeys {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

// mask masks the dicts of v recursively, as mask_dict_password does (it
// descends into dicts, not into lists).
func mask(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	for k, val := range m {
		switch {
		case isMap(val):
			m[k] = mask(val)
		case secretKey(k):
			m[k] = "***"
		}
	}
	return m
}

func isMap(v any) bool { _, ok := v.(map[string]any); return ok }

// Recorder keeps the notifications sent through the "test" driver, for
// tests of code that sends notifications (oslo's _impl_test.NOTIFICATIONS).
// Pass it to New with Record and choose the driver with Driver("test").
// The zero value is ready to use and it is safe for concurrent use.
//
// A Recorder is a value the test owns rather than a package-level list as
// in oslo, so parallel tests do not see each other's notifications.
type Recorder struct {
	mu  sync.Mutex
	got []Recorded
}

// Recorded is one notification kept by a Recorder: oslo's notification
// dict as the drivers got it (Priority upper case, Payload after the
// serializer's SerializeEntity, Context after SerializeContext) and the
// retry setting of the send.
type Recorded struct {
	wire.Notification
	Retry int
}

// Record makes the "test" driver store notifications in r.
func Record(r *Recorder) Option {
	return optionFunc(func(o *notifierOptions) { o.recorder = r })
}

func (r *Recorder) notify(_ context.Context, n *wire.Notification, retry int) error {
	rec := Recorded{Notification: *n, Retry: retry}
	rec.Context = maps.Clone(n.Context)
	r.mu.Lock()
	r.got = append(r.got, rec)
	r.mu.Unlock()
	return nil
}

// Notifications returns a copy of the notifications recorded so far, in
// the order they were sent.
func (r *Recorder) Notifications() []Recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// Reset forgets the recorded notifications.
func (r *Recorder) Reset() {
	r.mu.Lock()
	r.got = nil
	r.mu.Unlock()
}
