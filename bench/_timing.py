"""What the benchmarks share: timing one pytest process on a generated suite."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Timing:
    """One process's wall time and the CPU time (user + system) it used, in seconds."""

    wall: float
    cpu: float


def run_measured(workdir: Path, args: list[str]) -> Timing:
    """Wall and CPU time of one pytest process on the suite in ``workdir``.

    The CPU time is the child's own (``RUSAGE_CHILDREN`` before and after it is
    reaped), so other work on a shared machine barely moves it, where it moves
    the wall time a lot.
    """
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args]
    # Measured as users run it, with bytecode caching: an environment that sets
    # PYTHONDONTWRITEBYTECODE would otherwise recompile the plugin in every run.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=workdir, capture_output=True, text=True, check=False,
                          env=env)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"benchmark run failed ({' '.join(args)}):\n{done.stdout[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Timing(elapsed, cpu)


def run_once(workdir: Path, args: list[str]) -> float:
    """Wall time of one pytest process on the suite in ``workdir``, in seconds."""
    return run_measured(workdir, args).wall


def met(ok: bool) -> str:
    """The word ``make bench`` prints after a figure's target."""
    return "met" if ok else "MISSED"
