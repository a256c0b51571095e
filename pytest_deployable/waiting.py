"""Waiting for convergence: bounded polling that a person can watch.

Used by the ``eventually`` fixture, by ``post_deploy(within=..., every=...)`` on
a whole check, and by the built-in version check. A wait never outlives its
deadline by more than one attempt (so, for an ``http`` call, one request
timeout), never busy-waits, and says on a terminal what it waits for.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from .durations import format_interval, parse_duration

__all__ = ["MIN_INTERVAL", "Display", "WaitTimeout", "Waited", "poll", "seconds"]

T = TypeVar("T")

#: The shortest pause between attempts: a wait never spins.
MIN_INTERVAL = 0.05


def seconds(value: float | int | str, what: str) -> float:
    """A duration given as seconds or as ``"90s"``/``"2m"``; ValueError naming ``what``."""
    if isinstance(value, bool):
        raise ValueError(f"{what} must be a duration such as 30 or '2m', not {value!r}")
    if isinstance(value, (int, float)):
        result = float(value)
    elif isinstance(value, str):
        try:
            result = parse_duration(value)
        except ValueError as exc:
            raise ValueError(f"{what}: {exc}") from None
    else:
        raise ValueError(f"{what} must be a duration such as 30 or '2m', not {value!r}")
    if result <= 0:
        raise ValueError(f"{what} must be longer than zero, not {value!r}")
    return result


class WaitTimeout(AssertionError):
    """The deadline of a wait passed while its condition still failed.

    An AssertionError, so a check that times out *fails* (NOT_DEPLOYABLE)
    rather than errors; the last failure is its ``__cause__``, and ``waited``
    the record of the wait, so that a failed wait is in the verdict too.
    """

    waited: Waited[Any] | None = None


@dataclass
class Waited(Generic[T]):
    """The record of one wait: how many attempts, how long, and how it ended."""

    what: str
    attempts: int = 0
    elapsed: float = 0.0
    last_failure: str | None = None
    value: T | None = None


class Display:
    """Tells a person what is being waited for, without flooding a CI log.

    On a TTY one line is rewritten after every attempt; elsewhere a line is
    written when the wait starts, at most every ``quiet_every`` seconds while it
    lasts, and when it ends.
    """

    def __init__(
        self, write: Callable[[str], None] | None, *, tty: bool, quiet_every: float = 30.0
    ) -> None:
        self.write = write
        self.tty = tty
        self.quiet_every = quiet_every
        self._last_line = 0.0

    def _write(self, text: str, *, final: bool = False) -> None:
        if self.write is None:
            return
        if self.tty:
            self.write("\r\x1b[K" + text + ("\n" if final else ""))
        else:
            self.write(text + "\n")

    def started(self, what: str, within: float, every: float) -> None:
        self._last_line = time.monotonic()
        if not self.tty:
            self._write(
                f"waiting up to {format_interval(within)} for {what} "
                f"(every {every:g}s)"
            )

    def attempt(self, waited: Waited[Any], within: float) -> None:
        line = (
            f"waiting for {waited.what}: attempt {waited.attempts}, "
            f"{format_interval(waited.elapsed)} of {format_interval(within)}; "
            f"last failure: {waited.last_failure}"
        )
        now = time.monotonic()
        if self.tty:
            self._write(line[:200])
        elif now - self._last_line >= self.quiet_every:
            self._last_line = now
            self._write(line[:300])

    def finished(self, waited: Waited[Any], ok: bool) -> None:
        if waited.attempts <= 1 and ok and not self.tty:
            return
        outcome = "passed" if ok else "gave up"
        self._write(
            f"{waited.what}: {outcome} on attempt {waited.attempts} after "
            f"{format_interval(waited.elapsed)}",
            final=True,
        )


@dataclass
class _Clock:
    """Time sources, replaceable so the deadline arithmetic is plain to read."""

    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep


def poll(
    fn: Callable[[], T],
    *,
    what: str,
    within: float,
    every: float,
    display: Display | None = None,
    retry_on: tuple[type[BaseException], ...] = (Exception,),
    stop_at: float | None = None,
    clock: _Clock | None = None,
) -> Waited[T]:
    """Call ``fn`` until it returns without raising or ``within`` seconds pass.

    Returns the record of the wait, with ``fn``'s value. On the deadline raises
    :class:`WaitTimeout` from the last failure, naming the attempts and the time
    waited. ``stop_at`` (a ``time.monotonic()`` instant, such as the end of a
    run's budget) shortens the deadline; it never lengthens it.
    """
    __tracebackhide__ = True
    clock = clock or _Clock()
    every = max(every, MIN_INTERVAL)
    started = clock.monotonic()
    deadline = started + within
    if stop_at is not None:
        deadline = min(deadline, stop_at)
    waited: Waited[T] = Waited(what=what)
    if display is not None:
        display.started(what, within, every)
    while True:
        attempt_started = clock.monotonic()
        waited.attempts += 1
        try:
            waited.value = fn()
        except retry_on as exc:
            now = clock.monotonic()
            waited.elapsed = now - started
            waited.last_failure = _describe(exc)
            if now + MIN_INTERVAL > deadline:
                if display is not None:
                    display.finished(waited, ok=False)
                timeout = WaitTimeout(
                    f"{what}: still failing after {waited.attempts} attempts over "
                    f"{waited.elapsed:.1f}s (within {format_interval(within)}): "
                    f"{waited.last_failure}"
                )
                timeout.waited = waited
                raise timeout from exc
            if display is not None:
                display.attempt(waited, within)
            # Attempts start every `every` seconds, not `every` after the last
            # one ended, so a slow attempt does not stretch the interval.
            pause = every - (now - attempt_started)
            clock.sleep(max(MIN_INTERVAL, min(pause, deadline - now)))
            continue
        waited.elapsed = clock.monotonic() - started
        if display is not None:
            display.finished(waited, ok=True)
        return waited


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(exc).__name__}: {first}"[:300] if first else type(exc).__name__
