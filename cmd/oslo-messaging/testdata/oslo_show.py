"""Prints what Python's oslo.config and oslo.messaging 14.0.3 read from
configurations, for the interoperability test of `oslo-messaging config
show`. Reads a JSON list of cases {"args": [...], "env": {...}} (the
command line, with --config-file and --config-dir, and the OS_* variables)
and prints a JSON list with, for each,

    {"values": {"group": {"option": value}}, "errors": {"group": {"option": "message"}}}

or {"error": "...", "message": "..."} when the files do not load. NaN and
infinities are written as their repr, as the Go command writes them.
"""
import json
import math
import os
import sys

from oslo_config import cfg
import oslo_messaging.opts
from oslo_messaging._metrics import client as metrics_client

GROUPS = ['DEFAULT', 'oslo_messaging_rabbit', 'oslo_messaging_amqp', 'oslo_messaging_notifications', 'oslo_messaging_metrics']

conf = cfg.ConfigOpts()
groups = [(g or 'DEFAULT', opts) for g, opts in oslo_messaging.opts.list_opts()]
groups.append(('oslo_messaging_metrics', metrics_client.oslo_messaging_metrics))
for group, opts in groups:
    conf.register_opts(opts, group=None if group == 'DEFAULT' else group)


def show(args, env):
    for k in [k for k in os.environ if k.startswith('OS_')]:
        del os.environ[k]
    os.environ.update(env or {})
    try:
        conf(args, project=None, prog='oslo-messaging', default_config_files=[], default_config_dirs=[])
    except Exception as e:  # noqa
        return {'error': type(e).__name__, 'message': str(e)}
    values, errors = {}, {}
    for group, opts in groups:
        if group not in GROUPS:
            continue
        values.setdefault(group, {})
        for opt in opts:
            try:
                v = conf[opt.dest] if group == 'DEFAULT' else conf[group][opt.dest]
            except Exception as e:  # noqa
                errors.setdefault(group, {})[opt.dest] = '%s: %s' % (type(e).__name__, e)
                continue
            if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
                v = repr(v)
            values[group][opt.dest] = v
    return {'values': values, 'errors': errors}


print(json.dumps([show(c['args'], c.get('env')) for c in json.load(sys.stdin)]))
