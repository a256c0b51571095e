"""Contract checks in whole pytest runs against the real example shop, good and drifted."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from _service import EXAMPLES, RunningShop, running_shop
from conftest import Server, require

require("openapi_spec_validator")

SPEC = EXAMPLES / "service" / "openapi.json"
VerdictOf = Callable[..., dict[str, Any]]

GENERATED = [
    "deployable::contract::GET /health",
    "deployable::contract::GET /version",
    "deployable::contract::GET /items",
    "deployable::contract::GET /items/{id}",
    "deployable::contract::GET /recommendations",
    "deployable::contract::GET /openapi.json",
]

SUITE = """
import pytest

pytestmark = pytest.mark.contract


def test_item_detail(http, contract):
    first = http.get("/items").json()[0]
    contract.validate(http.get(f"/items/{first['id']}"))


def test_item_in_one_call(contract):
    assert contract.request("GET", "/items/{id}", id=1).json()["id"] == 1


def test_unknown_item(contract):
    assert contract.request("GET", "/items/{id}", id=999999).status_code == 404
"""


def checks(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in data["predicate"]["deployability"]["checks"]}


@pytest.fixture
def shop(tmp_path: Path) -> Iterator[RunningShop]:
    with running_shop(tmp_path / "good") as running:
        yield running


def targets(pytester: pytest.Pytester, url: str, *, openapi: str = "contracts/shop.json",
            extra: str = "", protected: bool = False) -> None:
    """A targets file for ``url`` with the shop's contract copied beside it."""
    (pytester.path / "contracts").mkdir(exist_ok=True)
    shutil.copy(SPEC, pytester.path / "contracts" / "shop.json")
    pytester.makefile(".toml", **{"deploy-targets": f"""
[targets.local]
base_url = "{url}"
openapi = "{openapi}"
protected = {str(protected).lower()}
{extra}
"""})


def test_the_contract_fixture_passes_on_a_conforming_service(
    pytester: pytest.Pytester, shop: RunningShop, verdict_of: VerdictOf
) -> None:
    targets(pytester, shop.url)
    pytester.makepyfile(SUITE)
    result = pytester.runpytest("--deploy-target=local")
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["*= deployability: DEPLOYABLE =*", "*3 passed*"])
    assert verdict_of()["predicate"]["deployability"]["summary"]["passed"] == 3


def test_a_violation_names_the_operation_the_json_path_expected_and_came(
    pytester: pytest.Pytester, tmp_path: Path, verdict_of: VerdictOf
) -> None:
    pytester.makepyfile(SUITE)
    with running_shop(tmp_path / "broken", broken=True) as broken:
        targets(pytester, broken.url)
        result = pytester.runpytest("--deploy-target=local", "--deploy-junit=junit.xml",
                                    "--deploy-summary=summary.md")
    assert result.ret == 1
    result.stdout.fnmatch_lines([
        '*ContractViolation: GET /items/{id} answered 200: $.price: expected number, got string '
        '"24.50"; the contract is *shop.json:',
        '*  $.price: expected number, got string "24.50"',
    ])
    found = checks(verdict_of())
    detail = found["test_a_violation_names_the_operation_the_json_path_expected_and_came.py::"
                   "test_item_detail"]
    assert detail["outcome"] == "failed"
    assert detail["message"].startswith("pytest_deployable.contract.ContractViolation: GET "
                                        "/items/{id} answered 200")
    # What broke, not only that something did: in the verdict file, JUnit and Markdown.
    violation = '$.price: expected number, got string "24.50"'
    assert violation in detail["message"]
    junit = (pytester.path / "junit.xml").read_text()
    assert violation.replace('"', "&quot;") in junit or violation in junit
    assert violation in (pytester.path / "summary.md").read_text()


