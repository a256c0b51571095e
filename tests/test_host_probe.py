"""The host probe proves a host runs what it is sent: a real sshd with forced commands."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from _fleet import deployability, fleet_targets
from _sshd import SshServer
from conftest import host_ssh_server, require

GOOD, FORCED, HANGING = "127.0.0.1", "127.0.0.3", "127.0.0.4"


@pytest.fixture(scope="session")
def forced_sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    """One sshd for the session: a plain address, one that runs ``/bin/true`` whatever
    it is sent (a restricted deploy key), and one whose commands hang."""
    # The hanging command ends on its own soon after the tests, leaving nothing behind
    # (the asyncssh fallback kills it as soon as its session closes).
    with host_ssh_server(tmp_path_factory.mktemp("forced-sshd"), (GOOD, FORCED, HANGING),
                         force_commands={FORCED: "/bin/true", HANGING: "/bin/sleep 10"}) as server:
        yield server


# Each of these passes on a host that runs no command and exits 0.
CHECKS = """
import pytest

pytestmark = pytest.mark.smoke

def test_runs(host):
    assert host.run("id -u").rc == 0

def test_file(host):
    assert host.file("/etc/passwd").exists

def test_ok(host):
    assert host.run_test("true").rc == 0
"""


@pytest.mark.parametrize("workers", ["0", "2"])
@pytest.mark.parametrize("scheme", ["ssh", "paramiko"])
def test_a_host_that_runs_no_commands_fails_its_checks(
    pytester: pytest.Pytester, forced_sshd: SshServer, scheme: str, workers: str
) -> None:
    if scheme == "paramiko":
        require("paramiko")
    fleet_targets(pytester, [forced_sshd.spec(scheme, GOOD), forced_sshd.spec(scheme, FORCED)])
    pytester.makepyfile(test_fleet=CHECKS)
    result = pytester.runpytest_subprocess("--deploy-target=fleet", "-n", workers,
                                           "-p", "no:cacheprovider", timeout=120)
    assert result.ret == 1, result.stdout.str()
    ext = deployability(pytester)
    assert ext["verdict"] == "NOT_DEPLOYABLE"
    good = f"{scheme}://{GOOD}:{forced_sshd.port}"
    forced = f"{scheme}://{FORCED}:{forced_sshd.port}"
    assert {(c["host"], c["outcome"]) for c in ext["checks"]} == {
        (good, "passed"), (forced, "error"),
    }
    assert len(ext["checks"]) == 6
    for check in ext["checks"]:
        if check["host"] == forced:
            assert re.fullmatch(
                rf"host {re.escape(forced)} does not run the commands it is sent: "
                r"'echo deployable-probe-[0-9a-f]{16}' answered '' with exit code 0 "
                r"\(a forced command, such as sshd's ForceCommand or a restricted key's "
                r"command=\?\)",
                check["message"],
            ), check["message"]
    assert any(r.startswith("blocking check test_fleet.py::test_runs failed on 1 of 2 hosts")
               for r in ext["reasons"])


@pytest.mark.parametrize("workers", ["0", "2"])
@pytest.mark.parametrize("scheme", ["ssh", "paramiko"])
def test_a_host_whose_commands_hang_is_bounded_by_the_target_timeout(
    pytester: pytest.Pytester, forced_sshd: SshServer, scheme: str, workers: str
) -> None:
    if scheme == "paramiko":
        require("paramiko")
    fleet_targets(pytester, [forced_sshd.spec(scheme, HANGING)], timeout=2)
    pytester.makepyfile(test_fleet=CHECKS)
    # The subprocess timeout is a backstop for the test itself, far above the bound.
    result = pytester.runpytest_subprocess("--deploy-target=fleet", "-n", workers,
                                           "-p", "no:cacheprovider", timeout=120)
    assert result.ret == 1, result.stdout.str()
    ext = deployability(pytester)
    assert ext["verdict"] == "NOT_DEPLOYABLE"
    hanging = f"{scheme}://{HANGING}:{forced_sshd.port}"
    assert [c["outcome"] for c in ext["checks"]] == ["error"] * 3
    for check in ext["checks"]:
        assert check["message"] == (
            f"host {hanging} unreachable: no answer to 'echo' within 2 s (the target's timeout)"
        )
