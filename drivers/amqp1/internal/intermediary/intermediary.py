#!/usr/bin/python3
"""A small AMQP 1.0 intermediary on Qpid Proton, for the amqp1 driver tests.

    intermediary.py --port N --flavour broker|router [--trace]

It stands in for the message buses oslo's amqp1 driver was written for,
which Debian does not ship:

  broker  like qpidd: announces product "qpid-cpp" (so oslo's dynamic
          addressing picks legacy addresses); an address starting with
          "broadcast." is a topic (each subscriber gets a copy, nothing is
          kept without one); any other address is a queue that keeps its
          messages until a consumer takes them, consumers competing.
  router  like qpid-dispatch-router: announces product
          "qpid-dispatch-router" (routable addresses); an address with a
          "multicast" path segment is a topic; addresses under
          openstack.org/om/notify/ are queues kept as a broker waypoint would
          keep them; any other address is routed to its consumers, kept
          nowhere: a message sent unsettled to an address without a
          consumer is released, as the router does.

Both give dynamic sources (the reply links oslo attaches) an address of
their own that lives as long as the link. Messages whose header TTL ran out
are dropped instead of delivered. Deliveries a consumer releases or
modifies, or leaves unsettled when its link or connection goes, go back to
the front of their queue.

It prints {"event": "ready", "port": N} once listening and, with --trace,
one JSON line per connection, link and received message; it exits when its
standard input closes.
"""

import argparse
import collections
import json
import os
import sys
import threading
import time
import uuid

from proton import Endpoint, symbol
from proton.handlers import MessagingHandler
from proton.reactor import Container

PRODUCTS = {'broker': 'qpid-cpp', 'router': 'qpid-dispatch-router'}
DYNAMIC_PREFIX = {'broker': 'TempQueue', 'router': 'amqp:/_topo/0/Router.A/temp.'}
NOTIFY_PREFIX = 'openstack.org/om/notify/'

_out = threading.Lock()


def emit(**fields):
    with _out:
        sys.stdout.write(json.dumps(fields, sort_keys=True, default=str) + '\n')
        sys.stdout.flush()


class Node(object):
    """An address: a queue (competing consumers) or a topic (fanout)."""

    def __init__(self, name, topic, store, dynamic=False):
        self.name = name
        self.topic = topic
        self.store = store
        self.dynamic = dynamic
        self.consumers = []
        self.backlog = collections.deque()  # queue: (message, expires)
        self.copies = {}                    # topic: link -> deque
        self.next = 0


def expires_at(msg):
    return time.monotonic() + msg.ttl if msg.ttl else None


def expired(expires):
    return expires is not None and time.monotonic() >= expires


