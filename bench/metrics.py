"""Benchmark: 200 metric checks against a real Prometheus, serial and with pytest-xdist.

Prometheus (Debian's ``/usr/bin/prometheus``, started here with a temporary
storage directory and a one-second scrape interval) scrapes a ``prometheus_client``
service in this process (``tests/_prometheus.py``). The same 200 checks run, in
separate pytest processes, interleaved so that machine noise hits all modes alike:

- ``raw``: plain pytest, each check one ``requests`` GET of ``/api/v1/query`` on a
  session-wide ``requests.Session``, reading the value and comparing it
  (``-p no:deployable``);
- ``metrics``: ``pytest --deploy-target=bench``, each check
  ``metrics.assert_that(promql, "< 0.01")`` (answer checked field by field,
  evaluation recorded, verdict written);

each with ``-n 0`` and ``-n 4``. Prints the median wall times side by side, the
speed-up of ``-n 4``, and the cost per check of the ``metrics`` fixture over the raw
query. Then, in one process without pytest, the cost of one ``assert_that`` over
one raw GET (median of many). Usage: ``python bench/metrics.py [--checks 200]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _timing import run_once

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from _prometheus import PROMETHEUS, prometheus

SELECTOR = 'app_value{case="bench",version=""}'

RAW = '''
import pytest
import requests

@pytest.fixture(scope="session")
def prom():
    with requests.Session() as session:
        yield session

@pytest.mark.post_deploy
@pytest.mark.parametrize("n", range({checks}))
def test_error_rate(prom, n):
    answer = prom.get("{url}/api/v1/query", params={{"query": '{selector}'}}, timeout=10)
    assert answer.status_code == 200
    [sample] = answer.json()["data"]["result"]
    assert float(sample["value"][1]) < 0.01
'''

METRICS = '''
import pytest

@pytest.mark.post_deploy
@pytest.mark.parametrize("n", range({checks}))
def test_error_rate(metrics, n):
    metrics.assert_that('{selector}', "< 0.01")
'''

INI = """
[pytest]
markers =
    post_deploy: declared so the raw run does not warn
"""


def in_process(url: str, rounds: int) -> tuple[float, float]:
    """Median seconds of one raw GET and of one ``assert_that``, in this process."""
    import requests

    from pytest_deployable.metrics import Metrics
    from pytest_deployable.prometheus import PrometheusClient
    from pytest_deployable.targets import Target

    raw_times, fixture_times = [], []
    client = PrometheusClient(Target(name="bench", prometheus=url))
    metrics = Metrics(client, lambda evaluation: None)
    with requests.Session() as session:
        for _ in range(rounds):
            started = time.perf_counter()
            answer = session.get(f"{url}/api/v1/query", params={"query": SELECTOR}, timeout=10)
            assert float(answer.json()["data"]["result"][0]["value"][1]) < 0.01
            raw_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            metrics.assert_that(SELECTOR, "< 0.01")
            fixture_times.append(time.perf_counter() - started)
    client.close()
    return statistics.median(raw_times), statistics.median(fixture_times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--checks", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=4)
    options = parser.parse_args()
    if not os.path.exists(PROMETHEUS):
        raise SystemExit(f"{PROMETHEUS} is missing: apt-get install prometheus")
    checks = options.checks
    env_note = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    print(f"metrics benchmark: {checks} checks against a real Prometheus, "
          f"{options.rounds} rounds, Python {platform.python_version()}, {env_note}")
    with tempfile.TemporaryDirectory() as tmp, prometheus(Path(tmp) / "prom") as prom:
        prom.show("bench", 0.001)
        workdir = Path(tmp) / "suite"
        raw_dir, metrics_dir = workdir / "raw", workdir / "metrics"
        for folder, suite in ((raw_dir, RAW), (metrics_dir, METRICS)):
            folder.mkdir(parents=True)
            (folder / "pytest.ini").write_text(INI)
            (folder / "test_slo.py").write_text(
                suite.format(checks=checks, url=prom.url, selector=SELECTOR))
        (metrics_dir / "deploy-targets.toml").write_text(
            f'[targets.bench]\nbase_url = "{prom.service.url}"\nprometheus = "{prom.url}"\n'
        )
        n = str(options.workers)
        modes = {
            ("raw", "0"): (raw_dir, ["-p", "no:deployable", "-n", "0"]),
            ("metrics", "0"): (metrics_dir, ["--deploy-target=bench", "-n", "0"]),
            ("raw", n): (raw_dir, ["-p", "no:deployable", "-n", n]),
            ("metrics", n): (metrics_dir, ["--deploy-target=bench", "-n", n]),
        }
        for folder, args in modes.values():  # warm the file system cache and .pyc files
            run_once(folder, args)
        times: dict[tuple[str, str], list[float]] = {mode: [] for mode in modes}
        for _ in range(options.rounds):
            for mode, (folder, args) in modes.items():
                times[mode].append(run_once(folder, args))
        raw_one, fixture_one = in_process(prom.url, 500)
    med = {mode: statistics.median(values) for mode, values in times.items()}
    print(f"{'mode':<9}{'-n 0 s':>10}{f'-n {n} s':>10}{'speed-up':>10}")
    for kind in ("raw", "metrics"):
        serial, parallel = med[(kind, "0")], med[(kind, n)]
        print(f"{kind:<9}{serial:>10.2f}{parallel:>10.2f}{serial / parallel:>9.2f}x")
    for workers in ("0", n):
        extra = (med[("metrics", workers)] - med[("raw", workers)]) / checks * 1000
        ratio = med[("metrics", workers)] / med[("raw", workers)]
        print(f"metrics fixture over a raw query at -n {workers}: {extra:+.2f} ms per check "
              f"(ratio {ratio:.3f}; no target: issue #18 asks for the figure)")
    print(f"in one process: a raw GET {raw_one * 1000:.2f} ms, metrics.assert_that "
          f"{fixture_one * 1000:.2f} ms ({(fixture_one - raw_one) * 1000:+.2f} ms per query)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
