"""What the report page shows (SPEC section 14), gathered from an open ledger.

:func:`gather` makes plain data of the ledger's rows; the template only lays it
out. Every string here came from a verdict or a deployment (untrusted): the
template's autoescaping makes it text, and messages were redacted by the plugin
before they were recorded, so nothing here adds a value the verdicts did not hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..attestation import format_time
from ..ledger.rows import DeploymentRow, VerdictRow
from ..ledger.store import Ledger
from .charts import Chart, charts
from .dora import DoraMetrics, compute, window
from .queries import (
    CheckStats,
    check_stats,
    deployed,
    latest_verdicts,
    metric_rows,
    recent_verdicts,
    targets,
)

__all__ = ["HISTORY", "MATRIX_VERSIONS", "TOP_CHECKS", "Page", "gather"]

#: How many verdicts the history lists, versions the matrix shows, checks each top list.
HISTORY = 100
MATRIX_VERSIONS = 25
TOP_CHECKS = 10
_MATRIX_SCAN = 2000


@dataclass(frozen=True)
class Cell:
    """One version on one target: its latest verdict, and whether it is deployed there now."""

    verdict: VerdictRow | None
    deployed: bool


@dataclass(frozen=True)
class TargetMetrics:
    """One target's DORA metrics and their charts."""

    target: str
    metrics: DoraMetrics
    document: dict[str, Any]
    charts: tuple[Chart, ...]


@dataclass(frozen=True)
class Page:
    """Everything the page shows."""

    generated: str
    ledger: str
    targets: tuple[str, ...]
    latest: dict[str, VerdictRow]
    deployed: dict[str, DeploymentRow]
    versions: tuple[str, ...]
    matrix: dict[tuple[str, str], Cell]
    history: tuple[VerdictRow, ...]
    checks: dict[int, list[dict[str, Any]]]
    dora: tuple[TargetMetrics, ...]
    most_waited: tuple[CheckStats, ...]
    most_rerun: tuple[CheckStats, ...]
    most_failed: tuple[CheckStats, ...]


def _matrix(history: list[VerdictRow], current: dict[str, DeploymentRow]) -> tuple[
        tuple[str, ...], dict[tuple[str, str], Cell]]:
    """The newest versions (by their latest verdict), and each one's latest verdict per target."""
    versions: list[str] = []
    latest: dict[tuple[str, str], VerdictRow] = {}
    for row in history:  # newest first
        if row.version is None:
            continue
        if row.version not in versions:
            if len(versions) == MATRIX_VERSIONS:
                continue
            versions.append(row.version)
        latest.setdefault((row.version, row.target), row)
    cells = {key: Cell(row, current.get(key[1]) is not None
                       and current[key[1]].version == key[0]
                       and current[key[1]].status == "succeeded")
             for key, row in latest.items()}
    for name, deployment in current.items():
        if deployment.version in versions and (deployment.version, name) not in cells:
            cells[(deployment.version, name)] = Cell(None, deployment.status == "succeeded")
    return tuple(versions), cells


def _top(stats: list[CheckStats], key: str) -> tuple[CheckStats, ...]:
    ranked = sorted((s for s in stats if getattr(s, key) > 0),
                    key=lambda s: (-getattr(s, key), -s.waited_ms, s.check_id))
    return tuple(ranked[:TOP_CHECKS])


def gather(ledger: Ledger, *, now: datetime, since: datetime | timedelta) -> Page:
    """Read what the page shows from the ledger (a handful of queries, no document)."""
    names = targets(ledger)
    current = deployed(ledger, names)
    scanned = recent_verdicts(ledger, _MATRIX_SCAN)
    versions, matrix = _matrix(scanned, current)
    history = scanned[:HISTORY]
    start, end = window(None, since, now=now)
    dora = []
    for name in names:
        rows = metric_rows(ledger, name, start)
        if not any(row.target == name for row in rows):
            continue
        metrics = compute(rows, name, since=start, until=end)
        dora.append(TargetMetrics(name, metrics, metrics.to_dict(), tuple(charts(metrics))))
    stats = check_stats(ledger)
    return Page(
        generated=format_time(now), ledger=ledger.url.shown, targets=tuple(names),
        latest=latest_verdicts(ledger, names), deployed=current, versions=versions,
        matrix=matrix, history=tuple(history),
        checks=ledger.check_rows(row.id for row in history), dora=tuple(dora),
        most_waited=_top(stats, "waits"), most_rerun=_top(stats, "reruns"),
        most_failed=_top(stats, "failed"),
    )
