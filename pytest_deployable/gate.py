"""The deployability gate: read a verdict file and decide whether a pipeline may go on.

This module is plain Python with no pytest in it. :func:`read_verdict` trusts
nothing in the file: it checks the shape, the schema version and that the
verdict agrees with ``result`` and with the checks it lists. :func:`evaluate`
then applies the gate's rules, in this order, and the first that fails decides:

1. the file is a well-formed verdict, and ``finishedOn`` is not in the future;
2. it is for the target and the version asked for, where given;
3. it is not older than ``--max-age``, measured from ``finishedOn``;
4. its verdict lets the pipeline proceed;
5. it speaks for the whole suite: a partial run (``selection.complete`` false,
   or no ``selection`` record at all, so not known to be complete) does not
   pass without ``allow_partial``.

The exit codes of ``deployable gate`` are the ``EXIT_*`` constants below;
:data:`EXIT_CODES_HELP` says what each means, and ``deployable gate --help``
prints it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from .attestation import PREDICATE_TYPE, SCHEMA_VERSION, STATEMENT_TYPE
from .durations import format_duration, parse_duration
from .files import UnreadableFile, read_regular_file
from .untrusted import (
    ARRAY,
    BOOL,
    COUNT,
    OBJECT,
    OPTIONAL_STR,
    STR,
    STRINGS,
    Kind,
    Refused,
    one_line,
    parse_json,
    parse_time,
    shown,
)
from .verdict import CheckResult, Decision, Outcome, decide
from .vocabulary import SELECTION_KEYS, SUMMARY_KEYS

__all__ = [
    "CLOCK_SKEW",
    "EXIT_BAD_FILE",
    "EXIT_CODES_HELP",
    "EXIT_DEPLOYABLE",
    "EXIT_INCONCLUSIVE",
    "EXIT_MISMATCH",
    "EXIT_NOT_DEPLOYABLE",
    "EXIT_PARTIAL",
    "EXIT_STALE",
    "EXIT_USAGE",
    "MAX_VERDICT_BYTES",
    "GateResult",
    "VerdictFileError",
    "check_statement",
    "evaluate",
    "format_duration",
    "gate_file",
    "is_partial",
    "parse_duration",
    "parse_json",
    "parse_time",
    "read_json",
    "read_verdict",
    "verdict_field",
]

EXIT_DEPLOYABLE = 0
EXIT_NOT_DEPLOYABLE = 1
EXIT_USAGE = 2
EXIT_BAD_FILE = 3
EXIT_MISMATCH = 4
EXIT_STALE = 5
EXIT_INCONCLUSIVE = 6
EXIT_PARTIAL = 7

#: A verdict file larger than this is refused unread (10 000 checks take about 4 MB).
MAX_VERDICT_BYTES = 64 * 1024 * 1024

#: What each exit code of ``deployable gate`` means, as ``--help`` shows it.
EXIT_CODES_HELP = """\
exit codes:
  0  deployable: DEPLOYABLE, or DEPLOYABLE_WITH_WARNINGS without --strict
  1  NOT_DEPLOYABLE, or DEPLOYABLE_WITH_WARNINGS with --strict
  2  usage error: bad command-line arguments, or a key, policy or VSA file
     that cannot be used
  3  the file is missing, unreadable or not a trustworthy verdict (truncated,
     not JSON, wrong shape, newer schema, inconsistent, finished in the future)
  4  the verdict is for another target, version or artifact (--subject)
  5  the verdict is older than --max-age (measured from its finishedOn)
  6  INCONCLUSIVE
  7  a partial run (checks deselected or skipped at collection, --lf, node-id
     arguments, or no selection record): passes only with --allow-partial"""

#: How far in the future ``finishedOn`` may be (clock skew between machines)
#: before the verdict is not trusted.
CLOCK_SKEW = timedelta(minutes=5)

#: The verdict file's summary keys, each counting the checks with one outcome.
_SUMMARY_KEYS = {key: outcome for outcome, key in SUMMARY_KEYS.items()}
_VERDICTS = tuple(decision.value for decision in Decision)
_OUTCOMES = tuple(outcome.value for outcome in Outcome)


class VerdictFileError(Exception):
    """A verdict file that cannot be trusted; its message is one line for the user."""


_TIME: Kind = ("an RFC 3339 UTC timestamp such as 2026-01-01T12:00:00Z",
                lambda v: isinstance(v, str) and parse_time(v) is not None)
_VERDICT: Kind = (f"one of {', '.join(_VERDICTS)}", lambda v: v in _VERDICTS)
_RESULT: Kind = ("PASSED, WARNED or FAILED", lambda v: v in ("PASSED", "WARNED", "FAILED"))
_SUBJECTS: Kind = ("a non-empty array", lambda v: isinstance(v, list) and len(v) > 0)
_EDITED = "inconsistent verdict file (edited or corrupt)"


def verdict_field(obj: Mapping[str, Any], where: str, key: str, kind: Kind,
                  optional: bool = False) -> Any:
    """``obj[key]`` if it is of ``kind``; VerdictFileError naming ``where.key`` if not."""
    name = f"{where}.{key}" if where else key
    if key not in obj:
        if optional:
            return None
        raise VerdictFileError(f"not a verdict file: {name} is missing")
    if not kind[1](obj[key]):
        raise VerdictFileError(
            f"not a verdict file: {name} must be {kind[0]}, not {shown(obj[key])}"
        )
    return obj[key]


def _check_schema(data: Mapping[str, Any]) -> None:
    version = verdict_field(data, "predicate.deployability", "schemaVersion", STR)
    if version == SCHEMA_VERSION:
        return
    newer = (len(version), version) > (len(SCHEMA_VERSION), SCHEMA_VERSION)
    if re.fullmatch(r"[1-9][0-9]*", version) and newer:
        brief = version if len(version) <= 12 else version[:9] + "..."
        raise VerdictFileError(
            f"written by a newer pytest-deployable, schema {brief}; this one reads "
            f"{SCHEMA_VERSION}: upgrade pytest-deployable to read it"
        )
    raise VerdictFileError(
        f"not a verdict file: unknown schemaVersion {shown(version)}; this one reads "
        f"{SCHEMA_VERSION}"
    )


def _check_checks(data: Mapping[str, Any]) -> list[CheckResult]:
    checks = verdict_field(data, "predicate.deployability", "checks", ARRAY)
    outcome: Kind = (f"one of {', '.join(_OUTCOMES)}", lambda v: v in _OUTCOMES)
    results = []
    for index, check in enumerate(checks):
        at = f"predicate.deployability.checks[{index}]"
        if not isinstance(check, dict):
            raise VerdictFileError(f"not a verdict file: {at} must be an object")
        results.append(CheckResult(
            id=verdict_field(check, at, "id", STR),
            category=verdict_field(check, at, "category", STR),
            blocking=verdict_field(check, at, "blocking", BOOL),
            outcome=Outcome(verdict_field(check, at, "outcome", outcome)),
            attempts=verdict_field(check, at, "attempts", COUNT),
            reruns=verdict_field(check, at, "reruns", COUNT, optional=True) or 0,
            host=verdict_field(check, at, "host", OPTIONAL_STR, optional=True),
            inconclusive=verdict_field(check, at, "inconclusive", OPTIONAL_STR, optional=True),
        ))
        verdict_field(check, at, "metrics", ARRAY, optional=True)
        verdict_field(check, at, "durationMs", COUNT, optional=True)
        verdict_field(check, at, "message", OPTIONAL_STR, optional=True)
    return results


def _check_hosts(data: Mapping[str, Any], checks: list[CheckResult]) -> None:
    """The optional per-host summary: its shape, and its counts against the checks."""
    hosts = verdict_field(data, "predicate.deployability", "hosts", ARRAY, optional=True)
    if hosts is None:
        return
    for index, entry in enumerate(hosts):
        at = f"predicate.deployability.hosts[{index}]"
        if not isinstance(entry, dict):
            raise VerdictFileError(f"not a verdict file: {at} must be an object")
        name = verdict_field(entry, at, "host", STR)
        for key, outcome in _SUMMARY_KEYS.items():
            count = verdict_field(entry, at, key, COUNT, optional=True)
            counted = sum(1 for c in checks if c.host == name and c.outcome is outcome)
            if count is not None and count != counted:
                raise VerdictFileError(
                    f"{_EDITED}: {at}.{key} is {count} but {counted} checks on host "
                    f"{shown(name)} are {outcome.value}"
                )
        verdict_field(entry, at, "failedChecks", STRINGS, optional=True)


def _check_consistency(data: Mapping[str, Any], checks: list[CheckResult]) -> None:
    for key, outcome in _SUMMARY_KEYS.items():
        counted = sum(1 for check in checks if check.outcome is outcome)
        if data["summary"][key] != counted:
            raise VerdictFileError(
                f"{_EDITED}: summary.{key} is {data['summary'][key]} but {counted} checks "
                f"are {outcome.value}"
            )
    # The rules only ever make a verdict worse than its checks alone (run facts
    # and hooks add severity), so a verdict better than its checks was edited.
    verdict = Decision(data["verdict"])
    floor = decide(checks)
    if verdict.severity < floor.decision.severity:
        reason = f" ({one_line(floor.reasons[0])})" if floor.reasons else ""
        raise VerdictFileError(
            f"{_EDITED}: the verdict is {verdict.value} but its checks make it at best "
            f"{floor.decision.value}{reason}"
        )
    started, finished = parse_time(data["startedOn"]), parse_time(data["finishedOn"])
    if started is not None and finished is not None and finished < started:
        raise VerdictFileError(f"{_EDITED}: finishedOn is before startedOn")


_SELECTION_FIELDS: tuple[tuple[str, Kind], ...] = tuple(zip(SELECTION_KEYS, (
    BOOL, STRINGS, STRINGS, OPTIONAL_STR, OPTIONAL_STR, BOOL, STRINGS,
), strict=True))


def _check_selection(data: Mapping[str, Any]) -> None:
    """The optional ``selection`` record: its shape, and ``complete`` against its lists."""
    where = "predicate.deployability.selection"
    selection = verdict_field(data, "predicate.deployability", "selection", OBJECT, optional=True)
    if selection is None:
        return
    for key, kind in _SELECTION_FIELDS:
        verdict_field(selection, where, key, kind)
    left_out = (selection["deselected"] or selection["skippedAtCollection"]
                or selection["lastFailed"] or any("::" in arg for arg in selection["args"]))
    if selection["complete"] and left_out:
        raise VerdictFileError(
            f"{_EDITED}: selection.complete is true but the selection left checks out"
        )
    if not selection["complete"] and data["verdict"] == Decision.DEPLOYABLE.value:
        raise VerdictFileError(
            f"{_EDITED}: the verdict is DEPLOYABLE but the run was partial "
            "(selection.complete is false)"
        )


def is_partial(statement: Mapping[str, Any]) -> bool:
    """Whether a checked statement is not known to cover the whole suite (fail closed)."""
    selection = statement["predicate"]["deployability"].get("selection")
    return not (isinstance(selection, dict) and selection.get("complete") is True)


def check_statement(data: Any) -> dict[str, Any]:
    """``data`` if it is a well-formed, self-consistent verdict statement; else VerdictFileError."""
    if not isinstance(data, dict):
        raise VerdictFileError(f"not a verdict file: expected a JSON object, found {shown(data)}")
    verdict_field(data, "", "_type", (repr(STATEMENT_TYPE), lambda v: v == STATEMENT_TYPE))
    verdict_field(data, "", "predicateType", (repr(PREDICATE_TYPE), lambda v: v == PREDICATE_TYPE))
    predicate = verdict_field(data, "", "predicate", OBJECT)
    if "deployability" not in predicate:
        raise VerdictFileError(
            "not a verdict file: it has no predicate.deployability, so pytest-deployable did "
            "not write it"
        )
    ours = verdict_field(predicate, "predicate", "deployability", OBJECT)
    _check_schema(ours)

    subjects = verdict_field(data, "", "subject", _SUBJECTS)
    for index, subject in enumerate(subjects):
        at = f"subject[{index}]"
        if not isinstance(subject, dict):
            raise VerdictFileError(f"not a verdict file: {at} must be an object")
        verdict_field(subject, at, "name", STR)
        verdict_field(subject, at, "digest", ("an object of strings", lambda v: isinstance(v, dict)
                                       and all(isinstance(x, str) for x in v.values())))

    where = "predicate.deployability"
    verdict = Decision(verdict_field(ours, where, "verdict", _VERDICT))
    result = verdict_field(predicate, "predicate", "result", _RESULT)
    if result != verdict.result:
        raise VerdictFileError(
            f"{_EDITED}: predicate.result is {result} but the verdict is {verdict.value}, "
            f"which is {verdict.result}"
        )
    verdict_field(ours, where, "reasons", STRINGS)
    target = verdict_field(ours, where, "target", OBJECT)
    verdict_field(target, f"{where}.target", "name", STR)
    verdict_field(target, f"{where}.target", "uri", OPTIONAL_STR, optional=True)
    verdict_field(target, f"{where}.target", "protected", BOOL, optional=True)
    verdict_field(ours, where, "version", OPTIONAL_STR)
    verdict_field(ours, where, "startedOn", _TIME)
    verdict_field(ours, where, "finishedOn", _TIME)
    summary = verdict_field(ours, where, "summary", OBJECT)
    for key in (*_SUMMARY_KEYS, *summary):
        verdict_field(summary, f"{where}.summary", key, COUNT)
    checks = _check_checks(ours)
    _check_hosts(ours, checks)
    _check_consistency(ours, checks)
    _check_selection(ours)
    return data


def read_json(path: Path) -> Any:
    """The JSON value in a verdict file, parsed strictly; VerdictFileError naming the file."""
    try:
        raw = read_regular_file(path, limit=MAX_VERDICT_BYTES, what="verdict file")
    except UnreadableFile as exc:
        raise VerdictFileError(str(exc)) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise VerdictFileError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    if not text.strip():
        raise VerdictFileError(f"{path}: the verdict file is empty")
    try:
        return parse_json(text)
    except Refused as exc:
        raise VerdictFileError(f"{path}: not a verdict file: {exc}") from None
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        # The parser stops where the value it could not finish began: at the end, at
        # the start of an open string, or at a cut-off literal such as ``tru``.
        rest = text[exc.pos:].rstrip()
        if exc.msg.startswith("Unterminated string") or any(
            word.startswith(rest) for word in ("true", "false", "null")
        ):
            raise VerdictFileError(f"{path}: truncated: the JSON ends early ({where})") from None
        raise VerdictFileError(f"{path}: not JSON: {exc.msg} ({where})") from None
    except (ValueError, RecursionError) as exc:
        raise VerdictFileError(f"{path}: not JSON: {one_line(str(exc))}") from None


def read_verdict(path: Path) -> dict[str, Any]:
    """The statement in a verdict file (bare, or in a DSSE envelope), checked.

    VerdictFileError naming the file if it is bad. Signatures are not verified
    here; :func:`pytest_deployable.envelope.read_document` does that when given keys.
    """
    from .envelope import read_document

    return read_document(path).statement


@dataclass(frozen=True)
class GateResult:
    """What the gate decided: an exit code, one line saying why, and what the verdict was."""

    exit_code: int
    message: str
    verdict: str | None = None
    target: str | None = None
    version: str | None = None
    age: float | None = None
    """Seconds since the verdict's run finished, or None when the file was not read."""

    @property
    def ok(self) -> bool:
        """Whether the pipeline may proceed."""
        return self.exit_code == EXIT_DEPLOYABLE


