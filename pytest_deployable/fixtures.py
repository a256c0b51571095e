"""Fixtures a deployment check uses: the resolved target and an HTTP session bound to it."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from .state import STATE
from .waiting import Display, Waited, WaitTimeout, poll, seconds

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from .contract.plugin import ContractClient
    from .http import TargetSession
    from .metrics import Metrics
    from .prometheus import PrometheusClient
    from .targets import Target

# Every fixture of the plugin is defined here, and each imports what it needs
# when a check asks for it: pytest imports this module in every run on a machine
# with the plugin installed, and a run that uses no contract, metric or database
# check must not pay for their modules (bench/overhead.py measures it).
__all__ = [
    "Eventually",
    "NotYet",
    "contract",
    "db",
    "deploy_target",
    "eventually",
    "http",
    "metrics",
]

T = TypeVar("T")

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


@pytest.fixture
def db(request: pytest.FixtureRequest, deploy_target: Target) -> Iterator[Connection]:
    """A SQLAlchemy connection to the target's database, in a read-only transaction.

    Only a check marked ``destructive``, run with ``--allow-destructive``, on an
    unprotected target gets a writable one (committed when the check ends).
    """
    if not deploy_target.database:
        pytest.fail(
            f"deploy target {deploy_target.name!r} has no database; the db fixture needs one",
            pytrace=False,
        )
    from pathlib import Path

    from .database import DatabaseUnavailable, connect  # SQLAlchemy only when a check needs it

    state = request.config.stash[STATE]
    writable = state.unsafe_allowed() and not deploy_target.protected
    base = Path(deploy_target.source).parent if deploy_target.source else None
    with ExitStack() as stack:
        try:
            connection = stack.enter_context(connect(
                deploy_target.database, target_name=deploy_target.name,
                timeout=deploy_target.timeout, writable=writable, base=base))
        except DatabaseUnavailable as exc:
            pytest.fail(str(exc), pytrace=False)
        yield connection


@pytest.fixture(scope="session")
def contract(request: pytest.FixtureRequest, deploy_target: Target,
             http: TargetSession) -> ContractClient:
    """The target's OpenAPI contract: ``contract.validate(response)`` and
    ``contract.request("GET", "/items/{id}", id=1)``."""
    from .contract.plugin import contract_client

    return contract_client(request.config, deploy_target, http)


@pytest.fixture(scope="session")
def _deployable_prometheus(deploy_target: Target) -> Iterator[PrometheusClient]:
    """One Prometheus client per session (per xdist worker), with a pooled connection."""
    from .metrics_plugin import prometheus_client

    yield from prometheus_client(deploy_target)


@pytest.fixture
def metrics(request: pytest.FixtureRequest, _deployable_prometheus: PrometheusClient) -> Metrics:
    """Queries and assertions on the target's Prometheus; each evaluation is recorded
    with the check in the verdict file."""
    from .metrics_plugin import metrics_for

    return metrics_for(request.node, _deployable_prometheus)


#: Each check's waits, kept on the item so the report can carry them.
WAITS = pytest.StashKey[list["Waited[Any]"]]()


def display_for(config: pytest.Config) -> Display | None:
    """A wait display on the terminal, or None where nobody sees it (an xdist worker)."""
    if hasattr(config, "workerinput"):
        return None
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None:
        return None

    def write(text: str) -> None:
        # A wait's line starts on a line of its own, and pytest writes the file
        # name (or the -v line) again after it, so the progress dots stay whole.
        reporter.ensure_newline()
        if capture is not None:
            with capture.global_and_fixture_disabled():
                reporter.write(text)
                reporter.flush()
        else:
            reporter.write(text)
            reporter.flush()

    return Display(write, tty=reporter.isatty() and os.environ.get("CI") is None)


class Eventually:
    """Polls a callable until it passes or a deadline passes; see :func:`eventually`."""

    def __init__(self, item: pytest.Item) -> None:
        self._item = item

    def __call__(
        self,
        fn: Callable[[], T],
        *,
        within: float | str = "60s",
        every: float | str = "1s",
        what: str | None = None,
    ) -> T:
        """Call ``fn`` until it holds; return its value.

        ``fn`` holds when it returns without raising and its value is not a false
        one: ``False``, ``0``, ``""`` or an empty collection mean "not yet" and the
        wait goes on, as a raised ``AssertionError`` does. ``None`` holds, since an
        assert-style function (or ``response.raise_for_status()``) returns it.
        On the deadline, raise :class:`~pytest_deployable.waiting.WaitTimeout`
        from the last failure, naming the attempts and the time waited.
        """
        __tracebackhide__ = True
        config = self._item.config
        name = what or str(getattr(fn, "__name__", None) or repr(fn))
        try:
            waited = poll(
                _holds(fn, name),
                what=name,
                within=seconds(within, "within"),
                every=seconds(every, "every"),
                display=display_for(config),
                stop_at=config.stash[STATE].stop_at(),
            )
        except WaitTimeout as exc:
            if exc.waited is not None:  # a failed wait is evidence too
                self._item.stash.setdefault(WAITS, []).append(exc.waited)
            raise
        self._item.stash.setdefault(WAITS, []).append(waited)
        return waited.value  # type: ignore[return-value]


class NotYet(AssertionError):
    """A waited-for condition returned a false value: it does not hold yet."""


def _holds(fn: Callable[[], T], name: str) -> Callable[[], T]:
    """``fn``, raising :class:`NotYet` when it returns a false value other than None."""

    def attempt() -> T:
        value = fn()
        # None is what an assert-style condition returns when its asserts pass;
        # any other false value is the boolean form saying "not yet".
        if value is not None and not value:
            raise NotYet(f"{name} returned {value!r}")
        return value

    return attempt


@pytest.fixture
def eventually(request: pytest.FixtureRequest) -> Eventually:
    """``eventually(fn, within="60s", every="1s")``: poll ``fn`` until it passes; attempts
    are recorded in the verdict."""
    return Eventually(request.node)
