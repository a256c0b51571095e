"""Benchmark: how soon ``eventually`` notices a service turning healthy, and what waiting costs.

A server in another process answers 503 until a known instant, then 200.
``eventually`` polls it through a real ``requests`` session with several
``every`` values; for each it reports the detection latency (time from the
switch to the pass; target <= every + 50 ms) and the CPU time this process
used during the wait as a share of the wall time (target < 5 %).
Usage: ``python bench/eventually.py [--rounds 3]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import subprocess
import sys
import time

import requests
from _timing import met

from pytest_deployable.waiting import poll

#: The share of one core this process may use while it waits (the target above).
CPU_TARGET = 5.0

SERVER = r"""
import sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
healthy_at = float(sys.argv[1])
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        ok = time.time() >= healthy_at
        self.send_response(200 if ok else 503)
        self.send_header("Content-Length", "0")
        self.end_headers()
s = ThreadingHTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
"""


def measure(every: float, wait: float) -> tuple[float, float]:
    """(detection latency s, CPU share) for one wait of about ``wait`` seconds."""
    healthy_at = time.time() + wait
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(healthy_at)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        url = f"http://127.0.0.1:{server.stdout.readline().strip()}/health"
        with requests.Session() as session:
            def healthy() -> None:
                response = session.get(url, timeout=5)
                assert response.status_code == 200, response.status_code

            cpu_before, wall_before = time.process_time(), time.perf_counter()
            poll(healthy, what="health", within=wait + 30, every=every)
            detected = time.time()
            cpu = time.process_time() - cpu_before
            wall = time.perf_counter() - wall_before
    finally:
        server.terminate()
        server.wait(10)
    return detected - healthy_at, cpu / wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--wait", type=float, default=3.0)
    options = parser.parse_args()
    print(f"eventually benchmark: healthy after {options.wait:g} s, {options.rounds} rounds, "
          f"Python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores")
    print(f"{'every':>8}{'latency ms (median)':>22}{'max ms':>10}{'target ms':>11}"
          f"{'CPU %':>8}")
    verdicts: list[str] = []
    for every in (0.1, 0.5, 1.0):
        # A random phase, so the switch does not line up with the polling schedule.
        results = [measure(every, options.wait + random.uniform(0, every))
                   for _ in range(options.rounds)]
        latencies = [latency * 1000 for latency, _ in results]
        cpu = statistics.median(share for _, share in results) * 100
        print(f"{every:>7g}s{statistics.median(latencies):>22.0f}{max(latencies):>10.0f}"
              f"{every * 1000 + 50:>11.0f}{cpu:>8.2f}")
        latency, limit = statistics.median(latencies), every * 1000 + 50
        verdicts.append(
            f"every {every:g} s: latency {latency:.0f} ms (median; target <= {limit:.0f} ms: "
            f"{met(latency <= limit)}), CPU {cpu:.2f} % (target < {CPU_TARGET:g} %: "
            f"{met(cpu < CPU_TARGET)})"
        )
    for line in verdicts:
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
