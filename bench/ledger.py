"""Benchmark: ``can-i-deploy`` on a large ledger against a small one, and recording 10,000 files.

For SQLite (a file in a temporary directory) and PostgreSQL (a throwaway cluster
started here with ``tests/_postgres.py``, when PostgreSQL is installed):

- a small ledger of 100 verdicts, and a large one of 100,000 verdicts (2,000
  versions x 5 targets x 10 runs) and 10,000 deployments, filled with bulk inserts;
- ``can-i-deploy`` for a version with a passing verdict on both targets of its
  rule, asked interleaved on both ledgers as the command does it (open the ledger,
  check its schema, read the latest verdicts per target, decide, close): p50 and
  p95 of each, and the ratio large/small;
- one ``deployable record`` process recording 10,000 verdict files.

Usage: ``python bench/ledger.py [--queries 200] [--files 10000] [--no-postgres]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from pytest_deployable.attestation import RunInfo, dump, to_statement
from pytest_deployable.ledger.promotion import PromotionRule, decide
from pytest_deployable.ledger.schema import checks, deployments, naive, verdicts
from pytest_deployable.ledger.store import Ledger
from pytest_deployable.ledger.urls import parse_url
from pytest_deployable.targets import Target
from pytest_deployable.verdict import CheckResult, Outcome
from pytest_deployable.verdict import decide as decide_verdict

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import met

#: Issue #13's targets: the query's p95 on the large ledger, and its p95 over the small
#: one's; one ``deployable record`` of 10,000 files.
QUERY_P95_MS = 50.0
QUERY_GROWTH = 1.5
RECORD_SECONDS = 60.0

TARGETS = ("dev", "qa", "staging", "perf", "production")
RULE = PromotionRule("production", ("qa", "staging"))
ASKED = "9.0.1000"
NOW = datetime.now(timezone.utc).replace(microsecond=0)


def _rows(count: int) -> Iterator[tuple[dict[str, Any], str]]:
    """Verdict rows (every target, ten runs per version; a multiple of 50), oldest first."""
    per_version = len(TARGETS) * 10
    versions = max(1, count // per_version)
    made = 0
    for v in range(versions):
        version = ASKED if v == versions // 2 else f"9.0.{v}"
        for run in range(10):
            for target in TARGETS:
                if made == count:
                    return
                finished = NOW - timedelta(minutes=count - made)
                failing = run < 9 and (made % 7 == 0)
                made += 1
                yield {
                    "statement_sha256": f"{made:064x}", "target": target, "version": version,
                    "subject_name": "shop-api", "subject_digest": f"gitCommit:{v:040x}",
                    "verdict": "NOT_DEPLOYABLE" if failing else "DEPLOYABLE",
                    "complete": True, "signed": False, "keyids": "[]", "reasons": "[]",
                    "started_on": naive(finished - timedelta(seconds=40)),
                    "finished_on": naive(finished), "recorded_at": naive(finished),
                    "document": "{}",
                }, target


def fill(url: str, verdict_count: int, deployment_count: int) -> Ledger:
    """A ledger at the current schema holding that many verdicts (one check each) and
    deployments, inserted in bulk."""
    ledger = Ledger.open(parse_url(url, "bench", base=Path.cwd()), write=True)
    batch: list[dict[str, Any]] = []
    with ledger.engine.begin() as connection:
        for row, _ in _rows(verdict_count):
            batch.append(row)
            if len(batch) == 10_000:
                connection.execute(verdicts.insert(), batch)
                batch = []
        if batch:
            connection.execute(verdicts.insert(), batch)
        ids = [r[0] for r in connection.execute(verdicts.select().with_only_columns(
            verdicts.c.id))]
        for start in range(0, len(ids), 10_000):
            connection.execute(checks.insert(), [
                {"verdict_id": i, "position": 0, "check_id": "tests/deploy/test_smoke.py::t",
                 "category": "smoke", "blocking": True, "outcome": "passed", "attempts": 1,
                 "reruns": 0, "waited_ms": 0, "duration_ms": 12, "host": None, "message": None}
                for i in ids[start:start + 10_000]])
        if deployment_count:
            connection.execute(deployments.insert(), [
                {"id": f"d{i}", "target": TARGETS[i % len(TARGETS)], "version": f"9.0.{i}",
                 "status": "succeeded", "commit": None, "commit_time": None,
                 "deployed_at": naive(NOW - timedelta(minutes=i)),
                 "recorded_at": naive(NOW), "remediates": None}
                for i in range(deployment_count)])
    ledger.close()
    return ledger


def query(ledger: Ledger) -> str:
    """The question can-i-deploy asks an open ledger: the latest verdicts, and the rule."""
    latest = {source: ledger.latest_verdicts(source, ASKED) for source in RULE.promote_from}
    return decide(RULE, ASKED, latest, now=datetime.now(timezone.utc)).answer


def ask(url: str) -> str:
    """One can-i-deploy as the command runs it (connect, check the schema, query, close),
    minus process start and printing."""
    ledger = Ledger.open(parse_url(url, "bench", base=Path.cwd()), write=False)
    try:
        return query(ledger)
    finally:
        ledger.close()


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[18]


def compare(name: str, small: str, large: str, queries: int) -> None:
    assert ask(small) == "yes", ask(small)
    assert ask(large) == "yes", ask(large)
    opened = {label: Ledger.open(parse_url(url, "bench", base=Path.cwd()), write=False)
              for label, url in (("small", small), ("large", large))}
    measures: dict[str, dict[str, list[float]]] = {"query": {"small": [], "large": []},
                                                   "command": {"small": [], "large": []}}
    try:
        for _ in range(queries):  # interleaved, so that machine noise hits both alike
            for label, url in (("small", small), ("large", large)):
                started = time.perf_counter()
                query(opened[label])
                measures["query"][label].append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                ask(url)
                measures["command"][label].append((time.perf_counter() - started) * 1000)
    finally:
        for ledger in opened.values():
            ledger.close()
    for what, times in measures.items():
        small_p95, large_p95 = p95(times["small"]), p95(times["large"])
        print(f"{name:10}  {what:7}  100 verdicts: p50 {statistics.median(times['small']):6.2f}"
              f" ms  p95 {small_p95:6.2f} ms | 100,000 verdicts + 10,000 deployments: p50 "
              f"{statistics.median(times['large']):6.2f} ms  p95 {large_p95:6.2f} ms | p95 "
              f"ratio {large_p95 / small_p95:.2f}", flush=True)
    query_p95 = p95(measures["query"]["large"])
    growth = query_p95 / p95(measures["query"]["small"])
    print(f"{name:10}  query p95 on the large ledger {query_p95:.1f} ms (target <= "
          f"{QUERY_P95_MS:g} ms: {met(query_p95 <= QUERY_P95_MS)}), {growth:.2f}x the small "
          f"ledger's (target <= {QUERY_GROWTH:g}x: {met(growth <= QUERY_GROWTH)}); the command "
          "has no target", flush=True)


def write_files(folder: Path, count: int) -> list[Path]:
    folder.mkdir()
    target = Target("staging", "https://staging.shop.example")
    paths = []
    for index in range(count):
        end = NOW - timedelta(seconds=index)
        info = RunInfo("shop-api", target, end - timedelta(seconds=40), end, f"1.{index}.0",
                       f"{index:040x}")
        checks_run = [CheckResult(id=f"tests/deploy/test_smoke.py::test_{n}", category="smoke",
                                  blocking=True, outcome=Outcome.PASSED, attempts=1,
                                  duration_ms=10 + n) for n in range(5)]
        statement = to_statement(decide_verdict(checks_run), info)
        statement["predicate"]["deployability"]["selection"] = {
            "complete": True, "deselected": [], "skippedAtCollection": [], "keyword": None,
            "markers": None, "lastFailed": False, "args": []}
        path = folder / f"verdict-{index:05}.json"
        path.write_text(dump(statement), encoding="utf-8")
        paths.append(path)
    return paths


def record_files(name: str, url: str, paths: list[Path]) -> float:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest_deployable", "record", "--ledger", url,
                           "--format", "json", *map(str, paths)],
                          capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"deployable record failed: {done.stderr[-2000:]}")
    assert json.loads(done.stdout)["new"] == len(paths)
    print(f"{name:10}  deployable record of {len(paths):,} files: {elapsed:.1f} s (target < "
          f"{RECORD_SECONDS:g} s for 10,000: {met(elapsed < RECORD_SECONDS)})", flush=True)
    return elapsed


@contextmanager
def postgres_urls(enabled: bool) -> Iterator[Any]:
    if not enabled:
        yield None
        return
    from _postgres import bindir, postgres_cluster

    if bindir() is None:
        print("PostgreSQL is not installed: SQLite only", flush=True)
        yield None
        return
    with postgres_cluster() as cluster:
        yield cluster


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
          f"{platform.python_version()}, load {os.getloadavg()[0]:.1f}", flush=True)
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ledger-bench-")))
        cluster = stack.enter_context(postgres_urls(not args.no_postgres))
        databases = [("SQLite", f"sqlite:///{folder / 'small.db'}",
                      f"sqlite:///{folder / 'large.db'}", f"sqlite:///{folder / 'files.db'}")]
        if cluster is not None:
            databases.append(("PostgreSQL", *(cluster.url(cluster.create_database())
                                              for _ in range(3))))
        paths = write_files(folder / "files", args.files)
        for name, small, large, files in databases:
            started = time.perf_counter()
            fill(small, 100, 0)
            fill(large, 100_000, 10_000)
            print(f"{name:10}  filled in {time.perf_counter() - started:.1f} s", flush=True)
            compare(name, small, large, args.queries)
            record_files(name, files, paths)


if __name__ == "__main__":
    main()
