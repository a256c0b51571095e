"""The deploy policy: per-target rules a verdict must meet beyond "it passed".

A policy file (``deploy-policy.toml``, or ``deployable gate --policy FILE``)
holds ``[policy.NAME]`` tables, one per target, and ``[policy."*"]`` for every
target. A target's table takes the ``"*"`` table's rules for the keys it does
not set, so a rule written for every target cannot be dropped by forgetting it
in one target's table. The file is checked against :data:`RULES`: an unknown
key is an error, because a misspelt rule that is silently ignored is a rule
that does not hold.

:func:`violation` applies the rules to a checked statement, in this order, and
returns the first that refuses as one line naming the rule and the check:
partial run, required checks, too few checks, warnings, age.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from .durations import format_duration, parse_duration
from .gate import is_partial
from .untrusted import BOOL, COUNT, STRINGS, Kind, one_line, parse_time, shown

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = [
    "DEFAULT_POLICY_FILE",
    "RULES",
    "Policy",
    "PolicyError",
    "load_policy",
    "partial_allowed",
    "selection_complete",
    "violation",
]

#: The policy file ``deployable gate`` reads when no ``--policy`` is given, in the
#: directory it runs in (the repository's root in a pipeline).
DEFAULT_POLICY_FILE = "deploy-policy.toml"
#: The table that applies to every target.
ANY_TARGET = "*"


class PolicyError(Exception):
    """A policy file that cannot be used; its message is one line for the user."""


def _duration(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        return parse_duration(value) > 0
    except ValueError:
        return False


_DURATION: Kind = ("a duration such as \"30m\" or \"1h30m\"", _duration)
#: Each rule: what its value must be, and how it becomes a field of :class:`Policy`.
RULES: dict[str, tuple[Kind, Callable[[Any], Any]]] = {
    "require_signature": (BOOL, bool),
    "trusted_keys": (STRINGS, tuple),
    "required_checks": (STRINGS, tuple),
    "min_checks": (COUNT, int),
    "allow_warnings": (BOOL, bool),
    "allow_partial": (BOOL, bool),
    "max_age": (_DURATION, parse_duration),
}


@dataclass(frozen=True)
class Policy:
    """The rules for one target; a rule left unset does not apply."""

    name: str
    """The table it came from: the target's name, or ``*``."""
    source: Path
    require_signature: bool = False
    trusted_keys: tuple[Path, ...] = ()
    """Public key files, resolved against the policy file's directory."""
    required_checks: tuple[str, ...] = ()
    min_checks: int | None = None
    allow_warnings: bool = True
    allow_partial: bool | None = None
    """None: the policy does not say; ``--allow-partial`` decides."""
    max_age: float | None = None
    given: frozenset[str] = field(default_factory=frozenset)
    """The rule names the file set for this target (its own table and ``*``)."""

    @property
    def label(self) -> str:
        """How messages name it: ``policy production`` or ``policy "*"``."""
        named = '"*"' if self.name == ANY_TARGET else one_line(self.name)
        return f"policy {named}"


@dataclass(frozen=True)
class PolicyFile:
    """A parsed policy file: its raw tables, checked for shape."""

    path: Path
    tables: Mapping[str, Mapping[str, Any]]

    def for_target(self, target: str) -> Policy | None:
        """The rules for ``target``: its table over the ``*`` table, or None if neither."""
        own, default = self.tables.get(target), self.tables.get(ANY_TARGET)
        if own is None and default is None:
            return None
        rules = {**(default or {}), **(own or {})}
        values = {key: RULES[key][1](value) for key, value in rules.items()}
        if "trusted_keys" in values:
            values["trusted_keys"] = tuple(self.path.parent / p for p in values["trusted_keys"])
        name = target if own is not None else ANY_TARGET
        return Policy(name=name, source=self.path, given=frozenset(rules), **values)


