"""Prometheus' HTTP API, asked through the target's bounded and redacting session.

Queries go to ``/api/v1/query`` and ``/api/v1/query_range`` of the target's
``prometheus`` URL as GET requests, with the target's timeout, retries, size
limit, TLS settings and redaction (:class:`~pytest_deployable.http.TargetSession`),
and only the target's ``prometheus_headers``. Every answer is untrusted: its
shape is checked field by field and sample values are read only in the forms
Prometheus writes (``"0.25"``, ``"NaN"``, ``"+Inf"``), so a proxy's error page
or an edited body can never turn into a number.

Two kinds of trouble are kept apart, because a pipeline acts differently on them:

* :class:`PrometheusUnavailable`: Prometheus could not be asked or did not answer
  as Prometheus (no connection, a timeout, a 5xx, a body that is not its JSON).
  Nothing is known about the release; the check errors and the verdict is
  INCONCLUSIVE.
* :class:`QueryFailed`: Prometheus answered and refused the query (HTTP 4xx with
  an ``errorType``), or the answer cannot be the one sample asked for. The check
  is wrong or the data is missing: the check fails.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from .redact import Redactor
from .targets import Target
from .untrusted import parse_json

if TYPE_CHECKING:
    from .http import TargetSession

__all__ = [
    "PrometheusClient",
    "PrometheusUnavailable",
    "QueryFailed",
    "Sample",
    "Series",
    "format_value",
    "parse_value",
]

#: A sample value as Prometheus writes it: a decimal float, NaN or a signed Inf.
_VALUE_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|NaN|[+-]Inf")
#: How many series a failure message names before it says "and N more".
_SHOWN_SERIES = 3


class PrometheusUnavailable(Exception):
    """Prometheus could not be asked, or did not answer as Prometheus: nothing is known."""


class QueryFailed(AssertionError):
    """Prometheus refused the query, or its answer is not what the check asked for."""


def parse_value(text: Any) -> float:
    """A sample value from Prometheus' answer; ValueError for anything it would not write."""
    if not isinstance(text, str) or not _VALUE_RE.fullmatch(text):
        raise ValueError(f"not a Prometheus sample value: {text!r}")
    return float(text.replace("Inf", "inf"))


