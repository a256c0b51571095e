"""A network namespace of the benchmark's own: loopback only, made and removed here.

The fleet benchmark listens on dozens of loopback addresses and ports; in a fresh
namespace nothing else on the machine (other benchmarks, test servers, the host's
own sshd) shares them, and nothing the benchmark starts can reach beyond
loopback. Making a namespace needs root (``ip netns add``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence

#: Set in the re-executed benchmark: the name of the namespace it runs in.
INSIDE = "DEPLOYABLE_BENCH_NETNS"


def inside() -> str | None:
    """The namespace this process was started in by :func:`run_inside`, or None."""
    return os.environ.get(INSIDE)


def run_inside(script: str, args: Sequence[str]) -> int:
    """Run ``python script args`` in a new namespace with only ``lo`` up; remove it after.

    Not root, it says so in one line and returns 0 without measuring, so that the
    rest of ``make bench`` still runs; a benchmark measured outside the namespace
    would not be the one documented. When ``ip`` cannot make the namespace, it exits
    with the reason.
    """
    if os.geteuid() != 0:
        print(f"{script}: SKIPPED, needs root: it runs the fleet in a network namespace of "
              "its own (ip netns add) with a delaying relay in front of each sshd; run it "
              "as root (see docs/benchmarks.md for the figures)", file=sys.stderr)
        return 0
    name = f"deployable-bench-{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True,
                          check=False)
    if made.returncode != 0:
        raise SystemExit(f"ip netns add {name} failed: {made.stderr.strip()}")
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        env = {**os.environ, INSIDE: name}
        return subprocess.run(["ip", "netns", "exec", name, sys.executable, script, *args],
                              env=env, check=False).returncode
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)
