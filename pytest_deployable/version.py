"""The built-in version check: the target reports the version under test.

With ``--deploy-version=V`` and a target ``version_url``, the plugin adds one
blocking smoke check, ``deployable::version``, that polls the URL until the
reported version is V (a rollout finishing) or ``--deploy-version-within``
passes. It only ever sends GET.
"""

from __future__ import annotations

from typing import Any

import pytest

from .state import STATE
from .targets import Target
from .waiting import poll

__all__ = ["VERSION_CHECK_ID", "VersionCheck", "reported_version"]

VERSION_CHECK_ID = "deployable::version"


def reported_version(body: str, field: str | None, url: str) -> str:
    """The version in a version URL's answer: a dotted ``field`` of its JSON, or the text."""
    if field is None:
        return body.strip()
    import json

    try:
        data: Any = json.loads(body)
    except ValueError:
        raise AssertionError(f"{url} did not answer JSON, so it has no field {field!r}") from None
    for part in field.split("."):
        if not isinstance(data, dict) or part not in data:
            raise AssertionError(f"{url} answered JSON without the field {field!r}")
        data = data[part]
    return str(data)


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
        with TargetSession(target) as session:
            url = session.url_for(target.version_url)

            def matches() -> str:
                response = session.get(url)
                if response.status_code != 200:
                    raise AssertionError(f"GET {url} answered {response.status_code}")
                found = reported_version(response.text, target.version_field, url)
                if found != expected:
                    raise AssertionError(
                        f"target {target.name!r} reports version {found!r}, "
                        f"expected {expected!r}"
                    )
                return found

            waited = poll(
                matches,
                what=f"version {expected} at {url}",
                within=self.within,
                every=min(5.0, max(self.within / 20, 0.2)),
                display=display_for(self.config),
                stop_at=state.stop_at(),
            )
        self.stash.setdefault(WAITS, []).append(waited)

    def reportinfo(self) -> tuple[str, int | None, str]:
        return ("deployable", None, VERSION_CHECK_ID)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str:
        return str(excinfo.value)
