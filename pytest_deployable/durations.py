"""Durations as people write them on command lines and in markers: ``90s``, ``30m``, ``1h30m``."""

from __future__ import annotations

import math
import re

__all__ = ["format_duration", "format_interval", "parse_duration"]

_DURATION_RE = re.compile(
    r"(?:(?P<d>[0-9]+(?:\.[0-9]+)?)d)? *(?:(?P<h>[0-9]+(?:\.[0-9]+)?)h)? *"
    r"(?:(?P<m>[0-9]+(?:\.[0-9]+)?)m)? *(?:(?P<s>[0-9]+(?:\.[0-9]+)?)s)?"
)
_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(text: str) -> float:
    """Seconds in a duration such as ``45``, ``90s``, ``30m``, ``2h``, ``1d`` or ``1h30m``."""
    stripped = text.strip()
    seconds: float | None = None
    if re.fullmatch(r"[0-9]+(?:\.[0-9]+)?", stripped):
        seconds = float(stripped)
    else:
        match = _DURATION_RE.fullmatch(stripped)
        if match and any(match.groupdict().values()):
            seconds = sum(
                float(amount) * _UNITS[unit]
                for unit, amount in match.groupdict().items()
                if amount is not None
            )
    if seconds is None or not math.isfinite(seconds):
        raise ValueError(
            f"invalid duration {text!r}: use a number of seconds (45) or amounts with the "
            "units d, h, m, s in that order, such as 90s, 30m, 2h, 1d or 1h30m"
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
    """Like :func:`format_duration`, but keeps tenths under a minute: ``0.5s``, ``1.5s``."""
    if 0 < seconds < 60 and seconds != int(seconds):
        return f"{round(seconds, 1):g}s"
    return format_duration(seconds)
