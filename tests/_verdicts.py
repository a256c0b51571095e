"""Verdict statements built from real objects, for tests of the renderers."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from typing import Any

from pytest_deployable.attestation import RunInfo, to_statement
from pytest_deployable.selection import Selection
from pytest_deployable.targets import Target
from pytest_deployable.verdict import CheckResult, Outcome, RunFacts, decide

START = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
COMMIT = "0123456789abcdef0123456789abcdef01234567"
PRODUCTION = Target("production", "https://shop.example", protected=True)
STAGING = Target("staging", "https://staging.shop.example")


def check(
    name: str,
    outcome: Outcome,
    *,
    category: str = "smoke",
    blocking: bool = True,
    attempts: int = 1,
    message: str | None = None,
    duration_ms: int = 50,
) -> CheckResult:
    """A check result; extra attempts are modelled as reruns (flakes)."""
    return CheckResult(
        id=f"tests/deploy/test_{category}.py::{name}",
        category=category,
        blocking=blocking,
        outcome=outcome,
        attempts=attempts,
        reruns=attempts - 1,
        duration_ms=duration_ms,
        message=message,
    )


def statement(
    checks: list[CheckResult],
    facts: RunFacts | None = None,
    *,
    target: Target = PRODUCTION,
    version: str | None = "1.4.2",
    commit: str | None = COMMIT,
    seconds: int = 41,
) -> dict[str, Any]:
    """The verdict file's statement for these checks, as the plugin would write it."""
    info = RunInfo("shop-api", target, START, START + timedelta(seconds=seconds), version, commit)
    facts = facts or RunFacts()
    if facts.selection is None:  # as the plugin writes it: a complete run says so
        facts = replace(facts, selection=Selection())
    return to_statement(decide(checks, facts), info)
