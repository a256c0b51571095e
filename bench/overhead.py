"""Benchmark: what the verdict machinery costs on a suite of 1,000 trivial smoke checks.

Runs the same generated suite, in separate pytest processes, two ways, interleaved
so that machine noise hits both alike:

- ``plain``: pytest with the plugin turned off (``-p no:deployable``; markers
  declared in the ini file so pytest does not warn);
- ``gate``: ``--deploy-target`` on a loopback URL, so every check is classified,
  recorded, and the verdict file is written.

Prints the median wall time of each and their ratio. Target: ratio <= 1.05.
Usage: ``python bench/overhead.py [--checks 1000] [--rounds 7]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
from pathlib import Path

from _timing import run_once

SUITE = """
import pytest

@pytest.mark.smoke
@pytest.mark.parametrize("n", range({checks}))
def test_check(n):
    assert n >= 0
"""

INI = """
[pytest]
markers =
    smoke: declared so the plain run does not warn
"""

MODES = {
    "plain": ["-p", "no:deployable"],
    "gate": ["--deploy-target=http://127.0.0.1:9", "--deploy-verdict=verdict.json"],
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=7)
    options = parser.parse_args()
    env_note = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    print(f"overhead benchmark: {options.checks} trivial smoke checks, "
          f"{options.rounds} rounds, Python {platform.python_version()}, {env_note}")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        (workdir / "test_suite.py").write_text(SUITE.format(checks=options.checks))
        (workdir / "pytest.ini").write_text(INI)
        for args in MODES.values():  # warm the file system cache and .pyc files
            run_once(workdir, args)
        times: dict[str, list[float]] = {mode: [] for mode in MODES}
        for _ in range(options.rounds):
            for mode, args in MODES.items():
                times[mode].append(run_once(workdir, args))
    medians = {mode: statistics.median(values) for mode, values in times.items()}
    print(f"{'mode':<8}{'median s':>10}{'min s':>10}{'max s':>10}")
    for mode, values in times.items():
        print(f"{mode:<8}{medians[mode]:>10.3f}{min(values):>10.3f}{max(values):>10.3f}")
    ratio = medians["gate"] / medians["plain"]
    per_check_ms = (medians["gate"] - medians["plain"]) / options.checks * 1000
    print(f"ratio gate/plain: {ratio:.3f} (target <= 1.05); "
          f"overhead per check: {per_check_ms:.3f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
