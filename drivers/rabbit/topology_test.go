package rabbit

import (
	"context"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/oslo-go/messaging/internal/engine"
	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
	"github.com/oslo-go/messaging/transport/driver"
)

// osloTopology is what oslo.messaging 14.0.3's impl_rabbit declares for a
// configuration, written out independently of topology.go: the driver's
// declarations must be equivalent, or RabbitMQ refuses the second
// declarer with PRECONDITION_FAILED.
type osloTopology struct {
	durable, autoDelete, ha, quorum bool
	deliveryLimit                   int32
}

func (o osloTopology) topicArgs() amqp.Table {
	args := amqp.Table{}
	if o.ha {
		args["x-ha-policy"] = "all"
	}
	if o.quorum {
		args["x-queue-type"] = "quorum"
		if o.deliveryLimit > 0 {
			args["x-delivery-limit"] = o.deliveryLimit
		}
	}
	return args
}

func (o osloTopology) transientArgs() amqp.Table {
	args := amqp.Table{"x-expires": int32(1800000)}
	if o.ha {
		args["x-ha-policy"] = "all"
	}
	return args
}

// osloDeclare runs one declaration on a fresh channel, so that a refused
// one does not hide the next.
func osloDeclare(t *testing.T, conn *amqp.Connection, what string, fn func(ch *amqp.Channel) error) {
	t.Helper()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	if err := fn(ch); err != nil {
		t.Errorf("oslo's declaration of %s refused: %v", what, err)
	}
}

func TestTopologyMatchesOslo(t *testing.T) {
	needBroker(t)
	variants := []struct {
		name string
		opts []transport.Option
		oslo osloTopology
	}{
		{name: "defaults"},
		{name: "durable", opts: []transport.Option{DurableQueues(true)}, oslo: osloTopology{durable: true}},
		{name: "auto-delete", opts: []transport.Option{AutoDelete(true)}, oslo: osloTopology{autoDelete: true}},
		{name: "ha", opts: []transport.Option{HAQueues(true)}, oslo: osloTopology{ha: true}},
		{name: "quorum", opts: []transport.Option{QuorumQueues(true), QuorumDeliveryLimit(5)}, oslo: osloTopology{durable: true, quorum: true, deliveryLimit: 5}},
	}
	raw, _ := rawChannel(t)
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			exchange := uniqueName("topo_ex")
			tr := openTransport(t, append([]transport.Option{transport.ControlExchange(exchange)}, v.opts...)...)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			o := v.oslo
			defer osloDeclare(t, raw, "cleanup", func(ch *amqp.Channel) error { return ch.ExchangeDelete(exchange, false, false) })

			// The Go side declares first: a server, a reply queue, a
			// notification; then oslo declares the same.
			topic := uniqueName("topo")
			tg := engine.Of(tr).ResolveTarget(target.Target{Topic: topic, Server: "host1"})
			dl, err := engine.Of(tr).Driver().Listen(ctx, tg, driver.ListenOptions{})
			if err != nil {
				t.Fatal(err)
			}
			fanoutQ := dl.(*listener).fanoutQueue
			replyQ, err := engine.Of(tr).Driver().ReplyAddress(ctx)
			if err != nil {
				t.Fatal(err)
			}
			nt := engine.Of(tr).ResolveTarget(target.Target{Topic: topic + ".info"})
			if err := engine.Of(tr).Driver().(driver.Notifier).Notify(ctx, nt, &driver.Message{Body: []byte(`{}`)}); err != nil {
				t.Fatal(err)
			}
			osloDeclare(t, raw, "topic exchange", func(ch *amqp.Channel) error {
				return ch.ExchangeDeclare(exchange, "topic", o.durable, o.autoDelete, false, false, nil)
			})
			for _, q := range []string{topic, topic + ".host1", topic + ".info"} {
				osloDeclare(t, raw, "queue "+q, func(ch *amqp.Channel) error {
					_, err := ch.QueueDeclare(q, o.durable, o.autoDelete, false, false, o.topicArgs())
					return err
				})
			}
			osloDeclare(t, raw, "fanout exchange", func(ch *amqp.Channel) error {
				return ch.ExchangeDeclare(topic+"_fanout", "fanout", false, true, false, false, nil)
			})
			for _, q := range []string{fanoutQ, replyQ} {
				osloDeclare(t, raw, "queue "+q, func(ch *amqp.Channel) error {
					_, err := ch.QueueDeclare(q, false, false, false, false, o.transientArgs())
					return err
				})
			}
			// Sanity: the broker does check, a declaration that differs is
			// refused.
			ch, _ := raw.Channel()
			if _, err := ch.QueueDeclare(fanoutQ, false, false, false, false, nil); amqpCode(err) != amqp.PreconditionFailed {
				t.Errorf("declaring the fanout queue without x-expires: err = %v, want PRECONDITION_FAILED", err)
			}

			// oslo declares first, the Go side second.
			topic2 := uniqueName("topo")
			osloDeclare(t, raw, "fanout exchange 2", func(ch *amqp.Channel) error {
				return ch.ExchangeDeclare(topic2+"_fanout", "fanout", false, true, false, false, nil)
			})
			for _, q := range []string{topic2, topic2 + ".host1", topic2 + ".info"} {
				osloDeclare(t, raw, "queue "+q, func(ch *amqp.Channel) error {
					_, err := ch.QueueDeclare(q, o.durable, o.autoDelete, false, false, o.topicArgs())
					return err
				})
			}
			dl2, err := engine.Of(tr).Driver().Listen(ctx, engine.Of(tr).ResolveTarget(target.Target{Topic: topic2, Server: "host1"}), driver.ListenOptions{})
			if err != nil {
				t.Fatalf("Listen over oslo's topology: %v", err)
			}
			nt2 := engine.Of(tr).ResolveTarget(target.Target{Topic: topic2 + ".info"})
			if err := engine.Of(tr).Driver().(driver.Notifier).Notify(ctx, nt2, &driver.Message{Body: []byte(`{}`)}); err != nil {
				t.Fatalf("Notify over oslo's topology: %v", err)
			}
			dl.Close()
			dl2.Close()
			for _, q := range []string{topic, topic + ".host1", topic + ".info", topic2, topic2 + ".host1", topic2 + ".info"} {
				osloDeclare(t, raw, "cleanup", func(ch *amqp.Channel) error { _, err := ch.QueueDelete(q, false, false, false); return err })
			}
		})
	}
}
