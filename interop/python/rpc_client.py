#!/usr/bin/python3
"""An oslo.messaging RPC client that runs interop scenarios.

    rpc_client.py --url rabbit://guest:guest@127.0.0.1:5672/ --topic T
        [--direct-server go-b] [--calls 20] [scenario ...]

It calls the interop service (see rpc_server.py) on the topic, namespace
"interop", version 1.2, and prints one JSON line per scenario:

    {"scenario": "...", "elapsed": <seconds>, "value": <the result>}
    {"scenario": "...", "elapsed": <seconds>,
     "error": {"class", "module", "message", "str", "mro",
               and for a RemoteError "exc_type", "value", "traceback"}}

Scenarios run in the order given; without any, all of them but "spread"
("list" prints their names). Each runs even when another failed.
"""

import argparse
import functools
import time

import oslo_messaging

import interop_common as common

# The request context of the "context" scenario: OpenStack's usual keys
# (oslo.context's to_dict) and a few nested and non-ASCII values.
CONTEXT = {
    'user': 'py-user',
    'project_id': 'p-1',
    'request_id': 'req-6d4e1c2a-0b8f-4c1d-9a7e-2f3b4c5d6e7f',
    'global_request_id': None,
    'roles': ['admin', 'member'],
    'is_admin': True,
    'read_only': False,
    'auth_token': 'tok-secret',
    'unicode': '\u00fcn\u00efc\u00f8d\u00e9 \u2713 \U0001F389',
    'nested': {'a': [1, {'b': None}], 'c': {}},
    'big': 2 ** 70,
    'ratio': 0.5,
}

# The argument of "nested": what the Go server decodes into a struct.
VOLUME = {
    'id': 'vol-1',
    'name': 'data \u2713 \u65e5\u672c',
    'size_gb': 10,
    'bytes': 2 ** 64 + 5,
    'bootable': False,
    'ratio': 0.75,
    'owner': None,
    'tags': {'tier': 'gold', 'zone': 'z1'},
    'attachments': [
        {'server': 'srv-1', 'device': '/dev/vdb', 'read_only': True,
         'options': {'cache': 'none', 'retries': [1, 2, 3]}},
        {'server': 'srv-2', 'device': '/dev/vdc', 'read_only': False,
         'options': {}},
    ],
    'metadata': {'list_of_dicts': [{'k': [1, 2.5, None, True, 'x']}],
                 'empty': {}, 'neg': -(2 ** 70)},
}

# Keyword arguments of "kwargs": scalar types at the top level.
KWARGS = {
    'text': 'h\u00e9llo \u2713',
    'big': 2 ** 64 + 1,
    'neg_big': -(2 ** 70),
    'small': 1,
    'float': 1.5,
    'int_float': 2.0,
    'none': None,
    'yes': True,
    'no': False,
    'list': [1, 'two', None, [3.5]],
}

FLOATS = [float('nan'), float('inf'), float('-inf'), 1.5, 0.0, 1e308]

SCENARIOS = {}


def scenario(fn):
    SCENARIOS[fn.__name__] = fn
    return fn


class Env(object):
    """What scenarios use: clients, and options from the command line."""

    def __init__(self, conf, args):
        self.conf = conf
        self.args = args
        transport = oslo_messaging.get_rpc_transport(conf, url=args.url)
        target = oslo_messaging.Target(topic=args.topic, namespace='interop',
                                       version='1.2')
        self.client = oslo_messaging.get_rpc_client(transport, target,
                                                    timeout=15)
        self.target = target

    @functools.cached_property
    def allowed_client(self):
        """A client whose transport rebuilds the dispatcher's and
        interop_errors' exceptions (allowed_remote_exmods)."""
        transport = oslo_messaging.get_rpc_transport(
            self.conf, url=self.args.url,
            allowed_remote_exmods=['oslo_messaging.rpc.dispatcher',
                                   'interop_errors'])
        return oslo_messaging.get_rpc_client(transport, self.target,
                                             timeout=15)


@scenario
def call_v1_2(env):
    return env.client.call({}, 'echo', text='v1.2')


@scenario
def call_v1_0(env):
    return env.client.prepare(version='1.0').call({}, 'echo', text='v1.0')


@scenario
def call_v2_0(env):
    return env.client.prepare(version='2.0').call({}, 'echo', text='v2.0')


@scenario
def unsupported_version(env):
    return env.client.prepare(version='1.3').call({}, 'echo')


@scenario
def unsupported_revision(env):
    return env.client.prepare(version='1.2.1').call({}, 'echo')


@scenario
def unsupported_major(env):
    return env.client.prepare(version='3.0').call({}, 'echo')


