"""Metric analysis against a real Prometheus scraping a real service (SPEC §17).

One Prometheus per test run (the module runs on one xdist worker, see ``_scheduling``):
each test sets gauges under a label value of its own (``case``), waits until Prometheus has
scraped them, and runs a deploy-check suite through ``pytester`` whose target's ``prometheus`` is
that server; the assertions read the exit code, the verdict file and the output.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from _prometheus import PROMETHEUS, Prometheus, free_port, prometheus
from conftest import IN_CI, require

from pytest_deployable.metrics import Comparison, Metrics, parse_comparison, parse_increase
from pytest_deployable.metrics_plugin import kept
from pytest_deployable.prometheus import PrometheusClient, PrometheusUnavailable, QueryFailed
from pytest_deployable.targets import Target
from pytest_deployable.verdict import CheckResult, Decision, Outcome, decide

VerdictOf = Callable[..., dict[str, Any]]


@pytest.fixture(scope="session")
def prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    """The session's Prometheus; missing, it skips locally and fails in CI."""
    require("prometheus_client")
    if not os.path.exists(PROMETHEUS):
        if IN_CI:
            pytest.fail(f"{PROMETHEUS} is missing in CI (apt-get install prometheus)",
                        pytrace=False)
        pytest.skip(f"{PROMETHEUS} is not installed (apt-get install prometheus)")
    with prometheus(tmp_path_factory.mktemp("prometheus")) as running:
        yield running


def write_target(pytester: pytest.Pytester, prometheus_url: str, **extra: str) -> None:
    lines = "".join(f"{key} = {value}\n" for key, value in extra.items())
    pytester.makefile(".toml", **{"deploy-targets": (
        "[targets.metrics]\n"
        f'base_url = "http://127.0.0.1:{free_port()}"\n'
        f'prometheus = "{prometheus_url}"\n'
        "timeout = 5\n" + lines
    )})


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest("--deploy-target=metrics", "-p", "no:cacheprovider", *args)


