"""Pact files verified against the real example shop, good, broken and protected."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from _service import RunningShop, running_shop
from conftest import require

if sys.version_info < (3, 11):  # pragma: no cover - pact-python 4 needs Python 3.11
    pytest.skip("pact-python needs Python 3.11+", allow_module_level=True)
require("pact")

VerdictOf = Callable[..., dict[str, Any]]
CHECK = "deployable::contract::pact web-shop.json"

READ = {
    "description": "an item by id",
    "request": {"method": "GET", "path": "/items/1"},
    "response": {
        "status": 200,
        "headers": {"Content-Type": "application/json"},
        "body": {"id": 1, "name": "Espresso beans, 1 kg", "price": 24.5, "in_stock": True},
        "matchingRules": {"body": {
            "$.name": {"matchers": [{"match": "type"}]},
            "$.price": {"matchers": [{"match": "type"}]},
        }},
    },
}
CREATE = {
    "description": "create an item",
    "request": {"method": "POST", "path": "/items",
                "headers": {"Content-Type": "application/json"},
                "body": {"name": "pact-probe", "price": 1}},
    "response": {"status": 201},
}


def pact_file(folder: Path, *interactions: dict[str, Any]) -> None:
    folder.mkdir(exist_ok=True)
    (folder / "web-shop.json").write_text(json.dumps({
        "consumer": {"name": "web"},
        "provider": {"name": "shop"},
        "interactions": list(interactions),
        "metadata": {"pactSpecification": {"version": "3.0.0"}},
    }))


def targets(pytester: pytest.Pytester, url: str, *, protected: bool = False) -> None:
    pytester.makefile(".toml", **{"deploy-targets": f"""
[targets.local]
base_url = "{url}"
protected = {str(protected).lower()}

[targets.local.contract]
pacts = ["pacts"]
"""})


def check(data: dict[str, Any]) -> dict[str, Any]:
    found = {c["id"]: c for c in data["predicate"]["deployability"]["checks"]}
    assert list(found) == [CHECK]
    return found[CHECK]


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[RunningShop]:
    with running_shop(tmp_path / "good") as running:
        yield running


def test_a_pact_the_service_honours_passes(
    pytester: pytest.Pytester, shop: RunningShop, verdict_of: VerdictOf
) -> None:
    pact_file(pytester.path / "pacts", READ, CREATE)
    targets(pytester, shop.url)
    result = pytester.runpytest("--deploy-target=local")
    assert result.ret == 0, result.stdout.str()
    assert check(verdict_of())["outcome"] == "passed"
    assert [entry["method"] for entry in shop.requests()] == ["GET", "POST"]


def test_a_broken_build_fails_with_the_verifiers_mismatch(
    pytester: pytest.Pytester, tmp_path: Path, verdict_of: VerdictOf
) -> None:
    pact_file(pytester.path / "pacts", READ)
    with running_shop(tmp_path / "broken", broken=True) as broken:
        targets(pytester, broken.url)
        result = pytester.runpytest("--deploy-target=local")
    assert result.ret == 1
    result.stdout.fnmatch_lines([
        "*the target does not honour the Pact of web -> shop (web-shop.json):",
        "*$.price -> Expected '24.50' (String) to be the same type as 24.5 (Decimal)*",
    ])
    assert check(verdict_of())["outcome"] == "failed"


def test_a_protected_target_gets_only_the_safe_interactions(
    pytester: pytest.Pytester, shop: RunningShop, verdict_of: VerdictOf
) -> None:
    pact_file(pytester.path / "pacts", READ, CREATE)
    targets(pytester, shop.url, protected=True)
    result = pytester.runpytest("--deploy-target=local")
    assert result.ret == 0, result.stdout.str()
    assert check(verdict_of())["outcome"] == "passed"
    assert [entry["method"] for entry in shop.requests()] == ["GET"]

    pact_file(pytester.path / "pacts", CREATE)
    result = pytester.runpytest("--deploy-target=local")
    assert result.ret == 6  # INCONCLUSIVE: no blocking check ran, the run proves nothing
    refused = check(verdict_of())
    assert refused["outcome"] == "skipped"
    assert "every interaction of web-shop.json changes state" in refused["message"]
    assert [entry["method"] for entry in shop.requests()] == ["GET"]


def test_a_bad_pact_file_is_a_usage_error(pytester: pytest.Pytester, shop: RunningShop) -> None:
    (pytester.path / "pacts").mkdir()
    (pytester.path / "pacts" / "web-shop.json").write_text('{"consumer": ')
    targets(pytester, shop.url)
    result = pytester.runpytest("--deploy-target=local")
    assert result.ret == 4
    assert result.stderr.str().strip() == (
        f"ERROR: {pytester.path / 'deploy-targets.toml'}: targets.local.contract.pacts: "
        f"{pytester.path / 'pacts' / 'web-shop.json'}: not valid JSON: Expecting value "
        "(line 1, column 14)"
    )