def evaluate(
    statement: Mapping[str, Any],
    *,
    target: str | None,
    version: str | None,
    max_age: float | None,
    strict: bool,
    now: datetime,
    source: str = "the verdict",
    allow_partial: bool = False,
) -> GateResult:
    """Apply the gate's rules to a statement; ``source`` names the file in messages."""
    if now.tzinfo is None:
        raise ValueError("evaluate() needs an aware datetime for now")
    try:
        check_statement(statement)
    except VerdictFileError as exc:
        return GateResult(EXIT_BAD_FILE, f"{source}: {exc}")
    ours = statement["predicate"]["deployability"]
    finished = parse_time(ours["finishedOn"])
    assert finished is not None  # check_statement made sure
    age = (now - finished).total_seconds()
    decision = Decision(ours["verdict"])
    found = ours["target"]["name"]
    found_version = ours["version"]

    def result(code: int, message: str) -> GateResult:
        return GateResult(code, message, decision.value, found, found_version, max(age, 0.0))

    if -age > CLOCK_SKEW.total_seconds():
        return result(EXIT_BAD_FILE, (
            f"{source} finished {format_duration(-age)} in the future "
            f"({ours['finishedOn']}); not trusted: check the clocks"
        ))
    if target is not None and found != target:
        return result(EXIT_MISMATCH, f"{source} is for target {found!r}, not {target!r}")
    if version is not None and found_version != version:
        if found_version is None:
            return result(EXIT_MISMATCH, f"{source} records no version, not {version!r}")
        return result(EXIT_MISMATCH, f"{source} is for version {found_version!r}, not {version!r}")
    if max_age is not None and age > max_age:
        return result(EXIT_STALE, (
            f"{source} is {format_duration(age)} old, older than --max-age "
            f"{format_duration(max_age)}"
        ))

    reasons = [one_line(reason) for reason in ours["reasons"]]
    why = reasons[0] if reasons else "no reason recorded"
    if len(reasons) > 1:
        why += f" (and {len(reasons) - 1} more)"
    if decision is Decision.NOT_DEPLOYABLE:
        return result(EXIT_NOT_DEPLOYABLE, f"{decision.value}: {why}")
    if decision is Decision.INCONCLUSIVE:
        return result(EXIT_INCONCLUSIVE, f"{decision.value}: {why}")
    if is_partial(statement) and not allow_partial:
        selection = ours.get("selection")
        if not isinstance(selection, dict):
            return result(EXIT_PARTIAL, (
                f"{source} has no selection record, so it is not known to cover the whole "
                "suite; rerun with this version of pytest-deployable, or pass --allow-partial"
            ))
        partial = next((r for r in reasons if r.startswith("partial run")), "partial run")
        return result(EXIT_PARTIAL, f"{decision.value}, {partial}; pass --allow-partial "
                                    "to accept it")
    if decision is Decision.DEPLOYABLE_WITH_WARNINGS and strict:
        return result(EXIT_NOT_DEPLOYABLE, f"{decision.value}, not allowed with --strict: {why}")
    subject = statement["subject"][0]["name"]
    what = " ".join(one_line(part) for part in (subject, found_version) if part)
    old = format_duration(age)
    message = f"{decision.value} — {what} on {one_line(found)} (verdict {old} old)"
    if decision is Decision.DEPLOYABLE_WITH_WARNINGS:
        message += f"; warning: {why}"
    return result(EXIT_DEPLOYABLE, message)


def gate_file(
    path: Path,
    *,
    target: str | None = None,
    version: str | None = None,
    max_age: float | None = None,
    strict: bool = False,
    now: datetime | None = None,
    allow_partial: bool = False,
) -> GateResult:
    """Read a verdict file and apply the gate's rules to it; never raises for a bad file."""
    try:
        statement = read_verdict(path)
    except VerdictFileError as exc:
        return GateResult(EXIT_BAD_FILE, str(exc))
    return evaluate(statement, target=target, version=version, max_age=max_age, strict=strict,
                    now=now or datetime.now(timezone.utc), source=str(path),
                    allow_partial=allow_partial)
