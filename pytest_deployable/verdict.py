"""The verdict rules: from the facts of one run to one fail-closed verdict.

This module is plain Python over plain data, with no pytest in it. The pytest
plugin gathers facts (which checks ran, how each ended, whether the run was
interrupted) and hands them to :func:`decide`. Everything a reader needs to
know about *why* a run is or is not deployable is in this file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .selection import Selection
from .vocabulary import BROKEN, CATEGORIES, Decision, Outcome

__all__ = [
    "CATEGORIES",
    "Amendment",
    "CheckResult",
    "Decision",
    "Outcome",
    "RunFacts",
    "Soak",
    "SoakRound",
    "Verdict",
    "decide",
]

@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check (one pytest item) in one run."""

    id: str
    category: str
    blocking: bool
    outcome: Outcome
    attempts: int = 1
    """How many times the check body ran: ``within`` retries and reruns included."""
    duration_ms: int = 0
    message: str | None = None
    reruns: int = 0
    """How many of the attempts were reruns by pytest-rerunfailures (a flake, not a wait)."""
    waits: tuple[tuple[str, int, int], ...] = ()
    """Each wait inside the check: what it waited for, attempts, milliseconds."""
    host: str | None = None
    """The host this instance of a host check ran on, or None for other checks."""
    # Not compared or hashed: a result stays hashable, and two results of one check are
    # the same result whatever their evaluations say.
    metrics: tuple[Mapping[str, Any], ...] = field(default=(), compare=False)
    """The check's Prometheus evaluations: query, value, time, condition, passed."""
    inconclusive: str | None = None
    """Why this errored check says nothing about the release: its evidence source
    (Prometheus) could not be asked. Such an error makes the run INCONCLUSIVE."""
    evidence: Mapping[str, Any] | None = field(default=None, compare=False)
    """What the check saw beside its outcome (the version check: its answers), or None."""

    @property
    def check(self) -> str:
        """The check this result is one host's instance of: the id without the host in it.

        For a check that is not a host check, the id itself.
        """
        if self.host is None or not self.id.endswith("]"):
            return self.id
        base, bracket, params = self.id[:-1].partition("[")
        if not bracket or self.host not in params:
            return self.id
        rest = [part for part in params.replace(self.host, "\0", 1).split("\0")]
        joined = "-".join(part.strip("-") for part in rest if part.strip("-"))
        return f"{base}[{joined}]" if joined else base

    @property
    def flaky(self) -> bool:
        """A pass that needed a rerun: a flake, unlike a pass that waited with ``within``."""
        return self.outcome is Outcome.PASSED and self.reruns > 0

    @property
    def waited(self) -> bool:
        """A check that had to wait: more than one attempt of its own, or a retried wait."""
        return self.attempts > self.reruns + 1 or any(tries > 1 for _, tries, _ in self.waits)


@dataclass(frozen=True)
class SoakRound:
    """One round of a soak: the post_deploy checks run once more."""

    number: int
    started_on: str
    passed: int
    failed: tuple[str, ...] = ()
    """Blocking checks that failed or errored in this round."""
    skipped: tuple[str, ...] = ()
    """Blocking checks skipped (or xfailed) in this round: they proved nothing."""
    warned: tuple[str, ...] = ()
    """Advisory checks that failed in this round."""
    interrupted: bool = False
    """The run was interrupted during this round: it holds the checks that had ended."""


