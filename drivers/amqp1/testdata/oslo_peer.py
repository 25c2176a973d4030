#!/usr/bin/python3
"""A Python oslo.messaging peer on the amqp1 driver, for the Go interop tests.

    oslo_peer.py server --url amqp://127.0.0.1:N/ --topic T --server S [--server S2]
    oslo_peer.py client --url amqp://127.0.0.1:N/ --topic T [--listen-topic L]
    oslo_peer.py listen --url amqp://127.0.0.1:N/ --topic T

It talks to the Go test over stdout, one JSON object per line, and stops
when its stdin closes. "server" serves the endpoints below, one RPC server
per --server name, and prints {"event": "ready"} and one {"event": "cast"}
per cast of record. "client"
reads one JSON command per line from stdin ({"id", "op": "call"|"cast"|
"notify", "topic" (default: T), ...}) and prints {"id", "ok", "result"|"error"} for each.
"listen" (and "client" with --listen-topic L, for topic L) prints
{"event": "notification", ...} for every notification of topic T
(messagingv2, any priority). --option NAME=VALUE sets an
[oslo_messaging_amqp] option.

Endpoints (namespace "interop", version 1.2):
    echo(**kwargs) -> kwargs           whoami() -> the server name
    echo_context() -> ctxt             fail_value(message) -> ValueError
    sleep(seconds) -> "slept"          record(text) -> None (prints a cast)
"""

import argparse
import json
import logging
import os
import sys
import threading
import time

from oslo_config import cfg
import oslo_messaging
from oslo_messaging import opts

_out = threading.Lock()


def emit(**fields):
    with _out:
        sys.stdout.write(json.dumps(fields, sort_keys=True, default=repr) + '\n')
        sys.stdout.flush()


def configure(args):
    logging.basicConfig(stream=sys.stderr,
                        level=logging.DEBUG if args.debug else logging.WARNING,
                        format='%(asctime)s %(name)s %(levelname)s %(message)s')
    conf = cfg.CONF
    conf([], project='oslo-amqp1-interop', default_config_files=[])
    for group, options in opts.list_opts():
        conf.register_opts(options, group=group)
    for option in args.option:
        name, _, value = option.partition('=')
        if name == 'pre_settled':
            value = value.split(',')
        conf.set_override(name, value, group='oslo_messaging_amqp')
    return conf


def describe(e):
    d = {'class': type(e).__name__, 'module': type(e).__module__,
         'message': str(e).split('\n')[0]}
    if isinstance(e, oslo_messaging.RemoteError):
        d['exc_type'] = e.exc_type
        d['value'] = e.value
    return d


class Interop(object):
    target = oslo_messaging.Target(namespace='interop', version='1.2')

    def __init__(self, name):
        self.name = name

    def echo(self, ctxt, **kwargs):
        return kwargs

    def echo_context(self, ctxt):
        return dict(ctxt)

    def whoami(self, ctxt):
        return self.name

    def fail_value(self, ctxt, message):
        raise ValueError(message)

    def sleep(self, ctxt, seconds):
        time.sleep(seconds)
        return 'slept'

    def record(self, ctxt, text):
        emit(event='cast', server=self.name, text=text, user=ctxt.get('user'))


def serve(conf, args):
    for name in args.server or ['py']:
        transport = oslo_messaging.get_rpc_transport(conf, url=args.url)
        target = oslo_messaging.Target(topic=args.topic, server=name)
        server = oslo_messaging.get_rpc_server(transport, target, [Interop(name)],
                                               executor='threading')
        server.start()
    emit(event='ready', servers=args.server)
    sys.stdin.read()


def client(conf, args):
    if args.listen_topic:
        start_listener(conf, args.url, args.listen_topic)
    transport = oslo_messaging.get_rpc_transport(conf, url=args.url)
    notifier_transport = None
    emit(event='ready')
    lock = threading.Lock()

    def run(cmd):
        nonlocal notifier_transport
        try:
            op = cmd['op']
            if op == 'notify':
                with lock:
                    if notifier_transport is None:
                        notifier_transport = oslo_messaging.get_notification_transport(conf, url=args.url)
                n = oslo_messaging.Notifier(notifier_transport, driver='messagingv2',
                                            publisher_id=cmd.get('publisher_id', 'py-peer'),
                                            topics=[cmd.get('topic', args.topic)])
                getattr(n, cmd.get('priority', 'info'))(cmd.get('ctxt', {}), cmd['event_type'], cmd['payload'])
                emit(id=cmd['id'], ok=True, result=None)
                return
            target = oslo_messaging.Target(topic=cmd.get('topic', args.topic),
                                           namespace='interop', version='1.2',
                                           server=cmd.get('server'), fanout=cmd.get('fanout', False))
            c = oslo_messaging.get_rpc_client(transport, target, timeout=cmd.get('timeout', 20),
                                              call_monitor_timeout=cmd.get('call_monitor_timeout'))
            ctxt = cmd.get('ctxt', {})
            if op == 'call':
                result = c.call(ctxt, cmd['method'], **cmd.get('args', {}))
            else:
                c.cast(ctxt, cmd['method'], **cmd.get('args', {}))
                result = None
            emit(id=cmd['id'], ok=True, result=result)
        except Exception as e:
            emit(id=cmd['id'], ok=False, error=describe(e))

    for line in iter(sys.stdin.readline, ""):
        if line.strip():
            threading.Thread(target=run, args=(json.loads(line),), daemon=True).start()


class Notifications(object):
    def __init__(self):
        for priority in ('audit', 'debug', 'info', 'warn', 'error', 'critical', 'sample'):
            setattr(self, priority, self._handler(priority))

    @staticmethod
    def _handler(priority):
        def handle(ctxt, publisher_id, event_type, payload, metadata):
            emit(event='notification', priority=priority, publisher_id=publisher_id,
                 event_type=event_type, payload=payload, ctxt=ctxt,
                 message_id=metadata.get('message_id'), timestamp=metadata.get('timestamp'))
        return handle


def start_listener(conf, url, topic):
    transport = oslo_messaging.get_notification_transport(conf, url=url)
    listener = oslo_messaging.get_notification_listener(
        transport, [oslo_messaging.Target(topic=topic)], [Notifications()],
        executor='threading')
    listener.start()


def listen(conf, args):
    start_listener(conf, args.url, args.topic)
    emit(event='ready')
    sys.stdin.read()


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('mode', choices=['server', 'client', 'listen'])
    p.add_argument('--url', required=True)
    p.add_argument('--topic', required=True)
    p.add_argument('--server', action='append', default=[])
    p.add_argument('--listen-topic', default='')
    p.add_argument('--option', action='append', default=[], metavar='NAME=VALUE')
    p.add_argument('--debug', action='store_true')
    args = p.parse_args()
    conf = configure(args)
    {'server': serve, 'client': client, 'listen': listen}[args.mode](conf, args)
    sys.stdout.flush()
    os._exit(0)  # no oslo clean-up: it waits for threads for seconds


if __name__ == '__main__':
    main()