def deployability(verdict: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = verdict["predicate"]["deployability"]
    return result


def check_of(verdict: dict[str, Any], name: str) -> dict[str, Any]:
    checks = {c["id"].split("::")[-1]: c for c in deployability(verdict)["checks"]}
    return checks[name]


def suite(pytester: pytest.Pytester, body: str) -> None:
    pytester.makepyfile(test_slo="import pytest\n\n" + body)


# -- the threshold form ---------------------------------------------------------------------


def test_an_slo_that_holds_passes_and_records_query_value_and_time(
    pytester: pytest.Pytester, prom: Prometheus, verdict_of: VerdictOf
) -> None:
    selector = prom.show("holds", 0.005)
    write_target(pytester, prom.url)
    suite(pytester, f"""
@pytest.mark.post_deploy
def test_error_rate(metrics):
    assert metrics.assert_that('{selector}', "< 0.01") == 0.005
""")
    result = run(pytester)
    assert result.ret == 0
    result.stdout.fnmatch_lines([f"deploy metrics: Prometheus at {prom.url}"])
    verdict = verdict_of()
    assert deployability(verdict)["verdict"] == "DEPLOYABLE"
    [evaluation] = check_of(verdict, "test_error_rate")["metrics"]
    assert evaluation["query"] == selector
    assert evaluation["value"] == 0.005
    assert evaluation["condition"] == "< 0.01"
    assert evaluation["passed"] is True
    assert evaluation["time"].endswith("Z")
    assert evaluation["time"][:4].isdigit()


def test_an_slo_that_is_broken_fails_with_the_query_and_value(
    pytester: pytest.Pytester, prom: Prometheus, verdict_of: VerdictOf
) -> None:
    selector = prom.show("broken", 0.25)
    write_target(pytester, prom.url)
    suite(pytester, f"""
@pytest.mark.post_deploy
def test_error_rate(metrics):
    metrics.assert_that('{selector}', "< 0.01")
""")
    result = run(pytester)
    assert result.ret == 1
    result.stdout.fnmatch_lines([f"*metric check failed: {selector} = 0.25 at *, expected < 0.01*"])
    verdict = verdict_of()
    assert deployability(verdict)["verdict"] == "NOT_DEPLOYABLE"
    check = check_of(verdict, "test_error_rate")
    assert check["outcome"] == "failed"
    assert "= 0.25" in check["message"]
    assert check["metrics"][0]["passed"] is False
    assert check["metrics"][0]["value"] == 0.25
    assert "inconclusive" not in check


#: (value, comparison, whether it holds), one check each in one run.
OPERATOR_CASES = [
    (99.7, ">= 99.5", True), (99.4, ">= 99.5", False), (0.0, "== 0", True),
    (1.0, "== 0", False), (3.0, "!= 0", True), (5.0, "<= 5", True), (5.5, "> 5.5", False),
    (5.5, "< 5.5", False), (-1.0, "< -0.5", True), (0.002, "<= 2e-3", True),
]


def test_every_comparison_operator(
    pytester: pytest.Pytester, prom: Prometheus, verdict_of: VerdictOf
) -> None:
    body = ""
    selectors = prom.show_all([(f"op{index}", value, "")
                               for index, (value, _, _) in enumerate(OPERATOR_CASES)])
    cases = zip(selectors, OPERATOR_CASES, strict=True)
    for index, (selector, (_, comparison, _)) in enumerate(cases):
        body += f"""
@pytest.mark.post_deploy
def test_case_{index}(metrics):
    metrics.assert_that('{selector}', "{comparison}")
"""
    write_target(pytester, prom.url)
    suite(pytester, body)
    assert run(pytester).ret == 1
    verdict = verdict_of()
    for index, (value, comparison, holds) in enumerate(OPERATOR_CASES):
        check = check_of(verdict, f"test_case_{index}")
        assert check["outcome"] == ("passed" if holds else "failed"), (value, comparison)
        assert check["metrics"][0]["passed"] is holds


def test_nan_and_infinity_are_never_a_pass(
    pytester: pytest.Pytester, prom: Prometheus, verdict_of: VerdictOf
) -> None:
    nan = prom.show("nan", float("nan"))
    write_target(pytester, prom.url)
    suite(pytester, f"""
@pytest.mark.post_deploy
def test_nan_below(metrics):
    metrics.assert_that('{nan}', "< 1")

@pytest.mark.post_deploy
def test_nan_not_equal(metrics):
    metrics.assert_that('{nan}', "!= 0")

@pytest.mark.post_deploy
def test_inf_above(metrics):
    metrics.assert_that('sum({nan} > 0 or vector(1)) / 0', "> 0")
""")
    result = run(pytester)
    assert result.ret == 1
    verdict = verdict_of()
    for name in ("test_nan_below", "test_nan_not_equal", "test_inf_above"):
        check = check_of(verdict, name)
        assert check["outcome"] == "failed", name
        assert "never a pass" in check["message"], check["message"]
    assert check_of(verdict, "test_nan_below")["metrics"][0]["value"] == "NaN"
    assert check_of(verdict, "test_inf_above")["metrics"][0]["value"] == "+Inf"


def test_no_data_fails_unless_the_check_says_it_may_pass(
    pytester: pytest.Pytester, prom: Prometheus, verdict_of: VerdictOf
) -> None:
    write_target(pytester, prom.url)
    suite(pytester, """
@pytest.mark.post_deploy
def test_silent(metrics):
    metrics.assert_that('app_value{case="never-set"}', "< 0.01")

@pytest.mark.post_deploy
def test_silent_is_fine(metrics):
    metrics.assert_that('app_value{case="never-set"}', "< 0.01", no_data="pass")

@pytest.mark.post_deploy
def test_bare_query(metrics):
    metrics.query('app_value{case="never-set"}')
""")
    result = run(pytester)
    assert result.ret == 1
    verdict = verdict_of()
    silent = check_of(verdict, "test_silent")
    assert silent["outcome"] == "failed"
    assert "no data" in silent["message"]
    assert silent["metrics"][0]["error"] == "no data"
    assert check_of(verdict, "test_silent_is_fine")["outcome"] == "passed"
    assert "no data" in check_of(verdict, "test_bare_query")["message"]


def test_several_series_where_one_was_asked_for_is_a_failure_naming_them(
    pytester: pytest.Pytester, prom: Prometheus, verdict_of: VerdictOf
) -> None:
    prom.show_all([("many", 1.0, "a"), ("many", 2.0, "b")])
    write_target(pytester, prom.url)
    suite(pytester, """
@pytest.mark.post_deploy
def test_one(metrics):
    metrics.assert_that('app_value{case="many"}', "< 10")

@pytest.mark.post_deploy
def test_all(metrics):
    found = metrics.series('app_value{case="many"}')
    assert sorted(s.value for s in found) == [1.0, 2.0]
""")
    result = run(pytester)
    assert result.ret == 1
    verdict = verdict_of()
    message = check_of(verdict, "test_one")["message"]
    assert "returned 2 series, expected exactly one" in message
    assert 'app_value{case="many"}' in message
    assert 'version="a"' in message
    assert check_of(verdict, "test_all")["outcome"] == "passed"
    assert check_of(verdict, "test_all")["metrics"][0]["series"] == 2


def test_a_query_prometheus_refuses_is_a_failure_with_its_error(
    pytester: pytest.Pytester, prom: Prometheus, verdict_of: VerdictOf
) -> None:
    write_target(pytester, prom.url)
    suite(pytester, """
@pytest.mark.post_deploy
def test_typo(metrics):
    metrics.assert_that('sum(rate(app_requests_total[1m]', "< 0.01")
""")
    result = run(pytester)
    assert result.ret == 1
    verdict = verdict_of()
    check = check_of(verdict, "test_typo")
    assert check["outcome"] == "failed"
    assert "Prometheus refused query" in check["message"]
    assert "bad_data" in check["message"]
    assert deployability(verdict)["verdict"] == "NOT_DEPLOYABLE"


def test_an_unreachable_prometheus_is_inconclusive_never_a_pass(
    pytester: pytest.Pytester, verdict_of: VerdictOf
) -> None:
    write_target(pytester, f"http://127.0.0.1:{free_port()}", retries="0")
    suite(pytester, """
@pytest.mark.post_deploy
def test_error_rate(metrics):
    metrics.assert_that('up', "< 0.01")

@pytest.mark.post_deploy(blocking=False)
def test_advisory(metrics):
    metrics.assert_that('up', "< 0.01")
""")
    result = run(pytester)
    assert result.ret == 6
    verdict = verdict_of()
    ours = deployability(verdict)
    assert ours["verdict"] == "INCONCLUSIVE"
    assert verdict["predicate"]["result"] == "FAILED"
    check = check_of(verdict, "test_error_rate")
    assert check["outcome"] == "error"
    assert "Prometheus could not be asked" in check["inconclusive"]
    assert any("could not judge" in reason for reason in ours["reasons"])
    assert check["metrics"][0]["error"].startswith("Prometheus could not be asked")
    # The gate reads such a verdict as INCONCLUSIVE (6), not as a broken file.
    gate = subprocess.run(
        [sys.executable, "-m", "pytest_deployable", "gate", str(pytester.path /
                                                               "deploy-verdict.json")],
        capture_output=True, text=True, check=False,
    )
    assert gate.returncode == 6, gate.stdout + gate.stderr
    # Turned into a failure with the same excuse, the file is refused as edited: only an
    # error may be inconclusive, and a failed blocking check is NOT_DEPLOYABLE.
    path = pytester.path / "deploy-verdict.json"
    for entry in ours["checks"]:
        entry["outcome"] = "failed" if entry["outcome"] == "error" else entry["outcome"]
    ours["summary"]["failed"], ours["summary"]["errors"] = ours["summary"]["errors"], 0
    path.write_text(json.dumps(verdict), encoding="utf-8")
    gate = subprocess.run([sys.executable, "-m", "pytest_deployable", "gate", str(path)],
                          capture_output=True, text=True, check=False)
    assert gate.returncode == 3, gate.stdout + gate.stderr
    assert "inconsistent verdict file" in gate.stdout + gate.stderr


def test_a_real_failure_beside_an_unreachable_prometheus_is_not_deployable(
    pytester: pytest.Pytester, verdict_of: VerdictOf
) -> None:
    write_target(pytester, f"http://127.0.0.1:{free_port()}", retries="0")
    suite(pytester, """
@pytest.mark.post_deploy
def test_error_rate(metrics):
    metrics.assert_that('up', "< 0.01")

@pytest.mark.smoke
def test_broken():
    assert False, "the release is broken"
""")
    assert run(pytester).ret == 1
    assert deployability(verdict_of())["verdict"] == "NOT_DEPLOYABLE"


def test_a_bad_comparison_is_a_clear_error(
    pytester: pytest.Pytester, prom: Prometheus, verdict_of: VerdictOf
) -> None:
    write_target(pytester, prom.url)
    suite(pytester, """
@pytest.mark.post_deploy
def test_typo(metrics):
    metrics.assert_that('up', "<< 0.01")

@pytest.mark.post_deploy
def test_nan_threshold(metrics):
    metrics.assert_that('up', "< nan")

@pytest.mark.post_deploy
def test_no_data_word(metrics):
    metrics.assert_that('up', "< 1", no_data="ok")
""")
    result = run(pytester)
    assert result.ret == 1
    verdict = verdict_of()
    assert "invalid comparison '<< 0.01'" in check_of(verdict, "test_typo")["message"]
    assert "invalid comparison '< nan'" in check_of(verdict, "test_nan_threshold")["message"]
    assert "no_data must be 'fail' or 'pass'" in check_of(verdict, "test_no_data_word")[
        "message"]
    # Refused before anything was asked: no evaluation is recorded.
    assert "metrics" not in check_of(verdict, "test_typo")


# -- waiting, soak, xdist -------------------------------------------------------------------


def test_within_every_retries_until_prometheus_sees_the_recovery(
    pytester: pytest.Pytester, prom: Prometheus, verdict_of: VerdictOf
) -> None:
    selector = prom.show("recovers", 0.5)
    write_target(pytester, prom.url)
    suite(pytester, f"""
import requests

@pytest.mark.post_deploy(within="60s", every="0.2s")
def test_error_rate(metrics):
    try:
        metrics.assert_that('{selector}', "< 0.01")
    except AssertionError:
        # The service recovers after the first failure; Prometheus sees it a scrape later.
        requests.get("{prom.service.url}/set?case=recovers&value=0.001", timeout=5)
        raise
""")
    result = run(pytester)
    assert result.ret == 0
    check = check_of(verdict_of(), "test_error_rate")
    assert check["attempts"] >= 2
    evaluations = check["metrics"]
    assert evaluations[0]["value"] == 0.5
    assert evaluations[0]["passed"] is False
    assert evaluations[-1]["value"] == 0.001
    assert evaluations[-1]["passed"] is True


def test_eventually_waits_on_a_metric_and_gives_up_naming_the_value(
    pytester: pytest.Pytester, prom: Prometheus, verdict_of: VerdictOf
) -> None:
    selector = prom.show("stays-bad", 0.5)
    write_target(pytester, prom.url)
    suite(pytester, f"""
@pytest.mark.post_deploy
def test_error_rate(metrics, eventually):
    eventually(lambda: metrics.assert_that('{selector}', "< 0.01"), within="1s", every="0.3s",
               what="error rate")
""")
    result = run(pytester)
    assert result.ret == 1
    check = check_of(verdict_of(), "test_error_rate")
    assert "error rate: still failing after" in check["message"]
    assert "= 0.5" in check["message"]
    # As many evaluations as attempts fitted in the wait (a loaded machine fits fewer).
    assert check["metrics"]
    assert all(e["passed"] is False for e in check["metrics"])


def test_a_soak_round_fails_when_the_metric_breaks_after_the_first_pass(
    pytester: pytest.Pytester, prom: Prometheus, verdict_of: VerdictOf
) -> None:
    selector = prom.show("soak", 0.001)
    write_target(pytester, prom.url)
    suite(pytester, f"""
import time

import requests

RUNS = []

@pytest.mark.post_deploy
def test_error_rate(metrics):
    RUNS.append(1)
    value = metrics.assert_that('{selector}', "< 0.01")
    if len(RUNS) == 1:
        # After the first pass the release degrades; wait until Prometheus has scraped
        # that (counting answers, not seconds), so the first soak round must see it.
        requests.get("{prom.service.url}/set?case=soak&value=0.3", timeout=5)
        while requests.get("{prom.url}/api/v1/query", params={{"query": '{selector}'}},
                           timeout=5).json()["data"]["result"][0]["value"][1] != "0.3":
            time.sleep(0.1)
    return value
""")
    result = run(pytester, "--deploy-soak=2s", "--deploy-soak-every=1s")
    assert result.ret == 1
    ours = deployability(verdict_of())
    assert ours["verdict"] == "NOT_DEPLOYABLE"
    rounds = ours["soak"]["rounds"]
    assert rounds
    assert all(r["failed"] for r in rounds)  # every round after the degradation fails
    # The first pass's evaluation, then each round's, marked with its round.
    evaluations = check_of(verdict_of(), "test_error_rate")["metrics"]
    assert evaluations[0]["value"] == 0.001
    assert "soakRound" not in evaluations[0]
    assert [e["soakRound"] for e in evaluations[1:]] == [r["round"] for r in rounds]
    assert all(e["value"] == 0.3 and e["passed"] is False for e in evaluations[1:])


def test_evaluations_reach_the_verdict_from_xdist_workers(
    pytester: pytest.Pytester, prom: Prometheus, verdict_of: VerdictOf
) -> None:
    require("xdist")
    good, bad = prom.show_all([("xdist-good", 0.001, ""), ("xdist-bad", 0.2, "")])
    write_target(pytester, prom.url)
    suite(pytester, f"""
@pytest.mark.post_deploy
@pytest.mark.parametrize("n", range(4))
def test_good(metrics, n):
    metrics.assert_that('{good}', "< 0.01")

@pytest.mark.post_deploy
def test_bad(metrics):
    metrics.assert_that('{bad}', "< 0.01")
""")
    result = run(pytester, "-n", "2")
    assert result.ret == 1
    checks = deployability(verdict_of())["checks"]
    assert len(checks) == 5
    assert all(len(c["metrics"]) == 1 for c in checks)
    assert {c["metrics"][0]["passed"] for c in checks} == {True, False}


# -- compare: canary against baseline -------------------------------------------------------


@pytest.mark.parametrize(("canary", "passes"), [(0.0105, True), (0.02, False)])
def test_compare_judges_the_canary_against_the_baseline(
    pytester: pytest.Pytester, prom: Prometheus, verdict_of: VerdictOf,
    canary: float, passes: bool,
) -> None:
    case = f"canary{canary}"
    prom.show_all([(case, 0.01, "1.4.2"), (case, canary, "1.5.0")])
    write_target(pytester, prom.url)
    suite(pytester, f"""
@pytest.mark.post_deploy
def test_canary(metrics):
    metrics.compare('app_value{{case="{case}"}}', baseline={{"version": "1.4.2"}},
                    canary={{"version": "1.5.0"}}, max_increase="10%")
""")
    result = run(pytester)
    assert result.ret == (0 if passes else 1)
    check = check_of(verdict_of(), "test_canary")
    [evaluation] = check["metrics"][-1:]
    assert evaluation["baseline"] == 0.01
    assert evaluation["value"] == canary
    assert evaluation["condition"] == "<= baseline + 10%"
    assert evaluation["passed"] is passes
    if not passes:
        assert "canary worse than baseline" in check["message"]
        assert 'version="1.5.0"' in check["message"]


def test_compare_without_a_baseline_series_is_no_data(
    pytester: pytest.Pytester, prom: Prometheus, verdict_of: VerdictOf
) -> None:
    prom.show("lonely", 0.01, version="1.5.0")
    write_target(pytester, prom.url)
    suite(pytester, """
@pytest.mark.post_deploy
def test_canary(metrics):
    metrics.compare('app_value{case="lonely"}', baseline={"version": "1.4.2"},
                    canary={"version": "1.5.0"}, max_increase=0.001)

@pytest.mark.post_deploy
def test_bad_increase(metrics):
    metrics.compare('app_value{case="lonely"}', baseline={"version": "1.4.2"},
                    canary={"version": "1.5.0"}, max_increase="ten percent")
""")
    assert run(pytester).ret == 1
    verdict = verdict_of()
    message = check_of(verdict, "test_canary")["message"]
    assert 'no data: baseline {version="1.4.2"}: no series' in message
    assert "invalid max_increase 'ten percent'" in check_of(verdict, "test_bad_increase")[
        "message"]


def test_range_returns_points_over_the_window(
    pytester: pytest.Pytester, prom: Prometheus, verdict_of: VerdictOf
) -> None:
    selector = prom.show("range", 7.0)
    write_target(pytester, prom.url)
    suite(pytester, f"""
@pytest.mark.post_deploy
def test_window(metrics):
    [series] = metrics.range('{selector}', over="1m", step="1s")
    assert series.points and series.points[-1][1] == 7.0
    assert series.labels["case"] == "range"
""")
    assert run(pytester).ret == 0
    assert check_of(verdict_of(), "test_window")["metrics"][0]["series"] == 1


# -- configuration and secrets --------------------------------------------------------------


def test_a_target_without_prometheus_makes_the_fixture_error_clearly(
    pytester: pytest.Pytester, verdict_of: VerdictOf
) -> None:
    pytester.makefile(".toml", **{"deploy-targets": (
        f'[targets.metrics]\nbase_url = "http://127.0.0.1:{free_port()}"\n')})
    suite(pytester, """
@pytest.mark.post_deploy
def test_error_rate(metrics):
    metrics.assert_that('up', "< 0.01")
""")
    result = run(pytester)
    assert result.ret == 1
    check = check_of(verdict_of(), "test_error_rate")
    assert check["outcome"] == "error"
    assert "has no prometheus URL" in check["message"]


@pytest.mark.parametrize(("line", "expected"), [
    ("prometheus = 9090", "prometheus must be a string"),
    ('prometheus = "ftp://prom.example"', "prometheus: 'ftp://prom.example' is not an http(s)"),
    ('prometheus_headers = { Authorization = 5 }', "prometheus_headers must be a table"),
    ('prometheus_url = "http://x"', "unknown key 'prometheus_url'"),
])
def test_bad_prometheus_keys_are_usage_errors(
    pytester: pytest.Pytester, line: str, expected: str
) -> None:
    pytester.makefile(".toml", **{"deploy-targets": (
        f'[targets.metrics]\nbase_url = "http://127.0.0.1:1"\n{line}\n')})
    suite(pytester, "@pytest.mark.smoke\ndef test_x():\n    pass\n")
    result = run(pytester)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert expected in result.stderr.str()
    assert "Traceback" not in result.stderr.str()
    assert not (pytester.path / "deploy-verdict.json").exists()


def test_prometheus_secrets_never_reach_the_verdict_or_the_terminal(
    pytester: pytest.Pytester, prom: Prometheus, monkeypatch: pytest.MonkeyPatch
) -> None:
    password, token = "s3cret-prom-password", "prom-token-0123456789"
    monkeypatch.setenv("PROM_PASSWORD", password)
    monkeypatch.setenv("PROM_TOKEN", token)
    dead = free_port()
    write_target(pytester, f"http://reader:${{PROM_PASSWORD}}@127.0.0.1:{dead}",
                 retries="0", prometheus_headers='{ Authorization = "Bearer ${PROM_TOKEN}" }')
    suite(pytester, f"""
@pytest.mark.post_deploy
def test_error_rate(metrics):
    metrics.assert_that('up{{password="{password}"}}', "< 0.01")
""")
    result = run(pytester, "--deploy-junit=junit.xml")
    assert result.ret == 6
    result.stdout.fnmatch_lines([f"deploy metrics: Prometheus at http://reader:***@127.0.0.1:{dead}"])
    shown = result.stdout.str() + result.stderr.str()
    for path in ("deploy-verdict.json", "junit.xml"):
        shown += (pytester.path / path).read_text(encoding="utf-8")
    assert "could not be asked" in shown
    for secret in (password, token):
        assert secret not in shown
        assert secret[:8] not in shown


def test_prometheus_headers_go_to_prometheus_only(
    pytester: pytest.Pytester, server: Any, verdict_of: VerdictOf
) -> None:
    """A stand-in Prometheus (the test server) proves which headers reach it."""
    answer = {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {}, "value": [1700000000, "0.001"]}]}}
    server.route("/api/v1/query", 200, answer)
    pytester.makefile(".toml", **{"deploy-targets": (
        f'[targets.metrics]\nbase_url = "{server.url}"\nprometheus = "{server.url}"\n'
        'headers = { X-Api-Key = "service-key" }\n'
        'prometheus_headers = { X-Scope-OrgID = "tenant-1" }\n')})
    suite(pytester, """
@pytest.mark.post_deploy
def test_slo(metrics):
    metrics.assert_that('up', "< 0.01")
""")
    assert run(pytester).ret == 0
    [request] = [r for r in server.received if r.path.startswith("/api/v1/query")]
    assert request.method == "GET"
    assert request.headers.get("X-Scope-OrgID") == "tenant-1"
    assert "X-Api-Key" not in request.headers