@dataclass(frozen=True)
class Soak:
    """A soak after the first pass, in the manner of an Argo Rollouts AnalysisRun."""

    duration_s: float
    every_s: float
    failure_limit: int
    rounds: tuple[SoakRound, ...] = ()
    checks: int | None = None
    """How many post_deploy checks each round repeats (None: not recorded)."""
    finished: bool = True
    """False when the run was interrupted before the soak's duration ended."""

    @property
    def failures(self) -> int:
        """Rounds in which a blocking post_deploy check failed."""
        return sum(1 for round_ in self.rounds if round_.failed)

    def warnings(self) -> list[str]:
        """Why the soak's rounds warn though none failed beyond the limit: the
        outcome rules of the first pass, applied to every round."""
        reasons = []
        if self.checks == 0:
            reasons.append("soak: no post_deploy check to repeat, so no round checked anything")
        for attribute, what in (("skipped", "blocking checks skipped"),
                                ("warned", "advisory checks failed")):
            rounds = [r for r in self.rounds if getattr(r, attribute)]
            if rounds:
                ids = sorted({check for r in rounds for check in getattr(r, attribute)})
                shown = ", ".join(ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
                reasons.append(
                    f"soak: {what} in {_plural(len(rounds), 'round')} of "
                    f"{len(self.rounds)}: {shown}"
                )
        return reasons


@dataclass(frozen=True)
class RunFacts:
    """What happened to the run as a whole, beside the checks' own outcomes."""

    interrupted: str | None = None
    """Why the run was interrupted (Ctrl-C, SIGTERM), or None."""
    internal_error: str | None = None
    collection_errors: int = 0
    crashed_workers: tuple[str, ...] = ()
    budget_exhausted: str | None = None
    """Which time budget ran out, in words, or None."""
    stopped: str | None = None
    """Why the run stopped early on purpose (``--deploy-fail-fast``), or None."""
    soak: Soak | None = None
    selection: Selection | None = None
    """How the run chose its checks; a partial selection is at best a warning."""


@dataclass(frozen=True)
class Amendment:
    """What a ``pytest_deployable_verdict`` hook adds: a reason, and optionally a worse verdict.

    A hook can never make a verdict better: a ``decision`` less severe than the
    current one is ignored, and the reason is still recorded.
    """

    reason: str
    decision: Decision | None = None


@dataclass(frozen=True)
class Verdict:
    """The single answer of one run: a decision, the reasons for it, and the checks behind it."""

    decision: Decision
    reasons: tuple[str, ...]
    checks: tuple[CheckResult, ...]
    facts: RunFacts = field(default_factory=RunFacts)

    def amended(self, amendment: Amendment) -> Verdict:
        """This verdict with a hook's reason added and, if it is worse, its decision."""
        decision = self.decision
        if amendment.decision is not None and amendment.decision.severity > decision.severity:
            decision = amendment.decision
        return replace(self, decision=decision, reasons=(*self.reasons, amendment.reason))

    def count(self, outcome: Outcome) -> int:
        """How many checks ended with ``outcome``."""
        return sum(1 for check in self.checks if check.outcome is outcome)

    @property
    def warned(self) -> tuple[CheckResult, ...]:
        """Checks that warn without blocking: advisory failures and flaky blocking passes."""
        return tuple(
            check
            for check in self.checks
            if (not check.blocking and check.outcome in _BROKEN) or (check.blocking and check.flaky)
        )


_BROKEN = tuple(BROKEN)
_DID_NOT_RUN = (Outcome.SKIPPED, Outcome.REFUSED, Outcome.NOT_RUN)


def _names(checks: Sequence[CheckResult], limit: int = 5) -> str:
    shown = ", ".join(check.id for check in checks[:limit])
    more = len(checks) - limit
    return f"{shown} and {more} more" if more > 0 else shown


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


#: At most this many host checks get a reason line of their own.
_HOST_REASONS = 10


def _failure_reasons(failed: Sequence[CheckResult], checks: Sequence[CheckResult]) -> list[str]:
    """The reasons for blocking failures: one line for the checks that are not host
    checks, and one per host check naming its failed hosts ("3 of 40 hosts")."""
    plain = [check for check in failed if check.host is None]
    reasons = [f"{_plural(len(plain), 'blocking check')} failed: {_names(plain)}"] if plain else []
    by_check: dict[str, list[CheckResult]] = {}
    for check in failed:
        if check.host is not None:
            by_check.setdefault(check.check, []).append(check)
    hosts_of: dict[str, int] = {}
    for check in checks:
        if check.host is not None and check.check in by_check:
            hosts_of[check.check] = hosts_of.get(check.check, 0) + 1
    for name, broken in list(by_check.items())[:_HOST_REASONS]:
        hosts = [check.host or "" for check in broken]
        shown = ", ".join(hosts[:5]) + (f" and {len(hosts) - 5} more" if len(hosts) > 5 else "")
        reasons.append(
            f"blocking check {name} failed on {len(broken)} of "
            f"{_plural(hosts_of[name], 'host')}: {shown}"
        )
    if len(by_check) > _HOST_REASONS:
        reasons.append(
            f"{_plural(len(by_check) - _HOST_REASONS, 'more host check')} failed on some hosts"
        )
    return reasons


def decide(checks: Iterable[CheckResult], facts: RunFacts | None = None) -> Verdict:
    """Decide the verdict of a run from its checks and what happened to the run.

    The rules, in order (the first that applies wins the decision; every rule
    that applies adds its reason):

    1. A blocking check failed or errored: NOT_DEPLOYABLE -- except an error
       that only says the check's evidence source could not be asked
       (``inconclusive``: Prometheus unreachable), which is rule 2's.
    2. The run was interrupted, crashed, ran out of budget, had collection
       errors, a blocking check never ran, a blocking check could not ask its
       evidence source, or no blocking check ran at all: INCONCLUSIVE.
       A soak whose failed rounds exceed its limit is NOT_DEPLOYABLE too.
    3. An advisory check failed, a blocking check passed only on a rerun, a
       blocking check was skipped or refused, a soak had failed rounds within
       its limit, a soak round in which a blocking check was skipped or an
       advisory one failed (the first pass's rules, in every round), or the run
       was partial (checks deselected, modules skipped at collection, ``--lf``,
       node-id arguments): DEPLOYABLE_WITH_WARNINGS.
    4. Otherwise every blocking check ran and passed: DEPLOYABLE.
    """
    checks = tuple(checks)
    facts = facts or RunFacts()
    blocking = [check for check in checks if check.blocking]

    unjudged = [check for check in blocking
                if check.outcome is Outcome.ERROR and check.inconclusive]
    failed = [check for check in blocking
              if check.outcome in _BROKEN and not (check.outcome is Outcome.ERROR
                                                   and check.inconclusive)]
    broken: list[str] = []
    if failed:
        broken.extend(_failure_reasons(failed, checks))
    if facts.stopped:
        broken.append(facts.stopped)
    soak = facts.soak
    if soak is not None and soak.failures > soak.failure_limit:
        broken.append(_soak_reason(soak))
    inconclusive: list[str] = []
    if facts.interrupted:
        inconclusive.append(f"the run was interrupted: {facts.interrupted}")
    if facts.internal_error:
        inconclusive.append(f"internal error: {facts.internal_error}")
    if facts.collection_errors:
        inconclusive.append(
            f"{_plural(facts.collection_errors, 'collection error')}: checks may be missing"
        )
    for worker in facts.crashed_workers:
        inconclusive.append(f"worker {worker} crashed")
    if facts.budget_exhausted:
        inconclusive.append(f"time budget ran out: {facts.budget_exhausted}")
    for check in unjudged[:5]:
        inconclusive.append(f"blocking check {check.id} could not judge: {check.inconclusive}")
    if len(unjudged) > 5:
        inconclusive.append(f"{_plural(len(unjudged) - 5, 'more blocking check')} could not "
                            "judge")
    not_run = [check for check in blocking if check.outcome is Outcome.NOT_RUN]
    if not_run:
        inconclusive.append(
            f"{_plural(len(not_run), 'blocking check')} did not run: {_names(not_run)}"
        )
    if not any(check.outcome is Outcome.PASSED for check in blocking) and not (
        broken or unjudged
    ):
        inconclusive.append(
            "no blocking check ran" if checks else "no check was selected for this target"
        )

    warnings: list[str] = []
    advisory_failed = [
        check for check in checks if not check.blocking and check.outcome in _BROKEN
    ]
    if advisory_failed:
        warnings.append(
            f"{_plural(len(advisory_failed), 'advisory check')} failed: {_names(advisory_failed)}"
        )
    flaky = [check for check in blocking if check.flaky]
    if flaky:
        warnings.append(
            f"{_plural(len(flaky), 'blocking check')} passed only on a rerun: {_names(flaky)}"
        )
    skipped = [check for check in blocking if check.outcome is Outcome.SKIPPED]
    if skipped:
        warnings.append(
            f"{_plural(len(skipped), 'blocking check')} skipped: {_names(skipped)}"
        )
    refused = [check for check in blocking if check.outcome is Outcome.REFUSED]
    if refused:
        warnings.append(
            f"{_plural(len(refused), 'destructive check')} refused on a protected target: "
            f"{_names(refused)}"
        )
    if soak is not None and 0 < soak.failures <= soak.failure_limit:
        warnings.append(_soak_reason(soak))
    if soak is not None:
        warnings.extend(soak.warnings())
    partial = facts.selection.partial_reason if facts.selection is not None else None
    if partial is not None:
        warnings.append(partial)

    reasons: list[str] = list(broken)
    if broken:
        decision = Decision.NOT_DEPLOYABLE
    elif inconclusive:
        decision = Decision.INCONCLUSIVE
    elif warnings:
        decision = Decision.DEPLOYABLE_WITH_WARNINGS
    else:
        decision = Decision.DEPLOYABLE
    reasons.extend(inconclusive)
    reasons.extend(warnings)
    return Verdict(decision=decision, reasons=tuple(reasons), checks=checks, facts=facts)


def _soak_reason(soak: Soak) -> str:
    failed = sorted({check for round_ in soak.rounds for check in round_.failed})
    checks = ", ".join(failed[:5]) + (f" and {len(failed) - 5} more" if len(failed) > 5 else "")
    return (
        f"soak: {soak.failures} of {_plural(len(soak.rounds), 'round')} failed "
        f"(limit {soak.failure_limit}): {checks}"
    )
