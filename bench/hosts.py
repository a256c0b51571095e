"""Benchmark: host checks on a fleet 100 ms of round trip away, serial and with pytest-xdist.

The fleet is real OpenSSH (``/usr/sbin/sshd``, started here in a temporary
directory), one host per loopback address, inside a network namespace the
benchmark makes and removes (so it needs root). Each host sits behind a delaying
TCP relay (``bench/_relay.py``) that holds each direction 50 ms, so every round
trip a host check makes costs what it costs to a host in another region: the
kernels here have no ``sch_netem``. The relay listens on 127.0.0.N and passes to
sshd on 127.0.1.N; one sshd serves up to 16 addresses. ``--rtt 0`` drops the
relay (sshd straight on 127.0.0.N): a fleet on the machine itself.

Runs the same suite, in separate pytest processes, interleaved so that machine
noise hits all modes alike:

- ``plain``: plain testinfra, ``pytest --hosts=... -p no:deployable``;
- ``gate``: ``pytest --deploy-target=fleet``, the hosts coming from the target file;

each with ``-n 0``, ``-n 4`` and ``-n 8``. Prints the median wall times and the
client CPU (the pytest processes and their workers) side by side, each figure
beside its target: ``-n 4`` at least 3x faster than ``-n 0``, and the gate
within 5 % of plain testinfra at the same ``-n``. Usage: ``sudo python
bench/hosts.py [--hosts 32] [--rounds 3] [--rtt 100] [--backend paramiko]
[--before TREE]``; ``--before`` adds the gate of another checkout as a third mode.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from _netns import inside, run_inside
from _relay import RelayCount, relays
from _timing import run_once

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from _sshd import SSHD, sshd

CHECKS = 5
SUITE = """
import pytest

pytestmark = pytest.mark.smoke

def test_passwd(host):
    assert host.file("/etc/passwd").is_file

def test_shell(host):
    assert host.run("echo ok").stdout.strip() == "ok"

def test_user(host):
    assert host.user().exists

def test_kernel(host):
    assert host.check_output("uname -s") == "Linux"

def test_tmp(host):
    assert host.file("/tmp").is_directory
"""

INI = """
[pytest]
markers =
    smoke: declared so the plain run does not warn
"""

SPEED_UP_TARGET = 3.0
RATIO_TARGET = 1.05


def _children_cpu() -> float:
    """CPU seconds of this process's finished children (pytest and its xdist workers)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _mark(ok: bool) -> str:
    return "met" if ok else "MISSED"


def _measure(options: argparse.Namespace) -> None:
    n_hosts, rtt = options.hosts, options.rtt
    checks = n_hosts * CHECKS
    workers = [str(w) for w in options.workers]
    print(f"host benchmark: {n_hosts} hosts x {CHECKS} checks = {checks} checks, "
          f"{options.backend} backend, {rtt:g} ms round trip per host "
          f"({'delaying relay' if rtt else 'no relay'}), -n {', '.join(workers)}, "
          f"{options.rounds} rounds, Python {platform.python_version()}, "
          f"{platform.machine()}, {os.cpu_count()} cores, network namespace {inside()}")
    hosts = [f"127.0.0.{n}" for n in range(1, n_hosts + 1)]
    backends = [f"127.0.1.{n}" for n in range(1, n_hosts + 1)] if rtt else hosts
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        server = stack.enter_context(sshd(Path(tmp) / "sshd", backends))
        relayed = RelayCount()
        if rtt:
            routes = [((h, server.port), (b, server.port))
                      for h, b in zip(hosts, backends, strict=True)]
            relayed = stack.enter_context(relays(routes, delay=rtt / 2000))
        workdir = Path(tmp) / "suite"
        workdir.mkdir()
        specs = [server.spec(options.backend, address) for address in hosts]
        (workdir / "test_fleet.py").write_text(SUITE)
        (workdir / "pytest.ini").write_text(INI)
        (workdir / "deploy-targets.toml").write_text(
            f"[targets.fleet]\nhosts = {json.dumps(specs)}\ntimeout = 30\n"
            f"[targets.warm]\nhosts = {json.dumps(specs[:1])}\ntimeout = 30\n"
        )
        kinds = [("plain", ["-p", "no:deployable", f"--hosts={','.join(specs)}"]),
                 ("gate", ["--deploy-target=fleet"])]
        if options.before:
            kinds.append(("before", ["--deploy-target=fleet"]))
        modes = {(kind, n): [*args, "-n", n] for n in workers for kind, args in kinds}
        for n in workers:  # warm the file system cache, .pyc files and sshd on one host
            run_once(workdir, ["-p", "no:deployable", f"--hosts={specs[0]}", "-n", n])
            run_once(workdir, ["--deploy-target=warm", "-n", n])
        load_before = os.getloadavg()
        times: dict[tuple[str, str], list[float]] = {mode: [] for mode in modes}
        cpu: dict[tuple[str, str], list[float]] = {mode: [] for mode in modes}
        connections: dict[tuple[str, str], int] = {}
        for _ in range(options.rounds):
            for mode, args in modes.items():
                before, opened = _children_cpu(), relayed.connections
                with _plugin_from(options.before if mode[0] == "before" else None):
                    times[mode].append(run_once(workdir, args))
                cpu[mode].append(_children_cpu() - before)
                connections[mode] = relayed.connections - opened
        load_after = os.getloadavg()
    _report(times, cpu, workers, checks, [kind for kind, _ in kinds])
    if rtt:
        print("ssh connections per run: " + ", ".join(
            f"{kind} -n {n}: {connections[(kind, n)]}" for n in workers for kind, _ in kinds))
    print(f"load average (1, 5, 15 min): {' '.join(f'{x:.2f}' for x in load_before)} "
          f"before, {' '.join(f'{x:.2f}' for x in load_after)} after; "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")


@contextmanager
def _plugin_from(tree: str | None) -> Iterator[None]:
    """Run the next pytest with ``pytest_deployable`` imported from ``tree`` (a checkout
    of another commit), ahead of the installed one; nothing changes without one."""
    if tree is None:
        yield
        return
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [tree, saved]))
    try:
        yield
    finally:
        if saved is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = saved


