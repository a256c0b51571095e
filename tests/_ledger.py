"""Verdict files for the ledger tests, built from real objects as the plugin builds them."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from pytest_deployable.attestation import RunInfo, to_statement
from pytest_deployable.selection import Selection
from pytest_deployable.targets import Target
from pytest_deployable.verdict import CheckResult, Outcome, RunFacts, decide

#: The checks that make each verdict.
_CHECKS = {
    "DEPLOYABLE": [("test_health", Outcome.PASSED, True)],
    "DEPLOYABLE_WITH_WARNINGS": [("test_health", Outcome.PASSED, True),
                                 ("test_latency", Outcome.FAILED, False)],
    "NOT_DEPLOYABLE": [("test_health", Outcome.FAILED, True)],
    "INCONCLUSIVE": [],
}


def make_statement(target: str, version: str | None, verdict: str = "DEPLOYABLE", *,
                   complete: bool | None = True, finished: datetime | None = None,
                   run: int = 0) -> dict[str, Any]:
    """A verdict statement for ``version`` on ``target``; ``run`` makes otherwise equal runs
    differ (their start second), as two real runs do."""
    end = finished or datetime.now(timezone.utc).replace(microsecond=0)
    checks = [CheckResult(id=f"tests/deploy/test_smoke.py::{name}", category="smoke",
                          blocking=blocking, outcome=outcome, attempts=1, duration_ms=12)
              for name, outcome, blocking in _CHECKS[verdict]]
    info = RunInfo("shop-api", Target(target, "https://shop.example"),
                   end - timedelta(seconds=30 + run), end, version,
                   "0123456789abcdef0123456789abcdef01234567")
    # The selection record as the run writes it (SPEC §10): a partial run left a
    # check out with -k, which makes a passing verdict DEPLOYABLE_WITH_WARNINGS.
    chosen = None if complete is None else Selection() if complete else Selection(
        deselected=("tests/x.py::t",), keyword="health")
    result = to_statement(decide(checks, RunFacts(selection=chosen)), info)
    expected = ("DEPLOYABLE_WITH_WARNINGS" if complete is False and verdict == "DEPLOYABLE"
                else verdict)
    assert result["predicate"]["deployability"]["verdict"] == expected
    return result


def envelope(statement: dict[str, Any], keyid: str = "ab" * 32) -> dict[str, Any]:
    """A DSSE envelope around ``statement`` (its signature is not a real one)."""
    payload = base64.b64encode(json.dumps(statement).encode()).decode()
    return {"payloadType": "application/vnd.in-toto+json", "payload": payload,
            "signatures": [{"keyid": keyid, "sig": base64.b64encode(b"x" * 64).decode()}]}


def write(path: Path, document: dict[str, Any]) -> Path:
    """Write a document as a verdict file; the path."""
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    return path
