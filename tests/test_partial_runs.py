"""Partial runs: a verdict speaks for the whole suite, or says it does not (SPEC §10)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import Server, require

from pytest_deployable.cli import main as deployable

SUITE = """
import pytest

@pytest.mark.smoke
def test_health(http):
    http.get("/health").raise_for_status()

@pytest.mark.smoke
def test_broken(http):
    assert http.get("/missing").status_code == 200

@pytest.mark.contract
def test_contract(http):
    http.get("/health").raise_for_status()

def test_unit():
    pass
"""


def ours(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    result: dict[str, Any] = data["predicate"]["deployability"]
    return result


def gate(path: Path, *args: str) -> int:
    return deployable(["gate", str(path), *args])


@pytest.mark.parametrize(
    ("args", "how"),
    [
        (["-k", "not broken"], "-k 'not broken'"),
        (["-m", "not smoke or contract"], "-m"),
        (["--deselect", "test_suite.py::test_broken"], "deselected"),
        (["test_suite.py::test_health", "test_suite.py::test_contract"], "node-id arguments"),
    ],
    ids=["keyword", "marker", "deselect", "node-ids"],
)
def test_a_partial_run_is_at_best_a_warning_and_the_gate_refuses_it(
    pytester: pytest.Pytester, server: Server, args: list[str], how: str
) -> None:
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest(f"--deploy-target={server.url}", "-p", "no:cacheprovider", *args)
    data = ours(pytester.path / "deploy-verdict.json")
    selection = data["selection"]
    assert selection["complete"] is False
    assert "test_suite.py::test_broken" not in [c["id"] for c in data["checks"]]
    if how == "-m":
        assert selection["markers"] == "not smoke or contract"
        assert data["verdict"] == "DEPLOYABLE_WITH_WARNINGS"
    else:
        assert data["verdict"] == "DEPLOYABLE_WITH_WARNINGS"
    assert result.ret == 0
    assert any("partial run" in reason for reason in data["reasons"]), data["reasons"]
    result.stdout.fnmatch_lines(["*= deployability: DEPLOYABLE_WITH_WARNINGS =*", "*partial run*"])
    assert gate(pytester.path / "deploy-verdict.json") == 7
    assert gate(pytester.path / "deploy-verdict.json", "--allow-partial") == 0
    if how == "deselected":
        assert selection["deselected"] == ["test_suite.py::test_broken"]
    if how == "node-id arguments":
        assert selection["args"] == ["test_suite.py::test_health", "test_suite.py::test_contract"]


def test_a_complete_run_records_its_selection(pytester: pytest.Pytester, server: Server) -> None:
    pytester.makepyfile(test_suite=SUITE.replace("/missing", "/health"))
    result = pytester.runpytest(f"--deploy-target={server.url}", "-p", "no:cacheprovider",
                                "-k", "test_health or test_broken or test_contract or unit")
    assert result.ret == 0
    data = ours(pytester.path / "deploy-verdict.json")
    assert data["verdict"] == "DEPLOYABLE"
    assert data["selection"] == {
        "complete": True, "deselected": [], "skippedAtCollection": [],
        "keyword": "test_health or test_broken or test_contract or unit", "markers": None,
        "lastFailed": False, "args": [],
    }
    assert gate(pytester.path / "deploy-verdict.json") == 0


def test_last_failed_reruns_are_partial(pytester: pytest.Pytester, server: Server) -> None:
    pytester.makepyfile(test_suite=SUITE)
    pytester.makepyfile(test_other="""
        import pytest

        @pytest.mark.smoke
        def test_elsewhere():
            pass
    """)
    first = pytester.runpytest(f"--deploy-target={server.url}")
    assert first.ret == 1
    server.route("/missing", 200, {})  # "the fix"
    second = pytester.runpytest(f"--deploy-target={server.url}", "--lf")
    data = ours(pytester.path / "deploy-verdict.json")
    assert [c["id"] for c in data["checks"]] == ["test_suite.py::test_broken"]
    assert data["selection"]["lastFailed"] is True
    assert data["selection"]["complete"] is False
    assert data["verdict"] == "DEPLOYABLE_WITH_WARNINGS"
    assert second.ret == 0
    assert gate(pytester.path / "deploy-verdict.json") == 7


def test_stepwise_skips_the_checks_before_the_last_failure(
    pytester: pytest.Pytester, server: Server
) -> None:
    pytester.makepyfile(test_suite=SUITE)
    pytester.runpytest(f"--deploy-target={server.url}", "--sw")
    server.route("/missing", 200, {})
    pytester.runpytest(f"--deploy-target={server.url}", "--sw")
    data = ours(pytester.path / "deploy-verdict.json")
    assert data["selection"]["complete"] is False
    assert data["selection"]["deselected"] == ["test_suite.py::test_health"]
    assert data["verdict"] == "DEPLOYABLE_WITH_WARNINGS"
    assert gate(pytester.path / "deploy-verdict.json") == 7


def test_a_plugin_that_deselects_checks_makes_the_run_partial(
    pytester: pytest.Pytester, server: Server
) -> None:
    pytester.makepyfile(test_suite=SUITE)
    pytester.makeconftest("""
        def pytest_collection_modifyitems(config, items):
            dropped = [item for item in items if "broken" in item.name]
            items[:] = [item for item in items if item not in dropped]
            config.hook.pytest_deselected(items=dropped)
    """)
    result = pytester.runpytest(f"--deploy-target={server.url}", "-p", "no:cacheprovider")
    data = ours(pytester.path / "deploy-verdict.json")
    assert data["selection"]["deselected"] == ["test_suite.py::test_broken"]
    assert data["verdict"] == "DEPLOYABLE_WITH_WARNINGS"
    assert result.ret == 0


MODULE_SKIP = """
import pytest

