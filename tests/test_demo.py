"""`make demo` from a fresh clone: every step behaves as designed, and says so."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from _service import EXAMPLES

DEMO = EXAMPLES / "demo.py"


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    """One run of the demo, writing its files to a temporary folder instead of .demo/."""
    if not any(ep.name == "deployable" for ep in entry_points(group="pytest11")):
        pytest.fail("pytest-deployable is not installed in this Python (pip install -e .)",
                    pytrace=False)
    workdir = tmp_path_factory.mktemp("demo")
    return subprocess.run(
        [sys.executable, str(DEMO), "--workdir", str(workdir)],
        capture_output=True, text=True, timeout=120, check=False,
    )


def test_demo_exits_0(demo_run: subprocess.CompletedProcess[str]) -> None:
    assert demo_run.returncode == 0, demo_run.stdout[-3000:] + demo_run.stderr[-3000:]
    assert demo_run.stderr == ""


def test_demo_announces_its_plan_and_every_step(
    demo_run: subprocess.CompletedProcess[str],
) -> None:
    out = demo_run.stdout
    for number in range(1, 9):
        assert f"\n  {number}. " in out
        assert f"== Step {number} of 8: " in out
    assert "All 8 steps behaved as designed." in out


def test_demo_shows_each_verdict(demo_run: subprocess.CompletedProcess[str]) -> None:
    lines = demo_run.stdout.splitlines()
    assert "  -> exit 0, verdict DEPLOYABLE; " in "\n".join(lines)
    assert "  -> the gate passes: exit 0" in lines
    assert "  -> exit 1, verdict NOT_DEPLOYABLE, because:" in lines
    assert any(line.startswith("  -> the gate refuses: exit ") for line in lines)
    refused = [line for line in lines if line.startswith("  -> exit 0, verdict DEPLOYABLE")]
    assert any("refused: " in line and "test_created_item_can_be_read_back" in line
               for line in refused)
    assert any("none of them a POST" in line for line in lines)


def test_demo_streams_the_commands_it_runs(demo_run: subprocess.CompletedProcess[str]) -> None:
    out = demo_run.stdout
    assert "python -m pytest examples/deploy --deploy-target=local --deploy-version=1.4.2" in out
    assert "python -m pytest_deployable gate " in out
    assert "\n   | " in out  # pytest's own output, indented
    assert str(Path(sys.executable)) not in out  # shown as `python`, as a person types it


def test_demo_records_its_runs_and_asks_can_i_deploy(
        demo_run: subprocess.CompletedProcess[str]) -> None:
    out = demo_run.stdout
    assert "ledger: recorded as verdict #1 in sqlite:///" in out
    assert "ledger: recorded as verdict #2 in sqlite:///" in out
    assert "python -m pytest_deployable can-i-deploy --version 1.4.2 --to local-prod" in out
    lines = out.splitlines()
    assert any(line.startswith(("  -> yes for 1.4.2", "  -> no for 1.4.2: its verdict file "
                                "does not record")) for line in lines)
    assert "  -> no for 1.5.0: its latest verdict on local is NOT_DEPLOYABLE (exit 1)" in lines
    assert "   | no: 1.5.0 may not go to local-prod" in lines
