"""A ledger with history for the report tests, recorded through ``deployable`` as a team would.

Verdicts are real statements (built by the plugin's own ``decide`` and
``to_statement``), recorded with ``deployable record``; deployments with
``deployable record-deployment``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from pytest_deployable.attestation import RunInfo, to_statement
from pytest_deployable.cli import main
from pytest_deployable.targets import Target
from pytest_deployable.verdict import CheckResult, Outcome, decide

NOW = datetime.now(timezone.utc).replace(microsecond=0)
SCRIPT = "<script>document.title='pwned'</script>"
HEALTH = "tests/deploy/test_smoke.py::test_health"
SLOW = "tests/deploy/test_smoke.py::test_orders_eventually_consistent"
FLAKY = "tests/deploy/test_smoke.py::test_search_flaky"
EVIL = f"tests/deploy/test_x.py::test_{SCRIPT}"


@dataclass(frozen=True)
class Run:
    """One recorded run."""

    target: str
    version: str
    finished: datetime
    failing: bool = False


#: v1 passed everywhere and went to production; v2 passed staging, failed production;
#: v3 passed staging only. Ordered oldest first.
RUNS = (
    Run("staging", "1.0.0", NOW - timedelta(days=6)),
    Run("production", "1.0.0", NOW - timedelta(days=5, hours=20)),
    Run("staging", "1.1.0", NOW - timedelta(days=3)),
    Run("production", "1.1.0", NOW - timedelta(days=2, hours=23), failing=True),
    Run("staging", "1.2.0", NOW - timedelta(days=1)),
)

#: (id, target, version, status, hours ago, commit hours before, remediates)
DEPLOYMENTS = (
    ("d1", "production", "1.0.0", "succeeded", 140, 20, None),
    ("d2", "production", "1.1.0", "failed", 70, 10, None),
    ("d3", "production", "1.0.0", "succeeded", 68, None, "d2"),
    ("s1", "staging", "1.2.0", "succeeded", 25, 2, None),
)


def statement(run: Run, index: int) -> dict[str, object]:
    """A verdict statement for one run, with a wait, a rerun and a hostile check id."""
    checks = [
        CheckResult(HEALTH, "smoke", True, Outcome.FAILED if run.failing else Outcome.PASSED,
                    duration_ms=40,
                    message=f"GET /health answered 503; {SCRIPT}" if run.failing else None),
        CheckResult(SLOW, "smoke", False, Outcome.PASSED, attempts=4, duration_ms=3100,
                    waits=(("order visible", 4, 3000),)),
        CheckResult(FLAKY, "post_deploy", False, Outcome.PASSED, attempts=2, reruns=1,
                    duration_ms=90),
        CheckResult(EVIL, "smoke", False, Outcome.PASSED, duration_ms=5),
    ]
    info = RunInfo("shop-api", Target(run.target, f"https://{run.target}.shop.example"),
                   run.finished - timedelta(seconds=30 + index), run.finished, run.version,
                   "0123456789abcdef0123456789abcdef01234567")
    result = to_statement(decide(checks), info)
    result["predicate"]["deployability"]["selection"] = {  # type: ignore[index]
        "complete": True, "deselected": [], "skippedAtCollection": [], "keyword": None,
        "markers": None, "lastFailed": False, "args": []}
    return result


def fill(folder: Path, ledger: str) -> None:
    """Record :data:`RUNS` and :data:`DEPLOYMENTS` in ``ledger``."""
    files = []
    for index, run in enumerate(RUNS):
        path = folder / f"verdict-{index}.json"
        path.write_text(json.dumps(statement(run, index)), encoding="utf-8")
        files.append(str(path))
    assert main(["record", *files, "--ledger", ledger]) == 0
    for key, target, version, status, hours, commit, fixes in DEPLOYMENTS:
        at = NOW - timedelta(hours=hours)
        args = ["record-deployment", "--target", target, "--version", version,
                "--status", status, "--time", at.isoformat(), "--id", key, "--ledger", ledger]
        if commit is not None:
            args += ["--commit-time", (at - timedelta(hours=commit)).isoformat()]
        if fixes is not None:
            args += ["--remediates", fixes]
        assert main(args) == 0