class Intermediary(MessagingHandler):
    def __init__(self, args):
        super(Intermediary, self).__init__(prefetch=100, auto_accept=False,
                                           auto_settle=True)
        self.args = args
        self.flavour = args.flavour
        self.nodes = {}
        self.outstanding = {}  # delivery -> (node, message, expires)

    # set-up

    def on_start(self, event):
        event.container.listen('127.0.0.1:%d' % self.args.port)
        emit(event='ready', port=self.args.port, flavour=self.flavour)

    def on_connection_opening(self, event):
        c = event.connection
        c.properties = {symbol('product'): PRODUCTS[self.flavour],
                        symbol('version'): '0.0-test'}
        if self.args.trace:
            emit(event='open', container=c.remote_container,
                 hostname=c.remote_hostname,
                 properties=c.remote_properties)

    # addresses

    def kind(self, address):
        if self.flavour == 'broker':
            return address.startswith('broadcast.'), True
        if 'multicast' in address.split('/'):
            return True, False
        return False, address.startswith(NOTIFY_PREFIX)

    def node(self, address, create=True):
        n = self.nodes.get(address)
        if n is None and create and not address.startswith(DYNAMIC_PREFIX[self.flavour]):
            topic, store = self.kind(address)
            n = Node(address, topic, store)
            self.nodes[address] = n
        return n

    def on_link_opening(self, event):
        link = event.link
        if link.is_sender:  # the peer receives from us
            src = link.remote_source
            if src.dynamic:
                address = DYNAMIC_PREFIX[self.flavour] + uuid.uuid4().hex
                n = Node(address, False, True, dynamic=True)
                self.nodes[address] = n
            else:
                address = src.address
                n = self.node(address)
            link.source.address = address
            link.target.copy(link.remote_target)
            n.consumers.append(link)
            if n.topic:
                n.copies[link] = collections.deque()
        else:
            link.target.address = link.remote_target.address
            link.source.copy(link.remote_source)
        if self.args.trace:
            emit(event='attach', role='sender' if link.is_receiver else 'receiver',
                 name=link.name, source=link.source.address,
                 target=link.target.address,
                 dynamic=bool(link.remote_source.dynamic),
                 snd_settle_mode=link.remote_snd_settle_mode)

    def detach(self, link):
        if not link.is_sender:
            return
        n = self.nodes.get(link.source.address)
        if n is not None and link in n.consumers:
            n.consumers.remove(link)
            n.copies.pop(link, None)
        # unsettled deliveries on the link go back to their queue
        for dlv, (node, msg, exp) in list(self.outstanding.items()):
            if dlv.link == link:
                del self.outstanding[dlv]
                if not node.topic:
                    node.backlog.appendleft((msg, exp))
        if n is not None:
            if n.dynamic and not n.consumers:
                del self.nodes[n.name]
            else:
                self.dispatch(n)

    def on_link_closing(self, event):
        self.detach(event.link)

    def on_connection_closing(self, event):
        self.drop_links(event.connection)

    def on_disconnected(self, event):
        self.drop_links(event.connection)

    def drop_links(self, connection):
        link = connection.link_head(Endpoint.REMOTE_ACTIVE | Endpoint.REMOTE_UNINIT | Endpoint.REMOTE_CLOSED)
        links = []
        while link:
            links.append(link)
            link = link.next(0)
        for link in links:
            self.detach(link)

    # receiving from senders

    def on_message(self, event):
        dlv, msg = event.delivery, event.message
        address = event.link.target.address or msg.address
        if self.args.trace:
            body = msg.body
            emit(event='message', address=address, to=msg.address,
                 settled=dlv.settled, id=msg.id,
                 correlation_id=msg.correlation_id, reply_to=msg.reply_to,
                 ttl=msg.ttl, durable=msg.durable,
                 body_type=type(body).__name__,
                 body=body if isinstance(body, str) else None)
        n = self.node(address)
        if n is None:  # a dynamic address that is gone
            self.refuse(dlv)
            return
        exp = expires_at(msg)
        if n.topic:
            for link in n.consumers:
                n.copies[link].append((msg, exp))
        elif n.consumers or n.store:
            n.backlog.append((msg, exp))
        else:
            self.refuse(dlv)
            return
        if not dlv.settled:
            self.accept(dlv)
        else:
            dlv.settle()
        self.dispatch(n)

    def refuse(self, dlv):
        if dlv.settled:
            dlv.settle()
        else:
            self.release(dlv, delivered=False)

    # delivering to consumers

    def on_sendable(self, event):
        n = self.nodes.get(event.link.source.address)
        if n is not None:
            self.dispatch(n)

    def send(self, node, link, msg, exp):
        dlv = link.send(msg)
        self.outstanding[dlv] = (node, msg, exp)

    def dispatch(self, n):
        if n.topic:
            for link in n.consumers:
                q = n.copies[link]
                while q and link.credit > 0:
                    msg, exp = q.popleft()
                    if not expired(exp):
                        self.send(n, link, msg, exp)
            return
        while n.backlog and n.consumers:
            ready = [l for l in n.consumers if l.credit > 0]
            if not ready:
                return
            msg, exp = n.backlog.popleft()
            if expired(exp):
                continue
            link = ready[n.next % len(ready)]
            n.next += 1
            self.send(n, link, msg, exp)

    def on_accepted(self, event):
        self.outstanding.pop(event.delivery, None)

    def on_rejected(self, event):
        self.outstanding.pop(event.delivery, None)

    def on_released(self, event):
        entry = self.outstanding.pop(event.delivery, None)
        if entry is not None:
            node, msg, exp = entry
            if not node.topic and self.nodes.get(node.name) is node:
                node.backlog.appendleft((msg, exp))
                self.dispatch(node)

    def on_settled(self, event):
        self.outstanding.pop(event.delivery, None)


def watch_stdin():
    try:
        sys.stdin.read()
    except Exception:
        pass
    os._exit(0)


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--port', type=int, required=True)
    p.add_argument('--flavour', choices=sorted(PRODUCTS), default='broker')
    p.add_argument('--trace', action='store_true')
    args = p.parse_args()
    threading.Thread(target=watch_stdin, daemon=True).start()
    Container(Intermediary(args)).run()


if __name__ == '__main__':
    main()
