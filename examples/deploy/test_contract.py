"""Contract checks: the API still has the shape its consumers rely on."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from pytest_deployable import ContractClient

#: The fields of an item and the JSON types a consumer may expect of them.
ITEM_FIELDS: dict[str, tuple[type, ...]] = {
    "id": (int,),
    "name": (str,),
    "price": (int, float),
    "in_stock": (bool,),
}


def item_problems(item: Any) -> list[str]:
    """What is wrong with an item's shape, in words; empty when it is fine."""
    if not isinstance(item, dict):
        return [f"an item must be an object, not {type(item).__name__}"]
    problems = [f"{key} is missing" for key in ITEM_FIELDS if key not in item]
    for key, types in ITEM_FIELDS.items():
        value = item.get(key)
        # bool is a subclass of int in Python, but true is not an id or a price.
        wrong_bool = isinstance(value, bool) and bool not in types
        if key in item and (not isinstance(value, types) or wrong_bool):
            expected = " or ".join(t.__name__ for t in types)
            problems.append(f"{key} is {type(value).__name__} {value!r}, expected {expected}")
    return problems


@pytest.mark.contract
def test_items_list_has_items_of_the_right_shape(http: requests.Session) -> None:
    """GET /items returns a non-empty list of well-formed items."""
    response = http.get("/items")
    assert response.status_code == 200
    items = response.json()
    assert isinstance(items, list)
    assert items, "the shop lists no items"
    problems = [f"items[{i}]: {problem}" for i, item in enumerate(items)
                for problem in item_problems(item)]
    assert not problems, "; ".join(problems)


@pytest.mark.contract
def test_item_has_the_right_field_types(http: requests.Session) -> None:
    """GET /items/{id} returns one item whose fields have the documented types."""
    first = http.get("/items").json()[0]
    response = http.get(f"/items/{first['id']}")
    assert response.status_code == 200
    problems = item_problems(response.json())
    # The message is what the verdict file and the CI summary show for this check.
    assert not problems, "; ".join(problems)


@pytest.mark.contract
def test_unknown_item_is_a_json_404(http: requests.Session) -> None:
    """An id that does not exist is a 404 with a JSON error, not an HTML page."""
    response = http.get("/items/999999999")
    assert response.status_code == 404
    assert "error" in response.json()


@pytest.mark.contract
def test_item_answers_honour_the_openapi_contract(contract: ContractClient) -> None:
    """GET /items and GET /items/{id} answer as ../service/openapi.json says: status,
    content type and every field's type (the `contract` fixture, from the target's openapi)."""
    first = contract.request("GET", "/items").json()[0]
    contract.request("GET", "/items/{id}", id=first["id"])


def test_item_problems_spots_a_price_sent_as_text() -> None:
    """A plain unit test of the helper above: no marker, so a deploy run deselects it."""
    item = {"id": 1, "name": "cup", "price": "8.25", "in_stock": True}
    assert item_problems(item) == ["price is str '8.25', expected int or float"]
