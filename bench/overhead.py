"""Benchmark: what the verdict machinery costs on a suite of 1,000 trivial smoke checks.

Runs the same generated suite, in separate pytest processes, two ways, interleaved
so that machine noise hits both alike:

- ``plain``: pytest with the plugin turned off (``-p no:deployable``; markers
  declared in the ini file so pytest does not warn);
- ``gate``: ``--deploy-target`` on a loopback URL, so every check is classified,
  recorded, and the verdict file is written.

Prints the median wall time of each and their ratio, the headline figure (target:
ratio <= 1.05), and beside it the ratio of CPU time (user + system of the pytest
process), which other work on a shared machine disturbs far less than wall time.

Then, unless ``--no-import``, what merely having the plugin installed costs: a
collect-only run of a one-test suite with no deploy target, with the plugin and
without (``import``), in CPU milliseconds; every pytest run on a machine with the
plugin pays it, so it is reported on its own.

With ``--instructions`` (needs valgrind), also the instructions each mode executes,
counted once under callgrind: the same on a busy machine as on an idle one, and
about 50 times slower to get.

Usage: ``python bench/overhead.py [--checks 1000] [--rounds 11] [--no-import]
[--instructions]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _timing import Timing, met, run_measured

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

ONE_TEST = "def test_one():\n    pass\n"

#: The headline target: the gate's median wall time over the plain run's.
TARGET = 1.05

MODES = {
    "plain": ["-p", "no:deployable"],
    "gate": ["--deploy-target=http://127.0.0.1:9", "--deploy-verdict=verdict.json"],
}

IMPORT_MODES = {
    "plain": ["--collect-only", "-p", "no:deployable"],
    "plugin": ["--collect-only"],
}


def _interleaved(workdir: Path, modes: dict[str, list[str]],
                 rounds: int) -> dict[str, list[Timing]]:
    for args in modes.values():  # warm the file system cache and .pyc files
        run_measured(workdir, args)
    timings: dict[str, list[Timing]] = {mode: [] for mode in modes}
    for _ in range(rounds):
        for mode, args in modes.items():
            timings[mode].append(run_measured(workdir, args))
    return timings


def _median(values: list[Timing], what: str) -> float:
    return statistics.median(getattr(timing, what) for timing in values)


def _instructions(workdir: Path, args: list[str]) -> int:
    """Instructions one pytest process executes, counted by valgrind's callgrind."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
         "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=workdir, capture_output=True, text=True, check=False, env=env)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"callgrind run failed ({' '.join(args)}):\n{done.stderr[-3000:]}")
    return int(found.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=11)
    parser.add_argument("--no-import", action="store_true",
                        help="skip the import-only measurement")
    parser.add_argument("--instructions", action="store_true",
                        help="also count instructions under valgrind (slow)")
    options = parser.parse_args()
    if options.instructions and shutil.which("valgrind") is None:
        parser.error("--instructions needs valgrind (apt-get install valgrind)")
    env_note = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    print(f"overhead benchmark: {options.checks} trivial smoke checks, "
          f"{options.rounds} rounds, Python {platform.python_version()}, {env_note}, "
          f"load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp) / "suite"
        workdir.mkdir()
        (workdir / "test_suite.py").write_text(SUITE.format(checks=options.checks))
        (workdir / "pytest.ini").write_text(INI)
        times = _interleaved(workdir, MODES, options.rounds)
        imports: dict[str, list[Timing]] = {}
        if not options.no_import:
            empty = Path(tmp) / "one"
            empty.mkdir()
            (empty / "test_one.py").write_text(ONE_TEST)
            imports = _interleaved(empty, IMPORT_MODES, options.rounds)
        counted = {mode: _instructions(workdir, args) for mode, args in MODES.items()
                   } if options.instructions else {}
    print(f"{'mode':<8}{'median s':>10}{'min s':>10}{'max s':>10}{'CPU s':>10}")
    for mode, values in times.items():
        walls = [timing.wall for timing in values]
        print(f"{mode:<8}{statistics.median(walls):>10.3f}{min(walls):>10.3f}"
              f"{max(walls):>10.3f}{_median(values, 'cpu'):>10.3f}")
    ratio = _median(times["gate"], "wall") / _median(times["plain"], "wall")
    cpu_ratio = _median(times["gate"], "cpu") / _median(times["plain"], "cpu")
    per_check_ms = (_median(times["gate"], "cpu") - _median(times["plain"], "cpu")) \
        / options.checks * 1000
    print(f"ratio gate/plain: {ratio:.3f} wall (target <= {TARGET}: {met(ratio <= TARGET)}), "
          f"{cpu_ratio:.3f} CPU; CPU per check: {per_check_ms:+.3f} ms")
    if counted:
        print(f"instructions (callgrind): plain {counted['plain'] / 1e9:.3f} G, gate "
              f"{counted['gate'] / 1e9:.3f} G, ratio {counted['gate'] / counted['plain']:.3f}")
    if imports:
        extra_cpu = (_median(imports["plugin"], "cpu") - _median(imports["plain"], "cpu")) * 1000
        extra_wall = (_median(imports["plugin"], "wall")
                      - _median(imports["plain"], "wall")) * 1000
        print(f"plugin installed, no deploy target (collect-only of one test): "
              f"{extra_cpu:+.0f} ms CPU, {extra_wall:+.0f} ms wall over -p no:deployable")
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
