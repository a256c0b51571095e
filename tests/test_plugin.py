"""Whole pytest sessions with the plugin against a real local server."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from conftest import Server

VerdictOf = Callable[..., dict[str, Any]]


def deployability(data: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = data["predicate"]["deployability"]
    return result


SUITE = """
import pytest

@pytest.mark.smoke
def test_health(http):
    assert http.get("/health").json() == {"status": "ok"}

@pytest.mark.contract
def test_contract(http):
    assert http.get("/health").headers["Content-Type"] == "application/json"

@pytest.mark.post_deploy(blocking=False)
def test_advisory(deploy_target):
    assert deploy_target.variables == {}

def test_unit():
    assert 1 + 1 == 2
"""


def test_a_passing_suite_is_deployable(
    pytester: pytest.Pytester, server: Server, verdict_of: VerdictOf
) -> None:
    pytester.makepyfile(SUITE)
    result = pytester.runpytest(f"--deploy-target={server.url}", "--deploy-version=1.4.2",
                                "--deploy-commit=0123456789abcdef0123456789abcdef01234567")
    assert result.ret == 0
    result.stdout.fnmatch_lines([
        f"deploy target: {server.url} ({server.url})",
        "*= deployability: DEPLOYABLE =*",
        "*verdict file: *deploy-verdict.json",
        "*3 passed, 1 deselected*",
    ])
    data = verdict_of()
    assert data["_type"] == "https://in-toto.io/Statement/v1"
    assert data["predicateType"] == "https://in-toto.io/attestation/test-result/v0.1"
    assert data["subject"][0]["digest"] == {
        "gitCommit": "0123456789abcdef0123456789abcdef01234567"
    }
    assert data["predicate"]["result"] == "PASSED"
    assert data["predicate"]["configuration"][0]["annotations"] == {"deployTarget": server.url}
    ext = deployability(data)
    assert ext["verdict"] == "DEPLOYABLE"
    assert ext["version"] == "1.4.2"
    assert ext["target"] == {"name": server.url, "uri": server.url, "protected": False}
    assert ext["summary"] == {"passed": 3, "failed": 0, "errors": 0, "skipped": 0,
                              "refused": 0, "notApplicable": 0, "notRun": 0}
    # smoke runs first, then contract, then post_deploy; the unit test is not a check.
    assert [(c["id"].split("::")[1], c["category"], c["blocking"]) for c in ext["checks"]] == [
        ("test_health", "smoke", True),
        ("test_contract", "contract", True),
        ("test_advisory", "post_deploy", False),
    ]
    assert all(c["attempts"] == 1 and c["outcome"] == "passed" for c in ext["checks"])
    assert [r.path for r in server.received] == ["/health", "/health"]


def test_without_a_target_checks_skip_and_nothing_is_written(
    pytester: pytest.Pytester, server: Server
) -> None:
    pytester.makepyfile(SUITE)
    result = pytester.runpytest("-rs")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*no --deploy-target given*", "*1 passed, 3 skipped*"])
    assert "deployability" not in result.stdout.str()
    assert not (pytester.path / "deploy-verdict.json").exists()
    assert server.received == []


def test_the_plugin_can_be_turned_off(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(SUITE.replace("http", "deploy_target"))
    result = pytester.runpytest("-p", "no:deployable")
    result.assert_outcomes(passed=1, errors=3)
    result.stdout.fnmatch_lines(["*fixture 'deploy_target' not found*"])


def test_markers_are_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines([
        "@pytest.mark.smoke(blocking=True, within=None, every=None): *",
        "@pytest.mark.contract(blocking=True, within=None, every=None): *",
        "@pytest.mark.post_deploy(blocking=True, within=None, every=None): *",
        "@pytest.mark.destructive: *",
        "@pytest.mark.only_targets(*names): *",
    ])
    pytester.makepyfile(SUITE)
    assert pytester.runpytest("--strict-markers").ret == 0


def test_a_failing_blocking_check_is_not_deployable(
    pytester: pytest.Pytester, server: Server, verdict_of: VerdictOf
) -> None:
    server.route("/health", 503, {"status": "down"})
    pytester.makepyfile(SUITE)
    result = pytester.runpytest(f"--deploy-target={server.url}")
    assert result.ret == 1
    result.stdout.fnmatch_lines([
        "*= deployability: NOT_DEPLOYABLE =*",
        "*1 blocking check failed: test_a_failing_blocking_check_is_not_deployable.py::"
        "test_health*",
    ])
    ext = deployability(verdict_of())
    assert ext["verdict"] == "NOT_DEPLOYABLE"
    assert ext["checks"][0]["outcome"] == "failed"
    assert "AssertionError" in ext["checks"][0]["message"]
    assert verdict_of()["predicate"]["failedTests"] == [ext["checks"][0]["id"]]
    # Idempotent GETs are retried on 503 (retries = 2 by default): 3 requests per check.
    assert [r.path for r in server.received].count("/health") == 3 * 2


@pytest.mark.parametrize("phase", ["setup", "teardown"])
def test_a_fixture_error_in_a_blocking_check_is_not_deployable(
    pytester: pytest.Pytester, server: Server, verdict_of: VerdictOf, phase: str
) -> None:
    pytester.makepyfile(f"""
        import pytest

        @pytest.fixture
        def broken():
            if "{phase}" == "setup":
                raise RuntimeError("database not ready")
            yield
            raise RuntimeError("cleanup failed")

        @pytest.mark.smoke
        def test_ok(http):
            pass

        @pytest.mark.smoke
        def test_with_fixture(broken):
            pass
    """)
    result = pytester.runpytest(f"--deploy-target={server.url}")
    assert result.ret == 1
    checks = deployability(verdict_of())["checks"]
    assert [c["outcome"] for c in checks] == ["passed", "error"]
    assert deployability(verdict_of())["summary"]["errors"] == 1


def test_an_advisory_failure_warns_and_strict_makes_it_fail(
    pytester: pytest.Pytester, server: Server, verdict_of: VerdictOf
) -> None:
    pytester.makepyfile("""
        import pytest

        @pytest.mark.smoke
        def test_ok(http):
            http.get("/health").raise_for_status()

        @pytest.mark.smoke(blocking=False)
        def test_slow(http):
            assert http.get("/missing").status_code == 200
    """)
    result = pytester.runpytest(f"--deploy-target={server.url}")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*= deployability: DEPLOYABLE_WITH_WARNINGS =*"])
    data = verdict_of()
    assert data["predicate"]["result"] == "WARNED"
    checks = data["predicate"]["deployability"]["checks"]
    assert data["predicate"]["warnedTests"] == [checks[1]["id"]]
    assert pytester.runpytest(f"--deploy-target={server.url}", "--deploy-strict").ret == 1


def test_no_check_selected_is_inconclusive(
    pytester: pytest.Pytester, server: Server, verdict_of: VerdictOf
) -> None:
    pytester.makepyfile("def test_unit(): pass")
    result = pytester.runpytest(f"--deploy-target={server.url}")
    assert result.ret == 6
    result.stdout.fnmatch_lines([
        "*= deployability: INCONCLUSIVE =*", "*no check was selected for this target*"
    ])
    assert verdict_of()["predicate"]["result"] == "FAILED"


def test_a_collection_error_is_inconclusive(
    pytester: pytest.Pytester, server: Server, verdict_of: VerdictOf
) -> None:
    pytester.makepyfile(
        test_good="import pytest\n@pytest.mark.smoke\ndef test_ok(): pass\n",
        test_bad="import pytest\nimport not_a_module_anywhere\n",
    )
    result = pytester.runpytest(f"--deploy-target={server.url}")
    assert result.ret == 6
    ext = deployability(verdict_of())
    assert ext["verdict"] == "INCONCLUSIVE"
    assert "1 collection error: checks may be missing" in ext["reasons"]


def test_markers_on_classes_and_modules_count(
    pytester: pytest.Pytester, server: Server, verdict_of: VerdictOf
) -> None:
    pytester.makepyfile("""
        import pytest

        pytestmark = pytest.mark.contract

        def test_module_level():
            pass

        @pytest.mark.smoke(blocking=False)
        class TestAdvisory:
            def test_in_class(self):
                pass
    """)
    assert pytester.runpytest(f"--deploy-target={server.url}").ret == 0
    checks = deployability(verdict_of())["checks"]
    # TestAdvisory is smoke (first in run order) and blocking through the module's contract.
    assert [(c["id"].split("::", 1)[1], c["category"], c["blocking"]) for c in checks] == [
        ("TestAdvisory::test_in_class", "smoke", True),
        ("test_module_level", "contract", True),
    ]


def test_only_targets_makes_other_targets_not_applicable(
    pytester: pytest.Pytester, server: Server, verdict_of: VerdictOf
) -> None:
    pytester.path.joinpath("deploy-targets.toml").write_text(
        f'[targets.local]\nbase_url = "{server.url}"\n'
        f'[targets.other]\nbase_url = "{server.url}"\n'
    )
    pytester.makepyfile("""
        import pytest

        @pytest.mark.smoke
        def test_everywhere(http):
            pass

        @pytest.mark.smoke
        @pytest.mark.only_targets("other")
        def test_other_only(http):
            pass
    """)
    result = pytester.runpytest("--deploy-target=local", "-rs")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*not applicable to target 'local'*"])
    ext = deployability(verdict_of())
    assert ext["verdict"] == "DEPLOYABLE"
    assert [c["outcome"] for c in ext["checks"]] == ["passed", "notApplicable"]
    assert ext["summary"]["notApplicable"] == 1


def test_named_target_from_file_and_env_variable(
    pytester: pytest.Pytester, server: Server, verdict_of: VerdictOf,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytester.path.joinpath("targets").mkdir()
    pytester.path.joinpath("targets", "envs.toml").write_text(
        f'[targets.qa]\nbase_url = "{server.url}"\nvariables = {{ tenant = "t1" }}\n'
    )
    pytester.makeini("[pytest]\ndeploy_targets_file = targets/envs.toml\n")
    pytester.makepyfile("""
        import pytest

        @pytest.mark.smoke
        def test_vars(deploy_target):
            assert deploy_target.variables["tenant"] == "t1"
            assert deploy_target.version == "2.0.0"
    """)
    monkeypatch.setenv("DEPLOYABLE_TARGET", "qa")
    monkeypatch.setenv("DEPLOYABLE_VERSION", "2.0.0")
    result = pytester.runpytest("--deploy-verdict=out/verdict.json")
    assert result.ret == 0
    data = verdict_of("out/verdict.json")
    assert data["predicate"]["configuration"][0]["name"] == "envs.toml"
    assert deployability(data)["target"]["name"] == "qa"


def test_the_verdict_file_is_replaced_whole(
    pytester: pytest.Pytester, server: Server, verdict_of: VerdictOf
) -> None:
    pytester.makepyfile(SUITE)
    path = pytester.path / "deploy-verdict.json"
    path.write_text('{"old": true}')
    assert pytester.runpytest(f"--deploy-target={server.url}").ret == 0
    assert json.loads(path.read_text())["predicate"]["result"] == "PASSED"
    # No temporary file is left beside it.
    assert sorted(p.name for p in pytester.path.iterdir() if "deploy-verdict" in p.name) == [
        "deploy-verdict.json"
    ]


def test_an_unwritable_verdict_path_is_a_clear_error(
    pytester: pytest.Pytester, server: Server
) -> None:
    pytester.makepyfile(SUITE)
    pytester.path.joinpath("blocker").write_text("a file, not a directory")
    result = pytester.runpytest(f"--deploy-target={server.url}",
                                "--deploy-verdict=blocker/verdict.json")
    assert result.ret == 6
    assert "ERROR: cannot write" in result.stderr.str()
    result.stdout.fnmatch_lines(["*verdict file: NOT WRITTEN*"])
