"""``eventually`` with a boolean condition: a false answer is "not yet", never a pass."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from conftest import Server

VerdictOf = Callable[..., dict[str, Any]]

BOOLEAN_CHECKS = """
import pytest

@pytest.mark.post_deploy
def test_ready(http, eventually):
    eventually(lambda: http.get("/ready").json()["ready"], within="30s", every="0.05s")

@pytest.mark.post_deploy
def test_raising_form(http, eventually):
    eventually(lambda: http.get("/health").raise_for_status(), within="30s", every="0.05s")
"""


@pytest.mark.parametrize("workers", ["0", "2"])
def test_a_false_answer_keeps_waiting_until_the_condition_holds(
    pytester: pytest.Pytester, server: Server, verdict_of: VerdictOf, workers: str
) -> None:
    server.recovers_after("/ready", 3, (200, {"ready": False}), (200, {"ready": True}))
    pytester.makepyfile(BOOLEAN_CHECKS)
    result = pytester.runpytest_subprocess(f"--deploy-target={server.url}", "-n", workers,
                                           "-p", "no:cacheprovider")
    assert result.ret == 0, result.stdout.str()
    ext = verdict_of()["predicate"]["deployability"]
    assert ext["verdict"] == "DEPLOYABLE"
    ready = next(c for c in ext["checks"] if c["id"].endswith("test_ready"))
    # Three false answers, then the true one: four requests, four attempts.
    assert [r.path for r in server.received].count("/ready") == 4
    assert ready["waits"][0]["attempts"] == 4


#: Every falsy JSON answer; each is a check of its own in one run (one run per worker
#: mode, not one per answer: the answers do not interact, and a run costs a process).
FALSY = ["false", "0", '""', "[]", "{}"]


@pytest.mark.parametrize("workers", ["0", "2"])
def test_a_condition_that_stays_false_fails_at_its_deadline(
    pytester: pytest.Pytester, server: Server, verdict_of: VerdictOf, workers: str
) -> None:
    pytester.makepyfile(f"""
        import json
        import pytest

        @pytest.mark.post_deploy
        @pytest.mark.parametrize("case", range({len(FALSY)}))
        def test_never(http, eventually, case):
            answer = {FALSY!r}[case]

            def drained():
                http.get(f"/health?case={{case}}")
                return json.loads(answer)

            eventually(drained, within="0.5s", every="0.1s")
    """)
    result = pytester.runpytest_subprocess(f"--deploy-target={server.url}", "-n", workers,
                                           "-p", "no:cacheprovider")
    assert result.ret == 1, result.stdout.str()
    ext = verdict_of()["predicate"]["deployability"]
    assert ext["verdict"] == "NOT_DEPLOYABLE"
    checks = {check["id"].rsplit("[", 1)[1].rstrip("]"): check for check in ext["checks"]}
    assert sorted(checks) == [str(case) for case in range(len(FALSY))]
    for case, answer in enumerate(FALSY):
        check = checks[str(case)]
        assert check["outcome"] == "failed", answer
        assert "drained: still failing after" in check["message"]
        assert f"NotYet: drained returned {eval(answer.replace('false', 'False'))!r}" in check[
            "message"]
        # It kept asking: more than the one request that used to pass at once.
        asked = [r for r in server.received if r.path == f"/health?case={case}"]
        assert len(asked) > 1, answer
