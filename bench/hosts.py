"""Benchmark: host checks on a fleet of 32 hosts x 5 checks, serial and with pytest-xdist.

The fleet is real OpenSSH (``/usr/sbin/sshd``, started here in a temporary
directory) listening on 32 loopback addresses, 127.0.0.1 to 127.0.0.32, so each
address is a host of its own to testinfra: its own connection, its own id. One
sshd listens on at most 16 addresses, so 32 hosts are two sshd processes sharing
a port, host key and authorized key. The hosts share the machine's CPU with the
test processes, which limits what ``-n 4`` can gain on a small machine.

Runs the same suite, in separate pytest processes, interleaved so that machine
noise hits all modes alike:

- ``plain``: plain testinfra, ``pytest --hosts=... -p no:deployable``;
- ``gate``: ``pytest --deploy-target=fleet``, the hosts coming from the target file;

each with ``-n 0`` and ``-n 4``. Prints the median wall times side by side, the
speed-up of ``-n 4`` over ``-n 0``, and the gate's cost per check over plain
testinfra. Usage: ``python bench/hosts.py [--hosts 32] [--rounds 3] [--backend paramiko]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
from pathlib import Path

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=32, help="loopback hosts (at most 254)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--backend", choices=("paramiko", "ssh"), default="paramiko")
    options = parser.parse_args()
    if not os.path.exists(SSHD):
        raise SystemExit(f"{SSHD} is missing: apt-get install openssh-server")
    checks = options.hosts * CHECKS
    env_note = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    print(f"host benchmark: {options.hosts} hosts x {CHECKS} checks = {checks} checks, "
          f"{options.backend} backend, sshd on 127.0.0.1-{options.hosts} "
          f"({-(-options.hosts // 16)} servers of up to 16 addresses), "
          f"{options.rounds} rounds, Python {platform.python_version()}, {env_note}")
    addresses = [f"127.0.0.{n}" for n in range(1, options.hosts + 1)]
    with tempfile.TemporaryDirectory() as tmp, sshd(Path(tmp) / "sshd", addresses) as server:
        workdir = Path(tmp) / "suite"
        workdir.mkdir()
        specs = [server.spec(options.backend, address) for address in addresses]
        (workdir / "test_fleet.py").write_text(SUITE)
        (workdir / "pytest.ini").write_text(INI)
        (workdir / "deploy-targets.toml").write_text(
            f"[targets.fleet]\nhosts = {json.dumps(specs)}\ntimeout = 10\n"
        )
        n = str(options.workers)
        modes = {
            ("plain", "0"): ["-p", "no:deployable", f"--hosts={','.join(specs)}", "-n", "0"],
            ("gate", "0"): ["--deploy-target=fleet", "-n", "0"],
            ("plain", n): ["-p", "no:deployable", f"--hosts={','.join(specs)}", "-n", n],
            ("gate", n): ["--deploy-target=fleet", "-n", n],
        }
        for args in modes.values():  # warm the file system cache, .pyc files and sshd
            run_once(workdir, args)
        times: dict[tuple[str, str], list[float]] = {mode: [] for mode in modes}
        for _ in range(options.rounds):
            for mode, args in modes.items():
                times[mode].append(run_once(workdir, args))
    med = {mode: statistics.median(values) for mode, values in times.items()}
    print(f"{'mode':<8}{'-n 0 s':>10}{f'-n {n} s':>10}{'speed-up':>10}")
    for kind in ("plain", "gate"):
        serial, parallel = med[(kind, "0")], med[(kind, n)]
        print(f"{kind:<8}{serial:>10.2f}{parallel:>10.2f}{serial / parallel:>9.2f}x")
    for workers in ("0", n):
        extra = (med[("gate", workers)] - med[("plain", workers)]) / checks * 1000
        ratio = med[("gate", workers)] / med[("plain", workers)]
        print(f"gate over plain testinfra at -n {workers}: {extra:+.1f} ms per check "
              f"(ratio {ratio:.3f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
