"""Helpers shared by the interop scripts.

The scripts talk to the Go tests over stdout, one JSON object per line
(Python's json module, so NaN and Infinity appear as such), and stop when
their stdin closes. Logs go to stderr.
"""

import json
import logging
import os
import sys
import threading

from oslo_config import cfg
import oslo_messaging
from oslo_messaging import opts

_out_lock = threading.Lock()


def configure(args, ping=False):
    """Set up logging and oslo's global CONF from the common arguments
    (add_common_args), without reading any configuration file.

    ping enables oslo's ping endpoint ([DEFAULT] rpc_ping_enabled).
    """
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.DEBUG if args.debug else logging.WARNING,
        format='%(asctime)s %(threadName)s %(name)s %(levelname)s %(message)s')
    conf = cfg.CONF
    conf([], project='oslo-interop', default_config_files=[])
    # Register every oslo.messaging option now, rather than when the
    # drivers load, so that they can be set here.
    for group, options in opts.list_opts():
        conf.register_opts(options, group=group)
    if args.control_exchange:
        conf.set_override('control_exchange', args.control_exchange)
    for option in args.rabbit_option:
        name, _, value = option.partition('=')
        conf.set_override(name, value, group='oslo_messaging_rabbit')
    conf.set_override('rpc_ping_enabled', ping)
    return conf


def emit(**fields):
    """Print one JSON line on stdout and flush it."""
    line = json.dumps(fields, sort_keys=True)
    with _out_lock:
        sys.stdout.write(line + '\n')
        sys.stdout.flush()


def describe_exception(e):
    """What a caller sees of an exception: class, module, message, ..."""
    text = str(e)
    d = {
        'class': type(e).__name__,
        'module': type(e).__module__,
        'message': text.split('\n')[0],
        'str': text,
        'mro': ['%s.%s' % (c.__module__, c.__name__)
                for c in type(e).__mro__],
    }
    if isinstance(e, oslo_messaging.RemoteError):
        d['exc_type'] = e.exc_type
        d['value'] = e.value
        d['traceback'] = e.traceback
    kwargs = getattr(e, 'kwargs', None)
    if isinstance(kwargs, dict):
        d['kwargs'] = kwargs
    return d


def wait_for_stdin_eof():
    """Block until the parent closes our stdin (or exits)."""
    try:
        sys.stdin.read()
    except Exception:
        pass


def exit_now(code=0):
    """Exit at once, without oslo's slow cleanup; the broker drops our
    connections."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def add_common_args(parser, topic_required=True):
    parser.add_argument('--url', required=True,
                        help='transport URL, for example '
                             'rabbit://guest:guest@127.0.0.1:5672/')
    parser.add_argument('--topic', required=topic_required,
                        help='topic' if topic_required else
                        'topic (default: a unique name)')
    parser.add_argument('--control-exchange', default='',
                        help="oslo's control_exchange (default: openstack)")
    parser.add_argument('--rabbit-option', action='append', default=[],
                        metavar='NAME=VALUE',
                        help='an [oslo_messaging_rabbit] option, e.g. '
                             'amqp_durable_queues=true (repeatable)')
    parser.add_argument('--debug', action='store_true',
                        help='debug logging on stderr')
