#!/usr/bin/python3
"""An oslo.messaging RPC server implementing the interop service.

    rpc_server.py --url rabbit://guest:guest@127.0.0.1:5672/
        --topic T --server py-a

It serves target (topic, server) with the threading executor and oslo's
ping endpoint enabled, prints {"event": "ready", ...} once its queues are
declared (oslo starts consuming from its poll thread a moment later),
prints {"event": "cast", ...} for every cast of "record", and serves until
its stdin closes.

The interop service (the Go tests' endpoints, interop/service_test.go,
implement the same, except echo_types and specials):

  namespace "interop", version 1.2
    echo(**kwargs)             -> kwargs
    echo_types(**kwargs)       -> the Python type name of every value (nested)
    echo_context()             -> the request context dict as received
    describe_volume(volume)    -> volume (Go decodes it into a struct)
    classify_floats(values)    -> "nan", "+inf", "-inf" or "finite" per value
    specials()                 -> values only Python produces: NaN, Infinity,
                                  big integers, tuples, sets, datetimes
    fail_generic(message)      -> raises Exception(message)
    fail_value(message)        -> raises ValueError(message)
    fail_custom(volume_id)     -> raises interop_errors.VolumeNotFound
    sleep(seconds)             -> "slept", after sleeping
    record(text)               -> None; a cast: prints {"event": "cast"}
    whoami()                   -> the server name
  namespace "interop", version 2.0
    echo(**kwargs)             -> {"version": "2.0", "args": kwargs}
  null namespace, version 1.0 (rpc_ping_enabled)
    oslo_rpc_server_ping()     -> "pong"
"""

import argparse
import datetime
import math
import os
import time

import oslo_messaging

import interop_common as common
import interop_errors


def type_tree(value):
    if isinstance(value, dict):
        return {k: type_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [type_tree(v) for v in value]
    return type(value).__name__


def classify(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return type(value).__name__
    if math.isnan(value):
        return 'nan'
    if math.isinf(value):
        return '+inf' if value > 0 else '-inf'
    return 'finite'


class InteropV1(object):
    target = oslo_messaging.Target(namespace='interop', version='1.2')

    def __init__(self, name):
        self.name = name

    def echo(self, ctxt, **kwargs):
        return kwargs

    def echo_types(self, ctxt, **kwargs):
        return type_tree(kwargs)

    def echo_context(self, ctxt):
        return dict(ctxt)

    def describe_volume(self, ctxt, volume):
        return volume

    def classify_floats(self, ctxt, values):
        return [classify(v) for v in values]

    def specials(self, ctxt):
        return {
            'nan': float('nan'),
            'inf': float('inf'),
            'neg_inf': float('-inf'),
            'big': 2 ** 100,
            'neg_big': -(2 ** 80),
            'uint64_max': 2 ** 64 - 1,
            'int_float': 2.0,
            'tiny': 5e-324,
            'unicode': 'h\u00e9llo \u2713 \u65e5\u672c \U0001F389',
            'control': '\x00\x1f"\\/',
            'none': None,
            'true': True,
            'false': False,
            'tuple': (1, 'two'),
            'set': {3},
            'datetime': datetime.datetime(2026, 5, 13, 12, 0, 0, 7),
            'empty_list': [],
            'empty_dict': {},
        }

    def fail_generic(self, ctxt, message):
        raise Exception(message)

    def fail_value(self, ctxt, message):
        raise ValueError(message)

    def fail_custom(self, ctxt, volume_id):
        raise interop_errors.VolumeNotFound(volume_id=volume_id)

    def sleep(self, ctxt, seconds):
        time.sleep(seconds)
        return 'slept'

    def record(self, ctxt, text):
        common.emit(event='cast', server=self.name, text=text,
                    user=ctxt.get('user'))

    def whoami(self, ctxt):
        return self.name


class InteropV2(object):
    target = oslo_messaging.Target(namespace='interop', version='2.0')

    def echo(self, ctxt, **kwargs):
        return {'version': '2.0', 'args': kwargs}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    common.add_common_args(parser)
    parser.add_argument('--server', required=True, help='server name')
    parser.add_argument('--no-ping', action='store_true',
                        help='do not enable the ping endpoint')
    args = parser.parse_args()

    conf = common.configure(args, ping=not args.no_ping)
    transport = oslo_messaging.get_rpc_transport(conf, url=args.url)
    target = oslo_messaging.Target(topic=args.topic, server=args.server)
    server = oslo_messaging.get_rpc_server(
        transport, target, [InteropV1(args.server), InteropV2()],
        executor='threading')
    server.start()
    common.emit(event='ready', server=args.server, pid=os.getpid())
    common.wait_for_stdin_eof()
    # No stop(): it waits for the poll thread for seconds. Exiting closes
    # the connections; the broker requeues what was not acknowledged.
    common.exit_now()


if __name__ == '__main__':
    main()
