"""Benchmark: ``deployable serve`` answering can-i-deploy on a ledger of 100,000 verdicts.

For SQLite and (when installed) PostgreSQL, the ledger is filled in bulk as
``bench/ledger.py`` fills it (100,000 verdicts, 10,000 deployments), the service
is started as users start it (``deployable serve``, its own process), and a load
client in a second process offers a fixed rate of ``GET /v1/can-i-deploy`` over
keep-alive connections. Latency is measured from when each request was due, not
from when it was sent, so a stalled server cannot hide its backlog (no
coordinated omission). Reported: requests/s achieved, errors, p50/p99/max.

With PostgreSQL, a second run stops the database mid-run (``pg_ctl stop``) and
starts it again: every answer while it is down must be 503 (never 200), how long
those 503s took, and how many seconds after the restart the first 200 came.

Usage: ``python bench/serve.py [--rate 500] [--seconds 30] [--no-postgres]``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import queue
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _timing import met  # noqa: E402 - bench/ itself, put on the path above

#: Issue #15's targets under a fixed offered rate, and with the database stopped.
P99_MS = 50.0
DOWN_ANSWER_S = 1.0

TARGETS = """\
[targets.qa]
base_url = "https://qa.example"

[targets.staging]
base_url = "https://staging.example"

[targets.production]
base_url = "https://example"
promote_from = ["qa", "staging"]
"""


# -- the load client (the second process) --------------------------------------------------------


def client(url: str, path: str, rate: float, seconds: float, workers: int) -> dict[str, Any]:
    """Offer ``rate`` requests/s of GET ``path`` for ``seconds``; the measurements."""
    host, port = url.removeprefix("http://").split(":")
    due: queue.Queue[float | None] = queue.Queue()
    results: list[tuple[float, float, int, float]] = []  # due, latency, status, sent-at
    lock = threading.Lock()

    def work() -> None:
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        while (when := due.get()) is not None:
            try:
                connection.request("GET", path)
                response = connection.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                connection.close()
                connection = http.client.HTTPConnection(host, int(port), timeout=30)
                status = 0
            done = time.perf_counter()
            with lock:
                results.append((when, done - when, status, done))

    threads = [threading.Thread(target=work, daemon=True) for _ in range(workers)]
    for thread in threads:
        thread.start()
    start = time.perf_counter() + 0.2
    total = int(rate * seconds)
    for index in range(total):
        when = start + index / rate
        delay = when - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        due.put(when)
    for _ in threads:
        due.put(None)
    for thread in threads:
        thread.join()
    elapsed = max(r[3] for r in results) - start
    return {"offered": total, "elapsed": elapsed, "start": start,
            "results": [[r[0] - start, r[1], r[2]] for r in results]}


def summary(name: str, data: dict[str, Any]) -> None:
    latencies = sorted(r[1] * 1000 for r in data["results"])
    statuses: dict[int, int] = {}
    for _, _, status in data["results"]:
        statuses[status] = statuses.get(status, 0) + 1
    errors = sum(count for status, count in statuses.items() if status != 200)
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    print(f"{name:10}  {data['offered']:,} requests offered at a fixed rate, "
          f"{len(latencies) / data['elapsed']:.0f} req/s answered, errors {errors}, "
          f"p50 {statistics.median(latencies):.1f} ms, p99 {p99:.1f} ms, "
          f"max {latencies[-1]:.1f} ms", flush=True)
    every_one = len(latencies) == data["offered"]
    print(f"{name:10}  every request answered, no errors, p99 < {P99_MS:g} ms "
          f"(target: {met(every_one and errors == 0 and p99 < P99_MS)})", flush=True)


# -- the service ---------------------------------------------------------------------------------


def start_service(folder: Path, url: str) -> tuple[subprocess.Popen[str], str]:
    env = {k: v for k, v in os.environ.items() if k != "DEPLOYABLE_LEDGER"}
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest_deployable", "serve", "--listen", "127.0.0.1:0",
         "--ledger", url, "--targets-file", str(folder / "deploy-targets.toml")],
        cwd=folder, env=env, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    found = re.search(r"(http://\S+)", process.stdout.readline())
    if found is None:
        process.wait()
        raise SystemExit("deployable serve did not start")
    return process, found.group(1)


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load(url: str, path: str, rate: float, seconds: float) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--client", url, "--path", path, "--rate", str(rate),
         "--seconds", str(seconds)], capture_output=True, text=True, check=True)
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def steady(name: str, folder: Path, url: str, rate: float, seconds: float) -> None:
    from ledger import ASKED

    process, base = start_service(folder, url)
    try:
        path = f"/v1/can-i-deploy?version={ASKED}&to=production"
        load(base, path, rate, 2)  # warm-up: connections, caches
        before = cpu_seconds(process.pid)
        data = load(base, path, rate, seconds)
        used = cpu_seconds(process.pid) - before
        summary(name, data)
        print(f"{'':10}  the service used {used / len(data['results']) * 1000:.2f} ms of CPU "
              f"per request ({used / data['elapsed'] * 100:.0f}% of one core)", flush=True)
    finally:
        process.terminate()
        process.wait()


def database_stopped(cluster: Any, folder: Path, url: str, rate: float) -> None:
    """Stop PostgreSQL 5 s into a 20 s run, start it at 10 s; what the answers were."""
    from ledger import ASKED

    process, base = start_service(folder, url)
    times: dict[str, float] = {}
    try:
        def faults() -> None:
            time.sleep(5)
            times["stopping"] = time.perf_counter()
            cluster.pg_ctl("stop")
            times["stopped"] = time.perf_counter()
            time.sleep(5)
            cluster.pg_ctl("start")
            times["started"] = time.perf_counter()

        thread = threading.Thread(target=faults)
        launched = time.perf_counter()
        thread.start()
        data = load(base, f"/v1/can-i-deploy?version={ASKED}&to=production", rate, 20)
        thread.join()
    finally:
        process.terminate()
        process.wait()
    # The client's clock is its own; both are perf_counter on one machine (CLOCK_MONOTONIC).
    offset = data["start"]
    down = [(due + offset, latency, status) for due, latency, status in data["results"]
            if times["stopped"] <= due + offset <= times["started"] - 0.1]
    after = sorted((due + offset + latency, status) for due, latency, status in data["results"]
                   if due + offset >= times["started"])
    first_ok = next((at for at, status in after if status == 200), None)
    recovered = "never" if first_ok is None else f"{first_ok - times['started']:.2f} s"
    codes = [status for _, _, status in down]
    slowest = max((latency for _, latency, _ in down), default=0.0) * 1000
    print(f"PostgreSQL  stopped {times['stopping'] - launched:.0f} s into a run at "
          f"{rate:.0f} req/s, {len(down)} requests while down: 200 answers {codes.count(200)}, "
          f"503 answers {codes.count(503)}, other "
          f"{len(codes) - codes.count(200) - codes.count(503)}"
          f"; slowest answer while down {slowest:.0f} ms; first 200 {recovered} after the "
          "database was back", flush=True)
    held = (codes.count(200) == 0 and codes.count(503) == len(codes) and len(codes) > 0
            and slowest < DOWN_ANSWER_S * 1000 and first_ok is not None)
    print(f"PostgreSQL  while down every answer 503 within {DOWN_ANSWER_S:g} s, never 200, "
          f"and 200 again by itself (target: {met(held)})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=32, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        print(json.dumps(client(args.client, args.path, args.rate, args.seconds, args.workers)))
        return
    from ledger import fill, postgres_urls

    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
          f"{platform.python_version()}, load {os.getloadavg()[0]:.1f}", flush=True)
    with tempfile.TemporaryDirectory(prefix="serve-bench-") as name:
        folder = Path(name)
        (folder / "deploy-targets.toml").write_text(TARGETS)
        sqlite = f"sqlite:///{folder / 'ledger.db'}"
        fill(sqlite, 100_000, 10_000)
        steady("SQLite", folder, sqlite, args.rate, args.seconds)
        with postgres_urls(not args.no_postgres) as cluster:
            if cluster is None:
                return
            url = cluster.url(cluster.create_database())
            fill(url, 100_000, 10_000)
            steady("PostgreSQL", folder, url, args.rate, args.seconds)
            database_stopped(cluster, folder, url, args.rate)


if __name__ == "__main__":
    main()
