"""The verdict as JUnit XML, for CI systems that show test reports (GitLab, Jenkins, Azure).

The report is built from the verdict file's content (already redacted of
secrets), not from pytest's own JUnit report, so it carries the verdict's view
of each check:

- one ``<testsuite>`` per category that has checks, named ``deployable.<category>``,
  with one ``<testcase>`` per check (classname = category, name = check id,
  time from ``durationMs``);
- a blocking check that failed is a ``<failure>``, one that errored an ``<error>``;
- an **advisory** check that failed or errored is reported as ``<skipped>`` with
  the message "advisory check failed (does not block): ...". A CI's red mark then
  means exactly "this blocks the release"; a red advisory check would teach people
  to ignore red, and the warning still shows in the skipped list and the gate case;
- skipped, refused, not-applicable and not-run checks are ``<skipped>`` with a
  message that says which (a blocking check that did not run also makes the verdict
  INCONCLUSIVE, which fails the gate case below);
- a blocking check that passed only after several attempts passes, with a
  ``<system-out>`` line saying how many attempts it needed;
- a last suite ``deployable.gate`` holds one case, ``verdict``, which fails unless
  the verdict is DEPLOYABLE or DEPLOYABLE_WITH_WARNINGS (so an unknown or missing
  verdict fails too), with the reasons as its message. Its properties name the
  verdict, target and version.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from junit_xml import TestCase, TestSuite, to_xml_report_string

from .verdict import CATEGORIES
from .vocabulary import BROKEN, Decision, Outcome

__all__ = ["GATE_SUITE", "junit_xml"]

#: The name of the suite that holds the single ``verdict`` test case.
GATE_SUITE = "deployable.gate"

_PASSING = (Decision.DEPLOYABLE.value, Decision.DEPLOYABLE_WITH_WARNINGS.value)
_SKIP_WORDS = {
    Outcome.SKIPPED.value: ("skipped", "skipped"),
    Outcome.REFUSED.value: ("refused", "refused: destructive check on a protected target"),
    Outcome.NOT_APPLICABLE.value: ("not applicable", "not applicable to this target"),
    Outcome.NOT_RUN.value: ("not run", "not run: the run ended before this check ran"),
}
_BROKEN = tuple(outcome.value for outcome in BROKEN)
_MESSAGE_LIMIT = 1000


def _deployability(statement: Mapping[str, Any]) -> Mapping[str, Any]:
    predicate = statement.get("predicate")
    data = predicate.get("deployability") if isinstance(predicate, Mapping) else None
    return data if isinstance(data, Mapping) else {}


def _short(message: str) -> str:
    """A message fit for an XML attribute: one line, cut to a readable length.

    Attribute values lose their newlines on the way through the pretty-printer,
    so the full text goes into the element's body instead.
    """
    line = " ".join(message.split())
    return line if len(line) <= _MESSAGE_LIMIT else line[: _MESSAGE_LIMIT - 3] + "..."


def _body(message: str, attribute: str) -> str | None:
    """The full message as the element's text, when the attribute does not already say it all."""
    return message if message and not attribute.endswith(message) else None


def _case(check: Mapping[str, Any]) -> TestCase:
    """One check as a JUnit test case, marked as failure, error or skipped as it ended."""
    millis = check.get("durationMs")
    attempts = check.get("attempts")
    attempts = attempts if isinstance(attempts, int) else 1
    case = TestCase(
        name=str(check.get("id")),
        classname=str(check.get("category") or "unknown"),
        elapsed_sec=round(millis / 1000, 3) if isinstance(millis, (int, float)) else None,
    )
    outcome = str(check.get("outcome"))
    message = str(check.get("message") or "").strip()
    blocking = check.get("blocking", True) is not False
    if outcome in _BROKEN and not blocking:
        verb = "failed" if outcome == Outcome.FAILED.value else "errored"
        text = f"advisory check {verb} (does not block)" + (f": {message}" if message else "")
        case.add_skipped_info(message=_short(text), output=_body(message, _short(text)))
    elif outcome == Outcome.FAILED.value:
        text = _short(message or "check failed")
        case.add_failure_info(message=text, output=_body(message, text))
    elif outcome == Outcome.ERROR.value:
        text = _short(message or "check errored")
        case.add_error_info(message=text, output=_body(message, text))
    elif outcome in _SKIP_WORDS:
        word, default = _SKIP_WORDS[outcome]
        text = f"{word}: {message}" if message else default
        case.add_skipped_info(message=_short(text), output=_body(message, _short(text)))
    elif outcome == Outcome.PASSED.value:
        if attempts > 1:
            case.stdout = f"passed only after {attempts} attempts"
    else:
        # An outcome this version does not know must not look like a pass.
        case.add_error_info(message=_short(f"unknown outcome {outcome!r}"))
    return case


def _gate_suite(data: Mapping[str, Any]) -> TestSuite:
    """The suite whose single case fails exactly when the verdict does not allow a deploy."""
    verdict = str(data.get("verdict") or "missing verdict")
    reasons = [" ".join(str(reason).split()) for reason in data.get("reasons") or []]
    target = data.get("target")
    target_name = target.get("name") if isinstance(target, Mapping) else None
    case = TestCase(name="verdict", classname=GATE_SUITE)
    report = "\n".join([f"verdict: {verdict}", *(f"- {reason}" for reason in reasons)])
    if verdict in _PASSING:
        if reasons:
            case.stdout = report
    else:
        case.add_failure_info(
            message=_short(f"{verdict}: " + ("; ".join(reasons) or "no reason given")),
            output=report,
        )
    properties = {
        "verdict": verdict,
        "target": str(target_name or ""),
        "version": str(data.get("version") or ""),
    }
    return TestSuite(
        GATE_SUITE,
        [case],
        properties=properties,
        timestamp=data.get("startedOn"),
    )


def _category_suites(data: Mapping[str, Any]) -> list[TestSuite]:
    checks = data.get("checks")
    grouped: dict[str, list[TestCase]] = {category: [] for category in CATEGORIES}
    if isinstance(checks, Sequence):
        for check in checks:
            if isinstance(check, Mapping):
                category = str(check.get("category") or "unknown")
                grouped.setdefault(category, []).append(_case(check))
    return [
        TestSuite(f"deployable.{category}", cases, timestamp=data.get("startedOn"))
        for category, cases in grouped.items()
        if cases
    ]


def junit_xml(statement: Mapping[str, Any]) -> str:
    """Render the verdict file's content as a JUnit XML report (see the module docstring)."""
    data = _deployability(statement)
    suites = [*_category_suites(data), _gate_suite(data)]
    text: str = to_xml_report_string(suites, prettyprint=True)
    return text
