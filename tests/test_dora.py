"""The DORA metrics of SPEC section 13, computed from plain deployment rows.

Each test is one edge case the issue names; the rows are what the ledger hands back.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_deployable.ledger.rows import DeploymentRow
from pytest_deployable.report.dora import LEVEL_YEAR, compute, level_of, window

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
H = timedelta(hours=1)
D = timedelta(days=1)


def dep(key: str, at: datetime, *, status: str = "succeeded", target: str = "production",
        commit_time: datetime | None = None, remediates: str | None = None) -> DeploymentRow:
    return DeploymentRow(id=key, target=target, version=f"v-{key}", status=status,
                         commit=None, commit_time=commit_time, deployed_at=at,
                         recorded_at=at, remediates=remediates)


def metrics(rows: list[DeploymentRow], since: datetime = T0 - 10 * D,
            until: datetime = T0 + 10 * D) -> dict:
    return compute(rows, "production", since=since, until=until).to_dict()


def test_an_empty_window_has_no_rates_and_no_levels_but_a_low_frequency() -> None:
    result = metrics([dep("old", T0 - 30 * D, status="failed")])
    assert result["deployments"] == 0
    assert result["deploymentFrequency"] == {"perDay": 0.0, "deploymentDays": 0}
    assert result["changeFailureRate"] is None
    assert result["reworkRate"] is None
    assert result["leadTimeForChanges"]["medianSeconds"] is None
    assert result["failedDeploymentRecoveryTime"] == {"medianSeconds": None, "recovered": 0,
                                                      "unrecovered": 0}
    levels = result["performance"]["levels"]
    assert levels == {"deploymentFrequency": "low", "leadTimeForChanges": None,
                      "changeFailureRate": None, "failedDeploymentRecoveryTime": None,
                      "reworkRate": None}
    assert result["performance"]["year"] == LEVEL_YEAR == 2023


def test_one_deployment() -> None:
    result = metrics([dep("a", T0, commit_time=T0 - 2 * H)])
    assert result["deployments"] == 1
    assert result["days"] == 20
    assert result["deploymentFrequency"] == {"perDay": 1 / 20, "deploymentDays": 1}
    assert result["leadTimeForChanges"]["medianSeconds"] == 7200
    assert result["changeFailureRate"] == 0
    assert result["reworkRate"] == 0
    assert result["performance"]["levels"]["leadTimeForChanges"] == "elite"
    assert result["performance"]["levels"]["changeFailureRate"] == "elite"


def test_deployments_without_commit_times_are_left_out_of_the_lead_time_only() -> None:
    result = metrics([dep("a", T0, commit_time=T0 - 3 * D), dep("b", T0 + H),
                      dep("c", T0 + 2 * H, commit_time=T0 - 1 * D),
                      dep("d", T0 + 3 * H, commit_time=T0 + 4 * H)])  # commit after deploy
    assert result["deployments"] == 4
    lead = result["leadTimeForChanges"]
    assert lead["deployments"] == 2
    assert lead["commitAfterDeployment"] == 1
    assert lead["medianSeconds"] == ((3 * D).total_seconds() + (D + 2 * H).total_seconds()) / 2


def test_a_failure_never_recovered_is_counted_and_judged_low() -> None:
    result = metrics([dep("a", T0), dep("b", T0 + H, status="failed"),
                      dep("c", T0 + 2 * H, status="failed")], until=T0 + 3 * D)
    assert result["changeFailureRate"] == pytest.approx(2 / 3)
    assert result["failedDeploymentRecoveryTime"] == {"medianSeconds": None, "recovered": 0,
                                                      "unrecovered": 2}
    # How long they will take is not known: the level is judged as if never.
    assert result["performance"]["levels"]["failedDeploymentRecoveryTime"] == "low"


def test_an_unrecovered_failure_counts_as_the_longest_recovery() -> None:
    rows = [dep("a", T0, status="failed"), dep("b", T0 + H / 6),
            dep("c", T0 + H, status="failed"), dep("d", T0 + H + H / 6),
            dep("e", T0 + 2 * H, status="failed")]
    # Two of three recovered in ten minutes: the median of (10m, 10m, never) is 10m.
    result = metrics(rows, until=T0 + 2 * H + 60 * timedelta(seconds=1))
    assert result["failedDeploymentRecoveryTime"] == {"medianSeconds": 600, "recovered": 2,
                                                      "unrecovered": 1}
    assert result["performance"]["levels"]["failedDeploymentRecoveryTime"] == "elite"
    # One of two: the median of (10m, never) is never.
    fewer = metrics(rows[2:], until=T0 + 2 * H + 60 * timedelta(seconds=1))
    assert fewer["performance"]["levels"]["failedDeploymentRecoveryTime"] == "low"


def test_a_succeeded_deployment_is_failed_only_by_an_explicit_remediation() -> None:
    rows = [dep("a", T0), dep("b", T0 + H), dep("c", T0 + 3 * H, remediates="a")]
    result = metrics(rows)
    # b came between a and its fix; only a is failed, recovered by c (its fix), not b.
    assert result["changeFailureRate"] == pytest.approx(1 / 3)
    assert result["failedDeploymentRecoveryTime"]["medianSeconds"] == 3 * 3600
    assert result["reworkRate"] == pytest.approx(1 / 3)


def test_without_a_fix_the_next_succeeded_deployment_recovers() -> None:
    result = metrics([dep("a", T0, status="failed"), dep("b", T0 + H / 2, status="failed"),
                      dep("c", T0 + 2 * H)])
    assert result["failedDeploymentRecoveryTime"] == {"medianSeconds": 1.75 * 3600,
                                                      "recovered": 2, "unrecovered": 0}


def test_a_remediation_that_itself_fails() -> None:
    rows = [dep("a", T0), dep("fix1", T0 + H, status="failed", remediates="a"),
            dep("fix2", T0 + 3 * H, remediates="fix1")]
    result = metrics(rows)
    # a is failed (remediated), fix1 is failed (its status, and remediated); both recovered
    # at fix2: a has no succeeded fix of its own, so the next succeeded deployment counts.
    assert result["changeFailureRate"] == pytest.approx(2 / 3)
    assert result["failedDeploymentRecoveryTime"] == {"medianSeconds": 2.5 * 3600,
                                                      "recovered": 2, "unrecovered": 0}
    assert result["reworkRate"] == pytest.approx(2 / 3)


def test_time_zones_do_not_move_deployments_between_days_or_windows() -> None:
    tokyo = timezone(timedelta(hours=9))
    # 2026-03-02 08:00 in Tokyo is 2026-03-01 23:00 UTC: the same UTC day as T0.
    rows = [dep("a", T0), dep("b", datetime(2026, 3, 2, 8, 0, tzinfo=tokyo),
                              commit_time=datetime(2026, 3, 1, 22, 0, tzinfo=timezone.utc))]
    result = metrics(rows)
    assert result["deploymentFrequency"]["deploymentDays"] == 1
    assert result["leadTimeForChanges"]["medianSeconds"] == 3600
    # A window given in another zone is the same instant.
    start, end = window(datetime(2026, 3, 2, 8, 0, tzinfo=tokyo), timedelta(hours=1),
                        now=T0)
    assert (start, end) == (T0 + 10 * H, T0 + 11 * H)
    assert compute(rows, "production", since=start, until=end).to_dict()["deployments"] == 1


def test_a_window_boundary_between_a_failure_and_its_recovery() -> None:
    rows = [dep("a", T0 - H, status="failed"), dep("fix", T0 + H, remediates="a")]
    # The failure is in the window, its fix after: failed, recovered in two hours.
    before = metrics(rows, since=T0 - D, until=T0)
    assert before["deployments"] == 1
    assert before["changeFailureRate"] == 1
    assert before["failedDeploymentRecoveryTime"] == {"medianSeconds": 7200, "recovered": 1,
                                                      "unrecovered": 0}
    # The fix is in the window, the failure before it: rework, no failure of this window.
    after = metrics(rows, since=T0, until=T0 + D)
    assert after["deployments"] == 1
    assert after["changeFailureRate"] == 0
    assert after["reworkRate"] == 1
    assert after["failedDeploymentRecoveryTime"]["recovered"] == 0


def test_a_fix_recorded_on_another_target_still_marks_the_failure() -> None:
    rows = [dep("a", T0), dep("hotfix", T0 + H, target="production-eu", remediates="a")]
    result = metrics(rows)
    assert result["deployments"] == 1
    assert result["changeFailureRate"] == 1
    assert result["failedDeploymentRecoveryTime"]["medianSeconds"] == 3600


def test_other_targets_are_not_counted() -> None:
    result = metrics([dep("a", T0), dep("s", T0, target="staging", status="failed")])
    assert result["deployments"] == 1
    assert result["changeFailureRate"] == 0


def test_window_ends_are_included() -> None:
    rows = [dep("a", T0), dep("b", T0 + D)]
    assert metrics(rows, since=T0, until=T0 + D)["deployments"] == 2


def test_a_window_that_ends_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="ends"):
        compute([], "production", since=T0, until=T0 - H)


@pytest.mark.parametrize(("metric", "value", "level"), [
    ("deploymentFrequency", 3.0, "elite"), ("deploymentFrequency", 1.0, "elite"),
    ("deploymentFrequency", 0.5, "high"), ("deploymentFrequency", 1 / 7, "high"),
    ("deploymentFrequency", 0.1, "medium"), ("deploymentFrequency", 0.01, "low"),
    ("leadTimeForChanges", 3600, "elite"), ("leadTimeForChanges", 3 * 86400, "high"),
    ("leadTimeForChanges", 20 * 86400, "medium"), ("leadTimeForChanges", 40 * 86400, "low"),
    ("changeFailureRate", 0.05, "elite"), ("changeFailureRate", 0.08, "high"),
    ("changeFailureRate", 0.15, "medium"), ("changeFailureRate", 0.5, "low"),
    ("failedDeploymentRecoveryTime", 1800, "elite"),
    ("failedDeploymentRecoveryTime", 5 * 3600, "high"),
    ("failedDeploymentRecoveryTime", 3 * 86400, "medium"),
    ("failedDeploymentRecoveryTime", 10 * 86400, "low"),
    ("reworkRate", 0.5, None), ("changeFailureRate", None, None),
])
def test_levels(metric: str, value: float | None, level: str | None) -> None:
    assert level_of(metric, value) == level


def test_a_status_that_is_not_succeeded_is_never_taken_for_a_success() -> None:
    result = metrics([dep("a", T0, status="rolled-out?"), dep("b", T0 + H)])
    assert result["changeFailureRate"] == 0.5
    assert result["failedDeploymentRecoveryTime"]["medianSeconds"] == 3600


_times = st.integers(min_value=0, max_value=20 * 24 * 60)  # minutes after the window's start


@st.composite
def _histories(draw: st.DrawFn) -> list[DeploymentRow]:
    count = draw(st.integers(min_value=0, max_value=12))
    rows: list[DeploymentRow] = []
    for index in range(count):
        fixes = draw(st.none() | st.sampled_from([r.id for r in rows])) if rows else None
        commit = draw(st.none() | st.integers(min_value=0, max_value=3 * 24 * 60))
        at = T0 - 10 * D + timedelta(minutes=draw(_times))
        rows.append(dep(f"d{index}", at, status=draw(st.sampled_from(["succeeded", "failed"])),
                        target=draw(st.sampled_from(["production", "production", "staging"])),
                        commit_time=None if commit is None else at - timedelta(minutes=commit),
                        remediates=fixes))
    return rows


@given(rows=_histories(), shift=st.integers(min_value=-12, max_value=14), data=st.data())
def test_properties(rows: list[DeploymentRow], shift: int, data: st.DataObject) -> None:
    result = metrics(rows)
    in_window = [r for r in rows if r.target == "production"]
    assert result["deployments"] == len(in_window)
    failed = result["failedDeployments"]
    # Every deployment with a failed status is a failure; never more failures than deployments.
    assert sum(r.status == "failed" for r in in_window) <= failed <= len(in_window)
    recovery = result["failedDeploymentRecoveryTime"]
    assert recovery["recovered"] + recovery["unrecovered"] == failed
    if recovery["medianSeconds"] is not None:
        assert recovery["medianSeconds"] >= 0
    if in_window:
        assert 0 <= result["changeFailureRate"] <= 1
        assert result["reworkRate"] == sum(r.remediates is not None for r in in_window) / len(
            in_window)
    # The order rows arrive in, and the zone times are written in, change nothing.
    zone = timezone(timedelta(hours=shift))
    moved = [DeploymentRow(r.id, r.target, r.version, r.status, r.commit,
                           r.commit_time.astimezone(zone) if r.commit_time else None,
                           r.deployed_at.astimezone(zone), r.recorded_at.astimezone(zone),
                           r.remediates) for r in rows]
    assert metrics(data.draw(st.permutations(moved))) == result
