package amqp1

import (
	"strings"

	"github.com/oslo-go/messaging/target"
	"github.com/oslo-go/messaging/transport"
)

// service tells RPC addresses from notification addresses (oslo's
// SERVICE_RPC and SERVICE_NOTIFY).
type service int

const (
	serviceRPC service = iota
	serviceNotify
)

// ProductQpidd is the product a broker announces in its Open frame that
// makes addressing_mode=dynamic choose legacy addresses; oslo assumes it
// when the peer announces none.
const ProductQpidd = "qpid-cpp"

// addresser turns targets into AMQP 1.0 node addresses, as oslo's
// amqp1_driver/addressing.py does.
type addresser interface {
	// multicast: every server of the topic (fanout).
	multicast(t target.Target, s service) string
	// unicast: the one server t.Server.
	unicast(t target.Target, s service) string
	// anycast: one of the servers of the topic (competing consumers).
	anycast(t target.Target, s service) string
}

// resolve returns the address a message to t goes to.
func resolve(a addresser, t target.Target, s service) string {
	switch {
	case t.Fanout:
		return a.multicast(t, s)
	case t.Server != "":
		return a.unicast(t, s)
	}
	return a.anycast(t, s)
}

// join joins the non-empty parts with sep (oslo's _concat).
func join(sep string, parts ...string) string {
	kept := parts[:0:0]
	for _, p := range parts {
		if p != "" {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, sep)
}

// legacy is oslo's LegacyAddresser, for qpidd-style brokers:
//
//	multicast  <broadcast_prefix>[.<vhost>].<exchange>.<topic>.all
//	unicast    <server_request_prefix>[.<vhost>].<exchange>.<topic>.<server>
//	anycast    <group_request_prefix>[.<vhost>].<exchange>.<topic>
//
// RPC and notifications share the addresses.
type legacy struct {
	serverPrefix, broadcastPrefix, groupPrefix, vhost string
}

func (a *legacy) ex(t target.Target) string {
	return firstOf(t.Exchange, transport.DefaultControlExchange)
}

func (a *legacy) multicast(t target.Target, _ service) string {
	return join(".", a.broadcastPrefix, a.vhost, a.ex(t), t.Topic, "all")
}

func (a *legacy) unicast(t target.Target, _ service) string {
	return join(".", a.serverPrefix, a.vhost, a.ex(t), t.Topic, t.Server)
}

func (a *legacy) anycast(t target.Target, _ service) string {
	return join(".", a.groupPrefix, a.vhost, a.ex(t), t.Topic)
}

// routable is oslo's RoutableAddresser, for qpid-dispatch-router meshes:
//
//	<prefix>/<multicast|unicast|anycast>[/<vhost>]/<exchange>/<topic>[/<server>]
//
// with rpc_address_prefix or notify_address_prefix as prefix. The exchange
// is default_rpc_exchange (default_notification_exchange) when set, else
// the target's. (oslo applies default_rpc_exchange only to targets without
// an exchange; targets reach a driver with the control exchange filled in,
// so the driver cannot tell those apart and applies it to all. oslo's
// notifiers and notification listeners never set a target exchange, so
// for notifications the two agree.)
type routable struct {
	prefix   [2]string // by service
	exchange [2]string // by service: overrides the target's when set
	multi    string
	uni      string
	any      string
	vhost    string
}

func (a *routable) ex(t target.Target, s service) string {
	return firstOf(a.exchange[s], t.Exchange, transport.DefaultControlExchange)
}

func (a *routable) multicast(t target.Target, s service) string {
	return join("/", a.prefix[s]+"/"+a.multi, a.vhost, a.ex(t, s), t.Topic)
}

func (a *routable) unicast(t target.Target, s service) string {
	return join("/", a.prefix[s]+"/"+a.uni, a.vhost, a.ex(t, s), t.Topic, t.Server)
}

func (a *routable) anycast(t target.Target, s service) string {
	return join("/", a.prefix[s]+"/"+a.any, a.vhost, a.ex(t, s), t.Topic)
}

func firstOf(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// newAddresser picks the addresser for a connection whose peer announced
// product (oslo's AddresserFactory): legacy in legacy mode, or in dynamic
// mode when the peer is qpidd or announces nothing; routable otherwise.
// vhost is the virtual host when pseudo_vhost puts it in addresses.
func newAddresser(o *options, product, vhost string) addresser {
	if product == "" {
		product = ProductQpidd
	}
	if o.addressingMode == "legacy" || o.addressingMode == "dynamic" && product == ProductQpidd {
		return &legacy{serverPrefix: o.serverPrefix, broadcastPrefix: o.broadcastPrefix, groupPrefix: o.groupPrefix, vhost: vhost}
	}
	return &routable{
		prefix:   [2]string{o.rpcPrefix, o.notifyPrefix},
		exchange: [2]string{o.rpcExchange, o.notifyExchange},
		multi:    o.multicastTag, uni: o.unicastTag, any: o.anycastTag,
		vhost: vhost,
	}
}
