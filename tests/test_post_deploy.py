"""Post-release verification: waiting for convergence, version checks, fail-fast, budgets, soak."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest
from conftest import Server, require, wait_for

VerdictOf = Callable[..., dict[str, Any]]

DOWN = (503, {"status": "starting"})
#: A failure the http session does not retry (it retries 502/503/504 itself).
BROKEN = (500, {"status": "broken"})
UP = (200, {"status": "ok"})


def checks_of(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["id"].split("::", 1)[-1]: c for c in data["predicate"]["deployability"]["checks"]}


def test_eventually_waits_for_a_service_that_becomes_healthy(
    pytester: pytest.Pytester, server: Server, verdict_of: VerdictOf
) -> None:
    server.recovers_after("/health", 4, BROKEN, UP)
    pytester.makepyfile("""
        import pytest

        @pytest.mark.post_deploy
        def test_converges(http, eventually):
            def healthy():
                response = http.get("/health")
                assert response.status_code == 200, response.status_code
                return response.json()

            assert eventually(healthy, within="20s", every="0.2s") == {"status": "ok"}
    """)
    result = pytester.runpytest(f"--deploy-target={server.url}")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*waiting up to 20s for healthy (every 0.2s)*",
                                 "*healthy: passed on attempt * after *"])
    check = checks_of(verdict_of())["test_converges"]
    assert check["outcome"] == "passed"
    assert check["attempts"] == 1  # the check ran once; the wait inside it retried
    wait = check["waits"][0]
    assert wait["what"] == "healthy"
    assert wait["attempts"] == 5  # four failures, then the pass
    assert wait["waitedMs"] >= 4 * 200
    assert verdict_of()["predicate"]["deployability"]["verdict"] == "DEPLOYABLE"
    result.stdout.fnmatch_lines(["waited for convergence", "*test_converges: passed*"])


def test_eventually_gives_up_at_its_deadline_naming_attempts_and_time(
    pytester: pytest.Pytester, server: Server, verdict_of: VerdictOf
) -> None:
    server.route("/health", *DOWN)
    pytester.makepyfile("""
        import pytest

        @pytest.mark.post_deploy
        def test_never_recovers(http, eventually):
            def healthy():
                assert http.get("/health").status_code == 200, "still starting"

            eventually(healthy, within="1s", every="0.25s")
    """)
    started = time.monotonic()
    result = pytester.runpytest(f"--deploy-target={server.url}")
    assert result.ret == 1
    check = checks_of(verdict_of())["test_never_recovers"]
    assert check["outcome"] == "failed"
    assert "healthy: still failing after" in check["message"]
    assert "attempts over" in check["message"]
    assert "AssertionError: still starting" in check["message"]
    # Bounded: not asserting speed, only that it did not wait for anything unbounded.
    assert time.monotonic() - started < 60


def test_within_retries_the_whole_check_and_a_late_pass_is_not_a_flake(
    pytester: pytest.Pytester, server: Server, verdict_of: VerdictOf
) -> None:
    server.recovers_after("/health", 3, BROKEN, UP)
    pytester.makepyfile("""
        import pytest

        SETUPS = []

        @pytest.fixture
        def connection():
            SETUPS.append(1)
            return object()

        @pytest.mark.post_deploy(within="20s", every="0.2s")
        def test_health(http, connection):
            assert len(SETUPS) == 1, "the body is retried; its fixtures are kept"
            assert http.get("/health").status_code == 200
    """)
    result = pytester.runpytest(f"--deploy-target={server.url}")
    assert result.ret == 0
    check = checks_of(verdict_of())["test_health"]
    assert check["outcome"] == "passed"
    assert check["attempts"] == 4
    assert check["reruns"] == 0
    data = verdict_of()["predicate"]
    assert data["deployability"]["verdict"] == "DEPLOYABLE"  # a pass that waited, not a flake
    assert data["warnedTests"] == []
    result.stdout.fnmatch_lines(["waited for convergence",
                                 f"*test_health: passed on attempt {check['attempts']} after*"])


def test_within_that_runs_out_fails_the_check(
    pytester: pytest.Pytester, server: Server, verdict_of: VerdictOf
) -> None:
    server.route("/health", *DOWN)
    pytester.makepyfile("""
        import pytest

        @pytest.mark.post_deploy(within=1, every="0.3s")
        def test_health(http):
            assert http.get("/health").status_code == 200
    """)
    assert pytester.runpytest(f"--deploy-target={server.url}").ret == 1
    check = checks_of(verdict_of())["test_health"]
    assert check["outcome"] == "failed"
    assert check["attempts"] >= 2
    assert "still failing after" in check["message"]


@pytest.mark.parametrize(
    ("marker", "expected"),
    [
        ("post_deploy(within='soon')", "within: invalid duration 'soon'"),
        ("post_deploy(every='1s')", "every needs within"),
        ("post_deploy(within=-1)", "within must be longer than zero"),
    ],
)
def test_bad_within_arguments_are_usage_errors(
    pytester: pytest.Pytester, server: Server, marker: str, expected: str
) -> None:
    pytester.makepyfile(f"import pytest\n@pytest.mark.{marker}\ndef test_x(): pass\n")
    result = pytester.runpytest(f"--deploy-target={server.url}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert expected in result.stderr.str()


def version_targets(pytester: pytest.Pytester, server: Server, field: str = "") -> None:
    pytester.path.joinpath("deploy-targets.toml").write_text(
        f'[targets.local]\nbase_url = "{server.url}"\nversion_url = "/version"\n{field}'
    )


def test_the_version_check_waits_for_a_rollout_to_finish(
    pytester: pytest.Pytester, server: Server, verdict_of: VerdictOf
) -> None:
    server.recovers_after("/version", 2, (200, {"build": {"version": "1.4.1"}}),
                          (200, {"build": {"version": "1.4.2"}}))
    version_targets(pytester, server, 'version_field = "build.version"\n')
    pytester.makepyfile("import pytest\n@pytest.mark.smoke\ndef test_ok(): pass\n")
    result = pytester.runpytest("--deploy-target=local", "--deploy-version=1.4.2",
                                "--deploy-version-within=30s")
    assert result.ret == 0
    checks = verdict_of()["predicate"]["deployability"]["checks"]
    assert checks[0]["id"] == "deployable::version"
    assert checks[0]["category"] == "smoke"
    assert checks[0]["blocking"] is True
    assert checks[0]["outcome"] == "passed"
    assert checks[0]["waits"][0]["attempts"] == 3


def test_a_version_mismatch_names_both_versions(
    pytester: pytest.Pytester, server: Server, verdict_of: VerdictOf
) -> None:
    server.route("/version", 200, b"1.4.1\n")
    version_targets(pytester, server)
    pytester.makepyfile("import pytest\n@pytest.mark.smoke\ndef test_ok(): pass\n")
    result = pytester.runpytest("--deploy-target=local", "--deploy-version=1.4.2",
                                "--deploy-version-within=1s")
    assert result.ret == 1
    check = checks_of(verdict_of())["version"]
    assert "reports version '1.4.1', expected '1.4.2'" in check["message"]
    assert verdict_of()["predicate"]["failedTests"] == ["deployable::version"]
    # Only GET was ever sent by the built-in check.
    assert set(server.methods()) == {"GET"}


def test_no_version_check_without_a_version_url(
    pytester: pytest.Pytester, server: Server, verdict_of: VerdictOf
) -> None:
    pytester.makepyfile("import pytest\n@pytest.mark.smoke\ndef test_ok(): pass\n")
    assert pytester.runpytest(f"--deploy-target={server.url}", "--deploy-version=1").ret == 0
    assert list(checks_of(verdict_of())) == ["test_ok"]


FAIL_FAST = """
import time
import pytest

