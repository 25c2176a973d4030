package taskmanager

import (
	"log/slog"

	"github.com/oslo-go/messaging/notify"
	"github.com/oslo-go/messaging/transport"
	"github.com/oslo-go/messaging/transport/driver"
)

// NewNotifier returns the notifier of the taskmanager on host, which sends
// to topic with the publisher id trove-taskmanager.<host>. On a transport
// that carries no notifications (zmq://) it logs one line and returns nil:
// the taskmanager then works without notifications.
func NewNotifier(tr *transport.Transport, topic, host string, log *slog.Logger) (*notify.Notifier, error) {
	if _, ok := tr.Driver().(driver.Notifier); !ok {
		log.Warn("the transport carries no notifications: trove.instance.* notifications are not sent",
			"transport", tr.URL().Scheme)
		return nil, nil
	}
	if topic == "" {
		topic = notify.DefaultTopic
	}
	return notify.New(tr, notify.PublisherID("trove-taskmanager."+host), notify.Topics(topic))
}
