"""Contract drift: the diff over real public documents, and ``deployable contract-diff``."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import require

from pytest_deployable.cli import main
from pytest_deployable.contract.drift import BREAKING_KINDS, diff

yaml = require("yaml")
require("openapi_spec_validator")

DATA = Path(__file__).parent / "data" / "openapi"
PETSTORE = DATA / "petstore-expanded.yaml"


def petstore() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(PETSTORE.read_text())
    return document


def kinds(expected: dict[str, Any], actual: dict[str, Any]) -> list[tuple[str, str, bool]]:
    return [(f.kind, f.path, f.breaking) for f in diff(expected, actual)]


def test_a_document_does_not_drift_from_itself() -> None:
    assert diff(petstore(), petstore()) == []
    uspto = yaml.safe_load((DATA / "uspto.yaml").read_text())
    assert diff(uspto, copy.deepcopy(uspto)) == []


def test_every_breaking_kind_on_a_real_document() -> None:
    before, after = petstore(), petstore()
    schemas = after["components"]["schemas"]
    del after["paths"]["/pets/{id}"]["delete"]                    # removed-operation
    schemas["Pet"]["allOf"][1]["properties"]["id"]["type"] = "string"  # changed-type (via allOf)
    del schemas["NewPet"]["properties"]["tag"]                    # removed-response-field
    after["paths"]["/pets"]["get"]["parameters"][1]["required"] = True  # new-required-param
    del after["paths"]["/pets"]["get"]["responses"]["default"]    # narrowed-response-codes
    found = kinds(before, after)
    pets_200 = "/paths/~1pets/get/responses/200/content/application~1json/schema/items"
    assert ("changed-type", f"{pets_200}/properties/id/type", True) in found
    assert ("removed-response-field", f"{pets_200}/properties/tag", True) in found
    assert ("new-required-param", "/paths/~1pets/get/parameters/1", True) in found
    assert ("narrowed-response-codes", "/paths/~1pets/get/responses/default", True) in found
    assert ("removed-operation", "/paths/~1pets~1{id}/delete", True) in found
    assert {kind for kind, _, _ in found} <= set(BREAKING_KINDS)


def test_removed_path_enum_value_and_renamed_parameters() -> None:
    before = petstore()
    before["paths"]["/pets"]["get"]["parameters"][0]["schema"]["items"]["enum"] = ["cat", "dog"]
    after = copy.deepcopy(before)
    after["paths"]["/pets"]["get"]["parameters"][0]["schema"]["items"]["enum"] = ["cat"]
    after["paths"]["/pets/{petId}"] = after["paths"].pop("/pets/{id}")  # the same path
    for method in ("get", "delete"):
        after["paths"]["/pets/{petId}"][method]["parameters"][0]["name"] = "petId"
    del after["paths"]["/pets"]
    found = kinds(before, after)
    assert found[0] == ("removed-path", "/paths/~1pets", True)
    # Renaming a path parameter is no change.
    assert not any(path.startswith("/paths/~1pets~1") for _, path, _ in found)
    before["paths"]["/pets"]["get"]["parameters"][0]["schema"]["items"]["enum"] = ["cat", "dog"]
    after = copy.deepcopy(before)
    after["paths"]["/pets"]["get"]["parameters"][0]["schema"]["items"]["enum"] = ["cat"]
    assert kinds(before, after) == [
        ("removed-enum-value", "/paths/~1pets/get/parameters/0/schema/items/enum", True),
    ]


def test_additions_are_listed_and_not_breaking() -> None:
    before, after = petstore(), petstore()
    after["paths"]["/owners"] = {"get": {"responses": {"200": {"description": "ok"}}}}
    after["components"]["schemas"]["NewPet"]["properties"]["colour"] = {"type": "string"}
    after["paths"]["/pets"]["get"]["responses"]["404"] = {"description": "none"}
    pet = after["components"]["schemas"]["Pet"]["allOf"][1]["properties"]["id"]
    pet["format"] = "int32"
    found = kinds(before, after)
    assert found
    assert not any(breaking for _, _, breaking in found)
    assert ("added-path", "/paths/~1owners", False) in found
    assert ("added-response-code", "/paths/~1pets/get/responses/404", False) in found


def test_request_and_response_directions_differ() -> None:
    before, after = petstore(), petstore()
    # integer -> number: wider. In a request that is fine; in a response it breaks consumers.
    after["components"]["schemas"]["Pet"]["allOf"][1]["properties"]["id"]["type"] = "number"
    assert {kind for kind, _, breaking in kinds(before, after) if breaking} == {"changed-type"}
    before, after = petstore(), petstore()
    after["paths"]["/pets"]["get"]["parameters"][1]["schema"]["format"] = "int64"
    after["paths"]["/pets"]["get"]["parameters"][1]["schema"]["type"] = "number"
    # Wider in a request: listed, and compatible.
    assert sorted(kinds(before, after)) == [
        ("changed-type", "/paths/~1pets/get/parameters/1/schema/type", False),
        ("widened-request", "/paths/~1pets/get/parameters/1/schema/format", False),
    ]


def write(tmp_path: Path, name: str, document: dict[str, Any]) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return str(path)


def test_the_command_exits_0_without_breaking_changes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    after = petstore()
    after["paths"]["/owners"] = {"get": {"responses": {"200": {"description": "ok"}}}}
    assert main(["contract-diff", str(PETSTORE), write(tmp_path, "a.json", after)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "ok added-path /paths/~1owners: GET /owners is new",
        "deployable contract-diff: no breaking change (1 compatible)",
    ]


def test_the_command_exits_1_with_one_finding_per_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    after = petstore()
    del after["paths"]["/pets/{id}"]["delete"]
    assert main(["contract-diff", str(PETSTORE), write(tmp_path, "a.json", after)]) == 1
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        "BREAKING removed-operation /paths/~1pets~1{id}/delete: DELETE /pets/{id} is no longer "
        "served",
    ]
    assert captured.err.splitlines() == [
        "deployable contract-diff: 1 breaking change (0 compatible)"
    ]
    assert main(["contract-diff", str(PETSTORE), write(tmp_path, "a.json", after),
                 "--format", "json"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert document == {"ok": False, "breaking": 1, "findings": [{
        "kind": "removed-operation", "path": "/paths/~1pets~1{id}/delete",
        "message": "DELETE /pets/{id} is no longer served", "breaking": True,
        "side": None, "field": None, "before": None, "after": None,
    }]}


def test_the_command_exits_3_for_a_bad_document_and_2_for_bad_arguments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("openapi: 3.0.3\ninfo: {title: x}\npaths: {}\n")
    assert main(["contract-diff", str(PETSTORE), str(bad)]) == 3
    assert capsys.readouterr().err.splitlines() == [
        f'deployable contract-diff: {bad}: invalid OpenAPI 3.0.3: $.info: "version" is a '
        "required property"
    ]
    assert main(["contract-diff", str(PETSTORE), str(tmp_path / "missing.yaml")]) == 3
    assert "missing.yaml: contract file not found" in capsys.readouterr().err
    assert main(["contract-diff", str(PETSTORE)]) == 2
    assert main(["contract-diff", str(PETSTORE), str(PETSTORE), "--format", "xml"]) == 2


def test_the_command_as_a_process_prints_no_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"openapi": ')
    done = subprocess.run(
        [sys.executable, "-m", "pytest_deployable", "contract-diff", str(bad), str(PETSTORE)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 3
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        f"deployable contract-diff: {bad}: not valid JSON: Expecting value (line 1, column 13)"
    ]


NEWPET = "/paths/~1pets/post/requestBody/content/application~1json/schema"
PET_200 = "/paths/~1pets~1{id}/get/responses/200/content/application~1json/schema"


def one_breaking(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The one breaking finding about POST /pets's request body (the shared component also
    appears in responses, where narrowing is compatible)."""
    found = [f.to_dict() for f in diff(before, after) if f.breaking]
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize(
    ("change", "kind", "keyword", "before", "after"),
    [
        ({"maxLength": 20}, "narrowed-request", "maxLength", "none", "20"),
        ({"pattern": "^[a-z]+$"}, "narrowed-request", "pattern", "none", "^[a-z]+$"),
        ({"format": "email"}, "narrowed-request", "format", "none", "email"),
        ({"enum": ["Rex", "Tom"]}, "narrowed-request", "enum", "none", '["Rex", "Tom"]'),
    ],
)
def test_narrowing_a_request_field_is_breaking_with_side_field_and_before_after(
    change: dict[str, Any], kind: str, keyword: str, before: str, after: str
) -> None:
    old, new = petstore(), petstore()
    new["components"]["schemas"]["NewPet"]["properties"]["name"].update(change)
    finding = one_breaking(old, new)
    assert finding == {
        "kind": kind, "path": f"{NEWPET}/properties/name/{keyword}", "breaking": True,
        "side": "request", "field": "$.name", "before": before, "after": after,
        "message": finding["message"],
    }
    assert finding["message"].startswith("POST /pets request body $.name: ")


