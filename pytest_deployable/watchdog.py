"""The crash watchdog: after an xdist worker crashes, the run must keep finishing checks.

pytest-xdist replaces a crashed worker and hands its unfinished work to the
others, but some schedulers (``--dist loadgroup``, ``loadscope``) can be left
waiting for work that no worker will ever do, and the run then hangs with no
verdict. A crash already makes the verdict INCONCLUSIVE at best (or
NOT_DEPLOYABLE, if a blocking check failed), so waiting long after one buys
little: once a worker has crashed, the controller stops the run when no check
finishes for ``--deploy-crash-grace`` (default 60 s), and the verdict is written
with the reason. Every finished check restarts the grace, so a run whose other
workers are still busy goes on. A ``--deploy-budget`` bounds the run as well.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

import pytest

from .durations import format_interval
from .state import DeployState

__all__ = ["CrashWatchdog"]


class CrashWatchdog:
    """Controller hooks (xdist only): arm on a worker crash, re-arm on every finished check."""

    def __init__(self, state: DeployState, grace: float) -> None:
        self.state = state
        self.grace = grace
        self._crashed: str | None = None
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()
        self._done = False

    def _arm(self) -> None:
        with self._lock:
            if self._done or self._crashed is None:
                return
            if self._timer is not None:
                self._timer.cancel()
            self._timer = threading.Timer(self.grace, self._fire)
            self._timer.daemon = True
            self._timer.start()

    def _fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self._done = True
        grace = format_interval(self.grace)
        # Recorded as a budget that ran out: the run stopped on a bound, not on Ctrl-C.
        self.state.budget_exhausted = (
            f"--deploy-crash-grace {grace}: no check finished in the {grace} after worker "
            f"{self._crashed} crashed"
        )
        main = threading.main_thread().ident
        if main is not None:
            # SIGINT wakes the controller's wait at once; Python raises KeyboardInterrupt.
            signal.pthread_kill(main, signal.SIGINT)

    def pytest_testnodedown(self, node: Any, error: object) -> None:
        if error:
            self._crashed = str(node.gateway.id)
            self._arm()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "teardown" or report.failed:
            self._arm()

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self) -> None:
        with self._lock:
            self._done = True
            if self._timer is not None:
                self._timer.cancel()