pytest.importorskip("no_such_module_for_deployable")

@pytest.mark.smoke
def test_needs_it():
    pass
"""


@pytest.mark.parametrize("workers", ["0", "2"])
def test_a_module_skipped_at_collection_counts_as_a_skipped_blocking_check(
    pytester: pytest.Pytester, server: Server, workers: str
) -> None:
    if workers != "0":
        require("xdist")
    pytester.makepyfile(test_suite=SUITE.replace("/missing", "/health"), test_skipped=MODULE_SKIP)
    pytester.makepyfile(test_level="""
        import pytest
        pytest.skip("not on this platform", allow_module_level=True)
    """)
    result = pytester.runpytest_subprocess(f"--deploy-target={server.url}", "-p",
                                           "no:cacheprovider", "-n", workers)
    data = ours(pytester.path / "deploy-verdict.json")
    assert data["verdict"] == "DEPLOYABLE_WITH_WARNINGS", data["reasons"]
    assert sorted(data["selection"]["skippedAtCollection"]) == ["test_level.py",
                                                                 "test_skipped.py"]
    skipped = {c["id"]: c for c in data["checks"] if c["outcome"] == "skipped"}
    assert set(skipped) == {"test_level.py", "test_skipped.py"}
    assert all(c["blocking"] for c in skipped.values())
    assert "no_such_module_for_deployable" in str(skipped["test_skipped.py"]["message"])
    assert data["summary"]["skipped"] == 2
    assert result.ret == 0
    assert gate(pytester.path / "deploy-verdict.json") == 7


@pytest.mark.parametrize("workers", ["0", "2"])
def test_deselection_is_recorded_under_xdist(
    pytester: pytest.Pytester, server: Server, workers: str
) -> None:
    require("xdist")
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest_subprocess(f"--deploy-target={server.url}", "-p",
                                           "no:cacheprovider", "-n", workers, "-k", "not broken")
    data = ours(pytester.path / "deploy-verdict.json")
    assert data["selection"]["deselected"] == ["test_suite.py::test_broken"]
    assert data["selection"]["keyword"] == "not broken"
    assert data["verdict"] == "DEPLOYABLE_WITH_WARNINGS"
    assert result.ret == 0
    assert gate(pytester.path / "deploy-verdict.json") == 7


def test_a_verdict_without_a_selection_record_is_treated_as_partial(
    pytester: pytest.Pytester, server: Server
) -> None:
    pytester.makepyfile(test_suite=SUITE.replace("/missing", "/health"))
    pytester.runpytest(f"--deploy-target={server.url}", "-p", "no:cacheprovider")
    path = pytester.path / "deploy-verdict.json"
    data = json.loads(path.read_text())
    assert gate(path) == 0
    del data["predicate"]["deployability"]["selection"]
    path.write_text(json.dumps(data))
    assert gate(path) == 7
    assert gate(path, "--allow-partial") == 0


def test_a_plugin_that_drops_checks_silently_makes_the_run_partial(
    pytester: pytest.Pytester, server: Server
) -> None:
    pytester.makepyfile(test_suite=SUITE)
    pytester.makeconftest("""
        def pytest_collection_modifyitems(items):
            items[:] = [item for item in items if "broken" not in item.name]
    """)
    result = pytester.runpytest(f"--deploy-target={server.url}", "-p", "no:cacheprovider")
    data = ours(pytester.path / "deploy-verdict.json")
    assert data["selection"]["deselected"] == ["test_suite.py::test_broken"]
    assert data["verdict"] == "DEPLOYABLE_WITH_WARNINGS"
    assert result.ret == 0
