"""The ledger queries behind ``deployable metrics`` and the report page.

They read the ledger's columns (SPEC section 12), never a verdict document, and
hand back the ledger's plain rows. Every database error leaves as the ledger's
one-line :class:`~pytest_deployable.ledger.connection.LedgerError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select, union

from ..ledger.connection import guard
from ..ledger.rows import DeploymentRow, VerdictRow
from ..ledger.schema import checks, deployments, naive, verdicts
from ..ledger.store import VERDICT_COLUMNS, Ledger, deployment_row, verdict_row

__all__ = ["CheckStats", "check_stats", "deployed", "latest_verdicts", "metric_rows",
           "recent_verdicts", "targets"]

#: Outcomes that count as a check failing (the verdict's vocabulary, verdict.Outcome).
_FAILING = ("failed", "error", "refused")


def metric_rows(ledger: Ledger, target: str, since: datetime) -> list[DeploymentRow]:
    """What :func:`.dora.compute` needs: the target's deployments from ``since`` on, and
    every deployment (on any target) that remediates one of them."""
    mine = select(deployments.c.id).where(deployments.c.target == target,
                                          deployments.c.deployed_at >= naive(since))
    query = select(deployments).where(
        (deployments.c.id.in_(mine)) | (deployments.c.remediates.in_(mine)))
    with guard(ledger.url), ledger.engine.connect() as connection:
        return [deployment_row(row) for row in connection.execute(query)]


def targets(ledger: Ledger) -> list[str]:
    """Every target with a verdict or a deployment, by name."""
    query = union(select(verdicts.c.target), select(deployments.c.target))
    with guard(ledger.url), ledger.engine.connect() as connection:
        return sorted(str(name) for name in connection.execute(query).scalars())


def deployed(ledger: Ledger, names: Sequence[str]) -> dict[str, DeploymentRow]:
    """Each target's latest deployment (by deployment time), succeeded or not."""
    found: dict[str, DeploymentRow] = {}
    with guard(ledger.url), ledger.engine.connect() as connection:
        for name in names:
            row = connection.execute(
                select(deployments).where(deployments.c.target == name)
                .order_by(deployments.c.deployed_at.desc(), deployments.c.recorded_at.desc())
                .limit(1)).first()
            if row is not None:
                found[name] = deployment_row(row)
    return found


def latest_verdicts(ledger: Ledger, names: Sequence[str]) -> dict[str, VerdictRow]:
    """Each target's verdict that finished last."""
    found: dict[str, VerdictRow] = {}
    with guard(ledger.url), ledger.engine.connect() as connection:
        for name in names:
            row = connection.execute(
                select(*VERDICT_COLUMNS).where(verdicts.c.target == name)
                .order_by(verdicts.c.finished_on.desc(), verdicts.c.id.desc()).limit(1)).first()
            if row is not None:
                found[name] = verdict_row(row)
    return found


def recent_verdicts(ledger: Ledger, limit: int) -> list[VerdictRow]:
    """The verdicts that finished last, newest first."""
    query = (select(*VERDICT_COLUMNS)
             .order_by(verdicts.c.finished_on.desc(), verdicts.c.id.desc()).limit(limit))
    with guard(ledger.url), ledger.engine.connect() as connection:
        return [verdict_row(row) for row in connection.execute(query)]


@dataclass(frozen=True)
class CheckStats:
    """How one check fared over every recorded run of it."""

    check_id: str
    runs: int
    failed: int
    reruns: int
    waits: int
    """Runs in which the check waited at all."""
    waited_ms: int


def check_stats(ledger: Ledger) -> list[CheckStats]:
    """Every check id with how often it ran, failed, was rerun and waited."""
    query = select(
        checks.c.check_id, func.count().label("runs"),
        func.sum(case((checks.c.outcome.in_(_FAILING), 1), else_=0)).label("failed"),
        func.sum(checks.c.reruns).label("reruns"),
        func.sum(case((checks.c.waited_ms > 0, 1), else_=0)).label("waits"),
        func.sum(checks.c.waited_ms).label("waited_ms"),
    ).group_by(checks.c.check_id)
    with guard(ledger.url), ledger.engine.connect() as connection:
        return [CheckStats(str(row.check_id), int(row.runs), int(row.failed or 0),
                           int(row.reruns or 0), int(row.waits or 0), int(row.waited_ms or 0))
                for row in connection.execute(query)]
