"""Benchmark: what validating a response against an OpenAPI contract costs, next to the request.

Builds a contract of 50 operations (10 resources, each with list, get, create,
replace and delete; schemas by ``$ref`` with nested objects, enums, arrays and
formats), serves realistic JSON answers (a page of 10 records, about 4 KB) from a
real HTTP server on loopback, and measures side by side:

- ``request``: one keep-alive ``requests`` GET on loopback, body read;
- ``validate``: ``Contract.validate(response)`` on such a response: finding the
  operation, status, content type and the JSON body against its schema.

Prints validations per second and the cost of a validation relative to the
request it checks. Usage: ``python bench/contract.py [--validations 10000]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import threading
import time
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--validations", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=2_000)
    args = parser.parse_args()

    contract = Contract(document(), "bench")
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    session = requests.Session()
    responses = [session.get(f"{url}/{name}") for name in RESOURCES]
    for response in responses:
        contract.validate(response)  # warm the validator cache, prove the answers conform

    request_times = []
    for index in range(args.requests):
        started = time.perf_counter()
        session.get(f"{url}/{RESOURCES[index % len(RESOURCES)]}").content  # noqa: B018
        request_times.append(time.perf_counter() - started)
    validate_times = []
    for index in range(args.validations):
        response = responses[index % len(responses)]
        started = time.perf_counter()
        contract.validate(response)
        validate_times.append(time.perf_counter() - started)
    server.shutdown()

    request = statistics.median(request_times)
    validate = statistics.median(validate_times)
    total = sum(validate_times)
    print(f"contract: {len(contract.operations)} operations; response body {len(BODY)} bytes "
          f"({PAGE} records)")
    print(f"validations: {args.validations} in {total:.2f} s = "
          f"{args.validations / total:,.0f} validations/s")
    print(f"median per response: request {request * 1e6:,.0f} us, "
          f"validate {validate * 1e6:,.0f} us")
    print(f"validation / loopback request: {validate / request:.2f}")
    print(f"machine: {platform.machine()}, Python {platform.python_version()}, "
          f"{platform.system()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