def test_generated_checks_one_per_safe_operation_with_examples(
    pytester: pytest.Pytester, shop: RunningShop, tmp_path: Path, verdict_of: VerdictOf
) -> None:
    targets(pytester, shop.url, extra="[targets.local.contract]\ngenerate = true")
    result = pytester.runpytest("--deploy-target=local", "-v")
    assert result.ret == 0, result.stdout.str()
    found = checks(verdict_of())
    result.stdout.fnmatch_lines(["deployable: added 6 contract checks (deployable::contract::…); 1 "
                                "operation not generated (contract coverage at the end)"])
    assert list(found) == GENERATED  # POST /items is never generated
    assert all(c["category"] == "contract" and c["blocking"] for c in found.values())
    assert {entry["method"] for entry in shop.requests()} == {"GET"}

    with running_shop(tmp_path / "broken", broken=True) as broken:
        targets(pytester, broken.url, extra="[targets.local.contract]\ngenerate = true")
        result = pytester.runpytest("--deploy-target=local")
    assert result.ret == 1
    found = checks(verdict_of())
    assert [i for i, c in found.items() if c["outcome"] == "failed"] == [GENERATED[3]]
    result.stdout.fnmatch_lines(['*$.price: expected number, got string "24.50"'])


def test_a_protected_target_refuses_a_state_changing_contract_request(
    pytester: pytest.Pytester, shop: RunningShop
) -> None:
    targets(pytester, shop.url, protected=True)
    pytester.makepyfile("""
        import pytest

        @pytest.mark.contract
        def test_create(contract):
            contract.request("POST", "/items", json={"name": "x", "price": 1})
    """)
    result = pytester.runpytest("--deploy-target=local")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*RefusedRequest: refused POST *is protected*"])
    assert [entry["method"] for entry in shop.requests()] == []


DRIFTS = {
    "removed-path": ("removed-path", "/paths/~1recommendations"),
    "removed-field": ("removed-response-field", "/paths/~1items/get/responses/200/content/"
                      "application~1json/schema/items/properties/in_stock"),
    "changed-type": ("changed-type", "/paths/~1items/get/responses/200/content/"
                     "application~1json/schema/items/properties/price/type"),
    "new-required-param": ("new-required-param", "/paths/~1items/get/parameters/1"),
    "removed-enum": ("removed-enum-value", "/paths/~1items/get/parameters/0/schema/enum"),
    "narrowed-codes": ("narrowed-response-codes", "/paths/~1items~1{id}/get/responses/404"),
}


def test_the_drift_check_passes_when_the_served_contract_is_the_expected_one(
    pytester: pytest.Pytester, shop: RunningShop, verdict_of: VerdictOf
) -> None:
    targets(pytester, shop.url, extra='[targets.local.contract]\nserved = "/openapi.json"')
    result = pytester.runpytest("--deploy-target=local")
    assert result.ret == 0, result.stdout.str()
    assert list(checks(verdict_of())) == ["deployable::contract::drift"]


@pytest.mark.parametrize("kind", sorted(DRIFTS))
def test_each_kind_of_drift_fails_the_drift_check(
    pytester: pytest.Pytester, tmp_path: Path, verdict_of: VerdictOf, kind: str
) -> None:
    finding, where = DRIFTS[kind]
    extra = '[targets.local.contract]\nserved = "/openapi.json"\ngenerate = true'
    with running_shop(tmp_path / kind, extra_args=["--break-contract", kind]) as drifted:
        targets(pytester, drifted.url, extra=extra)
        result = pytester.runpytest("--deploy-target=local")
    assert result.ret == 1
    result.stdout.fnmatch_lines([
        "*the served contract /openapi.json breaks contracts/shop.json for its consumers: *",
        f"*  {finding} {where}: *",
    ])
    drift = checks(verdict_of())["deployable::contract::drift"]
    assert drift["outcome"] == "failed"


def test_the_diff_command_reads_each_drifted_service_by_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pytest_deployable.cli import main

    for kind, (finding, where) in DRIFTS.items():
        with running_shop(tmp_path / kind, extra_args=["--break-contract", kind]) as drifted:
            code = main(["contract-diff", str(SPEC), drifted.url + "/openapi.json",
                         "--format", "json"])
        document = json.loads(capsys.readouterr().out)
        assert code == 1, kind
        assert {"kind": finding, "path": where} in [
            {"kind": f["kind"], "path": f["path"]} for f in document["findings"]
        ], kind


