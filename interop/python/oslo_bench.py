#!/usr/bin/python3
"""Sequential RPC call rate of Python oslo.messaging, for comparison with
the Go library's cmd/rpcbench (same workload: -mode call -c 1 -size 100).

    oslo_bench.py --url rabbit://guest:guest@127.0.0.1:5672/ --duration 10

One process runs an RPC server (threading executor) and a client, each on
its own transport (connection), as rpcbench does. After a warm-up, the
client calls "info" back to back for --duration seconds, with the
arguments seq, cargo (--size random letters) and client_ts; the server
returns client_ts. It prints one JSON line:

    {"name": "oslo.messaging", "calls": N, "elapsed": s, "rate": calls/s,
     "p50_ms": ..., "p90_ms": ..., "p99_ms": ..., "max_ms": ...}
"""

import argparse
import random
import string
import time
import uuid

import kombu
import oslo_messaging

import interop_common as common


class BenchEndpoint(object):
    def info(self, ctxt, seq, cargo, client_ts):
        return client_ts


def percentile(sorted_values, p):
    if not sorted_values:
        return 0.0
    last = len(sorted_values) - 1
    return sorted_values[min(last, int(round(p / 100.0 * last)))]


def run_calls(client, cargo, seconds, seq=0):
    latencies = []
    start = time.monotonic()
    end = start + seconds
    while True:
        now = time.monotonic()
        if now >= end:
            break
        ts = time.time_ns()
        got = client.call({}, 'info', seq=seq, cargo=cargo, client_ts=ts)
        if got != ts:
            raise RuntimeError('reply carried %r, want %r' % (got, ts))
        latencies.append(time.monotonic() - now)
        seq += 1
    return latencies, time.monotonic() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    common.add_common_args(parser, topic_required=False)
    parser.add_argument('--duration', type=float, default=10.0,
                        help='seconds of measured calls')
    parser.add_argument('--warmup', type=float, default=1.0,
                        help='seconds of unmeasured calls first')
    parser.add_argument('--size', type=int, default=100,
                        help='payload size in bytes')
    args = parser.parse_args()
    topic = args.topic or 'oslo_bench_' + uuid.uuid4().hex[:12]

    conf = common.configure(args)
    server_transport = oslo_messaging.get_rpc_transport(conf, url=args.url)
    server = oslo_messaging.get_rpc_server(
        server_transport, oslo_messaging.Target(topic=topic, server='bench'),
        [BenchEndpoint()], executor='threading')
    server.start()
    client_transport = oslo_messaging.get_rpc_transport(conf, url=args.url)
    client = oslo_messaging.get_rpc_client(
        client_transport, oslo_messaging.Target(topic=topic), timeout=30)
    cargo = ''.join(random.choice(string.ascii_lowercase)
                    for _ in range(args.size))

    if args.warmup > 0:
        run_calls(client, cargo, args.warmup)
    latencies, elapsed = run_calls(client, cargo, args.duration)
    latencies.sort()
    ms = lambda s: round(s * 1000, 3)
    common.emit(name='oslo.messaging', topic=topic, calls=len(latencies),
                elapsed=round(elapsed, 3),
                rate=round(len(latencies) / elapsed, 1),
                p50_ms=ms(percentile(latencies, 50)),
                p90_ms=ms(percentile(latencies, 90)),
                p99_ms=ms(percentile(latencies, 99)),
                max_ms=ms(latencies[-1] if latencies else 0))
    server.stop()
    delete_queues(args.url, [topic, topic + '.bench'])
    common.exit_now()


def delete_queues(url, names):
    """Delete the server's topic queues, which oslo leaves on the broker
    (its fanout queue expires by itself)."""
    try:
        with kombu.Connection(url.replace('rabbit://', 'amqp://', 1)) as c:
            channel = c.channel()
            for name in names:
                channel.queue_delete(name)
    except Exception as e:
        common.emit(event='warning', message='deleting queues: %s' % e)


if __name__ == '__main__':
    main()
