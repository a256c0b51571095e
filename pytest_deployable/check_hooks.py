"""Per-check hooks that only some runs need, registered only by the runs that need them.

Every hook implementation registered is paid on every check, by every run, even
when it returns at once (pluggy calls each one; bench/overhead.py measures it).
So :class:`~pytest_deployable.run.DeployRun` keeps only the hooks that every run
with a target needs (recording each report, fail-fast), and these three join it
when the run has something for them to do:

- :class:`Refusals`: some check must not run here (a destructive check on a
  protected target, a check for other targets or hosts); decided at collection,
  the only place a check's status is set.
- :class:`Retries`: some check is marked ``within=``; decided at collection too.
- :class:`DestructiveWindow`: ``--allow-destructive`` was given. Without it no
  check may send state-changing requests to a protected target whatever it is
  marked, so which check is running does not matter.

Each decision fails closed: a run that skipped registering one would run a
refused check or let a destructive one write, so the condition is the same fact
the hook itself reads (tests/test_check_hooks.py holds them to it).
"""

from __future__ import annotations

from collections.abc import Generator

import pytest

from .fixtures import WAITS, display_for
from .hosts import not_applicable_reason
from .state import FACTS, SPEC, TRIES, DeployState
from .vocabulary import Outcome
from .waiting import WaitTimeout, poll

__all__ = ["DestructiveWindow", "Refusals", "Retries", "register_needed"]


class Refusals:
    """Skips, before any fixture runs, the checks whose status says they must not run here."""

    def __init__(self, state: DeployState) -> None:
        self.state = state

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        facts = item.stash.get(FACTS, None)
        status = facts.status if facts is not None else None
        target = self.state.target
        if status is None or target is None:
            return
        if status == Outcome.REFUSED.value:
            pytest.skip(
                f"refused: destructive check on protected target {target.name!r} "
                "(run with --allow-destructive to allow it)"
            )
        reason = not_applicable_reason(item)
        pytest.skip(reason or f"not applicable to target {target.name!r}")


class Retries:
    """Retries the body of a check marked ``within=`` until it passes or time is up."""

    def __init__(self, config: pytest.Config, state: DeployState) -> None:
        self.config = config
        self.state = state

    @pytest.hookimpl(tryfirst=True)
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function) -> bool | None:
        spec = pyfuncitem.stash.get(SPEC, None)
        if spec is None or spec.within is None or spec.every is None:
            return None
        from _pytest.python import pytest_pyfunc_call as call_body

        tries = 0

        def attempt() -> None:
            nonlocal tries
            tries += 1
            call_body(pyfuncitem)

        try:
            waited = poll(
                attempt, what=pyfuncitem.nodeid, within=spec.within, every=spec.every,
                display=display_for(self.config), stop_at=self.state.stop_at(),
                retry_on=(Exception, pytest.fail.Exception),
            )
            pyfuncitem.stash.setdefault(WAITS, []).append(waited)
        except WaitTimeout as exc:
            if exc.waited is not None:
                pyfuncitem.stash.setdefault(WAITS, []).append(exc.waited)
            raise
        finally:
            pyfuncitem.stash[TRIES] = tries
        return True


class DestructiveWindow:
    """Tells the http session and the ``db`` fixture whether the running check is destructive."""

    def __init__(self, state: DeployState) -> None:
        self.state = state

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, object, object]:
        spec = item.stash.get(SPEC, None)
        self.state.current_destructive = spec is not None and spec.destructive
        try:
            return (yield)
        finally:
            self.state.current_destructive = False


def register_needed(config: pytest.Config, state: DeployState, *, refused: bool,
                    retried: bool) -> None:
    """Register :class:`Refusals` and :class:`Retries` when a collected check needs them.

    Called where the checks' facts are fixed (``pytest_collection_modifyitems``),
    with whether any check got a status (``refused`` or ``notApplicable``) and
    whether any is marked ``within=``; each xdist worker collects, so each decides.
    """
    manager = config.pluginmanager
    if refused and not manager.has_plugin("deployable-refusals"):
        manager.register(Refusals(state), "deployable-refusals")
    if retried and not manager.has_plugin("deployable-retries"):
        manager.register(Retries(config, state), "deployable-retries")