def test_a_contract_file_that_does_not_parse_is_a_usage_error(
    pytester: pytest.Pytester, shop: RunningShop
) -> None:
    targets(pytester, shop.url, openapi="contracts/shop.yaml")
    (pytester.path / "contracts" / "shop.yaml").write_text("openapi: 3.0.3\npaths: [\n")
    pytester.makepyfile(SUITE)
    result = pytester.runpytest("--deploy-target=local")
    assert result.ret == 4
    lines = [line for line in result.stderr.str().splitlines() if line.strip()]
    assert lines == [
        f"ERROR: {pytester.path / 'deploy-targets.toml'}: targets.local.openapi: "
        f"{pytester.path / 'contracts' / 'shop.yaml'}: not valid YAML: expected the node "
        "content, but found '<stream end>' (line 3, column 1)"
    ]
    assert not (pytester.path / "deploy-verdict.json").exists()
    assert shop.requests() == []


def test_a_contract_that_is_not_openapi_is_a_usage_error(
    pytester: pytest.Pytester, shop: RunningShop
) -> None:
    targets(pytester, shop.url, openapi="contracts/shop.yaml")
    (pytester.path / "contracts" / "shop.yaml").write_text("swagger: '2.0'\n")
    result = pytester.runpytest("--deploy-target=local")
    assert result.ret == 4
    result.stderr.fnmatch_lines(["ERROR: *shop.yaml: Swagger 2.0 is not supported*"])


def test_without_the_extra_the_error_says_what_to_install(
    pytester: pytest.Pytester, shop: RunningShop
) -> None:
    targets(pytester, shop.url)
    # A conftest that hides the validator, as if the extra were not installed.
    pytester.makeconftest("import sys\nsys.modules['openapi_spec_validator'] = None\n")
    result = pytester.runpytest_subprocess("--deploy-target=local")
    assert result.ret == 4
    assert result.stderr.str().strip() == (
        f"ERROR: {pytester.path / 'deploy-targets.toml'}: targets.local.openapi: contract "
        "checks need openapi_spec_validator, which is not installed: "
        "pip install 'pytest-deployable[contract]'"
    )


def test_a_served_contract_that_cannot_be_fetched_fails_closed(
    pytester: pytest.Pytester, shop: RunningShop, verdict_of: VerdictOf
) -> None:
    targets(pytester, shop.url, openapi="/no-such-contract.json",
            extra="[targets.local.contract]\ngenerate = true")
    result = pytester.runpytest("--deploy-target=local")
    assert result.ret == 1
    assert list(checks(verdict_of())) == ["deployable::contract::load"]
    result.stdout.fnmatch_lines(["*/no-such-contract.json: cannot fetch the contract: HTTP 404*"])


def test_secrets_in_a_bad_value_are_redacted(
    pytester: pytest.Pytester, server: Server, monkeypatch: pytest.MonkeyPatch,
    verdict_of: VerdictOf,
) -> None:
    token = "tok-3f9a7c1e"
    monkeypatch.setenv("SHOP_TOKEN", token)
    server.route("/items/1", 200, {"id": 1, "name": "cup", "price": token, "in_stock": True})
    targets(pytester, server.url, extra='headers = { X-Api-Key = "${SHOP_TOKEN}" }')
    pytester.makepyfile(SUITE)
    result = pytester.runpytest("--deploy-target=local", "-k", "one_call")
    assert result.ret == 1
    result.stdout.fnmatch_lines(['*$.price: expected number, got string "***"'])
    assert token not in result.stdout.str()
    assert token not in (pytester.path / "deploy-verdict.json").read_text()


