"""Optional per-check hooks and lazy imports: a run pays only for what it uses, and still
fails closed (pytest_deployable/check_hooks.py; bench/overhead.py measures the cost).

Each test runs a real pytest session against a real loopback server and reads back
which of the plugin's hook objects the session registered (a conftest writes their
names at the end) and the verdict file; the refused and destructive cases count the
requests the server received.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from conftest import Server

VerdictOf = Callable[..., dict[str, Any]]

#: Writes the names of the plugin's registered hook objects, and the plugin's
#: modules this process imported, when the session ends.
RECORDER = """
import json, sys

def pytest_sessionfinish(session):
    if hasattr(session.config, "workerinput"):
        return
    manager = session.config.pluginmanager
    names = sorted(name for name, _ in manager.list_name_plugin()
                   if name and name.startswith("deployable-"))
    modules = sorted(m for m in sys.modules if m.startswith("pytest_deployable"))
    with open("seen.json", "w") as out:
        json.dump({"plugins": names, "modules": modules}, out)
"""

OPTIONAL = {"deployable-refusals", "deployable-retries", "deployable-destructive",
            "deployable-crash-watchdog", "deployable-metrics"}


def seen(pytester: pytest.Pytester) -> dict[str, list[str]]:
    data: dict[str, list[str]] = json.loads((pytester.path / "seen.json").read_text())
    return data


def checks(verdict: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = verdict["predicate"]["deployability"]["checks"]
    return {check["id"].rsplit("::", 1)[-1]: check for check in found}


def test_a_plain_run_registers_no_optional_per_check_hook(
    pytester: pytest.Pytester, server: Server, verdict_of: VerdictOf
) -> None:
    pytester.makeconftest(RECORDER)
    pytester.makepyfile("""
        import pytest

        @pytest.mark.smoke
        def test_health(http):
            http.get("/health").raise_for_status()

        @pytest.mark.smoke
        def test_fails():
            assert False, "broken"
    """)
    result = pytester.runpytest(f"--deploy-target={server.url}")
    assert result.ret == 1
    assert not OPTIONAL & set(seen(pytester)["plugins"])
    assert "deployable-gate" in seen(pytester)["plugins"]
    # Without them the run still records every check and fails on the broken one.
    assert verdict_of()["predicate"]["deployability"]["verdict"] == "NOT_DEPLOYABLE"
    assert {name: check["outcome"] for name, check in checks(verdict_of()).items()} == {
        "test_health": "passed", "test_fails": "failed"}


def test_a_refused_check_registers_the_refusal_and_never_reaches_the_target(
    pytester: pytest.Pytester, server: Server, verdict_of: VerdictOf
) -> None:
    pytester.makeconftest(RECORDER)
    pytester.path.joinpath("deploy-targets.toml").write_text(
        f'[targets.prod]\nbase_url = "{server.url}"\nprotected = true\n'
        f'[targets.dev]\nbase_url = "{server.url}"\n'
    )
    pytester.makepyfile("""
        import pytest

        @pytest.mark.smoke
        def test_read(http):
            http.get("/health").raise_for_status()

        @pytest.mark.smoke
        @pytest.mark.destructive
        def test_write(http):
            http.post("/items")

        @pytest.mark.smoke
        @pytest.mark.only_targets("dev")
        def test_dev_only(http):
            http.delete("/items")
    """)
    pytester.runpytest("--deploy-target=prod")
    assert "deployable-refusals" in seen(pytester)["plugins"]
    assert "deployable-destructive" not in seen(pytester)["plugins"]
    outcomes = {name: check["outcome"] for name, check in checks(verdict_of()).items()}
    assert outcomes == {"test_read": "passed", "test_write": "refused",
                        "test_dev_only": "notApplicable"}
    assert server.methods() == ["GET"]


def test_allow_destructive_registers_the_window_and_only_the_marked_check_writes(
    pytester: pytest.Pytester, server: Server, verdict_of: VerdictOf
) -> None:
    pytester.makeconftest(RECORDER)
    pytester.path.joinpath("deploy-targets.toml").write_text(
        f'[targets.prod]\nbase_url = "{server.url}"\nprotected = true\n'
    )
    server.route("/items", 201, {})
    pytester.makepyfile("""
        import pytest

        @pytest.mark.smoke
        @pytest.mark.destructive
        def test_write(http):
            http.post("/items").raise_for_status()

        @pytest.mark.smoke
        def test_sneaky_write(http):
            http.post("/items")
    """)
    result = pytester.runpytest("--deploy-target=prod", "--allow-destructive")
    assert result.ret == 1
    assert "deployable-destructive" in seen(pytester)["plugins"]
    outcomes = {name: check["outcome"] for name, check in checks(verdict_of()).items()}
    assert outcomes == {"test_write": "passed", "test_sneaky_write": "failed"}
    assert server.methods() == ["POST"]


def test_a_within_check_registers_the_retries_and_is_retried(
    pytester: pytest.Pytester, server: Server, verdict_of: VerdictOf
) -> None:
    pytester.makeconftest(RECORDER)
    # 200s, so that the http session's own retries (of 5xx answers) stay out of it.
    server.recovers_after("/ready", 2, before=(200, {"ready": False}),
                          then=(200, {"ready": True}))
    pytester.makepyfile("""
        import pytest

        @pytest.mark.post_deploy(within="30s", every="0.05s")
        def test_ready(http):
            assert http.get("/ready").json()["ready"]
    """)
    result = pytester.runpytest(f"--deploy-target={server.url}")
    assert result.ret == 0
    assert "deployable-retries" in seen(pytester)["plugins"]
    assert checks(verdict_of())["test_ready"]["attempts"] == 3
    assert server.methods() == ["GET"] * 3


def test_metric_reports_are_registered_for_a_target_with_prometheus(
    pytester: pytest.Pytester, server: Server
) -> None:
    pytester.makeconftest(RECORDER)
    pytester.path.joinpath("deploy-targets.toml").write_text(
        f'[targets.app]\nbase_url = "{server.url}"\nprometheus = "{server.url}"\n'
    )
    pytester.makepyfile("""
        import pytest

        @pytest.mark.smoke
        def test_health(http):
            http.get("/health").raise_for_status()
    """)
    assert pytester.runpytest("--deploy-target=app").ret == 0
    assert "deployable-metrics" in seen(pytester)["plugins"]


def test_a_run_imports_only_the_modules_it_uses(
    pytester: pytest.Pytester, server: Server, verdict_of: VerdictOf
) -> None:
    # Subprocesses: a fresh interpreter, so sys.modules shows this run's imports only.
    pytester.makeconftest(RECORDER)
    pytester.makepyfile("""
        import pytest

        @pytest.mark.smoke
        def test_health(http):
            http.get("/health").raise_for_status()

        def test_unit():
            pass
    """)
    optional = {"pytest_deployable.contract", "pytest_deployable.metrics",
                "pytest_deployable.prometheus", "pytest_deployable.database",
                "pytest_deployable.keys", "pytest_deployable.version",
                "pytest_deployable.watchdog", "pytest_deployable.http"}
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=1, skipped=1)
    plain = set(seen(pytester)["modules"])
    assert not plain & (optional | {"pytest_deployable.run", "pytest_deployable.verdict",
                                    "pytest_deployable.targets", "pytest_deployable.hosts"})

    result = pytester.runpytest_subprocess(f"--deploy-target={server.url}")
    assert result.ret == 0
    gate = set(seen(pytester)["modules"])
    # The http fixture was used, so its module is imported; the others were not.
    assert "pytest_deployable.run" in gate
    assert "pytest_deployable.http" in gate
    assert not gate & (optional - {"pytest_deployable.http"})
    assert verdict_of()["predicate"]["deployability"]["verdict"] == "DEPLOYABLE"
