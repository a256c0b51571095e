"""Hook specifications other plugins and ``conftest.py`` files implement to extend the gate."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .markers import CheckSpec
    from .targets import Target
    from .verdict import Amendment, Verdict


@pytest.hookspec(historic=True)
def pytest_deployable_target_resolved(config: pytest.Config, target: Target) -> None:
    """The deploy target for this run was resolved.

    Called once per process (the controller and each xdist worker) from
    ``pytest_configure``. Historic: a plugin registered later still receives it.
    """


@pytest.hookspec(firstresult=True)
def pytest_deployable_check_spec(item: pytest.Item, spec: CheckSpec | None) -> CheckSpec | None:
    """Return the spec that classifies ``item``, or None to keep ``spec`` as the markers say.

    ``spec`` is None when the item carries no category marker; returning a
    :class:`~pytest_deployable.markers.CheckSpec` makes it a check.
    """


def pytest_deployable_verdict(config: pytest.Config, verdict: Verdict) -> Amendment | None:
    """The verdict is decided and about to be written; return an Amendment to add a reason.

    An :class:`~pytest_deployable.verdict.Amendment` may also make the verdict
    worse (a veto); it can never make it better. Called in the controller only.
    """