def _report(times: dict[tuple[str, str], list[float]], cpu: dict[tuple[str, str], list[float]],
            workers: list[str], checks: int, kinds: list[str]) -> None:
    med = {mode: statistics.median(values) for mode, values in times.items()}
    med_cpu = {mode: statistics.median(values) for mode, values in cpu.items()}
    print(f"{'mode':<8}" + "".join(f"{f'-n {n} s':>10}{'cpu s':>8}" for n in workers))
    for kind in kinds:
        print(f"{kind:<8}" + "".join(f"{med[(kind, n)]:>10.2f}{med_cpu[(kind, n)]:>8.2f}"
                                     for n in workers))
    serial = workers[0]
    for kind in kinds:
        for n in workers[1:]:
            speed_up = med[(kind, serial)] / med[(kind, n)]
            target = (f"(target >= {SPEED_UP_TARGET:g}x: {_mark(speed_up >= SPEED_UP_TARGET)})"
                      if n == "4" else "")
            print(f"{kind} speed-up of -n {n} over -n {serial}: {speed_up:.2f}x {target}")
    for n in workers:
        ratio = med[("gate", n)] / med[("plain", n)]
        extra = (med[("gate", n)] - med[("plain", n)]) / checks * 1000
        print(f"gate over plain testinfra at -n {n}: ratio {ratio:.3f}, {extra:+.1f} ms per "
              f"check (target <= {RATIO_TARGET:g}: {_mark(ratio <= RATIO_TARGET)})")
    if "before" in kinds:
        for n in workers:
            print(f"gate over the gate before (--before) at -n {n}: ratio "
                  f"{med[('gate', n)] / med[('before', n)]:.3f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=32, help="hosts (at most 254)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rtt", type=float, default=100.0,
                        help="round trip to each host in ms; 0 for none (default 100)")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 4, 8],
                        help="the -n values to compare; the first is the baseline")
    parser.add_argument("--backend", choices=("paramiko", "ssh"), default="paramiko")
    parser.add_argument("--before", metavar="TREE",
                        help="also run the gate with the plugin from TREE, a checkout of an "
                             "earlier commit (git worktree add), as the mode 'before'")
    options = parser.parse_args()
    if options.before:
        options.before = str(Path(options.before).resolve())
    if not 1 <= options.hosts <= 254:
        parser.error("--hosts must be between 1 and 254")
    if not os.path.exists(SSHD):
        raise SystemExit(f"{SSHD} is missing: apt-get install openssh-server")
    if inside() is None:
        return run_inside(__file__, sys.argv[1:])
    _measure(options)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
