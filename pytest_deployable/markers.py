"""Markers: which tests are deployment checks, and how each one counts in the verdict."""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from .vocabulary import CATEGORIES
from .waiting import seconds

__all__ = [
    "MARKERS",
    "CheckSpec",
    "MarkerError",
    "check_marker_names",
    "check_only_targets",
    "classify",
    "marker_value",
    "resembled_marker",
]


class MarkerError(Exception):
    """A marker used with arguments it does not take; the message is one line for the user."""


#: Interval between attempts of a check marked with ``within`` but no ``every``.
DEFAULT_EVERY = 1.0


@dataclass(frozen=True)
class _Category:
    blocking: bool
    within: float | None
    every: float | None


def _category(
    *, blocking: bool = True, within: float | str | None = None, every: float | str | None = None
) -> _Category:
    if not isinstance(blocking, bool):
        raise TypeError(f"blocking must be True or False, not {blocking!r}")
    try:
        within_s = seconds(within, "within") if within is not None else None
        every_s = seconds(every, "every") if every is not None else None
    except ValueError as exc:
        raise TypeError(str(exc)) from None
    if every_s is not None and within_s is None:
        raise TypeError("every needs within, e.g. post_deploy(within='2m', every='5s')")
    if within_s is not None and every_s is None:
        every_s = min(DEFAULT_EVERY, within_s)
    return _Category(blocking, within_s, every_s)


def _destructive() -> None:
    return None


def _only_targets(*names: str) -> tuple[str, ...]:
    if not names:
        raise TypeError("needs at least one target name, e.g. only_targets('staging')")
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"target names are strings, not {name!r}")
    return names


def _only_hosts(*patterns: str) -> tuple[str, ...]:
    if not patterns:
        raise TypeError("needs at least one role or host pattern, e.g. only_hosts('web')")
    for pattern in patterns:
        if not isinstance(pattern, str) or not pattern:
            raise TypeError(f"roles and host patterns are non-empty strings, not {pattern!r}")
    return patterns


#: Each marker with the signature users see in ``pytest --markers``.
MARKERS: dict[str, tuple[str, Callable[..., Any]]] = {
    "smoke": (
        "smoke(blocking=True, within=None, every=None): fast, critical-path deployment "
        "check; runs first. blocking=False makes it advisory (its failure warns, does not "
        "block).",
        _category,
    ),
    "contract": (
        "contract(blocking=True, within=None, every=None): the deployed interface matches "
        "what its consumers rely on.",
        _category,
    ),
    "post_deploy": (
        "post_deploy(blocking=True, within=None, every=None): verification after a release; "
        "with within='2m' the check body is retried every `every` (default 1s) until it "
        "passes or the time is up.",
        _category,
    ),
    "destructive": (
        "destructive: the check changes state on the target; on a protected target it runs "
        "only with --allow-destructive, else it is refused.",
        _destructive,
    ),
    "only_targets": (
        "only_targets(*names): the check applies to these deploy targets only; elsewhere it is "
        "not applicable.",
        _only_targets,
    ),
    "only_hosts": (
        "only_hosts(*patterns): a host check runs only on the target's hosts that have one of "
        "these roles or whose name matches one of these glob patterns; on a target with none, "
        "it is not applicable.",
        _only_hosts,
    ),
}


@dataclass(frozen=True)
class CheckSpec:
    """How a deployment check counts: its category, whether it blocks, and where it may run."""

    category: str
    blocking: bool
    destructive: bool = False
    only_targets: tuple[str, ...] | None = None
    within: float | None = None
    """Retry the check body until it passes or this many seconds pass."""
    every: float | None = None

    @property
    def rank(self) -> int:
        """Run order: smoke, then contract, then post_deploy."""
        return CATEGORIES.index(self.category) if self.category in CATEGORIES else len(CATEGORIES)


_VALIDATED: dict[tuple[str, tuple[Any, ...], tuple[tuple[str, Any], ...]], Any] = {}