@scenario
def unsupported_namespace(env):
    return env.client.prepare(namespace='other').call({}, 'echo')


@scenario
def unsupported_version_allowed(env):
    return env.allowed_client.prepare(version='1.3').call({}, 'echo')


@scenario
def no_such_method(env):
    return env.client.call({}, 'no_such_method')


@scenario
def no_such_method_allowed(env):
    return env.allowed_client.call({}, 'no_such_method')


@scenario
def missing_argument(env):
    """fail_custom without its volume_id argument."""
    return env.client.call({}, 'fail_custom')


@scenario
def unexpected_argument(env):
    """whoami with an argument it does not take."""
    return env.client.call({}, 'whoami', extra=1)


@scenario
def context(env):
    return {'sent': CONTEXT, 'got': env.client.call(CONTEXT, 'echo_context')}


@scenario
def kwargs(env):
    return {'sent': KWARGS, 'got': env.client.call({}, 'echo', **KWARGS)}


@scenario
def nested(env):
    got = env.client.call({}, 'describe_volume', volume=VOLUME)
    return {'sent': VOLUME, 'got': got, 'equal': got == VOLUME}


@scenario
def large(env):
    """4 MiB each way."""
    data = '0123456789abcdef' * (1 << 18)
    got = env.client.call({}, 'echo', data=data)
    return {'equal': got == {'data': data}, 'size': len(got.get('data', ''))}


@scenario
def floats(env):
    return env.client.call({}, 'classify_floats', values=FLOATS)


@scenario
def fail_generic(env):
    return env.client.call({}, 'fail_generic', message='generic failure')


@scenario
def fail_value(env):
    return env.client.call({}, 'fail_value', message='bad volume size: 0')


@scenario
def fail_custom(env):
    return env.client.call({}, 'fail_custom', volume_id='vol-9')


@scenario
def fail_custom_allowed(env):
    return env.allowed_client.call({}, 'fail_custom', volume_id='vol-9')


@scenario
def timeout(env):
    """The server sleeps past the 1 s call timeout: MessagingTimeout."""
    return env.client.prepare(timeout=1).call({}, 'sleep', seconds=3)


@scenario
def call_monitor(env):
    """A 3 s call with a 2 s call monitor: alive thanks to heartbeats."""
    return env.client.prepare(timeout=20, call_monitor_timeout=2).call(
        {}, 'sleep', seconds=3)


@scenario
def call_monitor_short(env):
    """A 2 s call with a 1 s call monitor: oslo servers send no heartbeat
    for monitors under 2 s (they beat every int(monitor)/2 s, at least 1)."""
    return env.client.prepare(timeout=20, call_monitor_timeout=1).call(
        {}, 'sleep', seconds=2)


@scenario
def ping(env):
    return env.client.prepare(namespace=None, version=None).call(
        {}, 'oslo_rpc_server_ping')


@scenario
def direct(env):
    c = env.client.prepare(server=env.args.direct_server)
    return [c.call({}, 'whoami') for _ in range(4)]


@scenario
def spread(env):
    return [env.client.call({}, 'whoami') for _ in range(env.args.calls)]


@scenario
def cast(env):
    return env.client.cast({'user': 'py-user'}, 'record',
                           text='cast from python')


@scenario
def fanout(env):
    return env.client.prepare(fanout=True).cast(
        {'user': 'py-user'}, 'record', text='fanout from python')


DEFAULT = [name for name in SCENARIOS if name != 'spread']


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    common.add_common_args(parser)
    parser.add_argument('--direct-server', default='go-b',
                        help='server name for the "direct" scenario')
    parser.add_argument('--calls', type=int, default=20,
                        help='number of calls of the "spread" scenario')
    parser.add_argument('scenarios', nargs='*', metavar='scenario',
                        help='scenarios to run (default: all but spread)')
    args = parser.parse_args()
    if args.scenarios == ['list']:
        for name in SCENARIOS:
            print(name)
        return
    unknown = [s for s in args.scenarios if s not in SCENARIOS]
    if unknown:
        parser.error('unknown scenarios %s; known: %s'
                     % (unknown, ', '.join(SCENARIOS)))

    env = Env(common.configure(args), args)
    for name in args.scenarios or DEFAULT:
        start = time.monotonic()
        try:
            value = SCENARIOS[name](env)
        except Exception as e:
            line = {'scenario': name, 'error': common.describe_exception(e)}
        else:
            line = {'scenario': name, 'value': value}
        line['elapsed'] = round(time.monotonic() - start, 3)
        common.emit(**line)
    common.exit_now()


if __name__ == '__main__':
    main()
