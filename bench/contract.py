"""Benchmark: what validating a response against an OpenAPI contract costs, next to the request.

Builds a contract of 50 operations (10 resources, each with list, get, create,
replace and delete; schemas by ``$ref`` with nested objects, enums, arrays,
formats, a pattern and nullable), serves realistic JSON answers (a page of 10
records, 2.7 KB) from a real HTTP server on loopback, and measures side by side,
in one run, medians of many rounds:

- ``request``: one keep-alive ``requests`` GET on loopback, body read;
- the body against its schema with each library, compiled once:
  ``jsonschema`` (openapi-schema-validator's OAS validator: the words of every
  failure), ``fastjsonschema`` (generated Python code) and ``jsonschema-rs``
  (Rust: the fast path the plugin takes, with its Python format and pattern
  callbacks);
- ``Contract.validate(response)``: what a check pays, all in: finding the
  operation, status, content type, parsing the JSON and the schema.

Prints each as a share of the request, and the target (validation at most 10 %
of a loopback request). Usage: ``python bench/contract.py [--validations N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pytest_deployable.contract import Contract

RESOURCES = [
    "items", "orders", "customers", "invoices", "carts",
    "payments", "shipments", "reviews", "coupons", "warehouses",
]
PAGE = 10


def record_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["id", "name", "status", "price", "created", "tags", "owner"],
        "properties": {
            "id": {"type": "integer", "minimum": 1},
            "name": {"type": "string", "minLength": 1, "maxLength": 200},
            "status": {"type": "string", "enum": ["draft", "active", "archived"]},
            "price": {"type": "number", "minimum": 0},
            "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
            "created": {"type": "string", "format": "date-time"},
            "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 20},
            "owner": {"$ref": "#/components/schemas/Owner"},
            "note": {"type": "string", "nullable": True},
        },
    }


def document() -> dict[str, Any]:
    """An OpenAPI 3.0 document of 50 operations."""
    schemas: dict[str, Any] = {
        "Owner": {
            "type": "object", "required": ["id", "email"],
            "properties": {"id": {"type": "integer"}, "email": {"type": "string"},
                           "name": {"type": "string"}},
        },
        "Error": {"type": "object", "required": ["error"],
                  "properties": {"error": {"type": "string"}}},
    }
    paths: dict[str, Any] = {}

    def answer(schema: dict[str, Any], code: str = "200") -> dict[str, Any]:
        return {code: {"description": "ok", "content": {"application/json": {"schema": schema}}},
                "404": {"description": "none", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Error"}}}}}

    for name in RESOURCES:
        model = name.capitalize()
        schemas[model] = record_schema()
        ref = {"$ref": f"#/components/schemas/{model}"}
        body = {"required": True, "content": {"application/json": {"schema": ref}}}
        page = {"type": "object", "required": ["data", "next"], "properties": {
            "data": {"type": "array", "items": ref}, "next": {"type": "string", "nullable": True}}}
        ident = [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}]
        paths[f"/{name}"] = {
            "get": {"parameters": [{"name": "page", "in": "query",
                                    "schema": {"type": "integer", "default": 1}}],
                    "responses": answer(page)},
            "post": {"requestBody": body, "responses": answer(ref, "201")},
        }
        paths[f"/{name}/{{id}}"] = {
            "parameters": ident,
            "get": {"responses": answer(ref)},
            "put": {"requestBody": body, "responses": answer(ref)},
            "delete": {"responses": {"204": {"description": "gone"}}},
        }
    return {"openapi": "3.0.3", "info": {"title": "bench", "version": "1"},
            "paths": paths, "components": {"schemas": schemas}}


def record(index: int) -> dict[str, Any]:
    return {
        "id": index + 1, "name": f"Record number {index} with a realistic name",
        "status": ["draft", "active", "archived"][index % 3], "price": 10.5 + index,
        "currency": "EUR", "created": "2026-11-27T04:00:00Z",
        "tags": ["coffee", "kitchen", "gift"], "note": None if index % 2 else "fragile",
        "owner": {"id": 7, "email": "owner@shop.example", "name": "Ada"},
    }


BODY = json.dumps({"data": [record(i) for i in range(PAGE)], "next": "/items?page=2"}).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else delayed ACKs add 40 ms to every keep-alive answer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:  # the name http.server calls
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)


def _median_us(run: Callable[[], object], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e6


def _fastjsonschema(doc: dict[str, Any], pointer: str) -> Callable[[Any], object] | None:
    """fastjsonschema on the same schema (Draft 4 with OAS 3.0's nullable rewritten)."""
    try:
        import fastjsonschema
    except ImportError:
        return None
    from pytest_deployable.contract.fast import _rewrite

    rewritten = _rewrite(doc, oas30=True)
    # Give the format and pattern keywords back: fastjsonschema checks them itself.
    text = json.dumps(rewritten).replace('"x-deployable-format"', '"format"').replace(
        '"x-deployable-pattern"', '"pattern"')
    root = {**json.loads(text), "$ref": "#" + pointer}
    validate: Callable[[Any], object] = fastjsonschema.compile(root)
    return validate


TARGET = 0.10


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--validations", type=int, default=5_000,
                        help="rounds for each fast measure (jsonschema gets a fifth)")
    parser.add_argument("--requests", type=int, default=2_000)
    args = parser.parse_args()

    doc = document()
    contract = Contract(doc, "bench")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    session = requests.Session()
    responses = [session.get(f"{url}/{name}") for name in RESOURCES]
    for response in responses:
        contract.validate(response)  # warm the caches, prove the answers conform
    body = json.loads(BODY)
    pointer = "/paths/~1items/get/responses/200/content/application~1json/schema"
    slow = contract.schema_validator(pointer)
    fast = contract._fast
    assert fast is not None, "the fast path must be there"
    assert fast.is_valid(pointer, body), "the fast path must pass"
    assert not list(slow.iter_errors(body))

    calls = iter(range(10**9))

    def request() -> None:
        name = RESOURCES[next(calls) % len(RESOURCES)]
        session.get(f"{url}/{name}").content  # noqa: B018

    measures: dict[str, float] = {"loopback request": _median_us(request, args.requests)}
    measures["jsonschema"] = _median_us(lambda: list(slow.iter_errors(body)),
                                        max(args.validations // 5, 100))
    compiled = _fastjsonschema(doc, pointer)
    if compiled is not None:
        measures["fastjsonschema"] = _median_us(lambda: compiled(body), args.validations)
    measures["jsonschema-rs (the fast path)"] = _median_us(
        lambda: fast.is_valid(pointer, body), args.validations)
    response = responses[0]
    measures["Contract.validate, all in"] = _median_us(
        lambda: contract.validate(response), args.validations)
    server.shutdown()

    request_us = measures["loopback request"]
    print(f"contract: {len(contract.operations)} operations; response body {len(BODY)} bytes "
          f"({PAGE} records)")
    print(f"{'measure':34} {'median':>10} {'/ request':>10}")
    for name, median in measures.items():
        print(f"{name:34} {median:8,.0f} us {median / request_us:9.1%}")
    ratio = measures["Contract.validate, all in"] / request_us
    verdict = "met" if ratio <= TARGET else "MISSED"
    print(f"validation / loopback request: {ratio:.1%} (target <= {TARGET:.0%}: {verdict})")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, {platform.system()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
