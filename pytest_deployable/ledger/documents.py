"""A verdict document as the ledger stores it: bare statement or DSSE envelope, checked whole.

Every byte is untrusted. :func:`read_document` parses strictly (duplicate keys and
NaN refused, as the gate does), opens a DSSE envelope in :func:`open_envelope`, and
checks the statement with :func:`~pytest_deployable.gate.check_statement`, so the
ledger holds only what ``deployable gate`` would also accept as well-formed. The
facts the ledger queries (target, version, verdict, completeness, checks) are taken
out once, here, so that history and metrics never parse a document again.

The signatures of an envelope are not verified here: the ledger stores the keyids
as the envelope claims them and ``can-i-deploy`` verifies before trusting them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ..gate import (
    CLOCK_SKEW,
    VerdictFileError,
    check_statement,
    parse_time,
)
from ..untrusted import Refused, parse_json

__all__ = ["MAX_KEY_LENGTH", "PAYLOAD_TYPE", "CheckRow", "Recorded", "open_envelope",
           "read_document"]

#: The longest target name or version the ledger indexes (PostgreSQL's btree keys are bounded).
MAX_KEY_LENGTH = 500
#: The DSSE payload type of an in-toto statement (SPEC section 11).
PAYLOAD_TYPE = "application/vnd.in-toto+json"


@dataclass(frozen=True)
class CheckRow:
    """One check of a recorded verdict, as a row of the ledger's checks table."""

    position: int
    check_id: str
    category: str
    blocking: bool
    outcome: str
    attempts: int
    reruns: int
    waited_ms: int
    """How long the check waited in all (``eventually``, ``within=``), from its ``waits``."""
    duration_ms: int | None
    host: str | None
    message: str | None


@dataclass(frozen=True)
class Recorded:
    """A checked verdict document and the facts the ledger keeps about it."""

    document: str
    """The document as recorded: the file's text, statement or envelope."""
    statement_sha256: str
    """sha256 of the statement in canonical JSON: the same statement is stored once."""
    signed: bool
    keyids: tuple[str, ...]
    target: str
    version: str | None
    subject_name: str
    subject_digest: str
    """The first subject's digest as ``ALGORITHM:VALUE`` (``gitCommit:…``, ``sha256:…``)."""
    verdict: str
    complete: bool
    """``selection.complete``; a verdict that does not say so is not complete."""
    reasons: tuple[str, ...]
    started_on: datetime
    finished_on: datetime
    checks: tuple[CheckRow, ...]


def _loads(text: str) -> Any:
    try:
        return parse_json(text)
    except Refused as exc:
        raise VerdictFileError(f"not a verdict file: {exc}") from None
    except json.JSONDecodeError as exc:
        raise VerdictFileError(
            f"not JSON: {exc.msg} (line {exc.lineno} column {exc.colno})"
        ) from None
    except (ValueError, RecursionError):
        raise VerdictFileError("not JSON") from None


def open_envelope(envelope: Mapping[str, Any]) -> tuple[Any, tuple[str, ...]]:
    """The statement inside a DSSE envelope and the keyids its signatures claim (unverified)."""
    payload_type = envelope.get("payloadType")
    if payload_type != PAYLOAD_TYPE:
        raise VerdictFileError(
            f"not a verdict envelope: payloadType must be {PAYLOAD_TYPE!r}, not {payload_type!r}"
        )
    payload, signatures = envelope.get("payload"), envelope.get("signatures")
    if not isinstance(payload, str):
        raise VerdictFileError("not a verdict envelope: payload must be a base64 string")
    if not isinstance(signatures, list) or not all(
        isinstance(s, dict) and isinstance(s.get("sig"), str)
        and isinstance(s.get("keyid", ""), str) for s in signatures
    ):
        raise VerdictFileError(
            "not a verdict envelope: signatures must be an array of {keyid, sig} objects"
        )
    padded = payload + "=" * (-len(payload) % 4)  # DSSE allows either alphabet, unpadded
    try:
        raw = base64.b64decode(padded, altchars=b"-_" if "-" in padded or "_" in padded
                               else None, validate=True)
    except (binascii.Error, ValueError):
        raise VerdictFileError("not a verdict envelope: payload is not base64") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise VerdictFileError("not a verdict envelope: payload is not UTF-8 JSON") from None
    keyids = tuple(dict.fromkeys(s["keyid"] for s in signatures if s.get("keyid")))
    return _loads(text), keyids


def _waited(check: Mapping[str, Any], index: int) -> int:
    waits = check.get("waits", [])
    if not isinstance(waits, list) or not all(
        isinstance(w, dict) and type(w.get("waitedMs")) is int and w["waitedMs"] >= 0
        for w in waits
    ):
        raise VerdictFileError(
            f"not a verdict file: predicate.deployability.checks[{index}].waits must be an "
            "array of objects with a whole number waitedMs"
        )
    return sum(int(w["waitedMs"]) for w in waits)


def _digest(subject: Mapping[str, Any]) -> str:
    digest = subject["digest"]
    for algorithm in ("sha256", "gitCommit", *sorted(digest)):
        if algorithm in digest:
            return f"{algorithm}:{digest[algorithm]}"
    return ""


def read_document(raw: bytes, *, now: datetime | None = None) -> Recorded:
    """Check a verdict document's bytes; VerdictFileError with one line if it is not one."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise VerdictFileError(f"not UTF-8 text (byte {exc.start})") from None
    if not text.strip():
        raise VerdictFileError("the verdict file is empty")
    data = _loads(text)
    keyids: tuple[str, ...] = ()
    signed = isinstance(data, dict) and "payloadType" in data
    if signed:
        data, keyids = open_envelope(data)
    statement = check_statement(data)
    ours = statement["predicate"]["deployability"]
    finished = parse_time(ours["finishedOn"])
    started = parse_time(ours["startedOn"])
    assert finished is not None  # check_statement made sure
    assert started is not None
    moment = now or datetime.now(timezone.utc)
    if finished - moment > CLOCK_SKEW:
        # A verdict from the future would stay "the latest" until then.
        raise VerdictFileError(
            f"finishedOn {ours['finishedOn']} is in the future; not trusted: check the clocks"
        )
    for name, value in (("target.name", ours["target"]["name"]), ("version", ours["version"])):
        if value is not None and len(value) > MAX_KEY_LENGTH:
            raise VerdictFileError(
                f"predicate.deployability.{name} is longer than {MAX_KEY_LENGTH} characters"
            )
    selection = ours.get("selection")
    complete = isinstance(selection, dict) and selection.get("complete") is True
    canonical = json.dumps(statement, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    checks = tuple(
        CheckRow(
            position=index,
            check_id=check["id"],
            category=check["category"],
            blocking=check["blocking"],
            outcome=check["outcome"],
            attempts=check["attempts"],
            reruns=check.get("reruns") or 0,
            waited_ms=_waited(check, index),
            duration_ms=check.get("durationMs"),
            host=check.get("host"),
            message=check.get("message"),
        )
        for index, check in enumerate(ours["checks"])
    )
    subject = statement["subject"][0]
    return Recorded(
        document=text,
        statement_sha256=hashlib.sha256(canonical.encode("utf-8")).hexdigest(),
        signed=signed,
        keyids=keyids,
        target=ours["target"]["name"],
        version=ours["version"],
        subject_name=subject["name"],
        subject_digest=_digest(subject),
        verdict=ours["verdict"],
        complete=complete,
        reasons=tuple(ours["reasons"]),
        started_on=started,
        finished_on=finished,
        checks=checks,
    )
