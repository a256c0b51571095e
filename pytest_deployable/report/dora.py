"""The DORA metrics of a target (SPEC section 13): plain Python over deployment rows.

The window picks the deployments (those on the target deployed at or after
``since`` and at or before ``until``); what happened to them is followed past the
window's end, so a failure deployed just before ``until`` and remediated after it
is a failed deployment with its real recovery time, and a deployment remediated
before ``since`` belongs to the window that holds it. Only explicit links
(``record-deployment --remediates``) make a succeeded deployment failed; no time
heuristic guesses at it.

The performance levels come from the cluster table of the DORA research
programme's *Accelerate State of DevOps Report 2023* (Google Cloud, DORA; the
"software delivery performance" table: elite, high, medium, low). That table
gives bands, not cut-offs; :data:`LEVELS` turns each band into the bound a
value must reach, and says where the report's bands overlap. The report names
no level for rework rate, so its level is ``None``.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from ..attestation import format_time
from ..ledger.rows import DeploymentRow

__all__ = ["LEVELS", "LEVEL_SOURCE", "LEVEL_YEAR", "DoraMetrics", "Recovery", "compute",
           "level_of", "window"]

#: The report the levels come from, and its year (cited in the README too).
LEVEL_SOURCE = "DORA, Accelerate State of DevOps Report 2023 (Google Cloud)"
LEVEL_YEAR = 2023

_HOUR = 3600.0
_DAY = 24 * _HOUR
_WEEK = 7 * _DAY
_MONTH = 30 * _DAY

#: Per metric: whether a higher value is better, and (level, bound) from best to worst.
#: A value falls in the first level whose bound it reaches; past the last bound it is low.
#: 2023's bands: deployment frequency elite "on demand" (read: at least daily), high
#: "between once per day and once per week", medium and low both "between once per week
#: and once per month" (so below weekly is medium down to monthly, and low below that);
#: lead time elite "less than one day", high "one day to one week", medium and low both
#: "one week to one month" (so low is beyond a month); change failure rate 5%, 10%,
#: 15%, 64% (read: at most 5% elite, 10% high, 15% medium); recovery time elite "less
#: than one hour", high "less than one day", medium "one day to one week", low "one
#: month to six months" (so low is beyond a week).
LEVELS: dict[str, tuple[bool, tuple[tuple[str, float], ...]]] = {
    "deploymentFrequency": (True, (("elite", 1.0), ("high", 1 / 7), ("medium", _DAY / _MONTH))),
    "leadTimeForChanges": (False, (("elite", _DAY), ("high", _WEEK), ("medium", _MONTH))),
    "changeFailureRate": (False, (("elite", 0.05), ("high", 0.10), ("medium", 0.15))),
    "failedDeploymentRecoveryTime": (False, (("elite", _HOUR), ("high", _DAY),
                                             ("medium", _WEEK))),
}


def level_of(metric: str, value: float | None) -> str | None:
    """The DORA performance level of ``value`` for ``metric``; None without a value or a table."""
    if value is None or metric not in LEVELS:
        return None
    higher_is_better, bounds = LEVELS[metric]
    for name, bound in bounds:
        if (value >= bound) if higher_is_better else (value <= bound):
            return name
    return "low"


@dataclass(frozen=True)
class Recovery:
    """A failed deployment in the window and, when it recovered, what recovered it."""

    failed: DeploymentRow
    recovered_by: DeploymentRow | None

    @property
    def seconds(self) -> float | None:
        """Time to recover; None while unrecovered."""
        if self.recovered_by is None:
            return None
        return (self.recovered_by.deployed_at - self.failed.deployed_at).total_seconds()


@dataclass(frozen=True)
class DoraMetrics:
    """The five metrics of one target over one window, with the facts they were made of."""

    target: str
    since: datetime
    until: datetime
    deployments: tuple[DeploymentRow, ...]
    """The window's deployments on the target, oldest first."""
    lead_times: tuple[tuple[DeploymentRow, float], ...]
    """Each deployment with a commit time no later than it, and its lead time in seconds."""
    commit_after_deployment: int
    """Deployments whose commit time is after their deployment: left out of the lead time."""
    recoveries: tuple[Recovery, ...]
    reworks: tuple[DeploymentRow, ...]

    @property
    def days(self) -> float:
        """The window's length in days."""
        return (self.until - self.since).total_seconds() / _DAY

    @property
    def per_day(self) -> float:
        """Deployments per day in the window."""
        return len(self.deployments) / self.days if self.days > 0 else 0.0

    @property
    def deployment_days(self) -> int:
        """Distinct UTC days with a deployment."""
        return len({row.deployed_at.astimezone(timezone.utc).date() for row in self.deployments})

    @property
    def lead_time(self) -> float | None:
        """The median lead time in seconds; None without a commit time."""
        return statistics.median(s for _, s in self.lead_times) if self.lead_times else None

    @property
    def change_failure_rate(self) -> float | None:
        """Failed deployments / deployments; None for an empty window."""
        return len(self.recoveries) / len(self.deployments) if self.deployments else None

    @property
    def recovery_time(self) -> float | None:
        """The median recovery time in seconds over recovered failures; None if none."""
        times = [r.seconds for r in self.recoveries if r.seconds is not None]
        return statistics.median(times) if times else None

    @property
    def unrecovered(self) -> int:
        """Failed deployments no later succeeded deployment has recovered."""
        return sum(1 for r in self.recoveries if r.recovered_by is None)

    @property
    def recovery_time_for_level(self) -> float | None:
        """The recovery median the level is judged on: an unrecovered failure counts as the
        longest recovery of all (infinite), since how long it will take is not known; so a
        failure never fixed cannot leave the level at elite."""
        times = [math.inf if r.seconds is None else r.seconds for r in self.recoveries]
        return statistics.median(times) if times else None

    @property
    def rework_rate(self) -> float | None:
        """Deployments that remediate another / deployments; None for an empty window."""
        return len(self.reworks) / len(self.deployments) if self.deployments else None

    def levels(self) -> dict[str, str | None]:
        """The DORA performance level of each metric (None where there is nothing to judge)."""
        return {
            "deploymentFrequency": level_of("deploymentFrequency", self.per_day),
            "leadTimeForChanges": level_of("leadTimeForChanges", self.lead_time),
            "changeFailureRate": level_of("changeFailureRate", self.change_failure_rate),
            "failedDeploymentRecoveryTime": level_of("failedDeploymentRecoveryTime",
                                                     self.recovery_time_for_level),
            "reworkRate": None,
        }

    def to_dict(self) -> dict[str, Any]:
        """The JSON form ``deployable metrics --format json`` prints (SPEC section 13's keys)."""
        return {
            "target": self.target, "since": format_time(self.since),
            "until": format_time(self.until), "days": round(self.days, 6),
            "deployments": len(self.deployments),
            "deploymentFrequency": {"perDay": self.per_day,
                                    "deploymentDays": self.deployment_days},
            "leadTimeForChanges": {"medianSeconds": self.lead_time,
                                   "deployments": len(self.lead_times),
                                   "commitAfterDeployment": self.commit_after_deployment},
            "changeFailureRate": self.change_failure_rate,
            "failedDeployments": len(self.recoveries),
            "failedDeploymentRecoveryTime": {"medianSeconds": self.recovery_time,
                                             "recovered": len(self.recoveries) - self.unrecovered,
                                             "unrecovered": self.unrecovered},
            "reworkRate": self.rework_rate,
            "reworkDeployments": len(self.reworks),
            "performance": {"source": LEVEL_SOURCE, "year": LEVEL_YEAR,
                            "levels": self.levels()},
        }


