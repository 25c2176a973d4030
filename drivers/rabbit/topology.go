package rabbit

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"

	amqp "github.com/rabbitmq/amqp091-go"
)

// This file holds the broker objects oslo.messaging declares (reference
// 2.1), with the exact flags and arguments of oslo 14.0.3's impl_rabbit
// (and of newer oslo for rabbit_transient_quorum_queue), so that Python
// peers on the same broker never get PRECONDITION_FAILED.

type exchangeSpec struct {
	name       string // "" is the default exchange, never declared
	kind       string // "topic" or "fanout"
	durable    bool
	autoDelete bool
}

type queueSpec struct {
	name       string
	durable    bool
	autoDelete bool
	args       amqp.Table
}

// bindSpec binds queue to exchange with key.
type bindSpec struct {
	queue, exchange, key string
}

// durable is oslo's Connection.durable: quorum queues are always durable.
func (o *options) durable() bool { return o.durableQueues || o.quorum }

// topicExchange is the exchange of RPC topics and notifications
// (control_exchange or target.exchange).
func (o *options) topicExchange(name string) exchangeSpec {
	return exchangeSpec{name: name, kind: amqp.ExchangeTopic, durable: o.durable(), autoDelete: o.autoDelete}
}

// fanoutExchange is "<topic>_fanout": auto-delete, durable only with
// transient quorum queues.
func (o *options) fanoutExchange(topic string) exchangeSpec {
	return exchangeSpec{name: topic + "_fanout", kind: amqp.ExchangeFanout, durable: o.transientQuorum, autoDelete: true}
}

// topicQueue is an RPC topic or server queue, or a notification queue:
// durable, amqp_auto_delete, HA or quorum arguments, never x-expires.
func (o *options) topicQueue(name string) queueSpec {
	return queueSpec{name: name, durable: o.durable(), autoDelete: o.autoDelete, args: o.queueArgs(o.quorum, 0)}
}

// transientQueue is a reply or fanout queue: x-expires, never auto-delete.
func (o *options) transientQueue(name string) queueSpec {
	return queueSpec{name: name, durable: o.transientQuorum, autoDelete: false, args: o.queueArgs(o.transientQuorum, o.transientTTL)}
}

// queueArgs is oslo's _get_queue_arguments.
func (o *options) queueArgs(quorum bool, ttl int64) amqp.Table {
	args := amqp.Table{}
	if o.haQueues {
		args["x-ha-policy"] = "all"
	}
	if quorum {
		args["x-queue-type"] = "quorum"
		if o.quorumDeliveryLimit > 0 {
			args["x-delivery-limit"] = amqpInt(o.quorumDeliveryLimit)
		}
		if o.quorumMaxMemoryLength > 0 {
			args["x-max-in-memory-length"] = amqpInt(o.quorumMaxMemoryLength)
		}
		if o.quorumMaxMemoryBytes > 0 {
			args["x-max-in-memory-bytes"] = amqpInt(o.quorumMaxMemoryBytes)
		}
	}
	if ttl > 0 {
		args["x-expires"] = amqpInt(ttl * 1000)
	}
	if len(args) == 0 {
		return nil
	}
	return args
}

// amqpInt encodes n as py-amqp does: a signed 32-bit integer when it fits.
func amqpInt(n int64) any {
	if n >= math.MinInt32 && n <= math.MaxInt32 {
		return int32(n)
	}
	return n
}

// consumerArgs are the basic.consume arguments.
func (o *options) consumerArgs() amqp.Table {
	if o.cancelOnFailover {
		return amqp.Table{"x-cancel-on-ha-failover": true}
	}
	return nil
}

// amqpCode returns the AMQP reply code of err, or 0.
func amqpCode(err error) int {
	var ae *amqp.Error
	if errors.As(err, &ae) {
		return ae.Code
	}
	return 0
}

func isDurableMismatch(err error) bool {
	var ae *amqp.Error
	return errors.As(err, &ae) && ae.Code == amqp.PreconditionFailed && strings.Contains(ae.Reason, "'durable'")
}

// declarer declares exchanges, queues and bindings on its own channel of
// conn, so that a refused declare (which closes the channel) never takes
// a publish or consume channel down. It retries as oslo does: a 404 once,
// and a durable object refused for "inequivalent arg 'durable'" once as
// non-durable.
type declarer struct {
	conn *amqp.Connection
	log  *slog.Logger
	ch   *amqp.Channel
}

func (d *declarer) channel() (*amqp.Channel, error) {
	if d.ch != nil && !d.ch.IsClosed() {
		return d.ch, nil
	}
	ch, err := d.conn.Channel()
	if err != nil {
		return nil, err
	}
	d.ch = ch
	return ch, nil
}

func (d *declarer) close() {
	if d.ch != nil && !d.ch.IsClosed() {
		d.ch.Close()
	}
	d.ch = nil
}

func (d *declarer) do(what string, fn func(ch *amqp.Channel) error) error {
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		var ch *amqp.Channel
		if ch, err = d.channel(); err != nil {
			return err
		}
		if err = fn(ch); err == nil || amqpCode(err) != amqp.NotFound {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("rabbit: declaring %s: %w", what, err)
	}
	return nil
}

func (d *declarer) exchange(x exchangeSpec) error {
	if x.name == "" {
		return nil
	}
	declare := func(durable bool) error {
		return d.do("exchange "+x.name, func(ch *amqp.Channel) error {
			return ch.ExchangeDeclare(x.name, x.kind, durable, x.autoDelete, false, false, nil)
		})
	}
	err := declare(x.durable)
	if err != nil && x.durable && isDurableMismatch(err) {
		d.log.Warn("rabbit: exchange exists as non-durable; declaring it non-durable", "exchange", x.name, "error", err)
		err = declare(false)
	}
	return err
}

func (d *declarer) queue(q queueSpec) error {
	declare := func(durable bool) error {
		return d.do("queue "+q.name, func(ch *amqp.Channel) error {
			_, err := ch.QueueDeclare(q.name, durable, q.autoDelete, false, false, q.args)
			return err
		})
	}
	err := declare(q.durable)
	if err != nil && q.durable && q.args["x-queue-type"] == nil && isDurableMismatch(err) {
		d.log.Warn("rabbit: queue exists as non-durable; declaring it non-durable", "queue", q.name, "error", err)
		err = declare(false)
	}
	return err
}

func (d *declarer) bind(b bindSpec) error {
	return d.do("binding of "+b.queue+" to "+b.exchange, func(ch *amqp.Channel) error {
		return ch.QueueBind(b.queue, b.key, b.exchange, false, nil)
	})
}

// topology declares an exchange, a queue and their binding, in order.
func (d *declarer) topology(x exchangeSpec, q queueSpec, key string) error {
	if err := d.exchange(x); err != nil {
		return err
	}
	if err := d.queue(q); err != nil {
		return err
	}
	if x.name == "" {
		return nil
	}
	return d.bind(bindSpec{queue: q.name, exchange: x.name, key: key})
}