def numbers(**name: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two petstores whose NewPet has an integer `age`: before, and after `name` applied."""
    old = petstore()
    old["components"]["schemas"]["NewPet"]["properties"]["age"] = {
        "type": "integer", "maximum": 30, "minimum": 0, "enum": [1, 2, 3],
    }
    new = copy.deepcopy(old)
    new["components"]["schemas"]["NewPet"]["properties"]["age"].update(name)
    return old, new


@pytest.mark.parametrize(
    ("change", "kind", "keyword"),
    [
        ({"maximum": 20}, "narrowed-request", "maximum"),
        ({"minimum": 1}, "narrowed-request", "minimum"),
        ({"exclusiveMaximum": True}, "narrowed-request", "maximum"),
        ({"enum": [1, 2]}, "removed-enum-value", "enum"),
    ],
)
def test_narrowing_a_request_number_is_breaking(
    change: dict[str, Any], kind: str, keyword: str
) -> None:
    finding = one_breaking(*numbers(**change))
    assert (finding["kind"], finding["path"], finding["side"], finding["field"]) == (
        kind, f"{NEWPET}/properties/age/{keyword}", "request", "$.age"
    )


def test_additional_properties_false_and_a_newly_required_request_field_break() -> None:
    old, new = petstore(), petstore()
    new["components"]["schemas"]["NewPet"]["additionalProperties"] = False
    finding = one_breaking(old, new)
    assert (finding["kind"], finding["path"], finding["before"], finding["after"]) == (
        "narrowed-request", f"{NEWPET}/additionalProperties", "true", "false"
    )
    old, new = petstore(), petstore()
    new["components"]["schemas"]["NewPet"]["required"].append("tag")
    finding = one_breaking(old, new)
    assert (finding["kind"], finding["path"], finding["field"], finding["after"]) == (
        "new-required-param", f"{NEWPET}/required", "$.tag", "required"
    )


def test_widening_a_request_field_is_listed_as_compatible() -> None:
    old, new = numbers()
    new["components"]["schemas"]["NewPet"]["properties"]["age"].update(
        maximum=100, enum=[1, 2, 3, 4]
    )
    found = [(f.kind, f.side, f.breaking) for f in diff(old, new) if f.side == "request"]
    assert sorted(found) == [("added-enum-value", "request", False),
                             ("widened-request", "request", False)]


def test_a_response_field_that_widens_or_loses_required_breaks() -> None:
    old, new = petstore(), petstore()
    pet = new["components"]["schemas"]["Pet"]["allOf"][1]
    pet["properties"]["id"]["type"] = "string"  # was integer
    pet["required"].remove("id")
    found = {(f.kind, f.path): f for f in diff(old, new) if f.path.startswith(PET_200)}
    changed = found[("changed-type", f"{PET_200}/properties/id/type")]
    assert (changed.breaking, changed.side, changed.field, changed.before, changed.after) == (
        True, "response", "$.id", "integer", "string"
    )
    lost = found[("removed-response-field", f"{PET_200}/required")]
    assert (lost.breaking, lost.field, lost.before, lost.after) == (
        True, "$.id", "required", "optional"
    )
    # A new enum value in a response is a value clients have not seen.
    old, new = petstore(), petstore()
    old["components"]["schemas"]["NewPet"]["properties"]["tag"]["enum"] = ["dog", "cat"]
    new["components"]["schemas"]["NewPet"]["properties"]["tag"]["enum"] = ["dog", "cat", "emu"]
    widened = [f for f in diff(old, new) if f.breaking]
    assert {(f.kind, f.side) for f in widened} == {("widened-response", "response")}


def test_nullable_in_30_and_null_in_31_are_the_same_type() -> None:
    old, new = petstore(), petstore()
    old["components"]["schemas"]["NewPet"]["properties"]["tag"]["nullable"] = True
    new["components"]["schemas"]["NewPet"]["properties"]["tag"]["type"] = ["string", "null"]
    assert diff(old, new) == []
    # Dropping `nullable` from a request field refuses the nulls clients send.
    finding = one_breaking(old, petstore())
    assert (finding["kind"], finding["before"], finding["after"]) == (
        "changed-type", "string (nullable)", "string"
    )


def test_one_of_branches_are_compared_or_the_change_is_refused_as_breaking() -> None:
    old = petstore()
    tag = old["components"]["schemas"]["NewPet"]["properties"]["tag"]
    tag.clear()
    tag["oneOf"] = [{"type": "string", "maxLength": 10}, {"type": "integer"}]
    new = copy.deepcopy(old)
    new["components"]["schemas"]["NewPet"]["properties"]["tag"]["oneOf"][0]["maxLength"] = 5
    finding = one_breaking(old, new)
    assert (finding["kind"], finding["path"]) == (
        "narrowed-request", f"{NEWPET}/properties/tag/oneOf/0/maxLength"
    )
    new = copy.deepcopy(old)
    new["components"]["schemas"]["NewPet"]["properties"]["tag"]["oneOf"].pop()
    kinds_found = {f.kind for f in diff(old, new) if f.breaking}
    assert kinds_found == {"changed-composition"}
    message = next(f.message for f in diff(old, new) if f.side == "request")
    assert "oneOf changed (2 branches -> 1 branches)" in message
    assert "review it by hand" in message


def media_changed(document: dict[str, Any], where: list[str], media: str) -> dict[str, Any]:
    node = document
    for key in where:
        node = node[key]
    node[media] = node.pop("application/json")
    return document


def test_a_response_media_type_change_and_a_vanished_body_break() -> None:
    new = media_changed(petstore(), ["paths", "/pets/{id}", "get", "responses", "200",
                                     "content"], "text/plain")
    finding = one_breaking(petstore(), new)
    assert finding == {
        "kind": "changed-media-type",
        "path": "/paths/~1pets~1{id}/get/responses/200/content/application~1json",
        "message": "GET /pets/{id}: response 200 no longer comes as application/json "
                   "(now text/plain)",
        "breaking": True, "side": "response", "field": "response 200",
        "before": "application/json", "after": "text/plain",
    }
    new = petstore()
    del new["paths"]["/pets/{id}"]["get"]["responses"]["200"]["content"]
    finding = one_breaking(petstore(), new)
    assert (finding["kind"], finding["path"], finding["after"]) == (
        "removed-response-body", "/paths/~1pets~1{id}/get/responses/200/content", "no body"
    )


def test_a_request_body_moving_from_json_to_a_form_breaks() -> None:
    new = media_changed(petstore(), ["paths", "/pets", "post", "requestBody", "content"],
                        "application/x-www-form-urlencoded")
    finding = one_breaking(petstore(), new)
    assert (finding["kind"], finding["side"], finding["before"], finding["after"]) == (
        "changed-media-type", "request", "application/json",
        "application/x-www-form-urlencoded",
    )
    assert finding["message"] == (
        "POST /pets: the request body is no longer accepted as application/json "
        "(now application/x-www-form-urlencoded)"
    )
    # Accepting a form as well is compatible; a wildcard covers JSON.
    both = petstore()
    content = both["paths"]["/pets"]["post"]["requestBody"]["content"]
    content["application/x-www-form-urlencoded"] = content["application/json"]
    assert [(f.kind, f.breaking) for f in diff(petstore(), both)] == [
        ("added-media-type", False)
    ]


def test_the_command_reports_media_type_drift(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    new = media_changed(petstore(), ["paths", "/pets/{id}", "get", "responses", "200",
                                     "content"], "application/xml")
    assert main(["contract-diff", str(PETSTORE), write(tmp_path, "a.json", new)]) == 1
    captured = capsys.readouterr()
    assert "BREAKING changed-media-type" in captured.out
    assert "1 breaking change" in captured.err


def test_an_external_ref_is_refused_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    new = petstore()
    new["components"]["schemas"]["Error"] = {"$ref": "errors.yaml#/Error"}
    assert main(["contract-diff", str(PETSTORE), write(tmp_path, "a.json", new)]) == 3
    assert capsys.readouterr().err.splitlines() == [
        f"deployable contract-diff: {tmp_path / 'a.json'}: $ref 'errors.yaml#/Error' at "
        "/components/schemas/Error points outside the document; external references are "
        "not supported: bundle the contract into one file (for example with 'redocly bundle')"
    ]
