#!/usr/bin/python3
"""oslo.messaging notifications: send some, or listen and print them.

    notifications.py send --url URL --topic T [--publisher-id ID]
            [--driver messagingv2]
        Sends one notification per JSON line read from stdin, until EOF:
            {"priority": "info", "event_type": "...", "payload": ...,
             "context": {...}, "publisher_id": "...", "driver": "messaging"}
        (context, publisher_id and driver are optional). Prints
        {"event": "sent", ...} after each.

    notifications.py listen --url URL --topic T [--pool NAME] [--name LABEL]
        Runs a notification listener (threading executor) on the topic for
        every priority, prints {"event": "ready"} once its queues are
        declared, then one line per notification until stdin closes:
            {"event": "notification", "listener", "priority", "ctxt",
             "publisher_id", "event_type", "payload", "metadata"}
"""

import argparse
import json
import os
import sys

import oslo_messaging

import interop_common as common

PRIORITIES = ['audit', 'debug', 'info', 'warn', 'error', 'critical', 'sample']


def send(conf, args):
    transport = oslo_messaging.get_notification_transport(conf, url=args.url)
    notifiers = {}
    for n, text in enumerate(sys.stdin):
        if not text.strip():
            continue
        spec = json.loads(text)
        driver = spec.get('driver', args.driver)
        if driver not in notifiers:
            notifiers[driver] = oslo_messaging.Notifier(
                transport, publisher_id=args.publisher_id, driver=driver,
                topics=[args.topic])
        notifier = notifiers[driver]
        if 'publisher_id' in spec:
            notifier = notifier.prepare(publisher_id=spec['publisher_id'])
        method = getattr(notifier, spec['priority'])
        method(spec.get('context', {}), spec['event_type'], spec['payload'])
        common.emit(event='sent', n=n, event_type=spec['event_type'])


class Endpoint(object):
    """Prints every notification, whatever its priority."""

    def __init__(self, label):
        self.label = label
        for priority in PRIORITIES:
            setattr(self, priority, self._handler(priority))

    def _handler(self, priority):
        def handle(ctxt, publisher_id, event_type, payload, metadata):
            common.emit(event='notification', listener=self.label,
                        priority=priority, ctxt=ctxt,
                        publisher_id=publisher_id, event_type=event_type,
                        payload=payload, metadata=metadata)
            return oslo_messaging.NotificationResult.HANDLED
        return handle


def listen(conf, args):
    transport = oslo_messaging.get_notification_transport(conf, url=args.url)
    listener = oslo_messaging.get_notification_listener(
        transport, [oslo_messaging.Target(topic=args.topic)],
        [Endpoint(args.name or args.pool or 'listener')],
        executor='threading', pool=args.pool)
    listener.start()
    common.emit(event='ready', listener=args.name, pool=args.pool,
                pid=os.getpid())
    common.wait_for_stdin_eof()
    # No stop(): it waits for the poll thread for seconds. Exiting closes
    # the connections; the broker requeues what was not acknowledged.


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    modes = parser.add_subparsers(dest='mode', required=True)
    p = modes.add_parser('send', help='send notifications read from stdin')
    common.add_common_args(p)
    p.add_argument('--publisher-id', default='py.host')
    p.add_argument('--driver', default='messagingv2',
                   help='messagingv2 (default) or messaging')
    p = modes.add_parser('listen', help='print the notifications received')
    common.add_common_args(p)
    p.add_argument('--pool', default=None, help='listener pool name')
    p.add_argument('--name', default=None, help='label printed with each')
    args = parser.parse_args()

    conf = common.configure(args)
    if args.mode == 'send':
        send(conf, args)
    else:
        listen(conf, args)
    common.exit_now()


if __name__ == '__main__':
    main()
