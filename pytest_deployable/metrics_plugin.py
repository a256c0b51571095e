"""The pytest side of metric analysis: the ``metrics`` fixture's value, evaluations on reports.

A check's evaluations are kept on its item. After the call phase they travel
on the report's metadata (so they reach the xdist controller) and the recorder
puts them on the check's result; a check that failed only because Prometheus
could not be asked gets ``inconclusive`` there too. Soak rounds are not
reported through pytest, so their evaluations, each marked with its
``soakRound``, are handed to the recorder directly (a soak runs in one process).
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import Any

import pytest

from .metrics import Evaluation, Metrics
from .prometheus import PrometheusClient, PrometheusUnavailable
from .recorder import META_ATTRIBUTE, Recorder
from .targets import Target

__all__ = [
    "EVALUATIONS",
    "MAX_RECORDED",
    "MetricsReports",
    "inconclusive_reason",
    "kept",
    "metrics_for",
    "prometheus_client",
    "register",
]

#: At most this many evaluations per check reach the verdict file. A check that
#: polls every second for ten minutes, or a long soak, would otherwise fill it.
MAX_RECORDED = 20

#: Each check's evaluations since its last report, kept on the item.
EVALUATIONS = pytest.StashKey[list[Evaluation]]()
#: Everything recorded for a check so far (first pass and soak rounds), as written.
_RECORDED = pytest.StashKey[list[dict[str, Any]]]()
#: How many soak rounds a check has run in.
_SOAK_ROUNDS = pytest.StashKey[int]()


def kept(evaluations: list[dict[str, Any]], limit: int = MAX_RECORDED) -> list[dict[str, Any]]:
    """At most ``limit`` evaluations: the oldest passing ones go first, so the
    evidence of a failure is the last to be dropped."""
    excess = len(evaluations) - limit
    if excess <= 0:
        return evaluations
    result = []
    for evaluation in evaluations:
        if excess > 0 and evaluation.get("passed") is True:
            excess -= 1
            continue
        result.append(evaluation)
    return result[-limit:]


def inconclusive_reason(exc: BaseException | None) -> str | None:
    """Why a check's failure says nothing about the release: Prometheus could not be asked.

    Follows the chain of causes, so a ``within``/``eventually`` timeout whose last
    attempt met an unreachable Prometheus counts too.
    """
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, PrometheusUnavailable):
            return str(exc)
        exc, seen = exc.__cause__, seen + 1
    return None


def prometheus_client(deploy_target: Target) -> Iterator[PrometheusClient]:
    """The ``_deployable_prometheus`` fixture's client, closed when the session ends.

    The fixtures are defined in :mod:`~pytest_deployable.fixtures` and import this
    module only when a check asks for them: runs without metric checks do not
    import the metric modules.
    """
    if not deploy_target.prometheus:
        pytest.fail(
            f"deploy target {deploy_target.name!r} has no prometheus URL; the metrics "
            "fixture needs one (prometheus = \"http://...\" in its table)",
            pytrace=False,
        )
    client = PrometheusClient(deploy_target)
    try:
        yield client
    finally:
        client.close()


def metrics_for(item: pytest.Item, client: PrometheusClient) -> Metrics:
    """The ``metrics`` fixture's value for the check ``item``: it records each evaluation."""

    def record(evaluation: Evaluation) -> None:
        item.stash.setdefault(EVALUATIONS, []).append(evaluation)

    return Metrics(client, record)


class MetricsReports:
    """Puts a check's evaluations, and why it could not judge, where the verdict finds them."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.soaking = False

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Generator[None, object, object]:
        # The innermost wrapper: once the first pass is over, whatever runs the
        # checks again (the soak, in the plugin's own wrapper) runs soak rounds.
        result = yield
        self.soaking = True
        return result

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        # tryfirst makes this the outer wrapper: the plugin's own wrapper has set
        # the report's metadata by the time this one runs after the yield.
        report = yield
        meta = getattr(report, META_ATTRIBUTE, None)
        if report.when != "call" or not isinstance(meta, dict):
            return report
        fresh = [e.to_dict() for e in item.stash.get(EVALUATIONS, [])]
        item.stash[EVALUATIONS] = []
        extra: dict[str, Any] = {}
        reason = inconclusive_reason(call.excinfo.value) if call.excinfo else None
        if self.soaking:
            round_ = item.stash[_SOAK_ROUNDS] = item.stash.get(_SOAK_ROUNDS, 0) + 1
            fresh = [{**evaluation, "soakRound": round_} for evaluation in fresh]
        if fresh:
            recorded = item.stash[_RECORDED] = kept([*item.stash.get(_RECORDED, []), *fresh])
            extra["metrics"] = recorded
            if self.soaking:
                self.recorder.set_metrics(item.nodeid, recorded)
        if reason is not None and report.failed:
            extra["inconclusive"] = reason
        if extra:
            setattr(report, META_ATTRIBUTE, {**meta, **extra})
        return report


def register(config: pytest.Config, recorder: Recorder) -> None:
    """Register the report hooks for a run with a deploy target."""
    config.pluginmanager.register(MetricsReports(recorder), "deployable-metrics")