# -- untrusted answers ----------------------------------------------------------------------


@pytest.mark.parametrize(("status", "body", "error", "words"), [
    (200, b"<html>login</html>", PrometheusUnavailable, "without Prometheus' JSON"),
    (502, {"status": "error", "errorType": "unavailable", "error": "x"}, PrometheusUnavailable,
     "could not answer"),
    (503, {"status": "error", "errorType": "timeout", "error": "query timed out"},
     PrometheusUnavailable, "query timed out"),
    (404, b"404 page not found", PrometheusUnavailable, "without Prometheus' JSON"),
    (200, {"status": "error", "errorType": "bad_data", "error": "x"}, PrometheusUnavailable,
     "could not answer"),
    (200, [], PrometheusUnavailable, "without Prometheus' JSON"),
    (200, b'{"status": "success", "data": NaN}', PrometheusUnavailable, "without"),
    (422, {"status": "error", "errorType": "execution", "error": "many-to-many"},
     QueryFailed, "Prometheus refused query"),
    (200, {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {}, "value": [1700000000, "1_0"]}]}}, QueryFailed, "cannot be read"),
    (200, {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {}, "value": [1700000000, 0.001]}]}}, QueryFailed, "cannot be read"),
    (200, {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {}, "value": [1700000000, "infinity"]}]}}, QueryFailed, "cannot be read"),
    (200, {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {}, "value": [True, "1"]}]}}, QueryFailed, "must be a Unix time"),
    (200, {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {"a": 1}, "value": [1, "1"]}]}}, QueryFailed, "object of strings"),
    (200, {"status": "success", "data": {"resultType": "string", "result": [1, "x"]}},
     QueryFailed, "not a vector or scalar"),
    (200, {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {}, "histogram": [1700000000, {}]}]}}, QueryFailed, "histogram"),
    (200, {"status": "success"}, QueryFailed, "resultType is missing"),
])
def test_every_answer_is_untrusted_and_never_a_value(
    server: Any, status: int, body: Any, error: type[Exception], words: str
) -> None:
    """A stand-in Prometheus (the test server) answers what no real one would."""
    server.route("/api/v1/query", status, body)
    client = PrometheusClient(Target(name="t", prometheus=server.url, retries=0))
    try:
        with pytest.raises(error, match=re.escape(words)):
            client.instant("up", at=1700000000.0)
    finally:
        client.close()


