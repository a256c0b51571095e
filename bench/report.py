"""Benchmark: rendering the report page and computing the DORA metrics, small ledger vs large.

The ledgers are those of ``bench/ledger.py`` (filled with bulk inserts): 100
verdicts, and 100,000 verdicts (2,000 versions x 5 targets x 10 runs, one check
each) with 10,000 deployments (2,000 per target, all inside the 90-day window).
Measured in one process on an open ledger, interleaved so that machine noise hits
both alike: ``render_report`` (every query, the DORA metrics of 5 targets, Jinja2)
and ``deployable metrics``' work for one target (its query and the computation).
SQLite, and PostgreSQL when it is installed (a throwaway cluster, as bench/ledger.py).

Usage: ``python bench/report.py [--rounds 15] [--no-postgres]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ledger import fill, postgres_urls  # bench/ledger.py

from pytest_deployable.ledger.store import Ledger
from pytest_deployable.ledger.urls import parse_url
from pytest_deployable.report import render_report
from pytest_deployable.report.dora import compute
from pytest_deployable.report.queries import metric_rows


def metrics(ledger: Ledger) -> int:
    """What ``deployable metrics --target production`` does on an open ledger."""
    now = datetime.now(timezone.utc)
    since = now - timedelta(days=90)
    rows = metric_rows(ledger, "production", since)
    return len(compute(rows, "production", since=since, until=now).deployments)


def measure(name: str, small: str, large: str, rounds: int) -> None:
    opened = {label: Ledger.open(parse_url(url, "bench", base=Path.cwd()), write=False)
              for label, url in (("small", small), ("large", large))}
    times: dict[str, dict[str, list[float]]] = {"render": {"small": [], "large": []},
                                                "metrics": {"small": [], "large": []}}
    size = 0
    try:
        for _ in range(rounds):
            for label, ledger in opened.items():
                started = time.perf_counter()
                page = render_report(ledger)
                times["render"][label].append((time.perf_counter() - started) * 1000)
                if label == "large":
                    size = len(page.encode())
                started = time.perf_counter()
                metrics(ledger)
                times["metrics"][label].append((time.perf_counter() - started) * 1000)
    finally:
        for ledger in opened.values():
            ledger.close()
    for what, found in times.items():
        print(f"{name:10}  {what:7}  100 verdicts: median {statistics.median(found['small']):7.1f}"
              f" ms | 100,000 verdicts + 10,000 deployments: median "
              f"{statistics.median(found['large']):7.1f} ms  max {max(found['large']):7.1f} ms"
              " (no target: issue #14 asks for the figures)", flush=True)
    print(f"{name:10}  page size on the large ledger: {size / 1024:.0f} KiB", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
          f"{platform.python_version()}, load {os.getloadavg()[0]:.1f}", flush=True)
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        small, large = f"sqlite:///{folder / 'small.db'}", f"sqlite:///{folder / 'large.db'}"
        fill(small, 100, 0)
        fill(large, 100_000, 10_000)
        measure("SQLite", small, large, args.rounds)
        cluster = stack.enter_context(postgres_urls(not args.no_postgres))
        if cluster is not None:
            small, large = (cluster.url(cluster.create_database()) for _ in range(2))
            fill(small, 100, 0)
            fill(large, 100_000, 10_000)
            measure("PostgreSQL", small, large, args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
