package taskmanager

import (
	"errors"
	"log/slog"

	"github.com/oslo-go/messaging/notify"
	"github.com/oslo-go/messaging/transport"
)

// NewNotifier returns the notifier of the taskmanager on host, which sends
// to topic with the publisher id trove-taskmanager.<host>. On a transport
// that carries no notifications (zmq://) it logs one line and returns nil:
// the taskmanager then works without notifications.
func NewNotifier(tr *transport.Transport, topic, host string, log *slog.Logger) (*notify.Notifier, error) {
	if topic == "" {
		topic = notify.DefaultTopic
	}
	n, err := notify.New(tr, notify.PublisherID("trove-taskmanager."+host), notify.Topics(topic))
	if errors.Is(err, transport.ErrNotificationsUnsupported) {
		log.Warn("the transport carries no notifications: trove.instance.* notifications are not sent",
			"transport", tr.URL().Scheme)
		return nil, nil
	}
	return n, err
}
