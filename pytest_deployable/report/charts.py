"""The report page's charts: the DORA metrics as points in an SVG's coordinates.

Plain geometry over :class:`~.dora.DoraMetrics`; the template draws them as inline
SVG (a title and a description for screen readers, one ``<circle>`` with its own
``<title>`` per point), so nothing is fetched and a printed page shows them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from .dora import DoraMetrics

__all__ = ["HEIGHT", "WIDTH", "Chart", "Point", "charts", "duration_text", "percent_text"]

WIDTH = 330
HEIGHT = 170
_LEFT, _RIGHT, _TOP, _BOTTOM = 44, 12, 12, 28


@dataclass(frozen=True)
class Point:
    """One point: where it is drawn and what it says."""

    x: float
    y: float
    label: str


@dataclass(frozen=True)
class Chart:
    """One chart: what it shows, its points, and its axes' labels."""

    key: str
    title: str
    description: str
    points: tuple[Point, ...]
    y_label: str
    x_start: str
    x_end: str
    line: bool
    """Join the points (a series over time) or not (one point per event)."""

    @property
    def polyline(self) -> str:
        """The points as an SVG ``points`` attribute."""
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)

    left: int = _LEFT
    bottom: int = HEIGHT - _BOTTOM
    right: int = WIDTH - _RIGHT
    top: int = _TOP


def _x(moment: datetime, since: datetime, until: datetime) -> float:
    span = (until - since).total_seconds() or 1.0
    share = min(1.0, max(0.0, (moment - since).total_seconds() / span))
    return _LEFT + share * (WIDTH - _LEFT - _RIGHT)


def _y(value: float, top: float) -> float:
    return HEIGHT - _BOTTOM - (value / top if top else 0.0) * (HEIGHT - _TOP - _BOTTOM)


def duration_text(seconds: float | None) -> str:
    """A length of time as a person reads it: ``45 s``, ``12.5 m``, ``3.0 h``, ``2.5 d``."""
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


def percent_text(rate: float | None) -> str:
    """A rate as a percentage, ``-`` without one."""
    return "-" if rate is None else f"{rate * 100:.1f}%"


def _events(key: str, title: str, metrics: DoraMetrics,
            events: Sequence[tuple[datetime, float, str]]) -> Chart:
    top = max((seconds for _, seconds, _ in events), default=0.0)
    points = tuple(Point(_x(at, metrics.since, metrics.until), _y(seconds, top),
                         f"{label}: {duration_text(seconds)}") for at, seconds, label in events)
    description = (f"{len(points)} point{'s' * (len(points) != 1)}, one per "
                   f"{'deployment' if key == 'lead' else 'recovered failure'}; the highest is "
                   f"{duration_text(top)}" if points else "nothing to draw in this window")
    return Chart(key, title, description, points, duration_text(top) if points else "",
                 f"{metrics.since:%Y-%m-%d}", f"{metrics.until:%Y-%m-%d}", line=False)


def charts(metrics: DoraMetrics) -> list[Chart]:
    """Deployments per week (a series), lead time per deployment and recovery time per
    recovered failure (one point each)."""
    weeks = max(1, math.ceil(metrics.days / 7))
    counts = [0] * weeks
    failed = [0] * weeks
    failures = {r.failed.id for r in metrics.recoveries}
    for row in metrics.deployments:
        back = int((metrics.until - row.deployed_at) / timedelta(days=7))
        index = weeks - 1 - min(back, weeks - 1)
        counts[index] += 1
        failed[index] += row.id in failures
    top = max(counts)
    week_points = []
    for index, count in enumerate(counts):
        end = metrics.until - timedelta(days=7) * (weeks - 1 - index)
        week_points.append(Point(
            _x(end - timedelta(days=3.5), metrics.since, metrics.until), _y(count, top),
            f"week to {end:%Y-%m-%d}: {count} deployment{'s' * (count != 1)}, "
            f"{failed[index]} failed"))
    frequency = Chart(
        "frequency", "Deployments per week",
        f"{weeks} weeks, {len(metrics.deployments)} deployments in all, "
        f"{len(failures)} failed", tuple(week_points), str(top),
        f"{metrics.since:%Y-%m-%d}", f"{metrics.until:%Y-%m-%d}", line=True)
    lead = _events("lead", "Lead time for changes", metrics,
                   [(row.deployed_at, seconds, f"{row.version} at {row.deployed_at:%Y-%m-%d %H:%M}")
                    for row, seconds in metrics.lead_times])
    recovery = _events("recovery", "Failed deployment recovery time", metrics,
                       [(r.failed.deployed_at, r.seconds, f"{r.failed.version} failed at "
                         f"{r.failed.deployed_at:%Y-%m-%d %H:%M}")
                        for r in metrics.recoveries if r.seconds is not None])
    return [frequency, lead, recovery]