def test_an_answer_prometheus_cannot_give_is_inconclusive_a_refusal_a_failure(
    pytester: pytest.Pytester, server: Any, verdict_of: VerdictOf
) -> None:
    server.route("/api/v1/query", 200, b"<html>login</html>")
    server.route("/p/api/v1/query", 400, {"status": "error", "errorType": "bad_data",
                                          "error": "parse error"})
    write_target(pytester, server.url, retries="0")
    suite(pytester, """
@pytest.mark.post_deploy
def test_slo(metrics):
    metrics.assert_that('up', "< 0.01")
""")
    assert run(pytester).ret == 6
    assert deployability(verdict_of())["verdict"] == "INCONCLUSIVE"
    write_target(pytester, server.url + "/p", retries="0")
    assert run(pytester).ret == 1
    check = check_of(verdict_of(), "test_slo")
    assert check["outcome"] == "failed"
    assert "bad_data: parse error" in check["message"]


def test_a_scalar_answer_is_one_sample(
    pytester: pytest.Pytester, prom: Prometheus, verdict_of: VerdictOf
) -> None:
    write_target(pytester, prom.url)
    suite(pytester, """
@pytest.mark.post_deploy
def test_scalar(metrics):
    assert metrics.query('scalar(vector(0.5))') == 0.5
""")
    assert run(pytester).ret == 0
    assert check_of(verdict_of(), "test_scalar")["metrics"][0]["value"] == 0.5