def _call(item: pytest.Item, marker: pytest.Mark) -> Any:
    try:
        key = (marker.name, marker.args, tuple(sorted(marker.kwargs.items())))
        return _VALIDATED[key]
    except (KeyError, TypeError):  # TypeError: an unhashable argument, checked every time
        pass
    check = MARKERS[marker.name][1]
    try:
        inspect.signature(check).bind(*marker.args, **marker.kwargs)
        value = check(*marker.args, **marker.kwargs)
    except TypeError as exc:
        signature = MARKERS[marker.name][0].split(":", 1)[0]
        raise MarkerError(
            f"{item.nodeid}: @pytest.mark.{marker.name}: {exc}; it takes {signature}"
        ) from None
    with contextlib.suppress(TypeError):
        _VALIDATED[key] = value
    return value


def marker_value(item: pytest.Item, name: str) -> Any:
    """The validated value of the closest ``name`` marker on ``item``, or None without one."""
    marker = item.get_closest_marker(name)
    return None if marker is None else _call(item, marker)


def classify(item: pytest.Item) -> CheckSpec | None:
    """The check's spec, or None when the item carries none of smoke/contract/post_deploy.

    A check with several category markers belongs to the first in run order and
    blocks if any of them blocks. The closest marker wins, so a function's
    ``@pytest.mark.smoke(blocking=False)`` overrides a module's ``pytestmark``.
    """
    closest: dict[str, pytest.Mark] = {}
    for marker in item.iter_markers():  # one walk up the node chain, closest first
        if marker.name in MARKERS:
            closest.setdefault(marker.name, marker)
    if not closest:
        return None
    category: str | None = None
    blocking = False
    within: float | None = None
    every: float | None = None
    for name in CATEGORIES:
        if name in closest:
            options: _Category = _call(item, closest[name])
            if category is None:
                category, within, every = name, options.within, options.every
            blocking = options.blocking or blocking
    destructive = closest.get("destructive")
    if destructive is not None:
        _call(item, destructive)
    if "only_hosts" in closest:  # its value is read where hosts are chosen (hosts.py)
        _call(item, closest["only_hosts"])
    only = closest.get("only_targets")
    only_targets = _call(item, only) if only is not None else None
    if category is None:
        return None
    return CheckSpec(
        category=category,
        blocking=blocking,
        destructive=destructive is not None,
        only_targets=only_targets,
        within=within,
        every=every,
    )


#: How many edits away an unregistered marker may be from one of ours to count as a typo.
TYPO_EDITS = 2


def _edits(a: str, b: str) -> int:
    """The Levenshtein distance between two short strings."""
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (char_a != char_b)))
        previous = current
    return previous[-1]


def resembled_marker(name: str) -> str | None:
    """The marker of ours that ``name`` is a typo of (within two edits), or None."""
    if name in MARKERS:
        return None
    best = min(MARKERS, key=lambda ours: _edits(name, ours))
    return best if _edits(name, best) <= TYPO_EDITS else None


def check_marker_names(item: pytest.Item, registered: frozenset[str]) -> None:
    """Refuse an unregistered marker that looks like a typo of one of ours.

    Under ``--deploy-target`` a check whose ``@pytest.mark.smoek`` goes unnoticed
    is deselected, and the verdict is green without it; other unregistered
    markers keep pytest's own warning.
    """
    for node in item.listchain():
        for marker in node.own_markers:
            name = marker.name
            if name in registered or name in MARKERS:
                continue
            meant = resembled_marker(name)
            if meant is not None:
                raise MarkerError(
                    f"{item.nodeid}: unknown marker @pytest.mark.{name}: did you mean "
                    f"@pytest.mark.{meant}? A mistyped marker would drop the check from the run"
                )


def check_only_targets(
    item: pytest.Item, names: tuple[str, ...], known: tuple[str, ...], source: str
) -> None:
    """Refuse an ``only_targets`` name that is not a target of the targets file."""
    import difflib  # only for a mistake: not paid by every run that imports the plugin

    for name in names:
        if name in known:
            continue
        close = difflib.get_close_matches(name, known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise MarkerError(
            f"{item.nodeid}: @pytest.mark.only_targets: unknown target {name!r} in {source}"
            f"{hint} (known: {', '.join(known)})"
        )
