"""Verdict documents: a bare in-toto statement, or one signed in a DSSE envelope.

Every ``deployable`` command reads verdict files through :func:`read_document`,
which accepts both forms and returns the statement together with what is known
about its signatures. :func:`seal` writes the envelope. The envelope follows the
DSSE v1 protocol (https://github.com/secure-systems-lab/dsse/blob/master/protocol.md):
the signature is over ``PAE(payloadType, payload)``, never over the JSON text,
so re-indenting the envelope does not break it and changing the type does.

An envelope is untrusted input like any verdict file: its shape is checked with
the gate's declarative ``verdict_field`` table, and duplicate keys are refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .gate import (
    VerdictFileError,
    check_statement,
    parse_json,
    read_json,
    verdict_field,
)
from .keys import PrivateKey, PublicKey
from .untrusted import ARRAY, OPTIONAL_STR, STR, one_line, shown

__all__ = [
    "PAYLOAD_TYPE",
    "Signature",
    "SignatureError",
    "VerdictDocument",
    "dump_envelope",
    "is_envelope",
    "open_document",
    "pae",
    "read_document",
    "seal",
]

#: The DSSE payloadType of an in-toto statement.
PAYLOAD_TYPE = "application/vnd.in-toto+json"


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's Pre-Authentication Encoding: what a signature is computed over."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %b %d %b" % (len(kind), kind, len(payload), payload)


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64decode(text: str) -> bytes | None:
    """Standard or URL-safe base64, padded or not (DSSE allows all four); None if neither."""
    padded = text + "=" * (-len(text) % 4)
    for alphabet in (b"+/", b"-_"):
        try:
            return base64.b64decode(padded, altchars=alphabet, validate=True)
        except (binascii.Error, ValueError):
            continue
    return None


def seal(statement: Mapping[str, Any], key: PrivateKey, text: str | None = None) -> dict[str, Any]:
    """A DSSE envelope over ``statement`` (serialized as ``text`` when given), signed by ``key``."""
    payload = (text if text is not None else json.dumps(statement)).encode("utf-8")
    signature = key.sign(pae(PAYLOAD_TYPE, payload))
    return {
        "payloadType": PAYLOAD_TYPE,
        "payload": _b64encode(payload),
        "signatures": [{"keyid": key.keyid, "sig": _b64encode(signature)}],
    }


def dump_envelope(envelope: Mapping[str, Any]) -> str:
    """The envelope file's text: indented JSON with a final newline."""
    return json.dumps(envelope, indent=2) + "\n"


@dataclass(frozen=True)
class Signature:
    """One signature of an envelope: its claimed keyid and what checking it found."""

    keyid: str | None
    """The keyid the envelope claims (an unauthenticated hint in DSSE)."""
    verified: bool | None
    """True: a trusted key verified it; False: no trusted key did; None: not checked."""
    verified_by: str | None = None
    """The keyid of the trusted key that verified it (computed from the key, not claimed)."""
    key_source: str | None = None
    """The file of the key that verified it."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form that ``show`` and ``gate --format json`` print."""
        return {"keyid": self.verified_by or self.keyid, "verified": self.verified,
                "key": self.key_source}


class SignatureError(VerdictFileError):
    """An envelope whose payload is unreadable and that no trusted key signed."""


@dataclass(frozen=True)
class VerdictDocument:
    """A verdict file read: the checked statement and, for an envelope, its signatures."""

    statement: dict[str, Any]
    signed: bool
    """Whether the file is a DSSE envelope (signed form), not a bare statement."""
    signatures: tuple[Signature, ...] = ()
    problem: str | None = None
    """Why no signature could be trusted, in one line (None when one verified, or unchecked)."""

    @property
    def verified_by(self) -> Signature | None:
        """The first signature a trusted key verified, or None."""
        return next((s for s in self.signatures if s.verified), None)

    def signature_facts(self) -> dict[str, Any]:
        """Who signed and whether it verified, for JSON output."""
        return {
            "signed": self.signed,
            "verified": None if not self.signatures or all(
                s.verified is None for s in self.signatures
            ) else self.verified_by is not None,
            "signatures": [s.to_dict() for s in self.signatures],
        }

    def describe(self) -> str:
        """One line for a person: who signed, and whether it verified."""
        if not self.signed:
            return "not signed (a bare statement)"
        if not self.signatures:
            return "signed envelope with no signature"
        trusted = self.verified_by
        if trusted is not None:
            return f"signed by {trusted.verified_by}, verified with {trusted.key_source}"
        ids = ", ".join(one_line(s.keyid or "(no keyid)") for s in self.signatures)
        if all(s.verified is None for s in self.signatures):
            if self.problem is not None:
                return f"signed by {ids}, NOT usable: {self.problem}"
            return f"signed by {ids}, not verified (no key given)"
        return f"signed by {ids}, NOT verified: {self.problem}"