def load_policy(path: Path) -> PolicyFile:
    """The policy file at ``path``, checked; PolicyError naming the file and the key if bad."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyError(f"{path}: policy file not found") from None
    except IsADirectoryError:
        raise PolicyError(f"{path}: is a directory, not a policy file") from None
    except UnicodeDecodeError:
        raise PolicyError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read the policy file: {exc.strerror}") from None
    try:
        # TOML itself refuses a key defined twice, so no reader sees a different rule.
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{path}: not valid TOML: {exc}") from None
    unknown = sorted(set(data) - {"policy"})
    if unknown:
        raise PolicyError(f"{path}: unknown top-level key {unknown[0]!r}; rules go under "
                          "[policy.TARGET] or [policy.\"*\"]")
    tables = data.get("policy", {})
    if not isinstance(tables, dict) or not tables:
        raise PolicyError(f"{path}: no [policy.TARGET] table; write [policy.production] or "
                          "[policy.\"*\"]")
    for name, table in tables.items():
        where = f"policy.{name if re.fullmatch(r'[A-Za-z0-9_-]+', name) else repr(name)}"
        if not isinstance(table, dict):
            raise PolicyError(f"{path}: {where} must be a table")
        for key, value in table.items():
            if key not in RULES:
                raise PolicyError(
                    f"{path}: {where}.{key}: unknown rule; the rules are {', '.join(RULES)}"
                )
            kind = RULES[key][0]
            if not kind[1](value):
                raise PolicyError(f"{path}: {where}.{key} must be {kind[0]}, not {shown(value)}")
    return PolicyFile(path, tables)


def selection_complete(statement: Mapping[str, Any]) -> bool:
    """Whether the verdict says its run selected every check (``selection.complete``).

    A verdict without the record is not known to be complete, so it is not; the
    gate's own reader decides, so the two can never disagree.
    """
    return not is_partial(statement)


def partial_allowed(flag: bool, policy: Policy | None) -> tuple[bool, str]:
    """The one decision on partial runs: allowed or not, and by what.

    The policy's ``allow_partial`` decides when it sets it (``--allow-partial``
    cannot overrule a policy that says false); otherwise ``--allow-partial``.
    """
    if policy is not None and policy.allow_partial is not None:
        return policy.allow_partial, f"{policy.label}: allow_partial = " + (
            "true" if policy.allow_partial else "false"
        ) + (" (--allow-partial cannot overrule it)" if flag and not policy.allow_partial else "")
    return flag, "--allow-partial" if flag else "partial runs are refused without --allow-partial"


def _glob(pattern: str) -> re.Pattern[str]:
    # Only * and ? are wildcards: check ids carry [param] parts that fnmatch
    # would read as character classes, so a literal id would not match itself.
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.DOTALL)


def violation(
    statement: Mapping[str, Any], policy: Policy, *, allow_partial: bool, partial_rule: str,
    now: datetime,
) -> str | None:
    """The first rule of ``policy`` that ``statement`` breaks, as one line; None if none."""
    ours = statement["predicate"]["deployability"]
    label = policy.label
    if not allow_partial and not selection_complete(statement):
        selection = ours.get("selection")
        why = ("it records no selection, so it is not known to be complete"
               if not isinstance(selection, dict) else "selection.complete is not true")
        return f"{label}: allow_partial: the run was partial ({why}); {partial_rule}"
    checks = ours["checks"]
    for pattern in policy.required_checks:
        matcher = _glob(pattern)
        matched = [c for c in checks if matcher.fullmatch(c["id"])]
        if not matched:
            return f"{label}: required_checks: no check in the verdict matches {pattern!r}"
        for check in matched:
            if check["outcome"] != "passed":
                return (f"{label}: required_checks: {one_line(check['id'])} is "
                        f"{check['outcome']}, not passed (required by {pattern!r})")
    if policy.min_checks is not None:
        passed = sum(1 for c in checks if c["outcome"] == "passed")
        if passed < policy.min_checks:
            return (f"{label}: min_checks: {passed} check{'s' * (passed != 1)} passed, "
                    f"fewer than min_checks = {policy.min_checks}")
    if not policy.allow_warnings and ours["verdict"] == "DEPLOYABLE_WITH_WARNINGS":
        reasons = ours["reasons"]
        why = one_line(reasons[0]) if reasons else "no reason recorded"
        return f"{label}: allow_warnings = false: the verdict is DEPLOYABLE_WITH_WARNINGS ({why})"
    if policy.max_age is not None:
        finished = parse_time(ours["finishedOn"])
        assert finished is not None  # check_statement made sure
        age = (now - finished).total_seconds()
        if age > policy.max_age:
            return (f"{label}: max_age: the verdict is {format_duration(age)} old, older than "
                    f"max_age = {format_duration(policy.max_age)}")
    return None
