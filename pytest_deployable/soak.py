"""Soak: after the first pass, run the post_deploy checks again every interval.

Like an Argo Rollouts AnalysisRun with ``interval``, ``count`` (from the
duration) and ``failureLimit``: each round is one measurement, and a round
fails when a blocking post_deploy check fails in it. The verdict fails when the
failed rounds exceed the limit (:func:`pytest_deployable.verdict.decide`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone

import pytest
from _pytest.runner import runtestprotocol

from .attestation import format_time
from .durations import format_interval
from .verdict import Soak, SoakRound

__all__ = ["run_soak"]


def run_soak(
    items: Sequence[tuple[pytest.Item, bool]],
    *,
    duration: float,
    every: float,
    failure_limit: int,
    say: Callable[[str], None],
) -> Soak:
    """Run ``items`` (each with whether it blocks) every ``every`` seconds for ``duration``."""
    rounds: list[SoakRound] = []
    started = time.monotonic()
    end = started + duration
    say(
        f"soak: running {len(items)} post_deploy checks every {format_interval(every)} "
        f"for {format_interval(duration)} (failure limit {failure_limit})"
    )
    next_round = started + every
    while next_round <= end:
        time.sleep(max(0.0, next_round - time.monotonic()))
        number = len(rounds) + 1
        round_started = datetime.now(timezone.utc)
        passed = 0
        failed: list[str] = []
        for item, blocking in items:
            reports = runtestprotocol(item, nextitem=None, log=False)
            if any(report.failed for report in reports):
                if blocking:
                    failed.append(item.nodeid)
            else:
                passed += 1
        rounds.append(SoakRound(number, format_time(round_started), passed, tuple(failed)))
        failures = sum(1 for round_ in rounds if round_.failed)
        say(
            f"soak round {number}: {passed} passed, {len(failed)} failed "
            f"({format_interval(time.monotonic() - started)} of {format_interval(duration)}, "
            f"{failures} failed rounds so far)"
        )
        next_round += every
    return Soak(duration_s=duration, every_s=every, failure_limit=failure_limit,
                rounds=tuple(rounds))