def is_envelope(data: Any) -> bool:
    """Whether ``data`` is shaped like a DSSE envelope rather than a statement."""
    return isinstance(data, dict) and "payloadType" in data and "_type" not in data


def _check_signatures(
    payload_type: str, payload: bytes, entries: list[Any], keys: tuple[PublicKey, ...]
) -> tuple[tuple[Signature, ...], str | None]:
    """Each signature checked against ``keys``; with the first problem when none verified."""
    facts: list[Signature] = []
    problems: list[str] = []
    message = pae(payload_type, payload)
    trusted = {key.keyid for key in keys}
    for index, entry in enumerate(entries):
        at = f"signatures[{index}]"
        if not isinstance(entry, dict):
            raise VerdictFileError(f"not a signed verdict: {at} must be an object")
        keyid = verdict_field(entry, at, "keyid", OPTIONAL_STR, optional=True)
        sig = _b64decode(verdict_field(entry, at, "sig", STR))
        if sig is None:
            raise VerdictFileError(f"not a signed verdict: {at}.sig is not base64")
        if not keys:
            facts.append(Signature(keyid, None))
            continue
        # keyid is only a hint: every trusted key is tried, and the keyid reported
        # is the one computed from the key that verified, never the claimed one.
        match = next((key for key in keys if key.verify(sig, message)), None)
        if match is not None:
            facts.append(Signature(keyid, True, match.keyid, match.source))
            continue
        facts.append(Signature(keyid, False))
        named = one_line(keyid) if keyid else "(no keyid)"
        if keyid in trusted:
            problems.append(
                f"the signature by trusted key {named} does not match the payload "
                f"(sha256 {hashlib.sha256(payload).hexdigest()[:16]}…): changed after signing"
            )
        else:
            problems.append(
                f"signed by {named}, which is not a trusted key (trusted: "
                f"{', '.join(sorted(trusted))})"
            )
    if not entries:
        problems.append("the envelope has no signature (signatures is empty)")
    if any(fact.verified for fact in facts):
        return tuple(facts), None
    return tuple(facts), (problems[0] if problems and keys else None)


def open_document(data: Any, keys: Iterable[PublicKey] = ()) -> VerdictDocument:
    """A parsed verdict file's document: the statement checked, signatures checked with ``keys``.

    Raises VerdictFileError for a file that is neither a well-formed statement
    nor a well-formed envelope around one (SignatureError, a kind of it, when
    no trusted key signed that payload either). A signature that does not
    verify is not an error here: ``problem`` says why, and the caller decides.
    """
    trusted = tuple(keys)
    if not is_envelope(data):
        return VerdictDocument(check_statement(data), signed=False,
                               problem="not signed: the file is a bare statement")
    payload_type = verdict_field(data, "", "payloadType", STR)
    encoded = verdict_field(data, "", "payload", STR)
    entries = verdict_field(data, "", "signatures", ARRAY)
    payload = _b64decode(encoded)
    if payload is None:
        raise VerdictFileError("not a signed verdict: payload is not base64")
    facts, problem = _check_signatures(payload_type, payload, entries, trusted)
    if payload_type != PAYLOAD_TYPE:
        # Checked after the signatures are read, but reported first: a signature
        # over another type does not vouch for a statement, whoever made it.
        problem = (f"payloadType is {shown(payload_type)}, not {PAYLOAD_TYPE!r}: "
                   "not an in-toto statement")
        facts = tuple(Signature(s.keyid, False if trusted else None) for s in facts)
    try:
        statement = parse_json(payload.decode("utf-8"))
        checked = check_statement(statement)
    except (ValueError, RecursionError, VerdictFileError) as exc:
        if problem is not None and trusted:
            # A payload no trusted key signed, and that is not a verdict either:
            # the signature is the news (it was changed after signing, or forged).
            raise SignatureError(problem) from None
        if isinstance(exc, VerdictFileError):
            raise
        raise VerdictFileError(
            f"not a verdict file: the envelope's payload is not JSON ({one_line(str(exc))})"
        ) from None
    return VerdictDocument(checked, signed=True, signatures=facts, problem=problem)


def read_document(path: Path, keys: Iterable[PublicKey] = ()) -> VerdictDocument:
    """The verdict document in ``path`` (statement or envelope); VerdictFileError naming it."""
    data = read_json(path)
    try:
        return open_document(data, keys)
    except VerdictFileError as exc:
        raise VerdictFileError(f"{path}: {exc}") from None