@pytest.mark.smoke
def test_smoke_ok():
    pass

@pytest.mark.smoke
def test_smoke_broken():
    assert False, "health is down"

@pytest.mark.post_deploy
@pytest.mark.parametrize("n", range(20))
def test_slow(n):
    time.sleep(0.2)
"""


@pytest.mark.parametrize("workers", ["0", "2"])
def test_fail_fast_stops_at_the_first_blocking_failure(
    pytester: pytest.Pytester, server: Server, workers: str
) -> None:
    if workers != "0":
        require("xdist")
    pytester.makepyfile(FAIL_FAST)
    result = pytester.runpytest_subprocess(f"--deploy-target={server.url}", "-n", workers,
                                           "--deploy-fail-fast", "-p", "no:randomly")
    assert result.ret == 1
    ext = json.loads((pytester.path / "deploy-verdict.json").read_text())["predicate"][
        "deployability"]
    assert ext["verdict"] == "NOT_DEPLOYABLE"
    assert any(r.startswith("stopped at the first blocking failure (--deploy-fail-fast)")
               for r in ext["reasons"]), ext["reasons"]
    assert not any("interrupted" in r for r in ext["reasons"]), ext["reasons"]
    assert ext["summary"]["failed"] == 1
    # Most slow post_deploy checks never ran.
    assert ext["summary"]["notRun"] >= 15
    assert len(ext["checks"]) == 22


def test_a_budget_that_runs_out_is_inconclusive_and_names_what_did_not_run(
    pytester: pytest.Pytester, server: Server
) -> None:
    pytester.makepyfile("""
        import time
        import pytest

        @pytest.mark.smoke
        def test_ok():
            pass

        @pytest.mark.post_deploy
        def test_hangs():
            time.sleep(120)

        @pytest.mark.post_deploy
        def test_after():
            pass
    """)
    started = time.monotonic()
    result = pytester.runpytest_subprocess(f"--deploy-target={server.url}",
                                           "--deploy-budget=3s", timeout=90)
    assert result.ret == 6
    assert time.monotonic() - started < 60  # it did not wait for the 120 s sleep
    ext = json.loads((pytester.path / "deploy-verdict.json").read_text())["predicate"][
        "deployability"]
    assert ext["verdict"] == "INCONCLUSIVE"
    assert any(r.startswith("time budget ran out: --deploy-budget 3s ran out after")
               for r in ext["reasons"]), ext["reasons"]
    assert any(r.startswith("2 blocking checks did not run:") and "test_after" in r
               for r in ext["reasons"]), ext["reasons"]
    assert not any("KeyboardInterrupt" in r for r in ext["reasons"])


def test_a_budget_caps_a_wait_so_it_ends_cleanly(
    pytester: pytest.Pytester, server: Server
) -> None:
    server.route("/health", *DOWN)
    pytester.makepyfile("""
        import pytest

        @pytest.mark.post_deploy(within="10m", every="0.2s")
        def test_health(http):
            assert http.get("/health").status_code == 200
    """)
    result = pytester.runpytest_subprocess(f"--deploy-target={server.url}",
                                           "--deploy-budget=2s", timeout=90)
    assert result.ret in (1, 6)
    ext = json.loads((pytester.path / "deploy-verdict.json").read_text())["predicate"][
        "deployability"]
    assert ext["verdict"] in ("NOT_DEPLOYABLE", "INCONCLUSIVE")


@pytest.mark.parametrize(
    ("signum", "reason"),
    [(signal.SIGINT, "KeyboardInterrupt (Ctrl-C)"), (signal.SIGTERM, "received SIGTERM")],
    ids=["SIGINT", "SIGTERM"],
)
def test_a_signal_during_a_wait_stops_at_once_with_an_inconclusive_verdict(
    pytester: pytest.Pytester, server: Server, signum: int, reason: str
) -> None:
    server.route("/health", *DOWN)
    pytester.makepyfile("""
        import pytest

        @pytest.mark.post_deploy
        def test_waits(http, eventually):
            eventually(lambda: http.get("/health").raise_for_status(), within="5m",
                       every="0.2s")
    """)
    with subprocess.Popen(
        [sys.executable, "-m", "pytest", f"--deploy-target={server.url}", "-p",
         "no:cacheprovider"],
        cwd=pytester.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    ) as proc:
        assert wait_for(lambda: len(server.received) >= 3, timeout=30)
        proc.send_signal(signum)
        output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 6, output
    ext = json.loads((pytester.path / "deploy-verdict.json").read_text())["predicate"][
        "deployability"]
    assert ext["verdict"] == "INCONCLUSIVE"
    assert f"the run was interrupted: {reason}" in ext["reasons"]


SOAK = """
import pytest

