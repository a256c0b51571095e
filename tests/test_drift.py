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
from pytest_deployable.drift import BREAKING_KINDS, diff

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
    assert [b for _, _, b in kinds(before, after)] == []


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
    }]}


def test_the_command_exits_3_for_a_bad_document_and_2_for_bad_arguments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("openapi: 3.0.3\ninfo: {title: x}\npaths: {}\n")
    assert main(["contract-diff", str(PETSTORE), str(bad)]) == 3
    assert capsys.readouterr().err.splitlines() == [
        f"deployable contract-diff: {bad}: invalid OpenAPI 3.0.3: $.info: 'version' is a "
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
