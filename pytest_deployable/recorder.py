"""The recorder: turns pytest's per-phase reports into one result per check."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from .verdict import CheckResult, Outcome

__all__ = ["META_ATTRIBUTE", "Recorder", "check_meta"]

#: The attribute on a TestReport that carries a check's classification. pytest
#: serializes extra report attributes, so it reaches the xdist controller.
META_ATTRIBUTE = "deployable"

_MESSAGE_LIMIT = 500


def check_meta(report: pytest.TestReport) -> Mapping[str, Any] | None:
    """The classification a worker attached to a report, or None for a non-check."""
    meta = getattr(report, META_ATTRIBUTE, None)
    return meta if isinstance(meta, dict) else None


@dataclass
class _Record:
    category: str = "unknown"
    blocking: bool = True  # unknown checks block: fail closed
    status: str | None = None
    outcome: Outcome | None = None
    attempts: int = 0
    reruns: int = 0
    tries: int = 0
    """Extra runs of the body within one attempt (``within``/``every`` retries)."""
    duration: float = 0.0
    message: str | None = None
    phases: set[str] = field(default_factory=set)
    described: bool = False
    """Whether a report's metadata has classified this check already."""
    waits: list[tuple[str, int, int]] = field(default_factory=list)
    host: str | None = None
    evidence: dict[str, Any] | None = None


def _first_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    # pytest's "E   ..." lines are what a person reads; in a chain of exceptions
    # the last one is the check's own failure, so take the first line of the
    # last run of E lines.
    first_of_last_run = None
    previous_was_e = False
    for line in lines:
        is_e = line.startswith("E ")
        if is_e and not previous_was_e:
            first_of_last_run = line
        previous_was_e = is_e
    if first_of_last_run is not None:
        return first_of_last_run[1:].strip()[:_MESSAGE_LIMIT]
    return lines[-1].strip()[:_MESSAGE_LIMIT]


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        reason = str(longrepr[2])
        return reason.removeprefix("Skipped: ")
    return _first_line(report.longreprtext)


class Recorder:
    """Collects the reports of a run and says how each check ended."""

    def __init__(self) -> None:
        self._records: dict[str, _Record] = {}

    def classify(self, nodeid: str, category: str, blocking: bool) -> None:
        """Record a check's classification before (or without) any report of it."""
        record = self._records.setdefault(nodeid, _Record())
        record.category, record.blocking = category, blocking

    def add(self, report: pytest.TestReport) -> None:
        """Take one phase report (setup, call or teardown) of a check."""
        record = self._records.get(report.nodeid)
        if record is None:
            record = self._records[report.nodeid] = _Record()
        meta = check_meta(report)
        if meta is not None and not record.described:
            # The classification is the same in every phase: take it once.
            record.described = True
            record.category = str(meta.get("category", record.category))
            record.blocking = bool(meta.get("blocking", record.blocking))
            record.status = meta.get("status") or record.status
            record.host = meta.get("host") or record.host
        record.duration += report.duration
        if str(report.outcome) == "rerun":  # pytest-rerunfailures: this attempt is over
            record.reruns += 1
            if report.when == "setup":
                record.attempts += 1
            record.outcome, record.message, record.phases = None, None, set()
            return
        record.phases.add(report.when or "")
        if report.when == "setup":
            record.attempts += 1
        if report.when == "call" and meta is not None:
            tries = meta.get("tries", 1)
            if tries != 1:
                record.tries += max(int(tries) - 1, 0)
            if isinstance(meta.get("evidence"), dict):
                record.evidence = meta["evidence"]
            waits = meta.get("waits")
            if waits:
                record.waits.extend(
                    (str(what), int(attempts), int(ms)) for what, attempts, ms in waits
                )
        if report.failed:
            outcome = Outcome.ERROR if report.when != "call" else Outcome.FAILED
            if record.outcome not in (Outcome.FAILED, Outcome.ERROR):
                record.outcome = outcome
                record.message = _first_line(report.longreprtext)
        elif report.skipped:
            if hasattr(report, "wasxfail"):
                record.outcome, record.message = Outcome.SKIPPED, f"xfail: {report.wasxfail}"
            elif record.status == "refused":
                record.outcome, record.message = Outcome.REFUSED, _skip_reason(report)
            elif record.status == "notApplicable":
                record.outcome, record.message = Outcome.NOT_APPLICABLE, _skip_reason(report)
            else:
                record.outcome, record.message = Outcome.SKIPPED, _skip_reason(report)
        elif report.when == "call" and record.outcome is None:
            record.outcome = Outcome.PASSED

    def results(self, expected: Iterable[str]) -> list[CheckResult]:
        """One result per check: the expected ones in order, then any others seen.

        A check that was expected but never finished its phases did not run.
        """
        order = list(dict.fromkeys([*expected, *self._records]))
        results = []
        for nodeid in order:
            record = self._records.get(nodeid, _Record())
            outcome = record.outcome
            if outcome is None or (outcome is Outcome.PASSED and "teardown" not in record.phases):
                outcome = Outcome.NOT_RUN
            results.append(
                CheckResult(
                    id=nodeid,
                    category=record.category,
                    blocking=record.blocking,
                    outcome=outcome,
                    attempts=max(record.attempts, 1 if outcome is not Outcome.NOT_RUN else 0)
                    + record.tries,
                    duration_ms=round(record.duration * 1000),
                    message=record.message,
                    reruns=record.reruns,
                    waits=tuple(record.waits),
                    host=record.host,
                    evidence=record.evidence,
                )
            )
        return results
