"""Fixtures a deployment check uses: the resolved target and an HTTP session bound to it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from .state import STATE
from .targets import Target

if TYPE_CHECKING:
    from .http import TargetSession

__all__ = ["deploy_target", "http"]

NO_TARGET = "no --deploy-target given"


@pytest.fixture(scope="session")
def deploy_target(request: pytest.FixtureRequest) -> Target:
    """The target this run checks: ``.name``, ``.base_url``, ``.protected``, ``.variables``,
    ``.hosts``, ``.version``."""
    target = request.config.stash[STATE].target
    if target is None:
        pytest.skip(NO_TARGET)
    return target


@pytest.fixture(scope="session")
def http(request: pytest.FixtureRequest, deploy_target: Target) -> Iterator[TargetSession]:
    """A ``requests.Session`` bound to the target (base URL, headers, timeout, retries,
    and refusal of state-changing requests on a protected target)."""
    if not deploy_target.base_url:
        pytest.fail(
            f"deploy target {deploy_target.name!r} has no base_url; the http fixture needs one",
            pytrace=False,
        )
    from .http import TargetSession  # requests is imported only when a check needs it

    state = request.config.stash[STATE]
    with TargetSession(deploy_target, allow_unsafe=state.unsafe_allowed) as session:
        yield session
