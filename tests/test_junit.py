"""The JUnit XML report of a verdict, parsed back as a CI system would read it."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest
from _verdicts import check, statement

from pytest_deployable.junit import junit_xml
from pytest_deployable.summary import render_markdown, render_text
from pytest_deployable.targets import Target
from pytest_deployable.verdict import CheckResult, Decision, Outcome, RunFacts


def parse(checks: list[CheckResult], facts: RunFacts | None = None, **kw: Any) -> ET.Element:
    return ET.fromstring(junit_xml(statement(checks, facts, **kw)))


def suite(root: ET.Element, name: str) -> ET.Element:
    found = root.find(f"testsuite[@name='{name}']")
    assert found is not None, f"no suite {name}"
    return found


def case(root: ET.Element, name: str) -> ET.Element:
    found = [c for c in root.iter("testcase") if c.get("name", "").endswith(f"::{name}")]
    assert len(found) == 1, f"no single case {name}"
    return found[0]


def gate_case(root: ET.Element) -> ET.Element:
    found = suite(root, "deployable.gate").find("testcase[@name='verdict']")
    assert found is not None
    return found


EVERY_OUTCOME = [
    check("test_health", Outcome.PASSED, duration_ms=84),
    check("test_login", Outcome.FAILED, message="assert 503 == 200\n+ where 503 = status"),
    check("test_db", Outcome.ERROR, message="ConnectionError: db timed out"),
    check("test_schema", Outcome.PASSED, category="contract", attempts=3),
    check("test_latency", Outcome.FAILED, category="contract", blocking=False, message="slow"),
    check("test_cleanup", Outcome.REFUSED, category="contract"),
    check("test_canary", Outcome.SKIPPED, category="post_deploy", message="canary disabled"),
    check("test_eu", Outcome.NOT_APPLICABLE, category="post_deploy"),
    check("test_soak", Outcome.NOT_RUN, category="unknown"),
]


def test_one_suite_per_category_with_checks_then_the_gate() -> None:
    root = parse(EVERY_OUTCOME)

    names = [s.get("name") for s in root.findall("testsuite")]
    assert names == [
        "deployable.smoke", "deployable.contract", "deployable.post_deploy",
        "deployable.unknown", "deployable.gate",
    ]  # fmt: skip
    assert [len(s.findall("testcase")) for s in root.findall("testsuite")] == [3, 3, 2, 1, 1]
    smoke = suite(root, "deployable.smoke")
    assert (smoke.get("failures"), smoke.get("errors"), smoke.get("skipped")) == ("1", "1", "0")
    health = case(root, "test_health")
    assert health.get("classname") == "smoke"
    assert health.get("name") == "tests/deploy/test_smoke.py::test_health"
    assert float(health.get("time", "0")) == pytest.approx(0.084)
    assert list(health) == []


def test_categories_without_checks_have_no_suite() -> None:
    root = parse([check("test_health", Outcome.PASSED)])

    assert [s.get("name") for s in root.findall("testsuite")] == [
        "deployable.smoke",
        "deployable.gate",
    ]


def test_blocking_failure_and_error_keep_the_whole_message() -> None:
    root = parse(EVERY_OUTCOME)

    failure = case(root, "test_login").find("failure")
    assert failure is not None
    assert failure.get("message") == "assert 503 == 200 + where 503 = status"
    assert failure.text == "assert 503 == 200\n+ where 503 = status"
    error = case(root, "test_db").find("error")
    assert error is not None
    assert error.get("message") == "ConnectionError: db timed out"
    assert case(root, "test_db").find("failure") is None


def test_a_failure_without_message_is_still_a_failure() -> None:
    root = parse([check("test_quiet", Outcome.FAILED), check("test_crash", Outcome.ERROR)])

    failure = case(root, "test_quiet").find("failure")
    assert failure is not None
    assert failure.get("message") == "check failed"
    error = case(root, "test_crash").find("error")
    assert error is not None
    assert error.get("message") == "check errored"


def test_advisory_failures_are_skipped_so_red_means_blocking() -> None:
    root = parse(
        [
            check("test_ok", Outcome.PASSED),
            check("test_slow", Outcome.FAILED, blocking=False, message="p95 812 ms"),
            check("test_flaky", Outcome.ERROR, blocking=False),
        ]
    )

    slow = case(root, "test_slow")
    assert slow.find("failure") is None
    skipped = slow.find("skipped")
    assert skipped is not None
    assert skipped.get("message") == "advisory check failed (does not block): p95 812 ms"
    flaky = case(root, "test_flaky").find("skipped")
    assert flaky is not None
    assert flaky.get("message") == "advisory check errored (does not block)"
    assert suite(root, "deployable.smoke").get("failures") == "0"
    assert gate_case(root).find("failure") is None


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("test_cleanup", "refused: destructive check on a protected target"),
        ("test_canary", "skipped: canary disabled"),
        ("test_eu", "not applicable to this target"),
        ("test_soak", "not run: the run ended before this check ran"),
    ],
)
def test_checks_that_did_not_run_are_skipped_with_a_reason(name: str, reason: str) -> None:
    skipped = case(parse(EVERY_OUTCOME), name).find("skipped")

    assert skipped is not None
    assert skipped.get("message") == reason


def test_a_pass_on_a_rerun_passes_and_says_so() -> None:
    schema = case(parse(EVERY_OUTCOME), "test_schema")

    assert schema.find("failure") is None
    assert schema.find("skipped") is None
    assert schema.findtext("system-out") == "passed only after 3 attempts"


@pytest.mark.parametrize(
    ("checks", "facts", "decision"),
    [
        ([check("test_a", Outcome.PASSED)], None, Decision.DEPLOYABLE),
        (
            [check("test_a", Outcome.PASSED), check("test_b", Outcome.SKIPPED)],
            None,
            Decision.DEPLOYABLE_WITH_WARNINGS,
        ),
        ([check("test_a", Outcome.FAILED)], None, Decision.NOT_DEPLOYABLE),
        ([check("test_a", Outcome.PASSED)], RunFacts(interrupted="SIGTERM"), Decision.INCONCLUSIVE),
    ],
)
def test_gate_case_fails_unless_deployable(
    checks: list[CheckResult], facts: RunFacts | None, decision: Decision
) -> None:
    root = parse(checks, facts)
    gate = gate_case(root)
    failure = gate.find("failure")
    reasons = statement(checks, facts)["predicate"]["deployability"]["reasons"]

    properties = {
        p.get("name"): p.get("value") for p in suite(root, "deployable.gate").iter("property")
    }
    assert properties == {"verdict": decision.value, "target": "production", "version": "1.4.2"}
    if decision in (Decision.DEPLOYABLE, Decision.DEPLOYABLE_WITH_WARNINGS):
        assert failure is None
        assert gate.findtext("system-out") == (
            "\n".join([f"verdict: {decision.value}", *(f"- {r}" for r in reasons)])
            if reasons
            else None
        )
    else:
        assert failure is not None
        assert failure.get("message") == f"{decision.value}: " + "; ".join(reasons)
        assert failure.text is not None
        assert failure.text.splitlines() == [
            f"verdict: {decision.value}",
            *(f"- {r}" for r in reasons),
        ]


def test_gate_fails_on_an_unknown_verdict() -> None:
    doc = statement([check("test_a", Outcome.PASSED)])
    doc["predicate"]["deployability"]["verdict"] = "MAYBE"
    doc["predicate"]["deployability"]["reasons"] = []
    gate = gate_case(ET.fromstring(junit_xml(doc)))

    failure = gate.find("failure")
    assert failure is not None
    assert failure.get("message") == "MAYBE: no reason given"


def test_gate_properties_without_version() -> None:
    root = parse([check("test_a", Outcome.PASSED)], version=None)

    versions = [p.get("value") for p in root.iter("property") if p.get("name") == "version"]
    assert versions == [""]


def test_a_secret_in_a_message_reaches_no_output() -> None:
    token = "s3cr3t-T0ken-value"
    target = Target(
        "production", "https://shop.example", protected=True, secrets=frozenset({token})
    )
    checks = [
        check("test_auth", Outcome.FAILED, message=f"401 with Authorization: Bearer {token}"),
        check("test_probe", Outcome.ERROR, blocking=False, message=f"token={token} | rejected"),
    ]
    assert token in (checks[0].message or "")  # the secret really is in the raw results
    doc = statement(checks, target=target)

    outputs = {
        "text": render_text(doc),
        "markdown": render_markdown(doc),
        "junit": junit_xml(doc),
    }
    masks = {"text": "***", "markdown": r"\*\*\*", "junit": "***"}
    for kind, output in outputs.items():
        assert token not in output, kind
        assert masks[kind] in output, kind
    failure = case(ET.fromstring(outputs["junit"]), "test_auth").find("failure")
    assert failure is not None
    assert failure.get("message") == "401 with Authorization: Bearer ***"
