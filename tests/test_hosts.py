"""Host checks: testinfra on every host of a target, against local:// and a real sshd."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _fleet import deployability, fleet_targets
from _sshd import SilentServer, SshServer
from conftest import host_ssh_server, require

from pytest_deployable.verdict import CheckResult, Outcome, decide


@pytest.fixture(scope="module")
def ssh_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshServer]:
    """One real SSH server (OpenSSH's, see host_ssh_server) on 127.0.0.1 and 127.0.0.2,
    for the whole module."""
    with host_ssh_server(tmp_path_factory.mktemp("sshd"), ("127.0.0.1", "127.0.0.2")) as server:
        yield server


def outcomes(ext: dict[str, Any]) -> dict[str, str]:
    return {check["id"].split("::", 1)[1]: check["outcome"] for check in ext["checks"]}


CHECKS = """
import pytest

pytestmark = pytest.mark.smoke

def test_passwd(host):
    assert host.file("/etc/passwd").exists

def test_shell(host):
    assert host.run("echo hi").stdout.strip() == "hi"

def test_not_a_check(host):
    pass
"""


def test_a_host_check_runs_once_per_host_with_ids_naming_the_host(
    pytester: pytest.Pytester,
) -> None:
    fleet_targets(pytester, ["local://"])
    pytester.makepyfile(test_fleet=CHECKS.replace("def test_not_a_check", "def _helper"))
    result = pytester.runpytest("--deploy-target=fleet", "-v")
    assert result.ret == 0
    result.stdout.fnmatch_lines([
        "deploy hosts: local://",
        "*test_fleet.py::test_passwd[[]local[]] PASSED*",
        "*= deployability: DEPLOYABLE =*",
        "hosts     0 of 1 with failed checks",
        "  local  2 passed",
    ])
    ext = deployability(pytester)
    assert [(c["id"], c["host"]) for c in ext["checks"]] == [
        ("test_fleet.py::test_passwd[local]", "local"),
        ("test_fleet.py::test_shell[local]", "local"),
    ]
    assert ext["hosts"] == [{
        "host": "local", "passed": 2, "failed": 0, "errors": 0, "skipped": 0, "refused": 0,
        "notApplicable": 0, "notRun": 0, "failedChecks": [],
    }]


@pytest.mark.parametrize("scheme", ["ssh", "paramiko"])
def test_ssh_and_paramiko_hosts_each_run_every_check(
    pytester: pytest.Pytester, ssh_server: SshServer, scheme: str
) -> None:
    if scheme == "paramiko":
        require("paramiko")
    specs = [ssh_server.spec(scheme, address) for address in ssh_server.addresses]
    fleet_targets(pytester, specs)
    pytester.makepyfile(test_fleet="""
        import pytest

        pytestmark = pytest.mark.smoke

        def test_user(host):
            assert host.user().name

        @pytest.mark.contract
        def test_sshd_answers(host):
            assert host.run("true").rc == 0
    """)
    result = pytester.runpytest("--deploy-target=fleet", "-v")
    assert result.ret == 0, result.stdout.str()
    port = ssh_server.port
    names = [f"{scheme}://127.0.0.1:{port}", f"{scheme}://127.0.0.2:{port}"]
    ext = deployability(pytester)
    assert sorted(outcomes(ext).items()) == sorted(
        (f"{test}[{name}]", "passed") for test in ("test_user", "test_sshd_answers")
        for name in names
    )
    assert [entry["host"] for entry in ext["hosts"]] == names
    assert all(entry["passed"] == 2 for entry in ext["hosts"])
    # The ssh_config path (a query option) is not part of any id.
    assert "ssh_config" not in json.dumps(ext["checks"])


def test_connections_are_reused_across_checks_and_modules(
    pytester: pytest.Pytester, ssh_server: SshServer
) -> None:
    require("paramiko")
    fleet_targets(pytester, [ssh_server.spec("paramiko"), ssh_server.spec("ssh")])
    record = """
        import pytest

        @pytest.mark.smoke
        def test_record(host, deploy_target):
            # paramiko keeps one client per host; ssh keeps one control master.
            backend = host.backend
            if backend.NAME == "paramiko":
                seen = id(backend.client)
            else:
                host.run("true")
                seen = os.path.exists(backend.controlpath) and backend.controlpath
            with open("seen.txt", "a") as handle:
                handle.write(f"{backend.NAME} {seen}\\n")
    """
    record = "import os\n" + textwrap.dedent(record)
    pytester.makepyfile(test_one=record, test_two=record)
    result = pytester.runpytest("--deploy-target=fleet")
    assert result.ret == 0, result.stdout.str()
    seen = (pytester.path / "seen.txt").read_text().splitlines()
    assert len(seen) == 4
    by_backend: dict[str, set[str]] = {}
    for line in seen:
        name, value = line.split(" ", 1)
        by_backend.setdefault(name, set()).add(value)
    assert len(by_backend["paramiko"]) == 1
    assert len(by_backend["ssh"]) == 1
    assert by_backend["ssh"] != {"False"}


def test_roles_and_only_hosts_choose_the_hosts_of_a_check(pytester: pytest.Pytester) -> None:
    # Three distinct local hosts: testinfra keys local:// by its spec and options.
    web1, web2, db = "local://?controlpersist=1", "local://?controlpersist=2", "local://"
    fleet_targets(pytester, [], roles={"web": [web1, web2], "db": [db]})
    # Another target defines the roles this one lacks (only_hosts names must exist).
    with pytester.path.joinpath("deploy-targets.toml").open("a") as handle:
        handle.write('[targets.other.roles]\ncache = ["local://"]\nqueue = ["local://"]\n')
    pytester.makepyfile(test_roles="""
        import pytest

        pytestmark = pytest.mark.smoke

        def test_everywhere(host):
            pass

        @pytest.mark.only_hosts("web")
        def test_web(host):
            pass

        @pytest.mark.only_hosts("db", "cache")
        def test_db_or_cache(host):
            pass

        @pytest.mark.only_hosts("queue")
        def test_queue(host):
            pass
    """)
    result = pytester.runpytest("--deploy-target=fleet", "-v")
    assert result.ret == 0, result.stdout.str()
    ext = deployability(pytester)
    ran = [(c["id"].split("::")[1].split("[")[0], c.get("host"), c["outcome"])
           for c in ext["checks"]]
    assert sorted(ran) == sorted([
        ("test_everywhere", "local", "passed"),
        ("test_everywhere", "local#2", "passed"),
        ("test_everywhere", "local#3", "passed"),
        ("test_web", "local", "passed"),
        ("test_web", "local#2", "passed"),
        ("test_db_or_cache", "local#3", "passed"),
        ("test_queue", None, "notApplicable"),
    ])
    queue = next(c for c in ext["checks"] if "test_queue" in c["id"])
    assert queue["message"] == "only_hosts('queue') selects no host of target 'fleet'"
    assert ext["verdict"] == "DEPLOYABLE"


def test_only_hosts_matches_host_names_by_glob(
    pytester: pytest.Pytester, ssh_server: SshServer
) -> None:
    fleet_targets(pytester, [ssh_server.spec("ssh", address) for address in ssh_server.addresses])
    pytester.makepyfile(test_glob="""
        import pytest

        @pytest.mark.smoke
        @pytest.mark.only_hosts("127.0.0.2")
        def test_second(host):
            pass
    """)
    result = pytester.runpytest("--deploy-target=fleet", "-q")
    assert result.ret == 0, result.stdout.str()
    ext = deployability(pytester)
    assert [c["host"] for c in ext["checks"]] == [f"ssh://127.0.0.2:{ssh_server.port}"]


def test_only_hosts_without_arguments_is_a_usage_error(pytester: pytest.Pytester) -> None:
    fleet_targets(pytester, ["local://"])
    pytester.makepyfile("""
        import pytest

        @pytest.mark.smoke
        @pytest.mark.only_hosts()
        def test_nothing(host):
            pass
    """)
    result = pytester.runpytest("--deploy-target=fleet")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*@pytest.mark.only_hosts: needs at least one role*"])


@pytest.mark.parametrize("scheme", ["ssh", "paramiko"])
def test_an_unreachable_host_fails_its_checks_fast_and_the_others_still_report(
    pytester: pytest.Pytester, ssh_server: SshServer, scheme: str
) -> None:
    if scheme == "paramiko":
        require("paramiko")
    with SilentServer() as silent:
        refused = ssh_server.spec(scheme, port=1)
        hanging = ssh_server.spec(scheme, port=silent.port)
        alive = ssh_server.spec(scheme)
        fleet_targets(pytester, [alive, refused, hanging], timeout=2)
        pytester.makepyfile(test_fleet="""
            import pytest

            pytestmark = pytest.mark.smoke

            def test_one(host):
                assert host.run("true").rc == 0

            def test_two(host):
                assert host.run("true").rc == 0

            def test_three(host):
                assert host.run("true").rc == 0
        """)
        result = pytester.runpytest_subprocess("--deploy-target=fleet", "-p", "no:cacheprovider")
        # One probe of the silent host (one timeout, not one per check): counted in
        # connections, not seconds, so a loaded machine cannot fail or pass it by its clock.
        # (paramiko's connect may open a second socket for the one probe.)
        connections = len(silent._held)
    assert 1 <= connections < 3, connections
    assert result.ret == 1, result.stdout.str()
    ext = deployability(pytester)
    port = ssh_server.port
    dead = [f"{scheme}://127.0.0.1:1", f"{scheme}://127.0.0.1:{silent.port}"]
    assert {c["host"]: c["outcome"] for c in ext["checks"]} == {
        f"{scheme}://127.0.0.1:{port}": "passed", dead[0]: "error", dead[1]: "error",
    }
    for check in ext["checks"]:
        if check["host"] in dead:
            assert check["message"].startswith(f"host {check['host']} unreachable: ")
    assert ext["reasons"] == [
        f"blocking check test_fleet.py::test_one failed on 2 of 3 hosts: {dead[0]}, {dead[1]}",
        f"blocking check test_fleet.py::test_two failed on 2 of 3 hosts: {dead[0]}, {dead[1]}",
        f"blocking check test_fleet.py::test_three failed on 2 of 3 hosts: {dead[0]}, {dead[1]}",
    ]
    result.stdout.fnmatch_lines([
        "hosts     2 of 3 with failed checks",
        f"  {dead[0]}*3 errors",
        f"  {dead[1]}*3 errors",
        f"  {scheme}://127.0.0.1:{port}*3 passed",
    ])


def test_hosts_on_the_command_line_win_over_the_target(pytester: pytest.Pytester) -> None:
    fleet_targets(pytester, ["ssh://deploy@192.0.2.1"])
    pytester.makepyfile("""
        import pytest

        @pytest.mark.smoke
        def test_here(host):
            assert host.backend.NAME == "local"
    """)
    result = pytester.runpytest("--deploy-target=fleet", "--hosts=local://", "-v")
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["*test_here[[]local[]] PASSED*"])
    assert deployability(pytester)["checks"][0]["host"] == "local"


def test_a_target_without_hosts_fails_its_host_checks(
    pytester: pytest.Pytester, server: Any
) -> None:
    pytester.makepyfile("""
        import pytest

        @pytest.mark.smoke
        def test_machine(host):
            pass
    """)
    result = pytester.runpytest(f"--deploy-target={server.url}")
    assert result.ret == 1
    check = deployability(pytester)["checks"][0]
    assert check["outcome"] == "error"
    assert check["message"] == (
        f"deploy target {server.url!r} lists no hosts; add hosts to the target, or give --hosts"
    )


def test_a_host_spec_testinfra_cannot_use_is_a_usage_error(pytester: pytest.Pytester) -> None:
    fleet_targets(pytester, ["telnet://old-box"])
    pytester.makepyfile("""
        import pytest

        @pytest.mark.smoke
        def test_machine(host):
            pass
    """)
    result = pytester.runpytest("--deploy-target=fleet")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([
        "*deploy target 'fleet': host 'telnet://old-box' is not a testinfra host spec*"
        "Unknown connection type 'telnet'*"
    ])


def test_secret_host_specs_are_redacted_from_ids_output_and_verdict(
    pytester: pytest.Pytester, ssh_server: SshServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLEET_SECRET_ADDRESS", "127.0.0.2")
    spec = ssh_server.spec("ssh").replace("127.0.0.1", "${FLEET_SECRET_ADDRESS}")
    dead = "ssh://${FLEET_SECRET_ADDRESS}:1?timeout=2"
    fleet_targets(pytester, [spec, dead])
    pytester.makepyfile("""
        import pytest

        @pytest.mark.smoke
        def test_machine(host):
            assert host.run("true").rc == 0
    """)
    result = pytester.runpytest_subprocess("--deploy-target=fleet", "-v", "-p",
                                           "no:cacheprovider")
    assert result.ret == 1
    output = result.stdout.str() + result.stderr.str()
    text = (pytester.path / "deploy-verdict.json").read_text()
    assert "127.0.0.2" not in output
    assert "127.0.0.2" not in text
    ext = deployability(pytester)
    assert [c["host"] for c in ext["checks"]] == [f"ssh://***:{ssh_server.port}", "ssh://***:1"]
    assert ext["checks"][1]["message"].startswith("host ssh://***:1 unreachable: ")


def test_distributed_host_checks_reach_the_same_verdict(
    pytester: pytest.Pytester, ssh_server: SshServer
) -> None:
    require("xdist")
    specs = [ssh_server.spec("ssh", address) for address in ssh_server.addresses]
    fleet_targets(pytester, [*specs, "local://", ssh_server.spec("ssh", port=1)], timeout=3,
            roles={"web": specs})
    pytester.makepyfile(test_fleet="""
        import pytest

        pytestmark = pytest.mark.smoke

        @pytest.mark.parametrize("n", range(3))
        def test_everywhere(host, n):
            assert host.run("true").rc == 0

        @pytest.mark.only_hosts("web")
        def test_web(host):
            assert host.file("/etc/hostname").exists

        @pytest.mark.contract
        def test_fails_on_local(host):
            assert host.backend.NAME != "local"
    """)

    def run(*args: str) -> dict[str, Any]:
        result = pytester.runpytest_subprocess("--deploy-target=fleet", "-p", "no:cacheprovider",
                                               *args)
        assert result.ret == 1, result.stdout.str()
        ext = deployability(pytester)
        ext["checks"] = sorted(
            ({k: v for k, v in c.items() if k != "durationMs"} for c in ext["checks"]),
            key=lambda c: c["id"],
        )
        for key in ("startedOn", "finishedOn"):
            ext.pop(key)
        return ext

    serial, parallel = run("-n", "0"), run("-n", "2")
    assert serial == parallel
    # Three hosts answer: 3 x 3 instances everywhere, 2 web hosts, 2 non-local hosts.
    assert serial["summary"]["passed"] == 3 * 3 + 2 + 2
    assert len(serial["hosts"]) == 4


def test_the_gate_accepts_a_host_verdict_and_refuses_edited_host_counts(
    pytester: pytest.Pytester, ssh_server: SshServer
) -> None:
    from pytest_deployable.gate import VerdictFileError, check_statement

    fleet_targets(pytester, ["local://", ssh_server.spec("ssh", port=1)], timeout=2)
    pytester.makepyfile("""
        import pytest

        @pytest.mark.smoke
        def test_machine(host):
            pass
    """)
    pytester.runpytest("--deploy-target=fleet")
    data = json.loads((pytester.path / "deploy-verdict.json").read_text())
    check_statement(data)
    data["predicate"]["deployability"]["hosts"][1]["errors"] = 0
    with pytest.raises(VerdictFileError, match=r"hosts\[1\]\.errors is 0 but 1 checks"):
        check_statement(data)


def test_reasons_count_failed_hosts_per_check() -> None:
    checks = [
        CheckResult(f"t.py::test_nginx[ssh://web{n}]", "smoke", True,
                    Outcome.FAILED if n in (3, 7, 9) else Outcome.PASSED, host=f"ssh://web{n}")
        for n in range(40)
    ]
    checks.append(CheckResult("t.py::test_api", "smoke", True, Outcome.FAILED))
    verdict = decide(checks)
    assert verdict.reasons == (
        "1 blocking check failed: t.py::test_api",
        "blocking check t.py::test_nginx failed on 3 of 40 hosts: ssh://web3, ssh://web7, "
        "ssh://web9",
    )


@pytest.mark.parametrize(("check_id", "host", "check"), [
    ("t.py::test_a[ssh://web-1:22]", "ssh://web-1:22", "t.py::test_a"),
    ("t.py::test_a[ssh://web-1:22-80]", "ssh://web-1:22", "t.py::test_a[80]"),
    ("t.py::test_a[80-ssh://web-1:22]", "ssh://web-1:22", "t.py::test_a[80]"),
    ("t.py::test_a[80]", None, "t.py::test_a[80]"),
])
def test_a_host_check_instance_knows_its_check(check_id: str, host: str | None,
                                               check: str) -> None:
    assert CheckResult(check_id, "smoke", True, Outcome.PASSED, host=host).check == check


def test_roles_in_the_targets_file(tmp_path: Path) -> None:
    from pytest_deployable.targets import (
        Target,
        TargetError,
        load_targets_file,
        resolve_target,
    )

    path = tmp_path / "deploy-targets.toml"
    path.write_text(
        '[targets.prod]\nhosts = ["ssh://lb1"]\n'
        '[targets.prod.roles]\nweb = ["ssh://web1", "ssh://${WEB2}"]\nlb = ["ssh://lb1"]\n'
    )
    target = resolve_target(load_targets_file(path), "prod", environ={"WEB2": "web2.internal"})
    assert target.fleet == ("ssh://lb1", "ssh://web1", "ssh://web2.internal")
    assert dict(target.roles) == {"web": ("ssh://web1", "ssh://web2.internal"),
                                  "lb": ("ssh://lb1",)}
    assert "web2.internal" in target.secrets
    assert Target.from_dict(target.to_dict()) == target
    path.write_text('[targets.prod]\nroles = { web = "ssh://web1" }\n')
    with pytest.raises(TargetError, match=r"targets\.prod\.roles must be a table of role names"):
        load_targets_file(path)


def test_markdown_summary_has_a_hosts_table_and_ssh_masters_are_stopped(
    pytester: pytest.Pytester, ssh_server: SshServer
) -> None:
    fleet_targets(pytester, [ssh_server.spec("ssh"), ssh_server.spec("ssh", port=1)], timeout=2)
    pytester.makepyfile("""
        import pytest

        @pytest.mark.smoke
        def test_machine(host):
            with open("control.txt", "a") as handle:
                handle.write(host.backend.controlpath + "\\n")
            assert host.run("true").rc == 0
    """)
    result = pytester.runpytest_subprocess("--deploy-target=fleet", "--deploy-summary=sum.md",
                                           "-p", "no:cacheprovider")
    assert result.ret == 1
    markdown = (pytester.path / "sum.md").read_text()
    port = ssh_server.port
    assert "### Hosts\n\n1 of 2 hosts with failed checks.\n" in markdown
    assert ("| ssh://127.0.0.1:1 | 0 | 0 | 1 | 0 | 0 | 0 | 0 | "
            "test\\_markdown\\_summary") in markdown
    assert f"| ssh://127.0.0.1:{port} | 1 | 0 | 0 |" in markdown
    # The control master of the live host was stopped and its directory removed.
    control = Path((pytester.path / "control.txt").read_text().splitlines()[0])
    assert not control.parent.exists()
