"""The example shop service, run as a real process: endpoints, the broken build, its logs."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from _service import SHOP, RunningShop, free_port, running_shop, start_shop
from conftest import require

API_KEY = "test-key-5f1c"
HEADERS = {"X-Api-Key": API_KEY}
ITEM_TYPES = {"id": int, "name": str, "price": float, "in_stock": bool}


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningShop]:
    """The good build, version 1.4.2, which demands an API key."""
    with running_shop(tmp_path_factory.mktemp("good"), version="1.4.2", api_key=API_KEY) as shop:
        yield shop


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningShop]:
    """The broken build, version 1.5.0, without an API key."""
    with running_shop(tmp_path_factory.mktemp("broken"), version="1.5.0", broken=True) as shop:
        yield shop


def get(shop: RunningShop, path: str) -> requests.Response:
    """GET a shop path with the API key."""
    return requests.get(shop.url + path, headers=HEADERS, timeout=5)


def post(shop: RunningShop, path: str, headers: dict[str, str] | None = None,
         **kwargs: Any) -> requests.Response:
    """POST to a shop path with the API key (and any extra headers)."""
    return requests.post(shop.url + path, headers={**HEADERS, **(headers or {})}, timeout=5,
                         **kwargs)


def assert_item(item: Any) -> None:
    """An item has exactly the four documented fields, with their JSON types."""
    assert isinstance(item, dict)
    assert set(item) == set(ITEM_TYPES)
    for key, kind in ITEM_TYPES.items():
        # JSON has one number type: a whole price may come back as an int.
        kinds = (int, float) if kind is float else (kind,)
        assert isinstance(item[key], kinds), f"{key}={item[key]!r}"
        # bool is an int in Python, but true is not an id or a price.
        assert kind is bool or not isinstance(item[key], bool), f"{key}={item[key]!r}"


def test_it_announces_where_it_listens(good: RunningShop) -> None:
    first = good.stdout.read_text().splitlines()[0]
    assert first == f"shop listening on http://127.0.0.1:{good.port} (version 1.4.2)"


def test_health_is_ok_without_a_key(good: RunningShop) -> None:
    response = requests.get(good.url + "/health", timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok"}


def test_version_is_the_one_it_was_started_with(good: RunningShop) -> None:
    assert get(good, "/version").json() == {"version": "1.4.2"}


def test_other_endpoints_need_the_api_key(good: RunningShop) -> None:
    no_key = requests.get(good.url + "/items", timeout=5)
    wrong_key = requests.get(good.url + "/items", headers={"X-Api-Key": "nope"}, timeout=5)
    assert (no_key.status_code, wrong_key.status_code) == (401, 401)
    assert "X-Api-Key" in no_key.json()["error"]


def test_items_are_well_formed(good: RunningShop) -> None:
    items = get(good, "/items").json()
    assert isinstance(items, list)
    assert len(items) >= 3
    for item in items:
        assert_item(item)
    assert get(good, f"/items/{items[0]['id']}").json() == items[0]


@pytest.mark.parametrize("item_id", ["999999", "abc", "-1", "1.5"])
def test_unknown_item_is_a_json_404(good: RunningShop, item_id: str) -> None:
    response = get(good, f"/items/{item_id}")
    assert response.status_code == 404
    assert "error" in response.json()


def test_unknown_path_and_wrong_method(good: RunningShop) -> None:
    assert get(good, "/nope").status_code == 404
    response = requests.delete(good.url + "/items/1", headers=HEADERS, timeout=5)
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD"


def test_post_creates_an_item_that_can_be_read_back(good: RunningShop) -> None:
    created = post(good, "/items", json={"name": "deploy-check-1", "price": 2.5})
    assert created.status_code == 201
    item = created.json()
    assert_item(item)
    assert item["name"] == "deploy-check-1"
    assert item["in_stock"] is True
    assert get(good, f"/items/{item['id']}").json() == item


@pytest.mark.parametrize(
    "body",
    [
        "[]",
        "not json",
        '{"price": 1}',
        '{"name": "", "price": 1}',
        '{"name": "x"}',
        '{"name": "x", "price": "1.00"}',
        '{"name": "x", "price": true}',
        '{"name": "x", "price": -1}',
        '{"name": "x", "price": NaN}',
        '{"name": "x", "price": 1, "in_stock": "yes"}',
        '{"name": "x", "price": 1, "colour": "red"}',
    ],
)
def test_post_rejects_a_bad_body_with_400(good: RunningShop, body: str) -> None:
    before = len(get(good, "/items").json())
    response = post(good, "/items", data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]
    assert len(get(good, "/items").json()) == before


def test_post_wants_json(good: RunningShop) -> None:
    response = post(good, "/items", data={"name": "x", "price": "1"})
    assert response.status_code == 415


def test_openapi_describes_every_endpoint(good: RunningShop) -> None:
    document = requests.get(good.url + "/openapi.json", timeout=5).json()
    assert document["openapi"].startswith("3.0")
    assert document["info"]["version"] == "1.4.2"
    assert set(document["paths"]) == {
        "/health", "/version", "/items", "/items/{id}", "/recommendations", "/openapi.json",
    }
    assert set(document["paths"]["/items"]) == {"get", "post"}
    schemas = document["components"]["schemas"]
    assert schemas["Item"]["properties"]["price"]["type"] == "number"
    longest = schemas["NewItem"]["properties"]["name"]["maxLength"]
    assert post(good, "/items", json={"name": "x" * longest, "price": 1}).status_code == 201
    assert post(good, "/items", json={"name": "x" * (longest + 1), "price": 1}).status_code == 400


def test_recommendations_are_fast_in_the_good_build(good: RunningShop) -> None:
    response = get(good, "/recommendations")
    assert response.status_code == 200
    assert response.elapsed.total_seconds() < 0.2
    for item in response.json()["items"]:
        assert_item(item)


def test_every_request_is_in_the_request_log(tmp_path: Path) -> None:
    with running_shop(tmp_path) as shop:
        requests.get(shop.url + "/health", timeout=5)
        requests.post(shop.url + "/items", json={"name": "a", "price": 1}, timeout=5)
        requests.put(shop.url + "/items/1", json={}, timeout=5)
        requests.get(shop.url + "/items/42", timeout=5)
        assert shop.requests() == [
            {"method": "GET", "path": "/health", "status": 200},
            {"method": "POST", "path": "/items", "status": 201},
            {"method": "PUT", "path": "/items/1", "status": 405},
            {"method": "GET", "path": "/items/42", "status": 404},
        ]
        assert shop.stop() == 0
    # Each request is also one line on stderr, for a person watching the service.
    logged = [line for line in shop.stderr.read_text().splitlines() if '"' in line]
    assert logged[1].startswith('127.0.0.1 "POST /items" 201 ')
    assert len(logged) == 4


def test_broken_build_passes_smoke_but_breaks_the_contract(broken: RunningShop) -> None:
    assert requests.get(broken.url + "/health", timeout=5).json() == {"status": "ok"}
    assert get(broken, "/version").json() == {"version": "1.5.0"}
    listed = get(broken, "/items").json()[0]
    detail = get(broken, f"/items/{listed['id']}").json()
    assert isinstance(listed["price"], float)
    assert detail["price"] == f"{listed['price']:.2f}"  # the regression: price as text


def test_broken_build_has_slow_recommendations(broken: RunningShop) -> None:
    response = get(broken, "/recommendations")
    assert response.status_code == 200
    assert response.elapsed.total_seconds() >= 0.25


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_it_cleanly(tmp_path: Path, sig: int) -> None:
    shop = start_shop(tmp_path)
    assert requests.get(shop.url + "/health", timeout=5).status_code == 200
    assert shop.stop(sig) == 0
    assert "shop stopped" in shop.stderr.read_text()
    assert not (tmp_path / "shop.port").exists(), "the port file outlived the shop"
    with pytest.raises(requests.ConnectionError):
        requests.get(shop.url + "/health", timeout=2)


def test_it_listens_on_the_port_it_is_given(tmp_path: Path) -> None:
    port = free_port()
    with running_shop(tmp_path, port=port) as shop:
        assert shop.port == port
        assert requests.get(f"http://127.0.0.1:{port}/health", timeout=5).ok


def test_a_busy_port_is_one_line_and_exit_1(good: RunningShop) -> None:
    result = subprocess.run(
        [sys.executable, str(SHOP), "--port", str(good.port)],
        capture_output=True, text=True, timeout=10, check=False,
    )
    assert result.returncode == 1
    assert result.stderr.startswith(f"shop: cannot listen on 127.0.0.1:{good.port}: ")
    assert len(result.stderr.splitlines()) == 1


def test_the_port_file_is_complete_when_it_appears(tmp_path: Path) -> None:
    with running_shop(tmp_path) as shop:
        text = (tmp_path / "shop.port").read_text()
        assert text == f"{shop.port}\n"
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".shop.port.")]


def test_request_log_lines_are_json(good: RunningShop) -> None:
    get(good, "/version")
    for line in good.request_log.read_text().splitlines():
        assert set(json.loads(line)) == {"method", "path", "status"}


def test_metrics_count_every_answer_by_status_code_without_the_api_key(
    tmp_path: Path,
) -> None:
    require("prometheus_client")
    with running_shop(tmp_path, api_key=API_KEY, extra_args=["--error-rate", "0.25"]) as shop:
        codes = [get(shop, "/items").status_code for _ in range(8)]
        assert codes == [200, 200, 200, 500] * 2  # every fourth, by count
        assert requests.get(shop.url + "/health", timeout=5).status_code == 200
        exposition = requests.get(shop.url + "/metrics", timeout=5)
        assert exposition.status_code == 200
        lines = exposition.text.splitlines()
        assert 'shop_http_requests_total{code="200"} 7.0' in lines
        assert 'shop_http_requests_total{code="500"} 2.0' in lines


def test_the_error_rate_is_counted_from_the_start_and_refuses_nonsense(tmp_path: Path) -> None:
    require("prometheus_client")
    with running_shop(tmp_path) as shop:
        lines = requests.get(shop.url + "/metrics", timeout=5).text.splitlines()
        # Both counters exist before any request, so rate() has a sample to start from.
        assert 'shop_http_requests_total{code="500"} 0.0' in lines
        assert 'shop_http_requests_total{code="200"} 0.0' in lines
    bad = subprocess.run([sys.executable, str(SHOP), "--error-rate", "1.5"],
                         capture_output=True, text=True, timeout=30, check=False)
    assert bad.returncode == 2
    assert "1.5 is not between 0 and 1" in bad.stderr
