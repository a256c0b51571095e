"""The recorder: turns pytest's per-phase reports into one result per check."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from .vocabulary import BROKEN, DID_NOT_RUN_HERE, Outcome

if TYPE_CHECKING:
    from .verdict import CheckResult

__all__ = ["META_ATTRIBUTE", "CheckFacts", "Recorder", "check_meta", "skip_reason"]

#: The attribute on a TestReport that carries a check's classification. pytest
#: serializes extra report attributes, so it reaches the xdist controller.
META_ATTRIBUTE = "deployable"

_MESSAGE_LIMIT = 1000
#: Outcomes no later phase can change.
_STICKY = tuple(BROKEN)
#: A check's status from collection (it must not run here) and the outcome it gives.
_HERE = {outcome.value: outcome for outcome in DID_NOT_RUN_HERE}


def check_meta(report: pytest.TestReport) -> Mapping[str, Any] | None:
    """The classification a worker attached to a report, or None for a non-check."""
    meta = getattr(report, META_ATTRIBUTE, None)
    return meta if isinstance(meta, dict) else None


@dataclass(frozen=True)
class CheckFacts:
    """What a check is, fixed once at collection; it travels with every report of it.

    The one route from collection to the verdict: the plugin sets it on the item,
    each report carries it (pytest serializes it to the xdist controller), and a
    worker sends the facts of checks that never reported when it finishes.
    """

    category: str
    blocking: bool
    status: str | None = None
    """``refused`` or ``notApplicable`` for a check that must not run here, else None."""
    host: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The facts as plain data, for a report attribute or a worker's output."""
        return {"category": self.category, "blocking": self.blocking, "status": self.status,
                "host": self.host}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CheckFacts:
        """Facts read back; a missing field fails closed (unknown category, blocking)."""
        return cls(
            category=str(data.get("category") or "unknown"),
            blocking=data.get("blocking") is not False,
            status=str(data["status"]) if data.get("status") else None,
            host=str(data["host"]) if data.get("host") else None,
        )


@dataclass(slots=True)
class _Record:
    # Slotted, with no container made until a check has something to put in it:
    # a run keeps one record per check alive to its end, and the garbage collector
    # pytest runs at the end of a session visits every container (bench/overhead.py).
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
    torn_down: bool = False
    """Whether the current attempt's teardown was reported: a pass without it did not finish."""
    described: bool = False
    """Whether a report's metadata has classified this check already."""
    waits: tuple[tuple[str, int, int], ...] = ()
    host: str | None = None
    metrics: tuple[dict[str, Any], ...] = ()
    """The check's Prometheus evaluations (``metrics`` fixture), as the verdict file holds them."""
    inconclusive: str | None = None
    """Why the check's failure says nothing about the release (Prometheus unreachable)."""
    evidence: dict[str, Any] | None = None


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+(?=>)")
#: At most this many lines of a violation are kept in the verdict's ``message``.
_MESSAGE_LINES = 12


def _first_line(text: str) -> str:
    """The violation a person reads: the first lines of the check's own failure.

    pytest's ``E   ...`` lines say what was violated (an assertion's left and
    right sides, the differing items); in a chain of exceptions the last run of
    them is the check's own failure. Without ``E`` lines, the last line.
    """
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    runs: list[list[str]] = []
    previous_was_e = False
    for line in lines:
        is_e = line.startswith("E ") or line == "E"
        if is_e:
            if not previous_was_e:
                runs.append([])
            runs[-1].append(line[1:])
        previous_was_e = is_e
    if not runs:
        return lines[-1].strip()[:_MESSAGE_LIMIT]
    kept = runs[-1][:_MESSAGE_LINES]
    indent = min((len(line) - len(line.lstrip()) for line in kept if line.strip()), default=0)
    message = "\n".join(line[indent:].rstrip() for line in kept).strip()
    # Object addresses in pytest's "where" lines differ from run to run; without
    # them the verdict is the same in one process or many (SPEC §6).
    return _ADDRESS.sub("", message)[:_MESSAGE_LIMIT]


def skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    """Why a report was skipped, without pytest's ``Skipped:`` prefix."""
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        reason = str(longrepr[2])
        return reason.removeprefix("Skipped: ")
    return _first_line(report.longreprtext)


