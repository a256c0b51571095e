"""``deployable gate`` with trust: signatures, artifact binding and the policy file.

:func:`run_gate` wraps :func:`pytest_deployable.gate.evaluate`. Its rules, in
order; the first that refuses decides:

1. the file is a verdict, bare or in a DSSE envelope (3);
2. the signature, where one is required (``--key``, or the policy's
   ``require_signature``): some signature verifies with a trusted key (8);
3. the artifact: ``--subject`` is among the statement's subjects (4);
4. the gate's own rules: target, version, age, the verdict (3/4/5/6/1);
5. the policy's rules for the target (7).

A key or policy file that cannot be used is :class:`GateUsage` (exit 2): the
gate cannot do its job, so it says so rather than deciding without them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from .envelope import SignatureError, VerdictDocument, open_document
from .gate import (
    EXIT_BAD_FILE,
    EXIT_MISMATCH,
    GateResult,
    VerdictFileError,
    evaluate,
    read_json,
)
from .keys import KeyFileError, PublicKey, load_public_key
from .policy import (
    DEFAULT_POLICY_FILE,
    Policy,
    PolicyError,
    load_policy,
    partial_allowed,
    violation,
)
from .provenance import Artifact
from .untrusted import one_line

__all__ = [
    "EXIT_POLICY",
    "EXIT_SIGNATURE",
    "GateUsage",
    "TrustedResult",
    "run_gate",
    "subject_matches",
]

EXIT_POLICY = 7
EXIT_SIGNATURE = 8


class GateUsage(Exception):
    """A key or policy the gate was given cannot be used; one line for the user (exit 2)."""


@dataclass(frozen=True)
class TrustedResult:
    """The gate's decision, with what it trusted to reach it."""

    result: GateResult
    document: VerdictDocument | None = None
    """The verdict as read, with its signatures; None when the file could not be read."""
    policy: Policy | None = None
    statement: dict[str, Any] | None = None


def subject_matches(statement: dict[str, Any], artifact: Artifact) -> bool:
    """Whether the statement binds ``artifact``: a subject with its sha256 digest.

    The digest decides, not the name: the same bytes under another name are the
    same artifact, and a name alone binds nothing.
    """
    return any(
        str(subject.get("digest", {}).get("sha256", "")).lower() == artifact.sha256
        for subject in statement["subject"]
    )


def _bound(statement: dict[str, Any]) -> str:
    shown = [
        f"{one_line(s['name'])} {alg}:{one_line(value)[:12]}"
        for s in statement["subject"] for alg, value in s["digest"].items()
    ]
    return ", ".join(shown[:3]) + (f" and {len(shown) - 3} more" if len(shown) > 3 else "")


def _peek_target(data: Any) -> str | None:
    """The target a file claims, before its signature is checked, to pick the policy."""
    try:
        document = open_document(data)
    except VerdictFileError:
        return None
    name = document.statement["predicate"]["deployability"]["target"]["name"]
    return name if isinstance(name, str) else None


def _policy(path: Path | None, target: str | None, data: Any, cwd: Path) -> Policy | None:
    """The policy for the gate's target (else the one the file claims), if there is a file."""
    if path is None:
        default = cwd / DEFAULT_POLICY_FILE
        if not default.exists():
            return None
        path = default
    try:
        policy_file = load_policy(path)
    except PolicyError as exc:
        raise GateUsage(str(exc)) from None
    if target is None:
        target = _peek_target(data)
    return policy_file.for_target(target if target is not None else "*")


def _keys(paths: Sequence[Path]) -> tuple[PublicKey, ...]:
    keys = []
    for path in paths:
        try:
            keys.append(load_public_key(path))
        except KeyFileError as exc:
            raise GateUsage(str(exc)) from None
    return tuple(keys)


def run_gate(
    path: Path,
    *,
    target: str | None = None,
    version: str | None = None,
    max_age: float | None = None,
    strict: bool = False,
    keys: Sequence[Path] = (),
    subject: Artifact | None = None,
    policy_path: Path | None = None,
    allow_partial: bool = False,
    now: datetime,
    cwd: Path,
) -> TrustedResult:
    """Apply every rule of the gate to the verdict file at ``path``; never raises for a bad file.

    ``policy_path`` None reads ``deploy-policy.toml`` in ``cwd`` if there is one.
    """
    source = str(path)
    try:
        data = read_json(path)
    except VerdictFileError as exc:
        return TrustedResult(GateResult(EXIT_BAD_FILE, str(exc)))
    policy = _policy(policy_path, target, data, cwd)
    trusted = _keys([*keys, *(policy.trusted_keys if policy else ())])
    required = bool(keys) or (policy is not None and policy.require_signature)

    def refuse(code: int, message: str, document: VerdictDocument | None = None) -> TrustedResult:
        return TrustedResult(GateResult(code, f"{source}: {message}"), document, policy,
                             document.statement if document else None)

    why = "--key" if keys else f"{policy.label}: require_signature" if policy else ""
    rule = f"signature required by {why}" if required else "signature"
    try:
        document = open_document(data, trusted)
    except SignatureError as exc:
        return refuse(EXIT_SIGNATURE, f"{rule}: {exc}")
    except VerdictFileError as exc:
        return refuse(EXIT_BAD_FILE, str(exc))
    statement = document.statement
    if required:
        if not trusted:
            return refuse(EXIT_SIGNATURE, f"{rule}, but no trusted key is given "
                          "(trusted_keys or --key)", document)
        if document.verified_by is None:
            return refuse(EXIT_SIGNATURE, f"{rule}: {document.problem}", document)
    elif document.signed and document.problem is not None:
        # Not required, but a signature that trusted keys refute, or an envelope
        # that says it holds something else, is not evidence to pass on.
        return refuse(EXIT_SIGNATURE, f"{rule}: {document.problem}", document)
    if subject is not None and not subject_matches(statement, subject):
        return refuse(EXIT_MISMATCH, f"is not for the artifact sha256:{subject.sha256[:16]}… "
                      f"(it binds {_bound(statement)})", document)
    # One decision on partial runs, for the policy's rule and for any other
    # reader of ``selection.complete``: the policy's allow_partial, else the flag.
    allowed, rule = partial_allowed(allow_partial, policy)
    # Under a policy, its allow_partial rule refuses a partial run (naming the rule);
    # without one, the gate's own check does.
    result = evaluate(statement, target=target, version=version, max_age=max_age,
                      strict=strict, now=now, source=source,
                      allow_partial=allowed or policy is not None)
    if result.ok and policy is not None:
        broken = violation(statement, policy, allow_partial=allowed, partial_rule=rule, now=now)
        if broken is not None:
            result = GateResult(EXIT_POLICY, f"{source}: {broken}", result.verdict,
                                result.target, result.version, result.age)
    if result.ok and document.verified_by is not None:
        signer = document.verified_by
        result = GateResult(result.exit_code, f"{result.message}; signed by "
                            f"{(signer.verified_by or '')[:16]}…", result.verdict,
                            result.target, result.version, result.age)
    return TrustedResult(result, document, policy, statement)
