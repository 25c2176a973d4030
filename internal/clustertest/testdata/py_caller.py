#!/usr/bin/python3
"""Calls echo(n=...) on a topic in a loop, as the cluster tests' Python
peer, until its stdin closes; then prints one JSON line:
{"calls": N, "errors": N, "max_outage": seconds, "last_ok": seconds ago}.

    py_caller.py --url rabbit://h1,h2,h3/ --topic T [--rabbit-option k=v ...]
"""

import argparse
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', '..', 'interop', 'python'))

import oslo_messaging  # noqa: E402

import interop_common as common  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    common.add_common_args(parser)
    parser.add_argument('--timeout', type=float, default=3)
    args = parser.parse_args()
    conf = common.configure(args)
    transport = oslo_messaging.get_rpc_transport(conf, url=args.url)
    client = oslo_messaging.get_rpc_client(
        transport, oslo_messaging.Target(topic=args.topic), timeout=args.timeout)
    stop = threading.Event()
    threading.Thread(target=lambda: (common.wait_for_stdin_eof(), stop.set()), daemon=True).start()
    calls = errors = 0
    max_outage = 0.0
    last_ok = time.monotonic()
    common.emit(event='ready')
    n = 0
    while not stop.is_set():
        n += 1
        start = time.monotonic()
        try:
            client.call({}, 'echo', n=n)
        except Exception:  # noqa: BLE001 -- counted, the loop goes on
            errors += 1
            time.sleep(0.05)
        else:
            max_outage = max(max_outage, start - last_ok)
            last_ok = time.monotonic()
        calls += 1
    common.emit(calls=calls, errors=errors, max_outage=max_outage,
                last_ok=time.monotonic() - last_ok)
    common.exit_now(0)


if __name__ == '__main__':
    main()