def test_the_verdict_file_stays_strict_json(
    pytester: pytest.Pytester, prom: Prometheus
) -> None:
    nan = prom.show("strict-json", float("nan"))
    write_target(pytester, prom.url)
    suite(pytester, f"""
@pytest.mark.post_deploy
def test_nan(metrics):
    metrics.query('{nan}')
""")
    assert run(pytester).ret == 0
    text = (pytester.path / "deploy-verdict.json").read_text(encoding="utf-8")

    def refuse(name: str) -> Any:
        raise ValueError(name)

    data = json.loads(text, parse_constant=refuse)
    assert '"NaN"' in text
    assert data



def test_the_verdict_keeps_the_last_20_evaluations_of_a_check(
    pytester: pytest.Pytester, prom: Prometheus, verdict_of: VerdictOf
) -> None:
    selector = prom.show("many-evaluations", 1.0)
    write_target(pytester, prom.url)
    suite(pytester, f"""
@pytest.mark.post_deploy
def test_polls(metrics):
    for n in range(25):
        metrics.assert_that('{selector} + ' + str(n), ">= 0")
""")
    assert run(pytester).ret == 0
    evaluations = check_of(verdict_of(), "test_polls")["metrics"]
    assert len(evaluations) == 20
    assert evaluations[0]["query"] == f"{selector} + 5"
    assert evaluations[-1]["query"] == f"{selector} + 24"
    assert evaluations[-1]["value"] == 25.0


