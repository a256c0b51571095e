"""The ``metrics`` fixture: post-release checks on Prometheus, read like the SLO they state.

``metrics.assert_that(promql, "< 0.01")`` asks Prometheus for one sample and
compares it; ``metrics.compare(promql, baseline={...}, canary={...},
max_increase="10%")`` judges a canary against its baseline, as Kayenta does.
Every evaluation (query, value, time, and whether it held) is handed to a
recorder; :mod:`.metrics_plugin` keeps them on the check and writes them under
the check's ``metrics`` key in the verdict file.

No data is never a pass, NaN and the infinities are never a pass, several series
where one was asked for is a failure naming them, and a Prometheus that cannot be
asked makes the check error with ``inconclusive`` set, so the verdict is
INCONCLUSIVE rather than a judgement on the release (see :mod:`.prometheus`).
"""

from __future__ import annotations

import math
import operator
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .prometheus import (
    PrometheusClient,
    PrometheusUnavailable,
    QueryFailed,
    Sample,
    Series,
    describe_labels,
    format_time,
    format_value,
    only_sample,
    shown_series,
)
from .redact import Redactor
from .waiting import seconds

__all__ = [
    "Comparison",
    "Evaluation",
    "Metrics",
    "NoData",
    "parse_comparison",
    "parse_increase",
]

_NUMBER = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_COMPARISON_RE = re.compile(rf"\s*(<=|>=|==|!=|<|>)\s*({_NUMBER})\s*")
_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
    "==": operator.eq, "!=": operator.ne,
}
_NO_DATA_CHOICES = ("fail", "pass")


class NoData(AssertionError):
    """A query that had to return a sample returned none: never a pass."""


@dataclass(frozen=True)
class Comparison:
    """A comparison string such as ``"< 0.01"``, parsed: the operator and the threshold."""

    op: str
    threshold: float

    def holds(self, value: float) -> bool:
        """Whether ``value`` meets it; a NaN or infinite value never does."""
        return math.isfinite(value) and _OPERATORS[self.op](value, self.threshold)

    def __str__(self) -> str:
        return f"{self.op} {self.threshold:g}"


def parse_comparison(text: Any) -> Comparison:
    """``"< 0.01"`` as a :class:`Comparison`; ValueError saying what would be right."""
    match = _COMPARISON_RE.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(
            f"invalid comparison {text!r}: write an operator (<, <=, >, >=, ==, !=) and a "
            "finite number, such as '< 0.01' or '>= 99.5'"
        )
    return Comparison(match.group(1), float(match.group(2)))


def parse_increase(value: Any) -> tuple[float, bool]:
    """``max_increase`` as (amount, relative): ``"10%"`` is (0.10, True), ``0.5`` (0.5, False)."""
    relative = isinstance(value, str) and value.strip().endswith("%")
    text = value.strip().removesuffix("%") if isinstance(value, str) else None
    amount: float | None = None
    if text is not None and re.fullmatch(_NUMBER, text.strip()):
        amount = float(text) / (100 if relative else 1)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        amount = float(value)
    if amount is None or not math.isfinite(amount) or amount < 0:
        raise ValueError(
            f"invalid max_increase {value!r}: give a percentage of the baseline such as "
            "'10%', or an absolute amount such as 0.005 (0 or more)"
        )
    return amount, relative


