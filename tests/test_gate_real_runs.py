"""The gate step and the CI reports, on files that real pytest runs wrote."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import Server

SUITE = """
import pytest

@pytest.mark.smoke
def test_health(http):
    http.get("/health").raise_for_status()

@pytest.mark.contract
def test_items(http):
    assert http.get("/items").status_code == 200

@pytest.mark.post_deploy(blocking=False)
def test_advisory():
    assert False, "slow recommendations"

@pytest.mark.post_deploy
@pytest.mark.destructive
def test_write(http):
    http.post("/items")
"""


def gate(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest_deployable", "gate", str(path), *args],
        capture_output=True, text=True, timeout=60, check=False,
    )


def targets(pytester: pytest.Pytester, server: Server) -> None:
    pytester.path.joinpath("deploy-targets.toml").write_text(
        f'[targets.staging]\nbase_url = "{server.url}"\n'
        f'[targets.production]\nbase_url = "{server.url}"\n'
    )


def test_a_deployable_run_passes_the_gate_and_nothing_else_does(
    pytester: pytest.Pytester, server: Server
) -> None:
    targets(pytester, server)
    server.route("/items", 200, [])
    pytester.makepyfile(SUITE)
    result = pytester.runpytest("--deploy-target=staging", "--deploy-version=1.4.2")
    assert result.ret == 0
    verdict = pytester.path / "deploy-verdict.json"

    passed = gate(verdict, "--target", "staging", "--version", "1.4.2", "--max-age", "10m")
    assert passed.returncode == 0, passed.stderr
    assert passed.stdout.startswith("deployable gate: DEPLOYABLE_WITH_WARNINGS")

    strict = gate(verdict, "--strict")
    assert strict.returncode == 1
    assert "DEPLOYABLE_WITH_WARNINGS" in strict.stderr

    other = gate(verdict, "--target", "production")
    assert other.returncode == 4
    assert "is for target 'staging', not 'production'" in other.stderr

    wrong = gate(verdict, "--version", "1.4.3")
    assert wrong.returncode == 4

    # Edit the verdict by hand: the gate notices and refuses.
    text = verdict.read_text().replace('"DEPLOYABLE_WITH_WARNINGS"', '"DEPLOYABLE"')
    verdict.write_text(text.replace('"WARNED"', '"PASSED"'))
    edited = gate(verdict)
    assert edited.returncode == 3
    assert len(edited.stderr.strip().splitlines()) == 1
    assert "Traceback" not in edited.stderr


def test_a_broken_run_is_refused_by_the_gate(pytester: pytest.Pytester, server: Server) -> None:
    targets(pytester, server)  # /items answers 404: the contract check fails
    pytester.makepyfile(SUITE)
    assert pytester.runpytest("--deploy-target=staging").ret == 1
    refused = gate(pytester.path / "deploy-verdict.json", "--target", "staging")
    assert refused.returncode == 1
    assert refused.stderr.startswith("deployable gate: NOT_DEPLOYABLE: 1 blocking check failed:")
    assert "test_items" in refused.stderr


def test_an_inconclusive_run_exits_6_at_the_gate(pytester: pytest.Pytester,
                                                 server: Server) -> None:
    targets(pytester, server)
    pytester.makepyfile("def test_unit(): pass")
    assert pytester.runpytest("--deploy-target=staging").ret == 6
    assert gate(pytester.path / "deploy-verdict.json").returncode == 6


def test_junit_and_markdown_reports_of_a_real_run(
    pytester: pytest.Pytester, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    targets(pytester, server)
    pytester.makepyfile(SUITE)
    step_summary = pytester.path / "step-summary.md"
    step_summary.write_text("# earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step_summary))
    result = pytester.runpytest("--deploy-target=production", "--deploy-junit=reports/gate.xml",
                                "--deploy-summary=reports/summary.md")
    assert result.ret == 1

    root = ET.parse(pytester.path / "reports" / "gate.xml").getroot()
    suites = {suite.get("name"): suite for suite in root.iter("testsuite")}
    assert set(suites) == {"deployable.smoke", "deployable.contract", "deployable.post_deploy",
                           "deployable.gate"}
    gate_case = suites["deployable.gate"].find("testcase")
    assert gate_case is not None
    failure = gate_case.find("failure")
    assert failure is not None
    assert "NOT_DEPLOYABLE" in (failure.get("message") or "")
    contract = suites["deployable.contract"].find("testcase")
    assert contract is not None
    assert contract.find("failure") is not None
    post = {case.get("name", "").split("::")[-1]: case
            for case in suites["deployable.post_deploy"].iter("testcase")}
    assert post["test_advisory"].find("skipped") is not None  # advisory: never a red mark
    skipped = post["test_write"].find("skipped")
    assert skipped is not None
    assert "refused" in (skipped.get("message") or "")

    markdown = (pytester.path / "reports" / "summary.md").read_text()
    # Markdown escapes the underscore; it renders as NOT_DEPLOYABLE.
    assert markdown.startswith("## Deployability: NOT\\_DEPLOYABLE (FAILED)")
    appended = step_summary.read_text()
    assert appended.startswith("# earlier step\n")
    assert markdown.strip() in appended
