"""Durations as people write them on command lines, in markers and in targets files.

One parser for all of them (SPEC §10): a number of seconds (``45``, ``0.5``) or
amounts with the units ``d h m s ms`` in that order, each amount a number that
may have a fraction: ``250ms``, ``1.5s``, ``2m30s``, ``1h30m``, ``1d``.
"""

from __future__ import annotations

import math
import re

__all__ = ["format_duration", "format_interval", "parse_duration"]

_AMOUNT = r"[0-9]+(?:\.[0-9]+)?"
_DURATION_RE = re.compile(
    rf"(?:(?P<d>{_AMOUNT})d)? *(?:(?P<h>{_AMOUNT})h)? *"
    rf"(?:(?P<m>{_AMOUNT})m(?!s))? *(?:(?P<s>{_AMOUNT})s)? *(?:(?P<ms>{_AMOUNT})ms)?"
)
_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_PARSE_UNITS = {**_UNITS, "ms": 0.001}


def parse_duration(text: str) -> float:
    """Seconds in a duration such as ``45``, ``250ms``, ``1.5s``, ``2m30s``, ``2h`` or ``1d``."""
    stripped = text.strip()
    seconds: float | None = None
    if re.fullmatch(r"[0-9]+(?:\.[0-9]+)?", stripped):
        seconds = float(stripped)
    else:
        match = _DURATION_RE.fullmatch(stripped)
        if match and any(match.groupdict().values()):
            seconds = sum(
                float(amount) * _PARSE_UNITS[unit]
                for unit, amount in match.groupdict().items()
                if amount is not None
            )
    if seconds is None or not math.isfinite(seconds):
        raise ValueError(
            f"invalid duration {text!r}: use a number of seconds (45) or amounts with the "
            "units d, h, m, s, ms in that order, such as 250ms, 1.5s, 2m30s, 2h or 1d"
        )
    return seconds


def format_duration(seconds: float) -> str:
    """A duration for a person, in its two largest units: ``41s``, ``1m 30s``, ``2h 3m``."""
    whole = max(0, int(seconds))
    parts: list[str] = []
    for unit, size in _UNITS.items():
        amount, whole = divmod(whole, size)
        if amount or parts:
            parts.append(f"{amount}{unit}")
    shown = [part for part in parts[:2] if not part.startswith("0")]
    return " ".join(shown) or "0s"


def format_interval(seconds: float) -> str:
    """Like :func:`format_duration`, but finer under a minute: ``200ms``, ``1.5s``."""
    if 0 < seconds < 1 and round(seconds, 1) != seconds:
        return f"{round(seconds * 1000)}ms"
    if 0 < seconds < 60 and seconds != int(seconds):
        return f"{round(seconds, 1):g}s"
    return format_duration(seconds)
