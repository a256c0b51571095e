"""Soak rounds follow the first pass's outcome rules, and an interrupt keeps what they saw."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from conftest import Server, wait_for

VerdictOf = Callable[..., dict[str, Any]]

UP = (200, {"status": "ok"})
BROKEN = (500, {"status": "broken"})
GONE = (404, {"error": "not found"})

SKIPPING = """
import pytest

@pytest.mark.smoke
def test_up(http):
    http.get("/health").raise_for_status()

@pytest.mark.post_deploy
def test_feature(http):
    if http.get("/feature").status_code == 404:
        pytest.{how}("feature flag off")
    assert http.get("/feature").status_code == 200
"""


@pytest.mark.parametrize("how", ["skip", "xfail"])
@pytest.mark.parametrize(("strict", "code"), [(False, 0), (True, 1)])
def test_a_check_skipped_in_a_round_warns_and_fails_under_strict(
    pytester: pytest.Pytester, server: Server, verdict_of: VerdictOf,
    how: str, strict: bool, code: int,
) -> None:
    # The first pass sees the feature (two requests); every round after finds it gone.
    calls = iter(range(10**9))
    server.routes["/feature"] = lambda: UP if next(calls) < 2 else GONE
    pytester.makepyfile(SKIPPING.format(how=how))
    args = [f"--deploy-target={server.url}", "--deploy-soak=1.1s", "--deploy-soak-every=0.5s"]
    result = pytester.runpytest(*args, *(["--deploy-strict"] if strict else []))
    assert result.ret == code, result.stdout.str()
    ext = verdict_of()["predicate"]["deployability"]
    assert ext["verdict"] == "DEPLOYABLE_WITH_WARNINGS"
    rounds = ext["soak"]["rounds"]
    assert all(len(r["skipped"]) == 1 and r["skipped"][0].endswith("::test_feature")
               and r["passed"] == 0 and r["failed"] == [] for r in rounds)
    assert len(rounds) == 2
    assert any(reason.startswith("soak: blocking checks skipped in 2 rounds of 2: ")
               for reason in ext["reasons"])
    result.stdout.fnmatch_lines(["*soak round 1: 0 passed, 0 failed, 1 skipped*"])


def test_an_advisory_failure_in_a_round_warns(
    pytester: pytest.Pytester, server: Server, verdict_of: VerdictOf
) -> None:
    calls = iter(range(10**9))
    server.routes["/extra"] = lambda: UP if next(calls) < 1 else BROKEN
    pytester.makepyfile("""
        import pytest

        @pytest.mark.post_deploy(blocking=False)
        def test_extra(http):
            assert http.get("/extra").status_code == 200

        @pytest.mark.post_deploy
        def test_up(http):
            http.get("/health").raise_for_status()
    """)
    result = pytester.runpytest(f"--deploy-target={server.url}", "--deploy-soak=0.6s",
                                "--deploy-soak-every=0.5s")
    assert result.ret == 0, result.stdout.str()
    ext = verdict_of()["predicate"]["deployability"]
    assert ext["verdict"] == "DEPLOYABLE_WITH_WARNINGS"
    assert ext["soak"]["rounds"][0]["warned"][0].endswith("::test_extra")
    assert any(r.startswith("soak: advisory checks failed in 1 round of 1: ")
               for r in ext["reasons"])


def test_a_soak_with_nothing_to_repeat_warns(
    pytester: pytest.Pytester, server: Server, verdict_of: VerdictOf
) -> None:
    pytester.makepyfile("""
        import pytest

        @pytest.mark.smoke
        def test_up(http):
            http.get("/health").raise_for_status()
    """)
    result = pytester.runpytest(f"--deploy-target={server.url}", "--deploy-soak=0.6s",
                                "--deploy-soak-every=0.5s", "--deploy-strict")
    assert result.ret == 1
    ext = verdict_of()["predicate"]["deployability"]
    assert ext["verdict"] == "DEPLOYABLE_WITH_WARNINGS"
    assert "soak: no post_deploy check to repeat, so no round checked anything" in ext["reasons"]


INTERRUPTED = """
import pytest

@pytest.mark.post_deploy
def test_stable(http):
    assert http.get("/stable").status_code == 200

@pytest.mark.post_deploy
def test_other(http):
    http.get("/health").raise_for_status()
"""


def stable_then_broken_then_hang(server: Server) -> None:
    """The first pass passes, round 1 fails, round 2 waits (until the test ends)."""
    calls = iter(range(10**9))

    def answer() -> tuple[int, Any]:
        call = next(calls)
        if call >= 2:
            server.hang.wait(60)
        return UP if call == 0 else BROKEN

    server.routes["/stable"] = answer


@pytest.mark.parametrize(("how", "limit", "verdict", "code"), [
    ("SIGTERM", 0, "NOT_DEPLOYABLE", 1),
    ("SIGTERM", 5, "INCONCLUSIVE", 6),
    ("budget", 0, "NOT_DEPLOYABLE", 1),
])
def test_an_interrupted_soak_keeps_its_rounds_and_a_failure_outranks_the_interrupt(
    pytester: pytest.Pytester, server: Server, how: str, limit: int, verdict: str, code: int,
) -> None:
    stable_then_broken_then_hang(server)
    pytester.path.joinpath("deploy-targets.toml").write_text(
        f'[targets.t]\nbase_url = "{server.url}"\ntimeout = 60\n')
    pytester.makepyfile(INTERRUPTED)
    args = [sys.executable, "-m", "pytest", "--deploy-target=t", "-p", "no:cacheprovider",
            "-p", "no:randomly", "--deploy-soak=5m", "--deploy-soak-every=0.3s",
            f"--deploy-soak-failure-limit={limit}"]
    if how == "budget":
        args.append("--deploy-budget=8s")
    with subprocess.Popen(args, cwd=pytester.path, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True) as proc:
        # Round 2's request to /stable has arrived and hangs.
        assert wait_for(lambda: [r.path for r in server.received].count("/stable") >= 3,
                        timeout=60)
        if how == "SIGTERM":
            proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=60)
    assert proc.returncode == code, output
    ext = json.loads((pytester.path / "deploy-verdict.json").read_text())["predicate"][
        "deployability"]
    assert ext["verdict"] == verdict
    soak = ext["soak"]
    assert soak["finished"] is False
    # Round 1 whole (test_stable failed, test_other passed); round 2 cut short.
    first = soak["rounds"][0]
    assert (first["round"], first["passed"], len(first["failed"])) == (1, 1, 1)
    assert first["failed"][0].endswith("::test_stable")
    assert soak["failedRounds"] == 1
    assert any(r.startswith(f"soak: 1 of 1 round failed (limit {limit})")
               for r in ext["reasons"])
    interrupt = ("the run was interrupted: received SIGTERM" if how == "SIGTERM"
                 else "time budget ran out: --deploy-budget 8s ran out after")
    assert any(r.startswith(interrupt) for r in ext["reasons"]), ext["reasons"]