def format_value(value: float) -> float | str:
    """A value for JSON: the number, or Prometheus' own spelling of NaN and the infinities."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return value


def format_time(moment: float) -> str:
    """A Unix time as RFC 3339 UTC with milliseconds, as the verdict file writes times."""
    when = datetime.fromtimestamp(moment, timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class Sample:
    """One value of one series at one time."""

    labels: Mapping[str, str]
    value: float
    time: float
    """Unix seconds, as Prometheus stamped the sample."""


@dataclass(frozen=True)
class Series:
    """One series of a range query: its labels and its (time, value) points in order."""

    labels: Mapping[str, str]
    points: tuple[tuple[float, float], ...]


def describe_labels(labels: Mapping[str, str]) -> str:
    """A label set as PromQL writes it: ``{code="500", job="shop"}``."""
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def _labels(item: Mapping[str, Any], where: str) -> dict[str, str]:
    labels = item.get("metric", {})
    if not isinstance(labels, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in labels.items()
    ):
        raise ValueError(f"{where}.metric must be an object of strings")
    return dict(labels)


def _point(raw: Any, where: str) -> tuple[float, float]:
    """A ``[unix_time, "value"]`` pair."""
    if not (isinstance(raw, list) and len(raw) == 2):
        raise ValueError(f"{where} must be a [time, \"value\"] pair")
    moment = raw[0]
    if isinstance(moment, bool) or not isinstance(moment, (int, float)) or not math.isfinite(
        moment
    ):
        raise ValueError(f"{where}[0] must be a Unix time")
    return float(moment), parse_value(raw[1])


def _vector(result: Any) -> list[Sample]:
    if not isinstance(result, list):
        raise ValueError("data.result must be an array for a vector")
    samples = []
    for index, item in enumerate(result):
        where = f"data.result[{index}]"
        if not isinstance(item, dict):
            raise ValueError(f"{where} must be an object")
        if "value" not in item:
            # Native histograms come as "histogram": not one float.
            raise ValueError(f"{where} has no float value (a histogram sample? query a float, "
                             "such as histogram_quantile(...))")
        moment, value = _point(item["value"], f"{where}.value")
        samples.append(Sample(_labels(item, where), value, moment))
    return samples


def _matrix(result: Any) -> list[Series]:
    if not isinstance(result, list):
        raise ValueError("data.result must be an array for a matrix")
    series = []
    for index, item in enumerate(result):
        where = f"data.result[{index}]"
        if not isinstance(item, dict) or not isinstance(item.get("values"), list):
            raise ValueError(f"{where} must be an object with values")
        points = tuple(
            _point(raw, f"{where}.values[{n}]") for n, raw in enumerate(item["values"])
        )
        series.append(Series(_labels(item, where), points))
    return series


class PrometheusClient:
    """Asks one Prometheus server for instant and range queries, on behalf of one target."""

    def __init__(self, target: Target, session: TargetSession | None = None) -> None:
        if not target.prometheus:
            raise ValueError(f"deploy target {target.name!r} has no prometheus URL")
        self.url = target.prometheus.rstrip("/")
        self.redact = Redactor(target.secrets)
        if session is None:
            from .http import TargetSession  # requests is imported only when metrics are asked

            # Prometheus gets its own headers, never the service's, and only GET:
            # a protected session refuses the admin API's POSTs before they leave.
            session = TargetSession(replace(
                target, name=f"{target.name} (prometheus)", base_url=self.url,
                headers=dict(target.prometheus_headers), protected=True,
            ))
        self.session = session

    def close(self) -> None:
        self.session.close()

    def instant(self, promql: str, *, at: float) -> list[Sample] | Sample:
        """An instant query at Unix time ``at``: the samples of a vector, or one scalar."""
        data = self._ask("/api/v1/query", {"query": promql, "time": f"{at:.3f}"}, promql)
        found: list[Sample] | Sample = self._read(data, promql, lambda kind, result: (
            _vector(result) if kind == "vector" else self._scalar(kind, result)
        ))
        return found

    def range(self, promql: str, *, start: float, end: float, step: float) -> list[Series]:
        """A range query from ``start`` to ``end`` (Unix seconds) every ``step`` seconds."""
        params = {"query": promql, "start": f"{start:.3f}", "end": f"{end:.3f}",
                  "step": f"{step:g}"}
        data = self._ask("/api/v1/query_range", params, promql)
        series: list[Series] = self._read(data, promql, lambda kind, result: (
            _matrix(result) if kind == "matrix" else self._refuse_kind(kind, "matrix")
        ))
        return series

    @staticmethod
    def _scalar(kind: str, result: Any) -> Sample:
        if kind != "scalar":
            PrometheusClient._refuse_kind(kind, "vector or scalar")
        moment, value = _point(result, "data.result")
        return Sample({}, value, moment)

    @staticmethod
    def _refuse_kind(kind: str, wanted: str) -> Any:
        raise ValueError(f"data.resultType is {kind!r}, not a {wanted}")

    def _read(self, data: Mapping[str, Any], promql: str,
              parse: Callable[[str, Any], Any]) -> Any:
        body = data.get("data")
        kind = body.get("resultType") if isinstance(body, dict) else None
        try:
            if not isinstance(body, dict) or not isinstance(kind, str):
                raise ValueError("data.resultType is missing")
            return parse(kind, body.get("result"))
        except ValueError as exc:
            raise QueryFailed(self.redact(
                f"query {promql!r}: Prometheus' answer cannot be read: {exc}"
            )) from None

    def _ask(self, path: str, params: Mapping[str, str], promql: str) -> Mapping[str, Any]:
        """GET ``path`` and return the parsed body of a ``success`` answer."""
        import requests

        url = self.url + path
        try:
            response = self.session.get(url, params=params)
        except requests.RequestException as exc:
            # TargetSession's messages name the URL and the target, redacted already.
            raise PrometheusUnavailable(self.redact(
                f"Prometheus could not be asked for {promql!r}: {exc}"
            )) from None
        status = response.status_code
        try:
            data = parse_json(response.content.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            data = None
        if not isinstance(data, dict) or data.get("status") not in ("success", "error"):
            raise PrometheusUnavailable(self.redact(
                f"{url} answered HTTP {status} without Prometheus' JSON for {promql!r}: "
                "is the target's prometheus URL a Prometheus server?"
            ))
        if data["status"] == "success" and status == 200:
            return data
        error_type = data.get("errorType")
        error = data.get("error")
        detail = f"{error_type}: {error}" if isinstance(error, str) else f"HTTP {status}"
        if 400 <= status < 500 and isinstance(error_type, str):
            raise QueryFailed(self.redact(f"Prometheus refused query {promql!r}: {detail}"))
        raise PrometheusUnavailable(self.redact(
            f"Prometheus could not answer {promql!r} (HTTP {status}): {detail}"
        ))



def only_sample(found: list[Sample] | Sample, promql: str, redact: Redactor) -> Sample | None:
    """The one sample a query must return: None for no data, QueryFailed for several."""
    if isinstance(found, Sample):
        return found
    if not found:
        return None
    if len(found) > 1:
        raise QueryFailed(redact(
            f"query {promql!r} returned {len(found)} series, expected exactly one: "
            f"{shown_series([s.labels for s in found])}; aggregate it (sum, max, ...) or "
            "use metrics.series()"
        ))
    return found[0]


def shown_series(label_sets: Sequence[Mapping[str, str]]) -> str:
    """A few label sets for a message, and how many more there are."""
    shown = ", ".join(describe_labels(labels) for labels in label_sets[:_SHOWN_SERIES])
    more = len(label_sets) - _SHOWN_SERIES
    return shown + (f" and {more} more" if more > 0 else "")
