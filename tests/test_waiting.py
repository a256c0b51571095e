"""Bounded polling and what it shows, with a clock the test controls."""

from __future__ import annotations

import pytest

from pytest_deployable.waiting import MIN_INTERVAL, Display, WaitTimeout, _Clock, poll, seconds


class FakeClock(_Clock):
    """Time that moves only when the code under test sleeps or an attempt takes time."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        super().__init__(monotonic=lambda: self.now, sleep=self._sleep)

    def _sleep(self, duration: float) -> None:
        assert duration >= MIN_INTERVAL  # never busy-waits
        self.sleeps.append(duration)
        self.now += duration


def test_poll_returns_the_value_once_the_condition_holds() -> None:
    clock = FakeClock()
    answers = iter([ValueError("no"), ValueError("not yet"), 42])

    def condition() -> int:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    waited = poll(condition, what="answer", within=10, every=1, clock=clock)
    assert (waited.value, waited.attempts) == (42, 3)
    assert clock.sleeps == [1, 1]


@pytest.mark.parametrize(("within", "every", "attempt_takes"), [(10, 1, 0.0), (5, 2, 1.5),
                                                                (3, 10, 0.2), (1, 0.3, 0.9)])
def test_the_deadline_is_never_outlived_by_more_than_one_attempt(
    within: float, every: float, attempt_takes: float
) -> None:
    clock = FakeClock()
    start = clock.now

    def never() -> None:
        clock.now += attempt_takes
        raise AssertionError("down")

    with pytest.raises(WaitTimeout) as excinfo:
        poll(never, what="health", within=within, every=every, clock=clock)
    assert clock.now - start <= within + attempt_takes + 1e-9
    assert "health: still failing after" in str(excinfo.value)
    assert "AssertionError: down" in str(excinfo.value)
    assert isinstance(excinfo.value.__cause__, AssertionError)


def test_stop_at_shortens_the_deadline() -> None:
    clock = FakeClock()
    start = clock.now

    def never() -> None:
        raise AssertionError("down")

    with pytest.raises(WaitTimeout):
        poll(never, what="x", within=600, every=1, clock=clock, stop_at=start + 3)
    assert clock.now - start <= 3


def test_a_failure_outside_retry_on_is_not_retried() -> None:
    def boom() -> None:
        raise KeyError("fatal")

    with pytest.raises(KeyError):
        poll(boom, what="x", within=5, every=1, clock=FakeClock(), retry_on=(ValueError,))


def test_display_on_a_tty_rewrites_one_line() -> None:
    written: list[str] = []
    display = Display(written.append, tty=True)
    clock = FakeClock()
    answers = iter([False, False, True])

    def condition() -> None:
        assert next(answers), "still starting"

    poll(condition, what="health", within=10, every=1, clock=clock, display=display)
    assert written[0].startswith("\r\x1b[Kwaiting for health: attempt 1")
    assert "last failure: AssertionError: still starting" in written[0]
    assert written[-1].startswith("\r\x1b[Khealth: passed on attempt 3")
    assert written[-1].endswith("\n")


def test_display_in_a_ci_log_is_quiet() -> None:
    written: list[str] = []
    display = Display(written.append, tty=False, quiet_every=30)
    clock = FakeClock()

    def never() -> None:
        raise AssertionError("down")

    with pytest.raises(WaitTimeout):
        poll(never, what="health", within=60, every=1, clock=clock, display=display)
    # A start line, at most one line per 30 s of a 60 s wait, and the end line.
    assert written[0] == "waiting up to 1m for health (every 1s)\n"
    assert written[-1].startswith("health: gave up on attempt")
    assert len(written) <= 4


@pytest.mark.parametrize(("value", "expected"), [(3, 3.0), ("90s", 90.0), ("2m", 120.0),
                                                 (0.5, 0.5)])
def test_seconds(value: float | str, expected: float) -> None:
    assert seconds(value, "within") == expected


@pytest.mark.parametrize("value", [0, -1, "soon", True, None])
def test_bad_seconds(value: object) -> None:
    with pytest.raises(ValueError, match="within"):
        seconds(value, "within")  # type: ignore[arg-type]
