"""The verdict rules, as plain functions over plain data."""

from __future__ import annotations

import pytest

from pytest_deployable.verdict import (
    Amendment,
    CheckResult,
    Decision,
    Outcome,
    RunFacts,
    Soak,
    SoakRound,
    decide,
)


def check(name: str, outcome: Outcome, *, blocking: bool = True, attempts: int = 1,
          category: str = "smoke", reruns: int = 0) -> CheckResult:
    return CheckResult(id=f"t.py::{name}", category=category, blocking=blocking,
                       outcome=outcome, attempts=attempts, reruns=reruns)


def test_every_blocking_check_passed_is_deployable() -> None:
    verdict = decide([check("a", Outcome.PASSED), check("b", Outcome.PASSED)])
    assert verdict.decision is Decision.DEPLOYABLE
    assert verdict.reasons == ()


@pytest.mark.parametrize("outcome", [Outcome.FAILED, Outcome.ERROR])
def test_a_broken_blocking_check_is_not_deployable(outcome: Outcome) -> None:
    verdict = decide([check("a", Outcome.PASSED), check("b", outcome)])
    assert verdict.decision is Decision.NOT_DEPLOYABLE
    assert verdict.reasons[0] == "1 blocking check failed: t.py::b"


def test_no_check_at_all_is_inconclusive() -> None:
    verdict = decide([])
    assert verdict.decision is Decision.INCONCLUSIVE
    assert verdict.reasons == ("no check was selected for this target",)


def test_only_advisory_checks_is_inconclusive() -> None:
    verdict = decide([check("a", Outcome.PASSED, blocking=False)])
    assert verdict.decision is Decision.INCONCLUSIVE
    assert "no blocking check ran" in verdict.reasons


def test_only_skipped_blocking_checks_is_inconclusive() -> None:
    assert decide([check("a", Outcome.SKIPPED)]).decision is Decision.INCONCLUSIVE


@pytest.mark.parametrize(
    ("facts", "reason"),
    [
        (RunFacts(interrupted="KeyboardInterrupt (Ctrl-C)"), "the run was interrupted"),
        (RunFacts(internal_error="boom"), "internal error: boom"),
        (RunFacts(collection_errors=2), "2 collection errors"),
        (RunFacts(crashed_workers=("gw1",)), "worker gw1 crashed"),
        (RunFacts(budget_exhausted="--deploy-budget 5m"), "time budget ran out"),
    ],
)
def test_a_troubled_run_is_inconclusive_even_if_everything_passed(
    facts: RunFacts, reason: str
) -> None:
    verdict = decide([check("a", Outcome.PASSED)], facts)
    assert verdict.decision is Decision.INCONCLUSIVE
    assert any(reason in line for line in verdict.reasons), verdict.reasons


def test_a_blocking_failure_outranks_an_interrupt() -> None:
    verdict = decide([check("a", Outcome.FAILED)], RunFacts(interrupted="SIGTERM"))
    assert verdict.decision is Decision.NOT_DEPLOYABLE
    assert verdict.reasons[1] == "the run was interrupted: SIGTERM"


def test_a_blocking_check_that_did_not_run_is_inconclusive() -> None:
    verdict = decide([check("a", Outcome.PASSED), check("b", Outcome.NOT_RUN)])
    assert verdict.decision is Decision.INCONCLUSIVE
    assert verdict.reasons == ("1 blocking check did not run: t.py::b",)


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        (check("w", Outcome.FAILED, blocking=False), "1 advisory check failed: t.py::w"),
        (check("w", Outcome.PASSED, attempts=3, reruns=2),
         "1 blocking check passed only on a rerun"),
        (check("w", Outcome.SKIPPED), "1 blocking check skipped: t.py::w"),
        (check("w", Outcome.REFUSED), "1 destructive check refused on a protected target"),
    ],
)
def test_warnings(extra: CheckResult, reason: str) -> None:
    verdict = decide([check("a", Outcome.PASSED), extra])
    assert verdict.decision is Decision.DEPLOYABLE_WITH_WARNINGS
    assert verdict.reasons[0].startswith(reason)


def test_not_applicable_checks_do_not_count() -> None:
    verdict = decide([check("a", Outcome.PASSED), check("b", Outcome.NOT_APPLICABLE)])
    assert verdict.decision is Decision.DEPLOYABLE


def test_long_lists_of_checks_are_shortened_in_reasons() -> None:
    verdict = decide([check(f"c{i}", Outcome.FAILED) for i in range(8)])
    assert verdict.reasons[0].endswith("t.py::c4 and 3 more")


def test_an_amendment_can_make_a_verdict_worse() -> None:
    verdict = decide([check("a", Outcome.PASSED)])
    amended = verdict.amended(Amendment("change freeze", Decision.NOT_DEPLOYABLE))
    assert amended.decision is Decision.NOT_DEPLOYABLE
    assert amended.reasons == ("change freeze",)


def test_an_amendment_can_never_make_a_verdict_better() -> None:
    verdict = decide([check("a", Outcome.FAILED)])
    amended = verdict.amended(Amendment("trust me", Decision.DEPLOYABLE))
    assert amended.decision is Decision.NOT_DEPLOYABLE
    assert amended.reasons[-1] == "trust me"


def test_result_mapping() -> None:
    assert Decision.DEPLOYABLE.result == "PASSED"
    assert Decision.DEPLOYABLE_WITH_WARNINGS.result == "WARNED"
    assert Decision.NOT_DEPLOYABLE.result == "FAILED"
    assert Decision.INCONCLUSIVE.result == "FAILED"


def test_a_pass_that_waited_is_a_pass_not_a_flake() -> None:
    waited = check("w", Outcome.PASSED, attempts=7)
    assert waited.waited
    assert not waited.flaky
    assert decide([waited]).decision is Decision.DEPLOYABLE


def soak(*failed_rounds: tuple[str, ...], limit: int = 0) -> Soak:
    rounds = tuple(SoakRound(i + 1, "2026-01-01T00:00:00Z", 3, failed)
                   for i, failed in enumerate(failed_rounds))
    return Soak(duration_s=60, every_s=10, failure_limit=limit, rounds=rounds)


def test_a_soak_within_its_limit_warns_and_beyond_it_blocks() -> None:
    passed = [check("a", Outcome.PASSED)]
    clean = decide(passed, RunFacts(soak=soak((), (), ())))
    assert clean.decision is Decision.DEPLOYABLE
    within = decide(passed, RunFacts(soak=soak((), ("t.py::a",), (), limit=1)))
    assert within.decision is Decision.DEPLOYABLE_WITH_WARNINGS
    assert within.reasons == ("soak: 1 of 3 rounds failed (limit 1): t.py::a",)
    beyond = decide(passed, RunFacts(soak=soak(("t.py::a",), ("t.py::a",), (), limit=1)))
    assert beyond.decision is Decision.NOT_DEPLOYABLE
    assert beyond.reasons == ("soak: 2 of 3 rounds failed (limit 1): t.py::a",)


def test_stopping_on_purpose_is_not_deployable_and_names_what_did_not_run() -> None:
    verdict = decide(
        [check("a", Outcome.FAILED), check("b", Outcome.NOT_RUN)],
        RunFacts(stopped="stopped at the first blocking failure (--deploy-fail-fast)"),
    )
    assert verdict.decision is Decision.NOT_DEPLOYABLE
    assert verdict.reasons == (
        "1 blocking check failed: t.py::a",
        "stopped at the first blocking failure (--deploy-fail-fast)",
        "1 blocking check did not run: t.py::b",
    )
