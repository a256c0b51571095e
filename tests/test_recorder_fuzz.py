"""Property test: whatever order of phase outcomes pytest reports, the verdict is never
better than the worst phase (SPEC §10: a failure or error in any phase stays)."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import require

from pytest_deployable.recorder import Recorder
from pytest_deployable.verdict import Decision, Outcome, decide

hypothesis = require("hypothesis")
st = hypothesis.strategies

#: How bad a phase's own outcome is, as a verdict; a phase that passed is 0.
_WORST = {"passed": 0, "skipped": 1, "xfailed": 1, "failed": 3}


def report(nodeid: str, when: str, outcome: str) -> pytest.TestReport:
    """A real TestReport for one phase, as pytest (or pytest-subtests) would send it."""
    longrepr: Any = None
    keywords: dict[str, Any] = {}
    if outcome == "failed":
        longrepr = "E   AssertionError: broken"
    elif outcome in ("skipped", "xfailed"):
        longrepr = ("t.py", 1, "Skipped: not now")
    rep = pytest.TestReport(nodeid, ("t.py", 1, nodeid), keywords,
                            "skipped" if outcome == "xfailed" else outcome, longrepr, when)
    if outcome == "xfailed":
        rep.wasxfail = "known"
    rep.deployable = {"category": "smoke", "blocking": True, "status": None, "host": None}
    return rep


phase = st.tuples(st.sampled_from(["setup", "call", "teardown"]),
                  st.sampled_from(list(_WORST)))


@hypothesis.settings(max_examples=400, deadline=None)
@hypothesis.given(st.lists(phase, min_size=1, max_size=8))
def test_the_verdict_is_never_better_than_the_worst_phase(
    phases: list[tuple[str, str]],
) -> None:
    recorder = Recorder()
    for when, outcome in phases:
        recorder.add(report("t.py::test_a", when, outcome))
    recorder.add(report("t.py::test_ok", "setup", "passed"))
    recorder.add(report("t.py::test_ok", "call", "passed"))
    recorder.add(report("t.py::test_ok", "teardown", "passed"))
    results = recorder.results(["t.py::test_a", "t.py::test_ok"])
    verdict = decide(results)
    worst = max(_WORST[outcome] for _, outcome in phases)
    checked = results[0]
    if worst == 3:
        assert checked.outcome in (Outcome.FAILED, Outcome.ERROR)
        assert verdict.decision is Decision.NOT_DEPLOYABLE
    elif worst == 1:
        assert checked.outcome is not Outcome.PASSED
        assert verdict.decision is not Decision.DEPLOYABLE
    if verdict.decision is Decision.DEPLOYABLE:
        assert all(outcome == "passed" for _, outcome in phases)
        assert {when for when, _ in phases} >= {"call", "teardown"}
