"""A paramiko host's socket runs without Nagle's algorithm once it answered: a real sshd.

Without ``TCP_NODELAY`` every command after the first waits on the server's delayed
acknowledgement (see ``pytest_deployable/host_sockets.py``). The tests read the
socket option back from the connections the checks themselves use; they never time.
That a host which does not answer, or runs a forced command, still fails its checks
is ``test_host_probe.py``'s (paramiko and ssh, ``-n 0`` and ``-n 2``).
"""

from __future__ import annotations

import json
import os
import textwrap
from collections.abc import Iterator

import pytest
from _sshd import SshServer
from conftest import host_ssh_server, require

ADDRESSES = ("127.0.0.1", "127.0.0.2")


@pytest.fixture(scope="module")
def ssh_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    """A real SSH server on ADDRESSES (OpenSSH's; see host_ssh_server)."""
    with host_ssh_server(tmp_path_factory.mktemp("sshd"), ADDRESSES) as server:
        yield server


# Each check writes the TCP_NODELAY of the socket its host's commands go through,
# after running a command on it (so the connection exists in plain testinfra too).
CHECKS = """
import json, os, socket

import pytest

pytestmark = pytest.mark.smoke

def _record(host, check):
    assert host.run("echo ok").stdout.strip() == "ok"
    sock = host.backend.client.get_transport().sock
    value = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    line = json.dumps([host.backend.get_hostname(), check, os.getpid(), value])
    with open(os.environ["NODELAY_LOG"], "a") as log:
        log.write(line + "\\n")

def test_one(host):
    _record(host, "one")

def test_two(host):
    _record(host, "two")
"""


def _run(pytester: pytest.Pytester, server: SshServer, *args: str) -> list[list[object]]:
    log = pytester.path / "nodelay.jsonl"
    pytester.makepyfile(test_fleet=CHECKS)
    specs = [server.spec("paramiko", address) for address in ADDRESSES]
    pytester.path.joinpath("deploy-targets.toml").write_text(
        f"[targets.fleet]\nhosts = {json.dumps(specs)}\ntimeout = 10\n"
    )
    os.environ["NODELAY_LOG"] = str(log)
    try:
        result = pytester.runpytest_subprocess(
            *[arg.replace("SPECS", ",".join(specs)) for arg in args],
            "-p", "no:cacheprovider", timeout=120,
        )
    finally:
        del os.environ["NODELAY_LOG"]
    assert result.ret == 0, result.stdout.str()
    return [json.loads(line) for line in log.read_text().splitlines()]


@pytest.mark.parametrize("workers", ["0", "2"])
def test_every_check_on_a_paramiko_host_runs_without_nagle(
    pytester: pytest.Pytester, ssh_server: SshServer, workers: str
) -> None:
    require("paramiko")
    records = _run(pytester, ssh_server, "--deploy-target=fleet", "-n", workers)
    assert sorted((host, check) for host, check, _, _ in records) == [
        (address, check) for address in ADDRESSES for check in ("one", "two")
    ]
    assert [value for *_, value in records] == [1] * 4, records


def test_plain_testinfra_leaves_nagle_on_so_the_test_above_can_fail(
    pytester: pytest.Pytester, ssh_server: SshServer
) -> None:
    """The same checks through testinfra's own ``--hosts``: paramiko's default, Nagle on."""
    require("paramiko")
    records = _run(pytester, ssh_server, "-p", "no:deployable", "--hosts=SPECS")
    assert len(records) == 4
    assert [value for *_, value in records] == [0] * 4, records


def test_no_delay_never_connects_and_skips_backends_without_a_socket(
    pytester: pytest.Pytester, ssh_server: SshServer
) -> None:
    # In a process of its own: paramiko's cryptography cannot be imported again in a
    # process where an in-process pytester run already imported and dropped it.
    require("paramiko")
    script = pytester.path / "check_no_delay.py"
    script.write_text(textwrap.dedent(f"""\
        import testinfra
        from pytest_deployable.host_sockets import no_delay

        paramiko_host = testinfra.get_host({ssh_server.spec("paramiko")!r})
        assert no_delay(paramiko_host.backend) is False
        assert "client" not in vars(paramiko_host.backend), "no_delay connected"
        assert paramiko_host.run("true").rc == 0
        assert no_delay(paramiko_host.backend) is True
        assert no_delay(testinfra.get_host({ssh_server.spec("ssh")!r}).backend) is False
        assert no_delay(testinfra.get_host("local://").backend) is False
        print("all asserted")
    """))
    result = pytester.runpython(script)
    assert result.ret == 0, result.stderr.str()
    assert result.stdout.lines[-1] == "all asserted"
