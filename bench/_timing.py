"""What the benchmarks share: timing one pytest process on a generated suite."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path


def run_once(workdir: Path, args: list[str]) -> float:
    """Wall time of one pytest process on the suite in ``workdir``, in seconds."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args]
    # Measured as users run it, with bytecode caching: an environment that sets
    # PYTHONDONTWRITEBYTECODE would otherwise recompile the plugin in every run.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    started = time.perf_counter()
    done = subprocess.run(command, cwd=workdir, capture_output=True, text=True, check=False,
                          env=env)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"benchmark run failed ({' '.join(args)}):\n{done.stdout[-3000:]}")
    return elapsed
