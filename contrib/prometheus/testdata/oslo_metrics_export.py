#!/usr/bin/python3
"""Exports what oslo.metrics shows for the invocations the Go test makes.

    oslo_metrics_export.py

Prints one JSON object: "families", the definitions of every family of
oslo_metrics.metrics.oslo_messaging (name as exposed, type, help, label
names in order, histogram buckets), and "exposition", the text format
prometheus_client serves after the invocations below went through
oslo.messaging's own metrics client code (the label dicts of
oslo_messaging._metrics.client) and oslo.metrics' MessageRouter, as JSON,
the way they travel from a service to the oslo.metrics exporter.
"""

import json
import sys

import oslo_messaging
from oslo_messaging._metrics import client as metrics_client
from oslo_metrics import message_router
from oslo_metrics import message_type
from oslo_metrics.metrics import oslo_messaging as families
import prometheus_client

PROCESS = 'osloprom-compat'


class Capture(object):
    """Stands for MetricsCollectorClient: put_into_txqueue as oslo's,
    with the process name set, but handed to the router rather than a
    socket."""

    def __init__(self, router):
        self.router = router

    def put_into_txqueue(self, metrics_name, action, **labels):
        labels['process'] = PROCESS
        m = message_type.Metric('oslo_messaging', metrics_name, action,
                                **labels)
        self.router.process(m.to_json().encode())


def family_definitions():
    out = []
    for attr in sorted(dir(families)):
        metric = getattr(families, attr)
        if not isinstance(metric, prometheus_client.metrics.MetricWrapperBase):
            continue
        (described,) = metric.describe()
        d = {
            'name': metric._name + ('_total' if metric._type == 'counter'
                                    else ''),
            'type': described.type,
            'help': described.documentation,
            'labels': list(metric._labelnames),
        }
        if metric._type == 'histogram':
            d['buckets'] = [b for b in metric._upper_bounds
                            if b != float('inf')]
        out.append(d)
    return out


def invoke(cap):
    inc = message_type.MetricAction('inc', None)
    observe = message_type.MetricAction('observe', 0.02)
    C = metrics_client.MetricsCollectorClient
    # A call on a target with only a topic and an exchange, failing with
    # MessagingTimeout: what RPCClient.call reports.
    call = oslo_messaging.Target(topic='compat_topic', exchange='openstack')
    for name, action in (('rpc_client_invocation_start_total', inc),
                         ('rpc_client_processing_seconds', observe),
                         ('rpc_client_invocation_end_total', inc)):
        C.put_rpc_client_metrics_to_txqueue(cap, name, action, call,
                                            'get_stats', 'call', None)
    C.put_rpc_client_metrics_to_txqueue(
        cap, 'rpc_client_exception_total', inc, call, 'get_stats', 'call',
        None, 'MessagingTimeout')
    # A fanout cast to a server, with namespace and version.
    cast = oslo_messaging.Target(topic='compat_topic', exchange='openstack',
                                 namespace='compat', version='1.2',
                                 server='host-1', fanout=True)
    for name, action in (('rpc_client_invocation_start_total', inc),
                         ('rpc_client_processing_seconds', observe),
                         ('rpc_client_invocation_end_total', inc)):
        C.put_rpc_client_metrics_to_txqueue(cap, name, action, cast,
                                            'record', 'cast', None)
    # A request dispatched by a server, failing with ValueError.
    srv = oslo_messaging.Target(topic='compat_topic', server='host-1',
                                exchange='openstack')
    for name, action in (('rpc_server_invocation_start_total', inc),
                         ('rpc_server_processing_seconds', observe),
                         ('rpc_server_invocation_end_total', inc)):
        C.put_rpc_server_metrics_to_txqueue(cap, name, action, srv, 'Compat',
                                            'compat', '1.3', 'fail')
    C.put_rpc_server_metrics_to_txqueue(
        cap, 'rpc_server_exception_total', inc, srv, 'Compat', 'compat',
        '1.3', 'fail', 'ValueError')
    # Another one with the null namespace and no version.
    for name, action in (('rpc_server_invocation_start_total', inc),
                         ('rpc_server_processing_seconds', observe),
                         ('rpc_server_invocation_end_total', inc)):
        C.put_rpc_server_metrics_to_txqueue(cap, name, action, srv,
                                            'Plain', None, None, 'ping')


def main():
    invoke(Capture(message_router.MessageRouter()))
    text = prometheus_client.generate_latest(prometheus_client.REGISTRY)
    json.dump({'families': family_definitions(),
               'exposition': text.decode()}, sys.stdout)


if __name__ == '__main__':
    main()
