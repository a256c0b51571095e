"""Benchmark: time to verdict on a broken deploy, with and without ``--deploy-fail-fast``.

The suite: 5 smoke checks (one failing) and 200 post_deploy checks of 50 ms
each, run in separate pytest processes, interleaved, medians of several rounds.
Target: with fail-fast, the verdict comes within the smoke checks' time + 1 s
of pytest's own start-up (the ``plain`` row: the 5 smoke checks alone).
Usage: ``python bench/failfast.py [--rounds 3]``.
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
from pathlib import Path

from _timing import met

SUITE = """
import time
import pytest

@pytest.mark.smoke
@pytest.mark.parametrize("n", range(5))
def test_smoke(n):
    assert n != 3, "the broken deploy"

@pytest.mark.post_deploy
@pytest.mark.parametrize("n", range(200))
def test_post_deploy(n):
    time.sleep(0.05)
"""

MODES = {
    "smoke only": ["-m", "smoke"],
    "full run": [],
    "fail-fast": ["--deploy-fail-fast"],
}


def run_once(workdir: Path, args: list[str]) -> tuple[float, str]:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               "--deploy-target=http://127.0.0.1:9", *args]
    started = time.perf_counter()
    subprocess.run(command, cwd=workdir, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    verdict = json.loads((workdir / "deploy-verdict.json").read_text())
    return elapsed, verdict["predicate"]["deployability"]["verdict"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    print(f"fail-fast benchmark: 5 smoke (1 failing) + 200 post_deploy x 50 ms, "
          f"{options.rounds} rounds, Python {platform.python_version()}, "
          f"{platform.machine()}, {os.cpu_count()} cores")
    times: dict[str, list[float]] = {mode: [] for mode in MODES}
    verdicts: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        (workdir / "test_deploy.py").write_text(SUITE)
        for _ in range(options.rounds):
            for mode, args in MODES.items():
                elapsed, verdicts[mode] = run_once(workdir, args)
                times[mode].append(elapsed)
    print(f"{'mode':<12}{'median s':>10}{'verdict':>18}")
    for mode, values in times.items():
        print(f"{mode:<12}{statistics.median(values):>10.2f}{verdicts[mode]:>18}")
    fast, full = statistics.median(times["fail-fast"]), statistics.median(times["full run"])
    smoke = statistics.median(times["smoke only"])
    print(f"fail-fast is {full / fast:.1f}x sooner; fail-fast - smoke only = "
          f"{fast - smoke:+.2f} s (target <= +1 s: {met(fast - smoke <= 1.0)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