def test_generated_checks_give_the_same_verdict_with_xdist(
    pytester: pytest.Pytester, tmp_path: Path, verdict_of: VerdictOf
) -> None:
    require("xdist")
    with running_shop(tmp_path / "broken", broken=True) as broken:
        targets(pytester, broken.url, extra="[targets.local.contract]\ngenerate = true")
        pytester.makepyfile(SUITE)
        serial = pytester.runpytest("--deploy-target=local")
        one = checks(verdict_of())
        parallel = pytester.runpytest("--deploy-target=local", "-n", "2")
        two = checks(verdict_of())
    assert serial.ret == parallel.ret == 1
    assert {i: c["outcome"] for i, c in one.items()} == {i: c["outcome"] for i, c in two.items()}
    assert len(one) == 9


def test_the_drift_check_fails_on_a_media_type_change_and_a_narrowed_request(
    pytester: pytest.Pytester, server: Server, verdict_of: VerdictOf
) -> None:
    served = json.loads(SPEC.read_text())
    responses = served["paths"]["/items/{id}"]["get"]["responses"]
    responses["200"]["content"] = {"text/plain": {"schema": {"type": "string"}}}
    served["components"]["schemas"]["NewItem"]["properties"]["name"]["maxLength"] = 20
    server.route("/openapi.json", 200, served)
    targets(pytester, server.url, extra='[targets.local.contract]\nserved = "/openapi.json"')
    result = pytester.runpytest("--deploy-target=local")
    assert result.ret == 1
    item = "/paths/~1items~1{id}/get/responses/200/content/application~1json"
    new_item = "/paths/~1items/post/requestBody/content/application~1json/schema"
    result.stdout.fnmatch_lines([
        "*the served contract /openapi.json breaks contracts/shop.json for its consumers: "
        "narrowed-request*",
        f"*  narrowed-request {new_item}/properties/name/maxLength: POST /items request body "
        "$.name: maxLength narrowed: was 200, is now 20",
        f"*  changed-media-type {item}: GET /items/{{id}}: response 200 no longer comes as "
        "application/json (now text/plain)",
    ])
    drift = checks(verdict_of())["deployable::contract::drift"]
    assert drift["outcome"] == "failed"
    # A finding, not only the headline (which line the recorder keeps is #10's part).
    assert "narrowed-request" in drift["message"] or "changed-media-type" in drift["message"]


MINI = {
    "openapi": "3.0.3", "info": {"title": "mini", "version": "1"},
    "paths": {
        name: {"get": {"responses": {
            "200": {"description": "ok", "content": {"application/json": {"schema": {
                "type": "object", "required": ["ok"], "properties": {"ok": {"type": "boolean"}},
            }}}},
            "default": {"description": "error", "content": {"application/json": {
                "schema": {"type": "object"}}}},
        }}}
        for name in ("/fine", "/plain", "/empty")
    },
}


def test_generated_checks_fail_a_body_of_another_type_or_no_body(
    pytester: pytest.Pytester, server: Server, verdict_of: VerdictOf
) -> None:
    server.route("/fine", 200, {"ok": True})
    server.route("/plain", 200, b"ok")
    server.route("/empty", 200, b"")
    server.content_types["/empty"] = "application/json"
    (pytester.path / "mini.json").write_text(json.dumps(MINI))
    pytester.makefile(".toml", **{"deploy-targets": f"""
[targets.local]
base_url = "{server.url}"
openapi = "mini.json"
[targets.local.contract]
generate = true
"""})
    result = pytester.runpytest("--deploy-target=local")
    assert result.ret == 1
    found = checks(verdict_of())
    assert found["deployable::contract::GET /fine"]["outcome"] == "passed"
    plain = found["deployable::contract::GET /plain"]
    assert plain["outcome"] == "failed"
    assert "content type 'text/plain' is not declared (declared: application/json)" in (
        plain["message"]
    )
    empty = found["deployable::contract::GET /empty"]
    assert empty["outcome"] == "failed"
    assert "the body is empty; the contract declares one (application/json)" in empty["message"]
