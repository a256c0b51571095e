"""The fast path never passes what jsonschema fails: the two judged on generated values."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from conftest import require

require("openapi_spec_validator")
require("jsonschema_rs")
hypothesis = require("hypothesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from pytest_deployable.contract import Contract  # noqa: E402

KEYS = ["id", "name", "code", "when", "blob", "tags", "owner", "kind", "n", "x", "cur", "big"]

SCHEMAS: dict[str, Any] = {
    "Owner": {"type": "object", "required": ["id"], "additionalProperties": False,
              "properties": {"id": {"type": "integer", "format": "int32"},
                             "name": {"type": "string", "nullable": True, "maxLength": 3}}},
    "Thing": {
        "type": "object",
        "required": ["id", "name"],
        "properties": {
            "id": {"type": "integer", "format": "int32", "minimum": 0,
                   "exclusiveMaximum": True, "maximum": 100},
            "name": {"type": "string", "pattern": r"^\d+$"},
            "code": {"type": "string", "format": "byte"},
            "when": {"type": "string", "format": "date-time"},
            "blob": {"$ref": "#/components/schemas/Owner", "nullable": True},
            "tags": {"type": "array", "uniqueItems": True, "minItems": 1,
                     "items": {"type": "string", "enum": ["a", "b", None], "nullable": True}},
            "owner": {"allOf": [{"$ref": "#/components/schemas/Owner"}],
                      "readOnly": True},
            "kind": {"oneOf": [{"type": "integer"}, {"type": "number", "multipleOf": 0.5}]},
            "n": {"anyOf": [{"type": "string", "format": "int64"}, {"type": "boolean"}]},
            "x": {"type": "number", "format": "float", "not": {"enum": [1]}},
            "cur": {"type": "string", "pattern": "^[A-Z]{3}$"},
            "big": {"type": "integer", "format": "int64", "nullable": True},
        },
    },
}


def document(version: str) -> dict[str, Any]:
    schemas = copy.deepcopy(SCHEMAS)
    if version.startswith("3.1"):
        # 3.1 spells nullable as a type and exclusiveMaximum as a number.
        owner_name = schemas["Owner"]["properties"]["name"]
        del owner_name["nullable"]
        owner_name["type"] = ["string", "null"]
        thing = schemas["Thing"]["properties"]
        del thing["id"]["maximum"]
        thing["id"]["exclusiveMaximum"] = 100
        del thing["blob"]["nullable"]
        del thing["tags"]["items"]["nullable"]
        thing["tags"]["items"]["type"] = ["string", "null"]
        del thing["big"]["nullable"]
        thing["big"]["type"] = ["integer", "null"]
    return {
        "openapi": version, "info": {"title": "t", "version": "1"},
        "paths": {"/things": {"get": {"responses": {"200": {
            "description": "ok", "content": {"application/json": {"schema": {
                "type": "array", "items": {"$ref": "#/components/schemas/Thing"}}}},
        }}}}},
        "components": {"schemas": schemas},
    }


POINTER = "/paths/~1things/get/responses/200/content/application~1json/schema"

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**65), max_value=2**65),
    st.floats(allow_nan=False, allow_infinity=False), st.sampled_from([
        1.0, 0, 100, 99, 2**31, -(2**31) - 1, "123", "١٢٣", "12\n", "aGVsbG8=", "a",
        "2026-11-27T04:00:00Z", "not a date", "b", "", "9223372036854775808", "EUR",
        "EUR\n", "eur", "EURO", 2**63, 2**63 - 1, -(2**63) - 1,
    ]),
    st.text(max_size=5),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(KEYS), inner, max_size=6),
    ),
    max_leaves=20,
)
things = st.lists(
    st.fixed_dictionaries(
        {"id": st.one_of(st.integers(-3, 103), st.just(1.0), st.just(2**31)),
         "name": st.sampled_from(["123", "١٢٣", "12\n", "x", "0"])},
        optional={key: values for key in KEYS if key not in ("id", "name")},
    ),
    max_size=3,
)


@pytest.mark.parametrize("version", ["3.0.3", "3.1.0"])
@settings(max_examples=400, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(instance=st.one_of(things, values))
def test_the_fast_path_passes_only_what_jsonschema_passes(version: str, instance: Any) -> None:
    contract = _contracts[version]
    assert contract._fast is not None
    fast = contract._fast.is_valid(POINTER, instance)
    errors = list(contract.schema_validator(POINTER).iter_errors(instance))
    if fast:
        assert errors == [], f"fast path passed what jsonschema fails: {errors[0].message}"


_contracts = {version: Contract(document(version), "t") for version in ("3.0.3", "3.1.0")}


def test_the_fast_path_is_taken_for_a_conforming_value() -> None:
    good = [{"id": 5, "name": "42", "code": "aGVsbG8=", "tags": ["a", None], "x": 2.5}]
    for contract in _contracts.values():
        assert contract._fast is not None
        assert contract._fast.is_valid(POINTER, good)
        assert contract.schema_problems(POINTER, good) == []


@pytest.mark.parametrize(("value", "problem"), [
    ({"id": 1.0, "name": "1"}, "$[0].id: expected integer, got number 1.0"),
    ({"id": 100, "name": "1"}, "$[0].id: expected maximum number 100, got number 100"),
    ({"id": 1, "name": "1", "code": "%%%"}, '$[0].code: expected format string "byte"'),
    # openapi-schema-validator's byte check raises on non-ASCII: a failure, not a crash.
    ({"id": 1, "name": "1", "code": "\x80"}, '$[0].code: expected format string "byte"'),
    ({"id": 1, "name": "1", "blob": {"id": 2**31}},
     '$[0].blob.id: expected format string "int32", got number 2147483648'),
])
def test_what_the_fast_path_fails_is_worded_by_jsonschema(
    value: dict[str, Any], problem: str
) -> None:
    contract = _contracts["3.0.3"]
    assert contract._fast is not None
    assert not contract._fast.is_valid(POINTER, [value])
    assert any(p.startswith(problem) for p in contract.schema_problems(POINTER, [value])), (
        contract.schema_problems(POINTER, [value])
    )


def test_a_document_with_a_discriminator_gets_no_fast_path() -> None:
    with_discriminator = document("3.0.3")
    kind = with_discriminator["components"]["schemas"]["Thing"]["properties"]["kind"]
    kind["discriminator"] = {"propertyName": "x"}
    assert Contract(with_discriminator, "t")._fast is None
