#!/usr/bin/python3
"""A small Python oslo.messaging service, set up as nova's services are,
for the Go client beside it (main.go):

    /usr/bin/python3 server.py --url rabbit://guest:guest@127.0.0.1:5672/ [--topic compute] [--server host-1]

It calls set_transport_defaults('nova') (so it listens on the exchange
"nova", not oslo's default "openstack"), enables ping
(rpc_ping_enabled), and serves, in the namespace "compute" at version 5.1:

    get_instance(instance_id, verbose=False) -> the instance dict, or
        raises compute_errors.InstanceNotFound(instance_id=...)
    resize(instance_id, flavor)              -> None (cast it); prints it

It prints "ready" once serving and runs until its stdin closes.
"""

import argparse
import os
import sys

from oslo_config import cfg
import oslo_messaging as messaging
from oslo_messaging.rpc import dispatcher

import compute_errors

INSTANCES = {
    'i-1': {'id': 'i-1', 'name': 'web-1', 'state': 'ACTIVE', 'vcpus': 2},
}


class ComputeAPI(object):
    target = messaging.Target(namespace='compute', version='5.1')

    def get_instance(self, ctxt, instance_id, verbose=False):
        if instance_id not in INSTANCES:
            raise compute_errors.InstanceNotFound(instance_id=instance_id)
        instance = dict(INSTANCES[instance_id])
        if verbose:
            instance['requested_by'] = ctxt.get('user')
        return instance

    def resize(self, ctxt, instance_id, flavor):
        print('resize %s to %s for %s' % (instance_id, flavor, ctxt.get('user')), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--url', required=True, help='transport URL')
    parser.add_argument('--topic', default='compute')
    parser.add_argument('--server', default='host-1')
    args = parser.parse_args()

    # What nova does: its RPC targets name no exchange, so they use "nova".
    messaging.set_transport_defaults('nova')
    conf = cfg.CONF
    conf([], project='python-interop', default_config_files=[])
    # rpc_ping_enabled = true, as in nova.conf's [DEFAULT].
    conf.register_opts(dispatcher._dispatcher_opts)
    conf.set_override('rpc_ping_enabled', True)

    transport = messaging.get_rpc_transport(conf, url=args.url)
    target = messaging.Target(topic=args.topic, server=args.server)
    server = messaging.get_rpc_server(transport, target, [ComputeAPI()],
                                      executor='threading')
    server.start()
    print('ready', flush=True)
    sys.stdin.read()
    sys.stdout.flush()
    os._exit(0)  # without oslo's slow stop; the broker drops the connection


if __name__ == '__main__':
    main()
