"""The promotion rule: may version V go to target T, given what the ledger remembers?

Plain Python over recorded rows. For each target in T's ``promote_from``, the
verdict that decides is the latest one recorded for V there (by when its run
finished; of several that finished at the same instant, the worst). Per target,
the first rule that applies decides:

1. no verdict for V there: **unknown** — no data never means yes;
2. the latest verdict is NOT_DEPLOYABLE or INCONCLUSIVE: **no** (a later failing
   verdict revokes an earlier pass);
3. it is partial (``selection.complete`` not true): **no** — a partial run is not
   evidence for the whole suite;
4. DEPLOYABLE_WITH_WARNINGS with ``--strict``: **no**;
5. T's policy requires signatures and the verdict is not signed by a trusted
   key — or there is no verifier to tell: **no**;
6. it is older than ``promote_max_age``: **unknown** — it was good, but it is not
   current evidence; a fresh run may bring it;
7. otherwise **yes**.

The answer is "yes" only if every required target says yes; "no" if any says
no; else "unknown".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..attestation import format_time
from ..durations import format_duration
from ..verdict import Decision
from .rows import VerdictRow

__all__ = ["EXIT_CODES", "Promotion", "PromotionRule", "Requirement", "Verifier", "decide"]

#: Verifies a recorded document's signature against the trusted keys; True if trusted.
Verifier = Callable[[str], bool]

#: The exit code of ``deployable can-i-deploy`` for each answer.
EXIT_CODES = {"yes": 0, "no": 1, "unknown": 6}
_ORDER = ("yes", "unknown", "no")


@dataclass(frozen=True)
class PromotionRule:
    """What target T asks of a version before it may go there."""

    to: str
    promote_from: tuple[str, ...]
    max_age: float | None = None
    """Seconds: how old the deciding verdict may be; None: any age."""
    require_signature: bool = False


@dataclass(frozen=True)
class Requirement:
    """The answer for one target of ``promote_from``, and the verdict that decided it."""

    target: str
    answer: str
    reason: str
    verdict: VerdictRow | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form ``--format json`` prints."""
        return {"target": self.target, "answer": self.answer, "reason": self.reason,
                "verdict": self.verdict.to_dict() if self.verdict else None}


@dataclass(frozen=True)
class Promotion:
    """The answer of ``can-i-deploy``: yes, no or unknown, with one requirement per target."""

    version: str
    to: str
    answer: str
    requirements: tuple[Requirement, ...]

    @property
    def exit_code(self) -> int:
        """0 yes, 1 no, 6 unknown."""
        return EXIT_CODES[self.answer]

    @property
    def reasons(self) -> list[str]:
        """One line per required target, as a person reads it."""
        return [f"{r.target}: {r.answer}: {r.reason}" for r in self.requirements]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form; ``answer``, ``deployable`` and ``reasons`` as the service names them."""
        return {"answer": self.answer, "deployable": self.answer == "yes",
                "version": self.version, "to": self.to, "reasons": self.reasons,
                "requirements": [r.to_dict() for r in self.requirements]}


def _worst(rows: Sequence[VerdictRow]) -> VerdictRow:
    def severity(row: VerdictRow) -> int:
        try:
            return Decision(row.verdict).severity
        except ValueError:  # not a word this version knows: the worst
            return 99
    return max(rows, key=lambda row: (severity(row), not row.complete, row.id))


def _evidence(row: VerdictRow, now: datetime) -> str:
    age = format_duration((now - row.finished_on).total_seconds())
    return (f"verdict #{row.id} sha256:{row.statement_sha256[:12]}, finished "
            f"{format_time(row.finished_on)} ({age} ago)")


def _judge(source: str, rows: Sequence[VerdictRow], rule: PromotionRule, version: str, *,
           strict: bool, now: datetime, verify: Verifier | None,
           document: Callable[[VerdictRow], str]) -> Requirement:
    if not rows:
        return Requirement(source, "unknown", f"no verdict for {version} recorded on {source}")
    row = _worst(rows)
    evidence = _evidence(row, now)

    def answer(word: str, why: str) -> Requirement:
        return Requirement(source, word, f"{why} ({evidence})", row)

    if row.verdict not in (Decision.DEPLOYABLE.value, Decision.DEPLOYABLE_WITH_WARNINGS.value):
        why = f": {row.reasons[0]}" if row.reasons else ""
        return answer("no", f"the latest verdict is {row.verdict}{why}")
    if not row.complete:
        return answer("no", "the latest verdict is from a partial run (selection.complete is "
                            "not true); a partial verdict is not evidence")
    if strict and row.verdict == Decision.DEPLOYABLE_WITH_WARNINGS.value:
        return answer("no", "the latest verdict is DEPLOYABLE_WITH_WARNINGS, not allowed with "
                            "--strict")
    if rule.require_signature:
        if verify is None:
            return answer("no", f"the policy for {rule.to} requires signed verdicts, and "
                                "signature verification is not available")
        if not row.signed:
            return answer("no", f"the policy for {rule.to} requires signed verdicts; this one "
                                "is not signed")
        if not verify(document(row)):
            return answer("no", f"the policy for {rule.to} requires signed verdicts; the "
                                "signature is invalid or made by no trusted key")
    age = (now - row.finished_on).total_seconds()
    if rule.max_age is not None and age > rule.max_age:
        return answer("unknown", f"the latest verdict, {row.verdict}, is older than "
                                 f"promote_max_age {format_duration(rule.max_age)}")
    return answer("yes", f"{row.verdict}, complete")


def decide(rule: PromotionRule, version: str, latest: Mapping[str, Sequence[VerdictRow]], *,
           now: datetime, strict: bool = False, verify: Verifier | None = None,
           document: Callable[[VerdictRow], str] | None = None) -> Promotion:
    """Apply the rule to the latest verdicts per required target (see the module docstring).

    ``document`` fetches a verdict's recorded document for ``verify``.
    """
    if not rule.promote_from:
        raise ValueError("a promotion rule needs at least one target in promote_from")
    fetch = document or (lambda row: row.document or "")
    requirements = tuple(
        _judge(source, latest.get(source, ()), rule, version, strict=strict, now=now,
               verify=verify, document=fetch)
        for source in rule.promote_from
    )
    answer = max((r.answer for r in requirements), key=_ORDER.index)
    return Promotion(version, rule.to, answer, requirements)
