"""The asyncssh server that stands in for sshd where it is missing (tests/_asyncsshd.py).

These run against the fallback in every run, CI included, even where OpenSSH's sshd is
installed and the other host tests use it, so that the fallback cannot rot unnoticed: a
few host checks over ssh and paramiko, a forced command and a hanging one failing the
verdict, and refused keys. ``DEPLOYABLE_TEST_SSH_SERVER=asyncssh`` runs all the host tests
against it (docs/development.md).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _fleet import deployability, fleet_targets
from _sshd import (
    ASYNCSSH,
    OPENSSH,
    SERVER_VARIABLE,
    ServerUnavailable,
    SshServer,
    asyncsshd,
    choose_server,
)
from conftest import require, require_ssh_client

GOOD, SECOND, FORCED, HANGING = "127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"


@pytest.fixture(scope="session")
def fallback(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    """One asyncssh server for the session: two plain addresses, one whose forced command
    is ``/bin/true`` (a restricted deploy key), one whose commands hang."""
    require("asyncssh")
    with asyncsshd(tmp_path_factory.mktemp("asyncsshd"), (GOOD, SECOND, FORCED, HANGING),
                   force_commands={FORCED: "/bin/true", HANGING: "/bin/sleep 30"}) as server:
        yield dataclasses.replace(server, check_scheme=require_ssh_client)


@pytest.mark.parametrize("scheme", ["ssh", "paramiko"])
def test_host_checks_pass_over_one_connection_per_host(
    pytester: pytest.Pytester, fallback: SshServer, scheme: str
) -> None:
    if scheme == "paramiko":
        require("paramiko")
    fleet_targets(pytester, [fallback.spec(scheme, GOOD), fallback.spec(scheme, SECOND)])
    pytester.makepyfile(test_fleet=f"""
        import pytest

        pytestmark = pytest.mark.smoke

        def test_user(host):
            assert host.user().name == {fallback.user!r}

        def test_streams_and_status(host):
            result = host.run("echo out; echo err >&2; exit 3")
            assert (result.rc, result.stdout, result.stderr) == (3, "out\\n", "err\\n")

        def test_file(host):
            assert host.file("/etc/passwd").exists
            assert not host.file("/nonexistent").exists
    """)
    before = fallback.connections()
    result = pytester.runpytest("--deploy-target=fleet")
    assert result.ret == 0, result.stdout.str()
    ext = deployability(pytester)
    assert ext["verdict"] == "DEPLOYABLE"
    assert [c["outcome"] for c in ext["checks"]] == ["passed"] * 6
    # The probe and every check share one connection per host (ssh's control master
    # multiplexes sessions on it; paramiko keeps one client), so the server takes many
    # sessions per connection. Counted at the server, not inferred from timing.
    assert sorted(fallback.connections()[len(before):]) == [GOOD, SECOND]


def test_a_forced_command_and_a_hanging_one_fail_the_verdict(
    pytester: pytest.Pytester, fallback: SshServer
) -> None:
    hosts = {address: fallback.spec("ssh", address) for address in (GOOD, FORCED, HANGING)}
    fleet_targets(pytester, list(hosts.values()), timeout=2)
    pytester.makepyfile(test_fleet="""
        import pytest

        @pytest.mark.smoke
        def test_runs(host):
            assert host.run("id -u").rc == 0
    """)
    result = pytester.runpytest_subprocess("--deploy-target=fleet", "-p", "no:cacheprovider",
                                           timeout=120)
    assert result.ret == 1, result.stdout.str()
    ext = deployability(pytester)
    assert ext["verdict"] == "NOT_DEPLOYABLE"
    name = {address: f"ssh://{address}:{fallback.port}" for address in hosts}
    messages = {c["host"]: (c["outcome"], c.get("message") or "") for c in ext["checks"]}
    assert messages[name[GOOD]] == ("passed", "")
    assert messages[name[FORCED]][0] == "error"
    assert messages[name[FORCED]][1].startswith(
        f"host {name[FORCED]} does not run the commands it is sent: 'echo deployable-probe-"
    )
    assert messages[name[HANGING]] == (
        "error",
        f"host {name[HANGING]} unreachable: no answer to 'echo' within 2 s (the target's "
        "timeout)",
    )


def test_only_the_authorized_key_of_the_user_gets_in(fallback: SshServer,
                                                      tmp_path: Path) -> None:
    paramiko = require("paramiko")

    def connect(user: str, key: Any) -> Any:
        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
        client.connect(GOOD, fallback.port, username=user, pkey=key, timeout=10,
                       allow_agent=False, look_for_keys=False)
        return client

    authorized = paramiko.Ed25519Key.from_private_key_file(str(fallback.identity))
    with pytest.raises(paramiko.AuthenticationException):
        connect("someone-else", authorized)
    other = paramiko.Ed25519Key.from_private_key_file(str(_other_key(tmp_path)))
    with pytest.raises(paramiko.AuthenticationException):
        connect(fallback.user, other)
    client = connect(fallback.user, authorized)
    try:
        # Two sessions at once on one connection, as a control master runs them.
        transport = client.get_transport()
        slow, fast = transport.open_session(), transport.open_session()
        slow.exec_command("sleep 0.3; echo slow; exit 4")
        fast.exec_command('echo "$HOME $SSH_ORIGINAL_COMMAND"')
        assert fast.recv_exit_status() == 0
        assert fast.makefile().read().decode() == f"{fallback.ssh_config.parent} \n"
        assert slow.recv_exit_status() == 4
        assert slow.makefile().read().decode() == "slow\n"
    finally:
        client.close()


def _other_key(directory: Path) -> Path:
    asyncssh = require("asyncssh")
    path = directory / "other_key"
    asyncssh.generate_private_key("ssh-ed25519").write_private_key(path)
    return path


@pytest.mark.parametrize(("environ", "in_ci", "sshd_exists", "expected"), [
    ({}, False, True, OPENSSH),
    ({}, True, True, OPENSSH),
    ({}, False, False, ASYNCSSH),
    ({SERVER_VARIABLE: "asyncssh"}, False, True, ASYNCSSH),
    # CI never falls back, and never runs the host tests on asyncssh instead of sshd.
    ({}, True, False, "fatal"),
    ({SERVER_VARIABLE: "asyncssh"}, True, True, "fatal"),
    ({SERVER_VARIABLE: "openssh"}, False, False, "skip"),
    ({SERVER_VARIABLE: "dropbear"}, False, True, "fatal"),
])
def test_which_server_the_host_tests_get(environ: dict[str, str], in_ci: bool,
                                         sshd_exists: bool, expected: str,
                                         tmp_path: Path) -> None:
    require("asyncssh")
    sshd = tmp_path / "sshd"
    if sshd_exists:
        sshd.touch()
    try:
        chosen = choose_server(environ, in_ci, str(sshd))
    except ServerUnavailable as exc:
        chosen = "fatal" if exc.fatal else "skip"
    assert chosen == expected