# -- the rules, without pytest ----------------------------------------------------------------


def test_decide_an_error_that_could_not_judge_is_inconclusive_a_failure_is_not() -> None:
    unjudged = CheckResult("t::slo", "post_deploy", True, Outcome.ERROR,
                           inconclusive="Prometheus could not be asked for 'up': refused")
    passed = CheckResult("t::ok", "smoke", True, Outcome.PASSED)
    verdict = decide([passed, unjudged])
    assert verdict.decision is Decision.INCONCLUSIVE
    assert verdict.reasons == (
        "blocking check t::slo could not judge: Prometheus could not be asked for 'up': refused",
    )
    # Alone, it is still INCONCLUSIVE, with no "no blocking check ran" beside the reason.
    assert decide([unjudged]).decision is Decision.INCONCLUSIVE
    assert len(decide([unjudged]).reasons) == 1
    # The excuse counts for errors only: a failure carrying it is a failure.
    failed = CheckResult("t::slo", "post_deploy", True, Outcome.FAILED, inconclusive="x")
    assert decide([passed, failed]).decision is Decision.NOT_DEPLOYABLE
    # A real failure beside it outranks it.
    broken = CheckResult("t::broken", "smoke", True, Outcome.FAILED)
    assert decide([broken, unjudged]).decision is Decision.NOT_DEPLOYABLE
    # An advisory check that could not judge warns, as any advisory error does.
    advisory = CheckResult("t::adv", "post_deploy", False, Outcome.ERROR, inconclusive="x")
    assert decide([passed, advisory]).decision is Decision.DEPLOYABLE_WITH_WARNINGS


