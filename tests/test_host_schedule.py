"""With ``-n``, every check of one host runs on one worker: one connection per host.

A real sshd on four loopback addresses and real pytest-xdist runs. Each check
writes which process ran it; a paramiko connection and its probe belong to one
process, so the distinct (host, process) pairs are the connections the run opened.
That a host which does not answer or runs a forced command still fails under this
scheduler is ``test_host_probe.py``'s ``-n 2`` cases (two hosts, two workers).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
from _sshd import SshServer
from conftest import host_ssh_server, require

from pytest_deployable.host_schedule import host_scope

ADDRESSES = ("127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4")


@pytest.fixture(scope="module")
def ssh_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    """A real SSH server on ADDRESSES (OpenSSH's; see host_ssh_server)."""
    with host_ssh_server(tmp_path_factory.mktemp("sshd"), ADDRESSES) as server:
        yield server


CHECKS = """
import json, os

import pytest

pytestmark = pytest.mark.smoke

def _record(host, check):
    line = json.dumps([host.backend.get_hostname(), check, os.getpid()])
    with open(os.environ["RAN_LOG"], "a") as log:
        log.write(line + "\\n")
    assert host.run("echo ok").stdout.strip() == "ok"

def test_one(host):
    _record(host, "one")

def test_two(host):
    _record(host, "two")

def test_three(host):
    _record(host, "three")
"""


def _run(pytester: pytest.Pytester, server: SshServer, checks: str, *args: str,
         addresses: tuple[str, ...] = ADDRESSES,
         ) -> tuple[pytest.RunResult, list[list[Any]], dict[str, Any]]:
    require("paramiko")
    require("xdist")
    log = pytester.path / "ran.jsonl"
    pytester.makepyfile(test_fleet=checks)
    specs = [server.spec("paramiko", address) for address in addresses]
    pytester.path.joinpath("deploy-targets.toml").write_text(
        f"[targets.fleet]\nhosts = {json.dumps(specs)}\ntimeout = 10\n"
    )
    os.environ["RAN_LOG"] = str(log)
    try:
        result = pytester.runpytest_subprocess("--deploy-target=fleet", "-p", "no:cacheprovider",
                                               *args, timeout=180)
    finally:
        del os.environ["RAN_LOG"]
    ran = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    verdict = json.loads((pytester.path / "deploy-verdict.json").read_text())
    return result, ran, verdict["predicate"]["deployability"]


def test_each_host_runs_on_one_worker_so_each_is_connected_once(
    pytester: pytest.Pytester, ssh_server: SshServer
) -> None:
    result, ran, ext = _run(pytester, ssh_server, CHECKS, "-n", "2")
    assert result.ret == 0, result.stdout.str()
    assert ext["verdict"] == "DEPLOYABLE"
    assert sorted((host, check) for host, check, _ in ran) == sorted(
        (address, check) for address in ADDRESSES for check in ("one", "two", "three")
    )
    assert len({(host, pid) for host, _, pid in ran}) == len(ADDRESSES), ran
    assert len({pid for *_, pid in ran}) == 2, "both workers ran hosts"
    assert len(ext["checks"]) == 12
    assert {c["outcome"] for c in ext["checks"]} == {"passed"}


def test_with_fewer_hosts_than_workers_checks_of_a_host_spread_over_workers(
    pytester: pytest.Pytester, ssh_server: SshServer
) -> None:
    """Two hosts, three workers: xdist's own ``load``, as without this plugin."""
    result, ran, _ = _run(pytester, ssh_server, CHECKS, "-n", "3", addresses=ADDRESSES[:2])
    assert result.ret == 0, result.stdout.str()
    assert len(ran) == 6
    assert len({(host, pid) for host, _, pid in ran}) > 2, ran


def test_a_worker_crash_in_a_host_unit_does_not_pass_the_run(
    pytester: pytest.Pytester, ssh_server: SshServer
) -> None:
    crashing = CHECKS.replace(
        '    _record(host, "two")',
        '    _record(host, "two")\n'
        '    if host.backend.get_hostname() == "127.0.0.2":\n'
        '        os._exit(3)',
    )
    result, _, ext = _run(pytester, ssh_server, crashing, "-n", "2",
                            "--deploy-crash-grace=3s")
    assert result.ret != 0, result.stdout.str()
    assert ext["verdict"] in ("NOT_DEPLOYABLE", "INCONCLUSIVE"), ext
    crashed = next(c for c in ext["checks"] if c["id"].endswith(
        f"test_two[paramiko://127.0.0.2:{ssh_server.port}]"))
    assert crashed["outcome"] in ("error", "failed", "notRun"), crashed


@pytest.mark.parametrize(("nodeid", "expected"), [
    ("t.py::test_a[ssh://web1]", "ssh://web1"),
    ("t.py::test_a[ssh://web10]", "ssh://web10"),
    ("t.py::test_a[ssh://web1-2]", "ssh://web1"),
    ("t.py::test_a[x-ssh://web1]", "ssh://web1"),
    ("t.py::test_a[x-ssh://web1-y]", "ssh://web1"),
    ("t.py::test_a[ssh://web11]", None),
    ("t.py::test_a", None),
    ("t.py::test_a[no-host]", None),
])
def test_host_scope_finds_the_whole_host_name_among_the_ids(
    nodeid: str, expected: str | None
) -> None:
    assert host_scope(nodeid, ["ssh://web1", "ssh://web10"]) == expected
