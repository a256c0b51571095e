"""What users read when a check fails: the violation itself, failed waits, clean tracebacks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import Server

SUITE = """
import pytest

@pytest.mark.smoke
def test_payload(http):
    assert http.get("/health").json() == {"status": "degraded"}

@pytest.mark.smoke
def test_ready(eventually):
    def ready():
        assert False, "not ready yet"
    eventually(ready, within="300ms", every="100ms", what="the shop to be ready")

@pytest.mark.smoke
def test_waits_then_passes(eventually):
    calls = []
    def ready():
        calls.append(1)
        assert len(calls) > 2
    eventually(ready, within="30s", every="50ms", what="warm-up")

@pytest.mark.smoke
def test_after():
    pass
"""


def checks(path: Path) -> dict[str, dict[str, Any]]:
    data = json.loads(path.read_text())["predicate"]["deployability"]
    return {c["id"].split("::")[1]: c for c in data["checks"]}


def test_reports_keep_the_violation_and_failed_waits(
    pytester: pytest.Pytester, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")  # waits write plain lines, as in a CI log
    pytester.makepyfile(test_suite=SUITE)
    result = pytester.runpytest(f"--deploy-target={server.url}", "-p", "no:cacheprovider",
                                "--deploy-junit=junit.xml", "--deploy-summary=summary.md",
                                "--tb=long")
    assert result.ret == 1
    found = checks(pytester.path / "deploy-verdict.json")
    message = found["test_payload"]["message"]
    # More than the headline: the differing items a person needs.
    assert message.splitlines()[0].startswith("AssertionError: assert {'status': 'ok'} == ")
    assert "Differing items:" in message
    assert "{'status': 'ok'} != {'status': 'degraded'}" in message
    junit = (pytester.path / "junit.xml").read_text()
    assert "Differing items:" in junit
    assert "Differing items:" in (pytester.path / "summary.md").read_text()
    # A failed eventually records its wait, as a passed one does.
    waits = found["test_ready"]["waits"]
    assert waits[0]["what"] == "the shop to be ready"
    assert waits[0]["attempts"] >= 2
    assert found["test_waits_then_passes"]["waits"][0]["attempts"] == 3
    out = result.stdout.str()
    # The plugin's own frames are hidden from the traceback.
    assert "pytest_deployable/waiting.py" not in out
    assert "pytest_deployable/fixtures.py" not in out
    # A wait's line never lands in the middle of the progress line.
    lines = out.splitlines()
    waiting = [line for line in lines if "waiting up to" in line]
    assert waiting, out
    assert all(line.startswith("waiting up to") for line in waiting), waiting
    assert any(line.startswith("test_suite.py ") for line in lines)