def test_comparisons_are_parsed_strictly() -> None:
    assert parse_comparison(" >= 99.5 ") == Comparison(">=", 99.5)
    assert parse_comparison("<1e-3") == Comparison("<", 0.001)
    for bad in ("< 0.01 and > 0", "=< 1", "< inf", "< NaN", "<", "0.01", "< 1_0", 5, None):
        with pytest.raises(ValueError, match="invalid comparison"):
            parse_comparison(bad)
    assert not Comparison("!=", 0).holds(float("nan"))
    assert not Comparison(">", 0).holds(float("inf"))
    assert not Comparison("<", 0).holds(float("-inf"))
    assert parse_increase("10%") == (0.1, True)
    assert parse_increase(0.5) == (0.5, False)
    for bad in ("-5%", "ten", True, float("inf"), "%"):
        with pytest.raises(ValueError, match="invalid max_increase"):
            parse_increase(bad)


def test_kept_drops_the_oldest_passes_first_so_failures_stay() -> None:
    evaluations = [{"n": n, "passed": n != 3} for n in range(30)]
    assert [e["n"] for e in kept(evaluations, 20)] == [3, *range(11, 30)]
    assert kept(evaluations[:5], 20) == evaluations[:5]
    failures = [{"n": n, "passed": False} for n in range(25)]
    assert [e["n"] for e in kept(failures, 20)] == list(range(5, 25))


def test_bad_arguments_are_refused_before_anything_is_asked(server: Any) -> None:
    client = PrometheusClient(Target(name="t", prometheus=server.url, retries=0))
    recorded: list[Any] = []
    metrics = Metrics(client, recorded.append)
    try:
        for call in (lambda: metrics.query(""), lambda: metrics.series(None),  # type: ignore[arg-type]
                     lambda: metrics.range("  ")):
            with pytest.raises(ValueError, match="a PromQL query must be a non-empty string"):
                call()
        with pytest.raises(ValueError, match="over: invalid duration 'ten minutes'"):
            metrics.range("up", over="ten minutes")
        with pytest.raises(ValueError, match="step must be longer than zero"):
            metrics.range("up", step=0)
        with pytest.raises(ValueError, match="baseline must be a non-empty dict"):
            metrics.compare("up", baseline={}, canary={"version": "2"})
    finally:
        client.close()
    assert not [r for r in server.received if r.path.startswith("/api/")]
    assert recorded == []