def _order(row: DeploymentRow) -> tuple[datetime, datetime, str]:
    return (row.deployed_at, row.recorded_at, row.id)


def compute(rows: Iterable[DeploymentRow], target: str, *, since: datetime,
            until: datetime) -> DoraMetrics:
    """The metrics of ``target`` from ``since`` to ``until`` (both included).

    ``rows`` must hold every deployment on ``target`` from ``since`` on (also after
    ``until``) and every deployment that remediates one of them, on any target; more
    rows do no harm. Rules, in SPEC section 13's words:

    1. A deployment is failed if its status is failed or any deployment names it in
       ``remediates`` (an explicit link is evidence whatever times were given). A status
       other than ``succeeded`` (the ledger stores only the two) counts as failed: a row
       is not taken for a success unless it says so.
    2. It recovered at the first succeeded deployment after it that remediates it,
       else at the next succeeded deployment on the target; else it is unrecovered.
       "After" orders by deployment time, then recording time, then id.
    3. A deployment that remediates another is rework, whether or not that other one
       is in the window, and whether or not the rework itself succeeded.
    """
    if until < since:
        raise ValueError(f"the window ends ({format_time(until)}) before it starts "
                         f"({format_time(since)})")
    every = sorted({row.id: row for row in rows}.values(), key=_order)
    on_target = [row for row in every if row.target == target]
    window = [row for row in on_target if since <= row.deployed_at <= until]
    remediators: dict[str, list[DeploymentRow]] = {}
    for row in every:
        if row.remediates is not None:
            remediators.setdefault(row.remediates, []).append(row)
    lead_times: list[tuple[DeploymentRow, float]] = []
    commit_after = 0
    for row in window:
        if row.commit_time is None:
            continue
        seconds = (row.deployed_at - row.commit_time).total_seconds()
        if seconds < 0:
            commit_after += 1
        else:
            lead_times.append((row, seconds))
    recoveries = tuple(
        Recovery(row, _recovered_by(row, remediators.get(row.id, []), on_target))
        for row in window if row.status != "succeeded" or row.id in remediators
    )
    return DoraMetrics(
        target=target, since=since, until=until, deployments=tuple(window),
        lead_times=tuple(lead_times), commit_after_deployment=commit_after,
        recoveries=recoveries,
        reworks=tuple(row for row in window if row.remediates is not None),
    )


def _recovered_by(failed: DeploymentRow, fixes: Sequence[DeploymentRow],
                  on_target: Sequence[DeploymentRow]) -> DeploymentRow | None:
    after = _order(failed)
    for row in sorted(fixes, key=_order):
        if row.status == "succeeded" and _order(row) > after:
            return row
    for row in on_target:
        if row.status == "succeeded" and _order(row) > after:
            return row
    return None


def window(until: datetime | None, since: datetime | timedelta, *,
           now: datetime) -> tuple[datetime, datetime]:
    """The window's (start, end): ``since`` a time or a length back from ``until`` (now)."""
    end = (until or now).astimezone(timezone.utc)
    start = end - since if isinstance(since, timedelta) else since.astimezone(timezone.utc)
    return start, end
