"""The contract core: loading OpenAPI documents and validating real responses against them."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import pytest
from conftest import Server, require

require("openapi_spec_validator")

import requests  # noqa: E402

from pytest_deployable.contract import (  # noqa: E402
    Contract,
    ContractError,
    ContractViolation,
    load_contract,
)

DATA = Path(__file__).parent / "data" / "openapi"
SHOP_SPEC = Path(__file__).parent.parent / "examples" / "service" / "openapi.json"

ITEM = {"id": 1, "name": "Ceramic cup", "price": 8.25, "in_stock": True}


@pytest.fixture
def shop_contract() -> Contract:
    return load_contract(str(SHOP_SPEC))


def violation(contract: Contract, response: requests.Response) -> str:
    with pytest.raises(ContractViolation) as excinfo:
        contract.validate(response)
    return str(excinfo.value)


def test_a_real_public_document_loads_with_its_operations() -> None:
    petstore = load_contract(str(DATA / "petstore-expanded.yaml"))
    assert petstore.version == "3.0.0"
    assert sorted(map(str, petstore.operations)) == [
        "DELETE /pets/{id}", "GET /pets", "GET /pets/{id}", "POST /pets",
    ]
    uspto = load_contract(str(DATA / "uspto.yaml"))
    # The server URL's path (with its variables filled in) is a prefix of every path.
    assert uspto.prefixes == ("/ds-api",)
    found = uspto.operation("GET", "/ds-api/oa_citations/v1/fields")
    assert str(found) == "GET /{dataset}/{version}/fields"
    assert str(uspto.operation("GET", "/")) == "GET /"
    assert uspto.operation("DELETE", "/") is None


def test_a_conforming_response_passes_and_a_bad_one_names_path_expected_and_came(
    server: Server, shop_contract: Contract
) -> None:
    server.route("/items/1", 200, ITEM)
    shop_contract.validate(requests.get(server.url + "/items/1", timeout=5))
    server.route("/items/1", 200, {**ITEM, "price": "8.25", "in_stock": None})
    message = violation(shop_contract, requests.get(server.url + "/items/1", timeout=5))
    assert message.splitlines() == [
        "GET /items/{id} answered 200: $.in_stock: expected boolean, got null (and 1 more); "
        f"the contract is {SHOP_SPEC}:",
        "  $.in_stock: expected boolean, got null",
        '  $.price: expected number, got string "8.25"',
    ]


def test_undeclared_status_content_type_and_missing_field(
    server: Server, shop_contract: Contract
) -> None:
    server.route("/items/7", 500, {"error": "boom"})
    assert "status 500 is not declared (declared: 200, 404)" in violation(
        shop_contract, requests.get(server.url + "/items/7", timeout=5)
    )
    server.route("/items/7", 200, b"<html>oops</html>")
    assert "content type 'text/plain' is not declared (declared: application/json)" in violation(
        shop_contract, requests.get(server.url + "/items/7", timeout=5)
    )
    server.route("/items", 200, [ITEM, {"id": 2, "name": "x", "price": 1}])
    assert "$[1]: required property 'in_stock' is missing" in violation(
        shop_contract, requests.get(server.url + "/items", timeout=5)
    )
    server.route("/nowhere", 200, {})
    assert "no operation GET /nowhere in the contract" in violation(
        shop_contract, requests.get(server.url + "/nowhere", timeout=5)
    )


def test_openapi_31_and_declared_headers(server: Server, tmp_path: Path) -> None:
    spec = {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1"},
        "paths": {"/thing": {"get": {"responses": {"200": {
            "description": "ok",
            "headers": {"X-Rate-Limit": {"required": True, "schema": {"type": "integer"}}},
            "content": {"application/json": {"schema": {
                "type": "object",
                "properties": {"tag": {"type": ["string", "null"], "enum": ["a", "b", None]}},
            }}},
        }}}}},
    }
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    contract = load_contract(str(path))
    server.route("/thing", 200, {"tag": "c"})
    message = violation(contract, requests.get(server.url + "/thing", timeout=5))
    assert "header X-Rate-Limit: required, but not sent" in message
    assert '$.tag: expected one of array ["a", "b", null], got string "c"' in message


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("openapi: 3.0.3\ninfo: [\n", "not valid YAML: expected the node content, but found "
         "'<stream end>' (line 3, column 1)"),
        ('{"openapi": "3.0.3",', "not valid JSON: Expecting property name enclosed in double "
         "quotes (line 1, column 21)"),
        ("- a\n- b\n", "not an OpenAPI document: the top level is list, not a mapping"),
        ("swagger: '2.0'\n", "Swagger 2.0 is not supported; convert it to OpenAPI 3.0 or 3.1"),
        ("title: shop\n", "not an OpenAPI 3.0 or 3.1 document (no 'openapi' field); "
         "expected 'openapi: 3.0.x' or 'openapi: 3.1.x'"),
        ("openapi: 3.0.3\ninfo: {title: x}\npaths: {}\n",
         'invalid OpenAPI 3.0.3: $.info: "version" is a required property'),
    ],
)
def test_a_bad_document_is_one_line_naming_the_file(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = tmp_path / "shop.yaml"
    path.write_text(text)
    with pytest.raises(ContractError) as excinfo:
        load_contract("shop.yaml", base_dir=tmp_path)
    assert str(excinfo.value) == f"{path}: {problem}"


def test_a_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(ContractError, match=r"nope\.yaml: contract file not found$"):
        load_contract("nope.yaml", base_dir=tmp_path)


def test_a_50_mb_body_is_validated_within_a_bounded_multiple_of_its_size(
    shop_contract: Contract,
) -> None:
    # Few large objects, so that the test measures memory, not jsonschema's speed.
    item = {**ITEM, "name": "x" * 10_000}
    body = json.dumps([item] * 5_000).encode()
    assert len(body) > 50_000_000
    response = requests.Response()
    response.status_code = 200
    response.headers["Content-Type"] = "application/json"
    response._content = body
    response.request = requests.Request("GET", "http://shop.example/items").prepare()
    tracemalloc.start()
    try:
        shop_contract.validate(response)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # The body is decoded once and parsed once: about 2x, never a copy per check.
    assert peak < 3 * len(body), f"peak {peak / 1e6:.0f} MB for a {len(body) / 1e6:.0f} MB body"


def test_many_bad_values_are_listed_up_to_a_limit(shop_contract: Contract) -> None:
    response = requests.Response()
    response.status_code = 200
    response.headers["Content-Type"] = "application/json"
    response._content = json.dumps([{**ITEM, "price": "1"}] * 1000).encode()
    response.request = requests.Request("GET", "http://shop.example/items").prepare()
    lines = violation(shop_contract, response).splitlines()
    assert len(lines) == 12
    assert lines[-1] == "  ... and more (only the first 10 are listed)"


@pytest.fixture
def petstore() -> Contract:
    return load_contract(str(DATA / "petstore-expanded.yaml"))


PET = {"id": 1, "name": "Rex", "tag": "dog"}
ERROR = {"code": 500, "message": "database down"}


@pytest.mark.parametrize("status", [500, 503, 422, 404])
def test_an_error_never_honours_the_contract_through_default(
    server: Server, petstore: Contract, status: int
) -> None:
    # The body fits the `default` response's Error schema: only the status is wrong.
    server.route("/pets", status, {**ERROR, "code": status})
    message = violation(petstore, requests.get(server.url + "/pets", timeout=5))
    assert message.splitlines()[1:] == [
        f"  status {status} is not declared (declared: 200, default); 'default' does not "
        f"cover errors: declare {status} or {str(status)[0]}XX",
    ]


def test_an_error_listed_exactly_or_by_its_range_honours_the_contract(
    server: Server, tmp_path: Path
) -> None:
    document = yaml_load(DATA / "petstore-expanded.yaml")
    error = document["paths"]["/pets"]["get"]["responses"]["default"]
    document["paths"]["/pets"]["get"]["responses"]["503"] = error
    document["paths"]["/pets"]["get"]["responses"]["4XX"] = error
    contract = Contract(document, "petstore")
    for status in (503, 422):
        server.route("/pets", status, {**ERROR, "code": status})
        contract.validate(requests.get(server.url + "/pets", timeout=5))
    # A 3xx or 2xx not listed still falls to `default`, as OpenAPI says.
    server.route("/pets", 202, ERROR)
    contract.validate(requests.get(server.url + "/pets", timeout=5))


def yaml_load(path: Path) -> dict[str, object]:
    import yaml

    loaded: dict[str, object] = yaml.safe_load(path.read_text())
    return loaded


@pytest.mark.parametrize(
    ("content_type", "body"),
    [("text/plain", b"id=1 name=Rex"), ("application/xml", b"<pet><id>1</id></pet>"),
     ("text/html; charset=utf-8", b"<html>maintenance</html>")],
)
def test_a_body_of_another_media_type_where_json_is_declared_fails(
    server: Server, petstore: Contract, content_type: str, body: bytes
) -> None:
    server.route("/pets/1", 200, body)
    server.content_types["/pets/1"] = content_type
    media = content_type.split(";")[0]
    assert violation(petstore, requests.get(server.url + "/pets/1", timeout=5)).splitlines()[
        1:
    ] == [f"  content type {media!r} is not declared (declared: application/json)"]


def test_a_vanished_body_fails(server: Server, petstore: Contract) -> None:
    server.route("/pets/1", 200, b"")
    server.content_types["/pets/1"] = "application/json"
    assert violation(petstore, requests.get(server.url + "/pets/1", timeout=5)).splitlines()[
        1:
    ] == ["  the body is empty; the contract declares one (application/json)"]


def test_json_declared_without_a_schema_must_still_be_json(server: Server) -> None:
    document = yaml_load(DATA / "petstore-expanded.yaml")
    content = document["paths"]["/pets/{id}"]["get"]["responses"]["200"]["content"]  # type: ignore[index]
    content["application/json"] = {}
    contract = Contract(document, "petstore")
    server.route("/pets/1", 200, b"<pet/>")
    server.content_types["/pets/1"] = "application/json"
    assert "the body is not valid JSON (application/json)" in violation(
        contract, requests.get(server.url + "/pets/1", timeout=5)
    )
    server.route("/pets/1", 200, PET)
    contract.validate(requests.get(server.url + "/pets/1", timeout=5))


def test_the_first_line_of_a_violation_names_what_broke(
    server: Server, petstore: Contract
) -> None:
    server.route("/pets/1", 200, {"id": "one", "name": None})
    lines = violation(petstore, requests.get(server.url + "/pets/1", timeout=5)).splitlines()
    assert lines[0] == (
        'GET /pets/{id} answered 200: $.id: expected integer, got string "one" (and 1 more); '
        f"the contract is {DATA / 'petstore-expanded.yaml'}:"
    )
    assert lines[1:] == ['  $.id: expected integer, got string "one"',
                         "  $.name: expected string, got null"]


def test_unquoted_status_codes_in_yaml_are_status_codes(server: Server, tmp_path: Path) -> None:
    path = tmp_path / "api.yaml"
    path.write_text(
        "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n"
        "      responses:\n        200:\n          description: ok\n          content:\n"
        "            application/json:\n              schema: {type: object, required: [x],"
        " properties: {x: {type: integer}}}\n"
    )
    contract = load_contract(str(path))
    server.route("/a", 200, {"x": 1})
    contract.validate(requests.get(server.url + "/a", timeout=5))
    server.route("/a", 200, {"x": "one"})
    assert '$.x: expected integer, got string "one"' in violation(
        contract, requests.get(server.url + "/a", timeout=5)
    )
