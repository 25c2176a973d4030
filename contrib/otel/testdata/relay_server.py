#!/usr/bin/python3
"""An oslo.messaging RPC server that relays calls, for the trace test.

    relay_server.py --url rabbit://guest:guest@127.0.0.1:5672/ --topic T

Serves topic T (server "py-relay") with the threading executor:

    relay(topic, method) -> {"ctxt": the ctxt as received,
                             "result": the result of calling method on
                                       topic with that same ctxt}
    relay_as_context(topic, method)
                         -> the same, after the ctxt went through
                            oslo.context's RequestContext.from_dict and
                            to_dict, as RequestContextSerializer does

Prints {"event": "ready"} on stdout once its queues are declared, and
serves until its stdin closes. Logs go to stderr.
"""

import argparse
import json
import logging
import os
import sys

from oslo_config import cfg
from oslo_context import context as oslo_context
import oslo_messaging


class Relay(object):
    def __init__(self, transport):
        self.transport = transport

    def _call(self, ctxt, topic, method):
        client = oslo_messaging.get_rpc_client(
            self.transport, oslo_messaging.Target(topic=topic), timeout=30)
        return client.call(ctxt, method)

    def relay(self, ctxt, topic, method):
        return {'ctxt': dict(ctxt), 'result': self._call(ctxt, topic, method)}

    def relay_as_context(self, ctxt, topic, method):
        as_dict = oslo_context.RequestContext.from_dict(ctxt).to_dict()
        return {'ctxt': as_dict, 'result': self._call(as_dict, topic, method)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--url', required=True)
    parser.add_argument('--topic', required=True)
    args = parser.parse_args()
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    conf = cfg.CONF
    conf([], project='oslootel-test', default_config_files=[])
    transport = oslo_messaging.get_rpc_transport(conf, url=args.url)
    server = oslo_messaging.get_rpc_server(
        transport, oslo_messaging.Target(topic=args.topic, server='py-relay'),
        [Relay(transport)], executor='threading')
    server.start()
    sys.stdout.write(json.dumps({'event': 'ready'}) + '\n')
    sys.stdout.flush()
    try:
        sys.stdin.read()
    finally:
        # No stop(): it waits for the poll thread for seconds.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


if __name__ == '__main__':
    main()
