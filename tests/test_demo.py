"""`make demo` from a fresh clone: every step behaves as designed, and says so."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from _service import EXAMPLES
from conftest import IN_CI

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
    for number in range(1, 11):
        assert f"\n  {number}. " in out
        assert f"== Step {number} of 10: " in out
    assert "All 10 steps behaved as designed." in out


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


def test_demo_holds_the_release_on_its_error_rate(
    demo_run: subprocess.CompletedProcess[str],
) -> None:
    out = demo_run.stdout
    assert "== Metric analysis (Prometheus): the broken build's error rate ==" in out
    if shutil.which("prometheus") is None:
        if IN_CI:
            pytest.fail("prometheus is missing in CI (apt-get install prometheus)",
                        pytrace=False)
        assert "  -> skipped: Prometheus is not installed on this machine" in out
        return
    assert ("  -> exit 1, verdict NOT_DEPLOYABLE: the release is held because its error rate "
            "rose. The verdict file records:") in out
    assert ('     query: sum(rate(shop_http_requests_total{code=~"5.."}[1m])) / '
            "sum(rate(shop_http_requests_total[1m]))") in out
    assert "     value: 0.25 at " in out
    assert "(expected < 0.01)" in out


def test_demo_without_prometheus_says_so_and_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # a machine without prometheus on its PATH
    spec = importlib.util.spec_from_file_location("demo_module", DEMO)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "demo_module", module)  # dataclasses look it up
    spec.loader.exec_module(module)
    demo = module.Demo(tmp_path)
    demo.metric_analysis()  # returns: no exception, so the demo goes on to exit 0
    out = capsys.readouterr().out
    assert "  -> skipped: Prometheus is not installed on this machine" in out
    assert not demo.shops


def test_demo_holds_a_release_until_its_migration_has_run(
    demo_run: subprocess.CompletedProcess[str],
) -> None:
    out = demo_run.stdout
    held = out.index("== Step 9 of 10: ")
    migrated = out.index("== Step 10 of 10: ")
    step8, step9 = out[held:migrated], out[migrated:]
    assert "alembic -c examples/service/alembic.ini upgrade 0001" in step8
    assert "  -> exit 1, verdict NOT_DEPLOYABLE, because:" in step8
    assert ("deployable::schema: target 'local-db' database (alembic): expected revision "
            "'0002', found '0001': migrations have not run") in step8
    assert "alembic -c examples/service/alembic.ini upgrade head" in step9
    assert ("  -> exit 0, verdict DEPLOYABLE: the database is at the release's revision "
            "0002") in step9


def test_demo_signs_its_verdicts_and_gates_them_with_a_key_and_a_policy(
    demo_run: subprocess.CompletedProcess[str],
) -> None:
    out = demo_run.stdout
    assert "python -m pytest_deployable keygen " in out
    assert "   | deployable keygen: wrote " in out
    assert "--deploy-sign-key=" in out
    gates = [line for line in out.splitlines()
             if line.startswith("$ python -m pytest_deployable gate")]
    # steps 3 and 6, and the metric analysis's gate where Prometheus is installed
    assert len(gates) == (3 if shutil.which("prometheus") else 2)
    assert all(" --key " in line and " --policy " in line for line in gates)
    assert "; signed by " in out
    assert "  -> the signature verified with the public key, and the verdict meets the policy" \
        in out.splitlines()
    assert "the signing key appear in no verdict file and no output" in out


def test_demo_records_its_runs_and_asks_can_i_deploy(
        demo_run: subprocess.CompletedProcess[str]) -> None:
    out = demo_run.stdout
    assert "ledger: recorded as verdict #1 in sqlite:///" in out
    assert "ledger: recorded as verdict #2 in sqlite:///" in out
    assert "python -m pytest_deployable can-i-deploy --version 1.4.2 --to local-prod" in out
    lines = out.splitlines()
    assert ("  -> yes for 1.4.2: its latest verdict on local is complete and DEPLOYABLE "
            "(exit 0)") in lines
    assert "  -> no for 1.5.0: its latest verdict on local is NOT_DEPLOYABLE (exit 1)" in lines
    assert "   | no: 1.5.0 may not go to local-prod" in lines


def test_demo_ends_with_the_report_page_of_its_own_runs(
        demo_run: subprocess.CompletedProcess[str]) -> None:
    lines = demo_run.stdout.splitlines()
    assert "== The report page: what the ledger knows, for the whole team ==" in lines
    recorded = [line for line in lines
                if line.startswith("$ python -m pytest_deployable record-deployment")]
    assert len(recorded) == 3
    assert any(" --version 1.5.0 --status failed " in line for line in recorded)
    assert "   |   change failure rate              50.0% (1 failed)  (low)" in lines
    assert lines[-1].startswith("Open the report page: file://")
    page = Path(lines[-1].removeprefix("Open the report page: file://"))
    html = page.read_text(encoding="utf-8")
    assert "<script" not in html
    assert html.count('<details class="verdict"') >= 5  # every run the demo recorded