@pytest.mark.smoke
def test_up(http):
    http.get("/health").raise_for_status()

@pytest.mark.post_deploy
def test_stable(http):
    assert http.get("/stable").status_code == 200

@pytest.mark.post_deploy(blocking=False)
def test_advisory(http):
    assert http.get("/missing").status_code == 200
"""


@pytest.mark.parametrize(("limit", "verdict", "code"),
                         [("0", "NOT_DEPLOYABLE", 1), ("5", "DEPLOYABLE_WITH_WARNINGS", 0)])
def test_soak_repeats_post_deploy_checks_and_counts_failed_rounds(
    pytester: pytest.Pytester, server: Server, verdict_of: VerdictOf,
    limit: str, verdict: str, code: int,
) -> None:
    # First pass and round 1 pass; round 2 fails; then it recovers.
    server.flaps("/stable", [UP, UP, BROKEN, UP, UP, UP, UP, UP])
    pytester.makepyfile(SOAK)
    result = pytester.runpytest(f"--deploy-target={server.url}", "--deploy-soak=1.1s",
                                "--deploy-soak-every=0.5s",
                                f"--deploy-soak-failure-limit={limit}")
    assert result.ret == code
    result.stdout.fnmatch_lines(["*soak: running 2 post_deploy checks every 0.5s for 1.1s*",
                                 "*soak round 1: 1 passed, 0 failed*",
                                 "*soak round 2: 0 passed, 1 failed*"])
    ext = verdict_of()["predicate"]["deployability"]
    assert ext["verdict"] == verdict
    soak = ext["soak"]
    assert soak["failureLimit"] == int(limit)
    assert [r["round"] for r in soak["rounds"]] == [1, 2]
    assert soak["rounds"][1]["failed"][0].endswith("test_stable")
    assert soak["failedRounds"] == 1
    assert any(r.startswith(f"soak: 1 of 2 rounds failed (limit {limit})")
               for r in ext["reasons"])


def test_soak_does_not_run_after_a_failed_first_pass(
    pytester: pytest.Pytester, server: Server, verdict_of: VerdictOf
) -> None:
    server.route("/stable", *DOWN)
    pytester.makepyfile(SOAK)
    result = pytester.runpytest(f"--deploy-target={server.url}", "--deploy-soak=10s")
    assert result.ret == 1
    assert "soak" not in verdict_of()["predicate"]["deployability"]


def test_a_blocking_check_that_passes_only_on_a_rerun_warns(
    pytester: pytest.Pytester, server: Server, verdict_of: VerdictOf
) -> None:
    require("pytest_rerunfailures")
    server.flaps("/flaky", [BROKEN, UP])
    pytester.makepyfile("""
        import pytest

        @pytest.mark.smoke
        def test_flaky(http):
            assert http.get("/flaky").status_code == 200
    """)
    result = pytester.runpytest(f"--deploy-target={server.url}", "--reruns=2")
    assert result.ret == 0
    data = verdict_of()["predicate"]
    check = checks_of(verdict_of())["test_flaky"]
    assert (check["outcome"], check["attempts"], check["reruns"]) == ("passed", 2, 1)
    assert data["deployability"]["verdict"] == "DEPLOYABLE_WITH_WARNINGS"
    assert data["warnedTests"] == [data["deployability"]["checks"][0]["id"]]
    assert any("passed only on a rerun" in r for r in data["deployability"]["reasons"])
