"""Contract coverage: reported in the terminal and the verdict file, and required by a target."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from _service import RunningShop, running_shop
from conftest import require
from test_contract_checks import SUITE, targets

require("openapi_spec_validator")

VerdictOf = Callable[..., dict[str, Any]]
OPERATIONS = ["GET /health", "GET /version", "GET /items", "POST /items", "GET /items/{id}",
              "GET /recommendations", "GET /openapi.json"]
POST_REASON = "POST changes state: checks are generated for GET and HEAD only"


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[RunningShop]:
    with running_shop(tmp_path / "good") as running:
        yield running


def contract_record(verdict: dict[str, Any]) -> dict[str, Any]:
    record: dict[str, Any] = verdict["predicate"]["deployability"]["contract"]
    return record


def test_generated_checks_report_coverage_and_every_skipped_operation(
    pytester: pytest.Pytester, shop: RunningShop, verdict_of: VerdictOf
) -> None:
    targets(pytester, shop.url, extra="[targets.local.contract]\ngenerate = true")
    result = pytester.runpytest("--deploy-target=local")
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines([
        "deployable: added 6 contract checks (deployable::contract::*); 1 operation not "
        "generated (contract coverage at the end)",
        "deployable: contract coverage 6 of 7 operations (86%)",
        f"  not checked: POST /items: {POST_REASON}",
    ])
    record = contract_record(verdict_of())
    assert record["operations"] == 7
    assert record["checked"] == 6
    assert record["checkedOperations"] == [op for op in OPERATIONS if op != "POST /items"]
    assert record["skipped"] == [{"operation": "POST /items", "reason": POST_REASON}]
    assert record["document"].endswith("shop.json")
    assert record["minCoverage"] is None


def test_checks_through_the_fixture_count_and_a_target_can_require_coverage(
    pytester: pytest.Pytester, shop: RunningShop, verdict_of: VerdictOf
) -> None:
    targets(pytester, shop.url, extra="[targets.local.contract]\nmin_coverage = 0.8")
    pytester.makepyfile(SUITE)
    result = pytester.runpytest("--deploy-target=local")
    # Every check passed, but they looked at one operation of seven.
    assert result.ret == 1, result.stdout.str()
    result.stdout.fnmatch_lines([
        "deployable: contract coverage 1 of 7 operations (14%), is below "
        "contract.min_coverage 80%",
    ])
    verdict = verdict_of()
    ours = verdict["predicate"]["deployability"]
    assert ours["verdict"] == "NOT_DEPLOYABLE"
    assert ("contract coverage 1 of 7 operations (14%), is below contract.min_coverage 80%"
            in ours["reasons"])
    record = contract_record(verdict)
    assert record["checkedOperations"] == ["GET /items/{id}"]
    assert record["minCoverage"] == 0.8
    assert {"operation": "GET /health",
            "reason": "not validated by any check (contract.generate is off)"} in record["skipped"]


def test_enough_coverage_passes_and_xdist_workers_report_theirs(
    pytester: pytest.Pytester, shop: RunningShop, verdict_of: VerdictOf
) -> None:
    require("xdist")
    targets(pytester, shop.url,
            extra="[targets.local.contract]\ngenerate = true\nmin_coverage = 0.85")
    pytester.makepyfile(SUITE)
    result = pytester.runpytest("--deploy-target=local", "-n", "2")
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines([
        "deployable: contract coverage 6 of 7 operations (86%), meets contract.min_coverage 85%",
    ])
    assert contract_record(verdict_of())["checked"] == 6


def test_a_deselected_generated_check_does_not_count(
    pytester: pytest.Pytester, shop: RunningShop, verdict_of: VerdictOf
) -> None:
    targets(pytester, shop.url,
            extra="[targets.local.contract]\ngenerate = true\nmin_coverage = 0.5")
    result = pytester.runpytest("--deploy-target=local", "-k", "health")
    assert result.ret == 1
    record = contract_record(verdict_of())
    assert record["checkedOperations"] == ["GET /health"]
    assert {"operation": "GET /items", "reason": "its generated check did not run"} in (
        record["skipped"]
    )


@pytest.mark.parametrize("value", ["1.5", '"80%"', "true", "-0.1"])
def test_a_bad_min_coverage_is_a_usage_error(
    pytester: pytest.Pytester, shop: RunningShop, value: str
) -> None:
    targets(pytester, shop.url, extra=f"[targets.local.contract]\nmin_coverage = {value}")
    result = pytester.runpytest("--deploy-target=local")
    assert result.ret == 4
    result.stderr.fnmatch_lines([
        "*targets.local.contract.min_coverage must be a share of the operations from 0 to 1 "
        "(0.8 for 80%), not *",
    ])
    assert not (pytester.path / "deploy-verdict.json").exists()
