"""The built-in version check: the target reports the version under test, on every answer.

With ``--deploy-version=V`` and a target ``version_url``, the plugin adds one
blocking smoke check, ``deployable::version``, that polls the URL until the
reported version is V (a rollout finishing) or ``--deploy-version-within``
passes. It only ever sends GET.

One matching answer proves little behind a load balancer: 1 replica of 4 on
the new version answers V a quarter of the time. So an attempt asks
``version_samples`` times in a row (default 5), each on a new connection (so a
balancer that spreads connections, like a Kubernetes Service, spreads them too),
and the check passes only when every answer of one attempt is V. The verdict
keeps how many answers were seen and which versions they reported.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from .state import EVIDENCE, STATE
from .targets import Target
from .waiting import poll

__all__ = ["VERSION_CHECK_ID", "Answers", "VersionCheck", "reported_version"]

VERSION_CHECK_ID = "deployable::version"


def _not_a_version(constant: str) -> object:
    # NaN and Infinity: JSON's extensions that Python accepts, never a version.
    return _NotAVersion(constant)


class _NotAVersion:
    def __init__(self, text: str) -> None:
        self.text = text


def reported_version(body: str, field: str | None, url: str) -> str | None:
    """The version in a version URL's answer (None: it reports none).

    With ``field``, a dotted path into the answer's JSON: a string is the version
    as written, a number is its JSON text as written (``1.10`` stays ``"1.10"``,
    never ``"1.1"``), ``null`` is no version, anything else is an error. Without
    ``field``, the body's text; an empty body is no version.
    """
    if field is None:
        return body.strip() or None
    try:
        data: Any = json.loads(body, parse_float=str, parse_int=str,
                               parse_constant=_not_a_version)
    except ValueError:
        raise AssertionError(f"{url} did not answer JSON, so it has no field {field!r}") from None
    for part in field.split("."):
        if not isinstance(data, dict) or part not in data:
            raise AssertionError(f"{url} answered JSON without the field {field!r}")
        data = data[part]
    if data is None:
        return None
    if not isinstance(data, str):  # numbers were kept as their text, so this is not one
        shown = data.text if isinstance(data, _NotAVersion) else json.dumps(data)[:80]
        raise AssertionError(f"{url} answered {field} = {shown}, which is not a version")
    return data


class Answers:
    """Every version the target reported during the check, counted, in the order first seen."""

    def __init__(self, required: int) -> None:
        self.required = required
        self.counts: dict[str | None, int] = {}

    def add(self, version: str | None) -> None:
        self.counts[version] = self.counts.get(version, 0) + 1

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def describe(self) -> str:
        """``1.4.2 (3), 1.4.1 (9), no version (1)``: what a person reads in a failure."""
        return ", ".join(
            f"{'no version' if version is None else version} ({count})"
            for version, count in self.counts.items()
        )

    def evidence(self) -> dict[str, Any]:
        """The check's ``evidence`` in the verdict file."""
        return {
            "versionSamples": self.required,
            "answers": self.total,
            "versions": [{"version": version, "answers": count}
                         for version, count in self.counts.items()],
        }


class VersionCheck(pytest.Item):
    """The ``deployable::version`` check item."""

    def __init__(self, *, within: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.within = within

    def runtest(self) -> None:
        from .fixtures import WAITS, display_for
        from .http import TargetSession

        state = self.config.stash[STATE]
        target: Target | None = state.target
        if target is None or not target.version_url or not target.version:
            raise AssertionError("the version check needs a target version_url and a version")
        expected = target.version
        answers = Answers(target.version_samples)
        with TargetSession(target) as session:
            url = session.url_for(target.version_url)

            def one_answer() -> str | None:
                # A new connection each time: a balancer that spreads connections
                # (not requests) would otherwise send every sample to one replica.
                try:
                    response = session.get(url, headers={"Connection": "close"})
                finally:
                    session.close()  # drops the pooled connection, whatever the server said
                if response.status_code != 200:
                    raise AssertionError(f"GET {url} answered {response.status_code}")
                found = reported_version(response.text, target.version_field, url)
                answers.add(found)
                return found

            def converged() -> str:
                for matched in range(answers.required):
                    found = one_answer()
                    if found != expected:
                        shown = "no version" if found is None else f"version {found!r}"
                        raise AssertionError(
                            f"target {target.name!r} reports {shown}, expected {expected!r} "
                            f"(after {matched} matching answers in a row of "
                            f"{answers.required} needed; answers so far: {answers.describe()})"
                        )
                return expected

            try:
                waited = poll(
                    converged,
                    what=f"version {expected} at {url}",
                    within=self.within,
                    every=min(5.0, max(self.within / 20, 0.2)),
                    display=display_for(self.config),
                    stop_at=state.stop_at(),
                )
            finally:
                self.stash[EVIDENCE] = answers.evidence()
        self.stash.setdefault(WAITS, []).append(waited)

    def reportinfo(self) -> tuple[str, int | None, str]:
        return ("deployable", None, VERSION_CHECK_ID)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str:
        return str(excinfo.value)
