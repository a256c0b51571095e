"""Soak: after the first pass, run the post_deploy checks again every interval.

Like an Argo Rollouts AnalysisRun with ``interval``, ``count`` (from the
duration) and ``failureLimit``: each round is one measurement, and a round
fails when a blocking post_deploy check fails in it. The verdict fails when the
failed rounds exceed the limit (:func:`pytest_deployable.verdict.decide`).

Each round applies the first pass's outcome rules: a skipped (or xfailed)
blocking check proved nothing and warns; a failed advisory check warns. The
soak so far is handed to ``record`` after every check, so an interrupt (the
budget, SIGTERM) keeps the rounds already run, the one under way included.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

import pytest
from _pytest.runner import runtestprotocol

from .attestation import format_time
from .durations import format_interval
from .verdict import Soak, SoakRound

__all__ = ["run_soak"]


@dataclass
class _Round:
    number: int
    started_on: str
    passed: int = 0
    failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    warned: list[str] = field(default_factory=list)

    def add(self, item: pytest.Item, blocking: bool,
            reports: Sequence[pytest.TestReport]) -> None:
        """Count one check's run in this round, as the recorder counts the first pass."""
        if any(report.failed for report in reports):
            (self.failed if blocking else self.warned).append(item.nodeid)
        elif any(report.skipped for report in reports):  # xfail is reported as a skip
            if blocking:
                self.skipped.append(item.nodeid)
        else:
            self.passed += 1

    def freeze(self, *, interrupted: bool = False) -> SoakRound:
        return SoakRound(self.number, self.started_on, self.passed, tuple(self.failed),
                         tuple(self.skipped), tuple(self.warned), interrupted)


def run_soak(
    items: Sequence[tuple[pytest.Item, bool]],
    *,
    duration: float,
    every: float,
    failure_limit: int,
    say: Callable[[str], None],
    record: Callable[[Soak], None] = lambda soak: None,
) -> Soak:
    """Run ``items`` (each with whether it blocks) every ``every`` seconds for ``duration``.

    ``record`` gets the soak so far, unfinished, before the first round and after
    every check, so that an interrupt loses nothing already seen.
    """
    rounds: list[SoakRound] = []
    started = time.monotonic()
    end = started + duration

    def soak(current: _Round | None = None, *, finished: bool = False) -> Soak:
        done = tuple(rounds) + ((current.freeze(interrupted=True),) if current else ())
        return Soak(duration_s=duration, every_s=every, failure_limit=failure_limit,
                    rounds=done, checks=len(items), finished=finished)

    record(soak())
    say(
        f"soak: running {len(items)} post_deploy checks every {format_interval(every)} "
        f"for {format_interval(duration)} (failure limit {failure_limit})"
    )
    next_round = started + every
    while next_round <= end:
        time.sleep(max(0.0, next_round - time.monotonic()))
        current = _Round(len(rounds) + 1, format_time(datetime.now(timezone.utc)))
        for item, blocking in items:
            current.add(item, blocking, runtestprotocol(item, nextitem=None, log=False))
            record(soak(current))
        rounds.append(current.freeze())
        record(soak())
        failures = sum(1 for round_ in rounds if round_.failed)
        skipped = f", {len(current.skipped)} skipped" if current.skipped else ""
        say(
            f"soak round {current.number}: {current.passed} passed, {len(current.failed)} "
            f"failed{skipped} ({format_interval(time.monotonic() - started)} of "
            f"{format_interval(duration)}, {failures} failed rounds so far)"
        )
        next_round += every
    result = soak(finished=True)
    record(result)
    return result