class Recorder:
    """Collects the reports of a run and says how each check ended."""

    def __init__(self) -> None:
        self._records: dict[str, _Record] = {}

    def classify(self, nodeid: str, facts: CheckFacts) -> None:
        """Record a check's facts before (or without) any report of it."""
        record = self._records.setdefault(nodeid, _Record())
        record.category, record.blocking = facts.category, facts.blocking
        record.status, record.host = facts.status, facts.host
        # Its reports carry the same facts (made from these, at collection), so
        # they need not be read again from each report's metadata.
        record.described = True

    def add(self, report: pytest.TestReport) -> None:
        """Take one phase report (setup, call or teardown) of a check."""
        record = self._records.get(report.nodeid)
        if record is None:
            record = self._records[report.nodeid] = _Record()
        meta = check_meta(report)
        if meta is not None and not record.described:
            # The facts are the same in every phase: take them once.
            record.described = True
            facts = CheckFacts.from_dict(meta)
            record.category, record.blocking = facts.category, facts.blocking
            record.status = facts.status or record.status
            record.host = facts.host or record.host
        record.duration += report.duration
        if str(report.outcome) == "rerun":  # pytest-rerunfailures: this attempt is over
            record.reruns += 1
            if report.when == "setup":
                record.attempts += 1
            record.outcome, record.message, record.torn_down = None, None, False
            record.inconclusive = None
            return
        if report.when == "setup":
            record.attempts += 1
        elif report.when == "teardown":
            record.torn_down = True
        if report.when == "call" and meta is not None:
            tries = meta.get("tries", 1)
            if tries != 1:
                record.tries += max(int(tries) - 1, 0)
            metrics = meta.get("metrics")
            if isinstance(metrics, list):
                record.metrics = tuple(m for m in metrics if isinstance(m, dict))
            inconclusive = meta.get("inconclusive")
            if isinstance(inconclusive, str) and report.failed:
                record.inconclusive = inconclusive
            if isinstance(meta.get("evidence"), dict):
                record.evidence = meta["evidence"]
            waits = meta.get("waits")
            if waits:
                record.waits += tuple(
                    (str(what), int(attempts), int(ms)) for what, attempts, ms in waits
                )
        if report.failed:
            # A check that could not ask its evidence source errored; it did not fail.
            outcome = Outcome.ERROR if report.when != "call" or record.inconclusive else (
                Outcome.FAILED
            )
            if record.outcome not in _STICKY:
                record.outcome = outcome
                record.message = _first_line(report.longreprtext)
        elif record.outcome in _STICKY:
            # A failure in any phase (or subtest) stays: a later skip, xfail or
            # pass must not turn a broken check into one that merely did not run.
            return
        elif report.skipped:
            if hasattr(report, "wasxfail"):
                record.outcome, record.message = Outcome.SKIPPED, f"xfail: {report.wasxfail}"
            elif record.status in _HERE:
                record.outcome, record.message = _HERE[record.status], skip_reason(report)
            else:
                record.outcome, record.message = Outcome.SKIPPED, skip_reason(report)
        elif report.when == "call" and record.outcome is None:
            record.outcome = Outcome.PASSED

    def set_metrics(self, nodeid: str, evaluations: list[dict[str, Any]]) -> None:
        """A check's Prometheus evaluations from a soak round, which pytest does not report."""
        self._records.setdefault(nodeid, _Record()).metrics = tuple(evaluations)

    def results(self, expected: Iterable[str]) -> list[CheckResult]:
        """One result per check: the expected ones in order, then any others seen.

        A check that was expected but never finished its phases did not run.
        """
        from .verdict import CheckResult  # the verdict's modules load when one is decided

        order = list(dict.fromkeys([*expected, *self._records]))
        results = []
        for nodeid in order:
            record = self._records.get(nodeid, _Record())
            outcome = record.outcome
            if outcome is None or (outcome is Outcome.PASSED and not record.torn_down):
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
                    waits=record.waits,
                    host=record.host,
                    metrics=record.metrics,
                    inconclusive=record.inconclusive if outcome is Outcome.ERROR else None,
                    evidence=record.evidence,
                )
            )
        return results
