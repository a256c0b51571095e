"""The run's time budget: when it runs out, the run stops, whatever a check is doing.

A watchdog thread waits for the budget's end, records why, and sends SIGALRM to
the main thread; the handler raises :class:`BudgetExhausted` there, which ends
even a check blocked in a sleep or a socket read (the signal interrupts the
system call). pytest then finishes the session as for Ctrl-C, and the verdict
(INCONCLUSIVE when blocking checks did not run) is still written.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from types import FrameType

__all__ = ["Budget", "BudgetExhausted"]


class BudgetExhausted(KeyboardInterrupt):
    """The run's time budget ran out."""


class Budget:
    """A one-shot watchdog for ``--deploy-budget``."""

    def __init__(self, seconds: float, on_expire: Callable[[float], None]) -> None:
        self.seconds = seconds
        self.deadline = time.time() + seconds
        self._on_expire = on_expire
        self._started = time.monotonic()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._previous: object = None

    def start(self) -> None:
        """Arm the watchdog; must be called from the main thread."""
        self._previous = signal.signal(signal.SIGALRM, self._raise)
        self._timer.start()

    def cancel(self) -> None:
        """Disarm the watchdog and restore the previous SIGALRM handler."""
        self._timer.cancel()
        if self._previous is not None:
            signal.signal(signal.SIGALRM, self._previous)  # type: ignore[arg-type]
            self._previous = None

    def _expire(self) -> None:
        self._on_expire(time.monotonic() - self._started)
        main = threading.main_thread().ident
        if main is not None:
            signal.pthread_kill(main, signal.SIGALRM)

    @staticmethod
    def _raise(signum: int, frame: FrameType | None) -> None:
        raise BudgetExhausted()