@dataclass(frozen=True)
class Evaluation:
    """One question put to Prometheus by a check, and what came back."""

    query: str
    time: str
    """When the query was evaluated (RFC 3339 UTC)."""
    value: float | None = None
    condition: str | None = None
    """The comparison asserted (``< 0.01``, ``<= baseline + 10%``), or None for a bare query."""
    passed: bool | None = None
    baseline: float | None = None
    series: int | None = None
    """How many series came back, for ``series`` and ``range``."""
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The verdict file's form: non-finite values spelled as Prometheus does."""
        data: dict[str, Any] = {"query": self.query, "time": self.time}
        if self.value is not None:
            data["value"] = format_value(self.value)
        for key in ("condition", "passed", "series", "error"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        if self.baseline is not None:
            data["baseline"] = format_value(self.baseline)
        return data


def _shown(value: float) -> str:
    return str(format_value(value))


class Metrics:
    """What the ``metrics`` fixture gives a check: queries and assertions on Prometheus."""

    def __init__(self, client: PrometheusClient, record: Callable[[Evaluation], None],
                 clock: Callable[[], float] = time.time) -> None:
        self._client = client
        self._record = record
        self._clock = clock
        self._redact: Redactor = client.redact

    def _ask(self, promql: str) -> tuple[Sample | None, float]:
        _check_promql(promql)
        at = self._clock()
        try:
            return only_sample(self._client.instant(promql, at=at), promql, self._redact), at
        except (PrometheusUnavailable, QueryFailed) as exc:
            self._record(Evaluation(promql, format_time(at), error=str(exc)))
            raise

    def query(self, promql: str) -> float:
        """The value of an instant query that must return exactly one sample.

        No data raises :class:`NoData`; several series raise
        :class:`~pytest_deployable.prometheus.QueryFailed` naming them.
        """
        sample, at = self._ask(promql)
        if sample is None:
            self._record(Evaluation(promql, format_time(at), error="no data"))
            raise NoData(self._redact(f"no data: query {promql!r} returned no series"))
        self._record(Evaluation(promql, format_time(sample.time), sample.value))
        return sample.value

    def series(self, promql: str) -> list[Sample]:
        """Every sample of an instant query, each with its labels (may be empty)."""
        _check_promql(promql)
        at = self._clock()
        try:
            found = self._client.instant(promql, at=at)
        except (PrometheusUnavailable, QueryFailed) as exc:
            self._record(Evaluation(promql, format_time(at), error=str(exc)))
            raise
        samples = [found] if isinstance(found, Sample) else found
        self._record(Evaluation(promql, format_time(at), series=len(samples)))
        return samples

    def range(self, promql: str, over: float | str = "10m", step: float | str = "30s"
              ) -> list[Series]:
        """A range query over the last ``over`` (``"10m"``), one point every ``step``."""
        _check_promql(promql)
        span, every = seconds(over, "over"), seconds(step, "step")
        end = self._clock()
        try:
            found = self._client.range(promql, start=end - span, end=end, step=every)
        except (PrometheusUnavailable, QueryFailed) as exc:
            self._record(Evaluation(promql, format_time(end), error=str(exc)))
            raise
        self._record(Evaluation(promql, format_time(end), series=len(found)))
        return found

    def assert_that(self, promql: str, comparison: str, *, no_data: str = "fail") -> float:
        """Assert that the query's one sample meets ``comparison`` (``"< 0.01"``).

        An empty result fails with "no data" unless ``no_data="pass"``; a NaN or
        infinite value never passes. Returns the value.
        """
        wanted = parse_comparison(comparison)
        if no_data not in _NO_DATA_CHOICES:
            raise ValueError(f"no_data must be 'fail' or 'pass', not {no_data!r}")
        sample, at = self._ask(promql)
        if sample is None:
            passed = no_data == "pass"
            self._record(Evaluation(promql, format_time(at), condition=str(wanted),
                                    passed=passed, error="no data"))
            if passed:
                return math.nan
            raise NoData(self._redact(
                f"no data: {promql} returned no series (expected {wanted}); "
                "no_data='pass' accepts that"
            ))
        value, held = sample.value, wanted.holds(sample.value)
        self._record(Evaluation(promql, format_time(sample.time), value, str(wanted), held))
        if not held:
            why = "" if math.isfinite(value) else " (a NaN or infinite value is never a pass)"
            raise AssertionError(self._redact(
                f"metric check failed: {promql} = {_shown(value)} at "
                f"{format_time(sample.time)}, expected {wanted}{why}"
            ))
        return value

    def compare(self, promql: str, *, baseline: Mapping[str, str], canary: Mapping[str, str],
                max_increase: float | str = "10%") -> tuple[float, float]:
        """Assert the canary's series is at most ``max_increase`` above the baseline's.

        The query runs once; ``baseline`` and ``canary`` are label matchers that
        must each choose exactly one of its series (``{"version": "1.5.0"}``).
        ``max_increase`` is a percentage of the baseline (``"10%"``) or an
        absolute amount (``0.005``). Returns (baseline, canary).
        """
        amount, relative = parse_increase(max_increase)
        for name, matchers in (("baseline", baseline), ("canary", canary)):
            if not isinstance(matchers, Mapping) or not matchers or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in matchers.items()
            ):
                raise ValueError(f"{name} must be a non-empty dict of label names to values, "
                                 f"such as {{'version': '1.4.2'}}, not {matchers!r}")
        samples = self.series(promql)
        chosen = [_choose(samples, matchers, name, promql, self._redact)
                  for name, matchers in (("baseline", baseline), ("canary", canary))]
        base, new = chosen[0].value, chosen[1].value
        limit = base * (1 + amount) if relative else base + amount
        shown_limit = f"baseline + {amount * 100:g}%" if relative else f"baseline + {amount:g}"
        held = math.isfinite(base) and math.isfinite(new) and new <= limit
        when = format_time(chosen[1].time)
        self._record(Evaluation(promql, when, new, f"<= {shown_limit}", held, baseline=base))
        if not held:
            raise AssertionError(self._redact(
                f"canary worse than baseline: {promql} is {_shown(new)} for "
                f"{describe_labels(canary)} and {_shown(base)} for {describe_labels(baseline)} "
                f"at {when}; allowed at most {shown_limit} = {_shown(limit)}"
            ))
        return base, new


def _check_promql(promql: Any) -> None:
    if not isinstance(promql, str) or not promql.strip():
        raise ValueError(f"a PromQL query must be a non-empty string, not {promql!r}")


def _choose(samples: list[Sample], matchers: Mapping[str, str], name: str, promql: str,
            redact: Redactor) -> Sample:
    """The one sample whose labels match ``matchers``; a failure naming what was found."""
    matching = [s for s in samples if all(s.labels.get(k) == v for k, v in matchers.items())]
    if len(matching) == 1:
        return matching[0]
    found = shown_series([s.labels for s in samples]) or "no series"
    what = "no series" if not matching else f"{len(matching)} series"
    raise (NoData if not matching else QueryFailed)(redact(
        f"{'no data: ' if not matching else ''}{name} {describe_labels(matchers)}: {what} of "
        f"{promql!r} match, expected exactly one; the query returned {found}"
    ))
