"""A small shop HTTP JSON API: the service the example deployment checks run against.

It uses the standard library (and ``prometheus_client`` for ``/metrics``, when
installed) and listens on 127.0.0.1 only::

    python examples/service/shop.py --port 0 --version 1.4.2 --port-file .demo/port

``--port 0`` picks a free port; the chosen port is written to ``--port-file``
(atomically, once the socket listens) and printed as one line
``shop listening on http://127.0.0.1:PORT (version 1.4.2)``. SIGTERM or Ctrl-C
stops it cleanly (exit 0).

Endpoints::

    GET  /health           200 {"status": "ok"}
    GET  /version          200 {"version": "1.4.2"}
    GET  /items            200 [item, ...]; ?sort=id|name|price (default id), 400 otherwise
    GET  /items/{id}       200 item, or 404 {"error": "..."}
    POST /items            201 the created item; 400 on a bad body (the one write endpoint)
    GET  /recommendations  200 {"items": [item, ...]}
    GET  /openapi.json     200 an OpenAPI 3.0 description of the above (openapi.json here)
    GET  /metrics          200 Prometheus metrics: shop_http_requests_total{code="..."} counts
                           every answer by status code (503 without prometheus_client)

An item is ``{"id": int, "name": str, "price": number, "in_stock": bool}``.
Errors are JSON too: ``{"error": "what went wrong"}``.

If ``SHOP_API_KEY`` is set in the service's environment, every endpoint except
``/health`` and ``/openapi.json`` needs the header ``X-Api-Key`` with that value
(401 otherwise); that is why the example targets send it.

With ``--database PATH`` (a SQLite file whose schema ``examples/service/migrations``
manages with Alembic), every item created through ``POST /items`` is also stored
there, with the ``sku`` column that migration 0002 adds: on a database whose
migrations have not run, ``POST /items`` fails (500). The file is never created.

Every request is logged as one line to stderr and, with ``--request-log PATH``,
appended to PATH as a JSON line ``{"method": ..., "path": ..., "status": ...}``,
so a test can prove which requests reached the service (for example: no POST).

What ``--broken`` breaks -- a release candidate that must not ship:

* ``GET /items/{id}`` returns ``price`` as a string (``"24.50"``) instead of a
  number: a serializer regression that a smoke check does not see and a
  contract check does (and so does the check that reads a created item back);
* ``GET /recommendations`` takes about 300 ms instead of answering at once,
  which an advisory (non-blocking) check warns about.

Everything else is unchanged: ``/health`` says ok and ``/version`` reports the
version it was given, so the smoke checks pass and the build still must not ship.

``--error-rate FRACTION`` answers that fraction of the requests to the API's
endpoints (not ``/health``, ``/metrics``, ``/openapi.json``) with 500, evenly
spread by counting requests (0.25: every fourth): the broken build whose error
rate rises after a deploy, for metric analysis (``make demo`` runs ``--broken
--error-rate 0.25`` under Prometheus).

``--break-contract KIND`` serves a build whose API drifted from ``openapi.json``
in one way, and whose ``/openapi.json`` admits it (for contract drift checks):

* ``removed-path``: ``/recommendations`` is gone (404);
* ``removed-field``: items no longer have ``in_stock``;
* ``changed-type``: ``price`` is a string everywhere (``"24.50"``);
* ``new-required-param``: ``GET /items`` needs ``?page=N`` (400 without it);
* ``removed-enum``: ``GET /items?sort=price`` is no longer allowed (400);
* ``narrowed-codes``: an unknown item is a 400, and 404 is no longer declared.
"""

from __future__ import annotations

import argparse
import hmac
import json
import math
import os
import re
import signal
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import parse_qs, urlsplit

HOST = "127.0.0.1"
MAX_BODY_BYTES = 64 * 1024
SLOW_RECOMMENDATIONS_SECONDS = 0.3
MAX_NAME_LENGTH = 200  # NewItem.name.maxLength in openapi.json says the same
#: Endpoints a load balancer, Prometheus or a newcomer may call without the API key.
PUBLIC_PATHS = frozenset({"/health", "/openapi.json", "/metrics"})
#: Status codes whose request counters exist from the start, so that Prometheus'
#: rate() has a sample before the first request (a counter born at 40 has no rate).
COUNTED_FROM_START = ("200", "500")

SEED_ITEMS: tuple[tuple[str, float, bool], ...] = (
    ("Espresso beans, 1 kg", 24.5, True),
    ("Milk frother", 39.0, True),
    ("Ceramic cup", 8.25, False),
    ("Pour-over kettle", 54.9, True),
)

#: The API description served at /openapi.json, kept beside this file.
OPENAPI_FILE = Path(__file__).with_name("openapi.json")

#: The ways ``--break-contract`` can break the contract.
CONTRACT_BREAKS = (
    "removed-path", "removed-field", "changed-type", "new-required-param", "removed-enum",
    "narrowed-codes",
)
SORT_KEYS = ("id", "name", "price")

_ITEM_PATH = re.compile(r"^/items/(?P<id>[^/]+)$")
_NEW_ITEM_FIELDS = frozenset({"name", "price", "in_stock"})


class BadRequest(Exception):
    """A client mistake: its message is sent back as the JSON error."""

    def __init__(self, message: str, status: HTTPStatus = HTTPStatus.BAD_REQUEST) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Shop:
    """The service's state and behaviour, shared by every request thread."""

    version: str
    broken: bool = False
    break_contract: str | None = None
    api_key: str | None = None
    request_log: Path | None = None
    error_rate: float = 0.0
    database: Path | None = None
    items: dict[int, dict[str, Any]] = field(default_factory=dict)
    next_id: int = 1
    lock: threading.Lock = field(default_factory=threading.Lock)

    api_requests: int = 0
    metrics: ShopMetrics | None = None

    def __post_init__(self) -> None:
        for name, price, in_stock in SEED_ITEMS:
            self.add_item(name, price, in_stock)
        self.metrics = ShopMetrics.create()

    def fails_now(self) -> bool:
        """Whether this API request is one of the ``--error-rate`` share answered with 500."""
        with self.lock:
            self.api_requests += 1
            count = self.api_requests
        return math.floor(count * self.error_rate) > math.floor((count - 1) * self.error_rate)

    def add_item(self, name: str, price: float, in_stock: bool) -> dict[str, Any]:
        """Store a new item and return it with its id."""
        with self.lock:
            item = {"id": self.next_id, "name": name, "price": price, "in_stock": in_stock}
            self.items[self.next_id] = item
            self.next_id += 1
            return dict(item)

    def save(self, item: dict[str, Any]) -> dict[str, Any]:
        """Store a created item in the SQLite database too, when the shop has one."""
        if self.database is None:
            return item
        # mode=rw: a wrong path is an error, not a new empty database.
        connection = sqlite3.connect(f"file:{self.database}?mode=rw", uri=True)
        try:
            with connection:
                connection.execute(
                    "INSERT INTO items (name, price_cents, in_stock, sku) VALUES (?, ?, ?, ?)",
                    (item["name"], round(item["price"] * 100), item["in_stock"],
                     f"SKU-{item['id']:06d}"),
                )
        finally:
            connection.close()
        return item

    def list_items(self, sort: str = "id") -> list[dict[str, Any]]:
        """Every item, ordered by ``sort`` (then id), as the API shows it."""
        with self.lock:
            items = [dict(self.items[key]) for key in sorted(self.items)]
        items.sort(key=lambda item: item[sort])
        return [self.present(item) for item in items]

    def present(self, item: dict[str, Any]) -> dict[str, Any]:
        """An item as the API shows it: with ``--break-contract``, drifted."""
        if self.break_contract == "removed-field":
            item.pop("in_stock", None)
        elif self.break_contract == "changed-type":
            item["price"] = f"{item['price']:.2f}"
        return item

    def get_item(self, item_id: int) -> dict[str, Any] | None:
        """One item as the detail endpoint shows it, or None."""
        with self.lock:
            item = self.items.get(item_id)
            item = dict(item) if item is not None else None
        if item is not None and self.broken:
            # The deliberate regression: the detail view formats the price for display.
            item["price"] = f"{item['price']:.2f}"
        return self.present(item) if item is not None else None

    def record(self, client: str, method: str, path: str, status: int, millis: float) -> None:
        """Log one request to stderr and, if asked, to the JSON-lines request log."""
        print(f'{client} "{method} {path}" {status} {millis:.1f}ms', file=sys.stderr, flush=True)
        if self.request_log is None:
            return
        line = json.dumps({"method": method, "path": path, "status": status})
        # One lock for every thread, so concurrent lines never interleave.
        with self.lock, self.request_log.open("a", encoding="utf-8") as log:
            log.write(line + "\n")


@dataclass
class ShopMetrics:
    """The shop's Prometheus metrics, in a registry of its own."""

    registry: Any
    requests: Any
    render: Any

    @classmethod
    def create(cls) -> ShopMetrics | None:
        """The metrics, or None when prometheus_client is not installed."""
        try:
            from prometheus_client import CollectorRegistry, Counter, generate_latest
        except ImportError:
            return None
        registry = CollectorRegistry()
        requests = Counter("shop_http_requests", "HTTP requests answered, by status code",
                           ["code"], registry=registry)
        for code in COUNTED_FROM_START:
            requests.labels(code=code)
        return cls(registry, requests, generate_latest)

    def count(self, status: int) -> None:
        self.requests.labels(code=str(status)).inc()

    def exposition(self) -> bytes:
        data: bytes = self.render(self.registry)
        return data


def validate_new_item(body: Any) -> tuple[str, float, bool]:
    """Check a ``POST /items`` body; return (name, price, in_stock) or raise BadRequest."""
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    unknown = sorted(set(body) - _NEW_ITEM_FIELDS)
    if unknown:
        raise BadRequest(f"unknown field {unknown[0]!r}; an item has name, price, in_stock")
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME_LENGTH:
        raise BadRequest(f"name must be a non-empty string of at most {MAX_NAME_LENGTH} chars")
    price = body.get("price")
    # bool is an int in Python, but true is not a price.
    if (
        not isinstance(price, (int, float))
        or isinstance(price, bool)
        or not math.isfinite(price)
        or price < 0
    ):
        raise BadRequest("price must be a number, 0 or more")
    in_stock = body.get("in_stock", True)
    if not isinstance(in_stock, bool):
        raise BadRequest("in_stock must be true or false")
    return name, float(price), in_stock


def _reject_constant(name: str) -> Any:
    raise BadRequest(f"{name} is not valid JSON")


def openapi_document(version: str, break_contract: str | None = None) -> dict[str, Any]:
    """The OpenAPI 3.0 description of the shop's endpoints, naming the running version,
    drifted as ``--break-contract`` says."""
    document: dict[str, Any] = json.loads(OPENAPI_FILE.read_text(encoding="utf-8"))
    document["info"]["version"] = version
    paths, item = document["paths"], document["components"]["schemas"]["Item"]
    if break_contract == "removed-path":
        del paths["/recommendations"]
    elif break_contract == "removed-field":
        del item["properties"]["in_stock"]
        item["required"].remove("in_stock")
    elif break_contract == "changed-type":
        item["properties"]["price"] = {"type": "string"}
    elif break_contract == "new-required-param":
        paths["/items"]["get"]["parameters"].append(
            {"name": "page", "in": "query", "required": True, "schema": {"type": "integer"}}
        )
    elif break_contract == "removed-enum":
        paths["/items"]["get"]["parameters"][0]["schema"]["enum"].remove("price")
    elif break_contract == "narrowed-codes":
        responses = paths["/items/{id}"]["get"]["responses"]
        responses["400"] = responses.pop("404")
    return document


#: Which methods each fixed path answers; anything else there is a 405.
_ALLOWED = {
    "/health": ("GET", "HEAD"),
    "/version": ("GET", "HEAD"),
    "/items": ("GET", "HEAD", "POST"),
    "/recommendations": ("GET", "HEAD"),
    "/openapi.json": ("GET", "HEAD"),
    "/metrics": ("GET", "HEAD"),
}

Response = tuple[HTTPStatus, Any]


class ShopServer(ThreadingHTTPServer):
    """A threading HTTP server that carries the shop its handlers serve."""

    # Daemon threads: an idle keep-alive connection must not hold up shutdown.
    daemon_threads = True

    def __init__(self, port: int, shop: Shop) -> None:
        self.shop = shop
        super().__init__((HOST, port), ShopHandler)


class ShopHandler(BaseHTTPRequestHandler):
    """Routes one HTTP request to the shop and answers with JSON."""

    protocol_version = "HTTP/1.1"
    server_version = "shop/1"
    server: ShopServer

    def do_GET(self) -> None:  # the name http.server calls
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    # Methods the shop does not answer are still logged, so the request log
    # shows every state-changing attempt, not only the ones that succeeded.
    do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_POST

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Silence the default access log: :meth:`Shop.record` writes a better one."""

    def _handle(self) -> None:
        started = time.monotonic()
        path = urlsplit(self.path).path
        shop = self.server.shop
        if path == "/metrics" and self.command in _ALLOWED["/metrics"]:
            self._send_metrics(shop)
            return
        try:
            body = self._read_body()
            status, payload = self._route(shop, self.command, path, body)
        except BadRequest as exc:
            status, payload = exc.status, {"error": str(exc)}
        except Exception as exc:  # a bug here must still answer, not drop the connection
            status, payload = HTTPStatus.INTERNAL_SERVER_ERROR, {"error": f"internal error: {exc}"}
        if shop.metrics is not None:
            shop.metrics.count(int(status))
        # Record before answering, so a client that got its response finds it logged.
        shop.record(
            self.client_address[0], self.command, path, int(status),
            (time.monotonic() - started) * 1000,
        )
        self._send(status, payload, path)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            raise BadRequest("send a Content-Length, not a chunked body",
                             HTTPStatus.LENGTH_REQUIRED)
        raw_length = self.headers.get("Content-Length", "0")
        try:
            length = int(raw_length)
        except ValueError:
            self.close_connection = True
            raise BadRequest(f"bad Content-Length {raw_length!r}") from None
        if length < 0:
            self.close_connection = True
            raise BadRequest(f"bad Content-Length {raw_length!r}")
        if length > MAX_BODY_BYTES:
            # The unread body would be parsed as the next request: drop the connection.
            self.close_connection = True
            raise BadRequest(f"the body is larger than {MAX_BODY_BYTES} bytes",
                             HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
        return self.rfile.read(length) if length else b""

    def _authorized(self, shop: Shop, path: str) -> bool:
        if shop.api_key is None or path in PUBLIC_PATHS:
            return True
        given = self.headers.get("X-Api-Key", "")
        return hmac.compare_digest(given.encode(), shop.api_key.encode())

    def _route(self, shop: Shop, method: str, path: str, body: bytes) -> Response:
        item_match = _ITEM_PATH.match(path)
        allowed = ("GET", "HEAD") if item_match else _ALLOWED.get(path)
        if path == "/recommendations" and shop.break_contract == "removed-path":
            allowed = None
        if allowed is None:
            raise BadRequest(f"no such endpoint: {path}", HTTPStatus.NOT_FOUND)
        if method not in allowed:
            raise BadRequest(f"{method} is not allowed on {path}; use {', '.join(allowed)}",
                             HTTPStatus.METHOD_NOT_ALLOWED)
        if not self._authorized(shop, path):
            raise BadRequest("missing or wrong X-Api-Key", HTTPStatus.UNAUTHORIZED)
        if shop.error_rate and path not in PUBLIC_PATHS and shop.fails_now():
            raise BadRequest("internal error: the broken build failed this request",
                             HTTPStatus.INTERNAL_SERVER_ERROR)
        if item_match:
            raw_id = item_match.group("id")
            item = shop.get_item(int(raw_id)) if raw_id.isdecimal() else None
            if item is None:
                status = HTTPStatus.BAD_REQUEST if shop.break_contract == "narrowed-codes" else (
                    HTTPStatus.NOT_FOUND
                )
                raise BadRequest(f"no item with id {raw_id!r}", status)
            return HTTPStatus.OK, item
        if path == "/health":
            return HTTPStatus.OK, {"status": "ok"}
        if path == "/version":
            return HTTPStatus.OK, {"version": shop.version}
        if path == "/items" and method == "POST":
            return HTTPStatus.CREATED, shop.present(shop.save(shop.add_item(*validate_new_item(
                self._json(body)))))
        if path == "/items":
            return HTTPStatus.OK, shop.list_items(self._sort(shop))
        if path == "/recommendations":
            if shop.broken:
                time.sleep(SLOW_RECOMMENDATIONS_SECONDS)  # the broken build's slow query
            stocked = [i for i in shop.list_items() if shop.items[i["id"]]["in_stock"]]
            return HTTPStatus.OK, {"items": stocked[:3]}
        return HTTPStatus.OK, openapi_document(shop.version, shop.break_contract)

    def _sort(self, shop: Shop) -> str:
        """The ``sort`` query parameter of ``GET /items`` (and ``page`` when it is required)."""
        query = parse_qs(urlsplit(self.path).query)
        if shop.break_contract == "new-required-param" and not query.get("page", [""])[0]:
            raise BadRequest("the query parameter page is required")
        sort = query.get("sort", ["id"])[0]
        allowed = [k for k in SORT_KEYS if not (k == "price" and shop.break_contract ==
                                                "removed-enum")]
        if sort not in allowed:
            raise BadRequest(f"sort must be one of {', '.join(allowed)}, not {sort!r}")
        return sort

    def _json(self, body: bytes) -> Any:
        content_type = self.headers.get_content_type()
        if content_type != "application/json":
            raise BadRequest(f"send Content-Type: application/json, not {content_type}",
                             HTTPStatus.UNSUPPORTED_MEDIA_TYPE)
        try:
            return json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BadRequest(f"the body is not valid JSON: {exc}") from None

    def _send_metrics(self, shop: Shop) -> None:
        """Serve ``/metrics`` in Prometheus' text format (not counted, not logged)."""
        if shop.metrics is None:
            data, status = b"prometheus_client is not installed\n", HTTPStatus.SERVICE_UNAVAILABLE
        else:
            data, status = shop.metrics.exposition(), HTTPStatus.OK
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _send(self, status: HTTPStatus, payload: Any, path: str) -> None:
        data = (json.dumps(payload, indent=None) + "\n").encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if status is HTTPStatus.METHOD_NOT_ALLOWED:
            allowed = ("GET", "HEAD") if _ITEM_PATH.match(path) else _ALLOWED.get(path, ())
            self.send_header("Allow", ", ".join(allowed))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


def write_atomic(path: Path, text: str) -> None:
    """Write a file so that a reader sees nothing or all of it, never a half-written port."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not between 0 and 65535")
    return port


def _fraction(value: str) -> float:
    try:
        fraction = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not 0 <= fraction <= 1:
        raise argparse.ArgumentTypeError(f"{value} is not between 0 and 1")
    return fraction


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line: port, version, the broken switch and the two files."""
    parser = argparse.ArgumentParser(description="A small shop JSON API for deployment demos.")
    parser.add_argument("--port", type=_port, default=0,
                        help="port on 127.0.0.1; 0 picks a free one (default)")
    parser.add_argument("--version", default="0.0.0-dev", help="the version /version reports")
    parser.add_argument("--broken", action="store_true",
                        help="serve the broken build (see the module docstring)")
    parser.add_argument("--break-contract", metavar="KIND", choices=CONTRACT_BREAKS,
                        help="serve a build that breaks the API contract in one way: "
                        + ", ".join(CONTRACT_BREAKS))
    parser.add_argument("--error-rate", type=_fraction, default=0.0, metavar="FRACTION",
                        help="answer this share of API requests with 500 (0.25: every fourth)")
    parser.add_argument("--port-file", type=Path,
                        help="write the chosen port here once listening")
    parser.add_argument("--database", type=Path,
                        help="a SQLite file (migrated with Alembic) that keeps created items")
    parser.add_argument("--request-log", type=Path,
                        help="append every request here as a JSON line")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the shop until SIGTERM or SIGINT; return the process exit code."""
    args = parse_args(argv)
    shop = Shop(
        version=args.version,
        broken=args.broken,
        break_contract=args.break_contract,
        api_key=os.environ.get("SHOP_API_KEY") or None,
        request_log=args.request_log,
        error_rate=args.error_rate,
        database=args.database,
    )
    try:
        server = ShopServer(args.port, shop)
    except OSError as exc:
        print(f"shop: cannot listen on {HOST}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 1

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    # Serve from a thread so the main thread stays free to receive signals:
    # server.shutdown() called from a handler on the serving thread would deadlock.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="shop", daemon=True
    )
    thread.start()
    port = int(server.server_address[1])
    try:
        if args.port_file is not None:
            write_atomic(args.port_file, f"{port}\n")
        print(f"shop listening on http://{HOST}:{port} (version {args.version})", flush=True)
        while not stop.wait(0.2):
            pass
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        if args.port_file is not None:
            # The port file exists exactly while the shop listens.
            args.port_file.unlink(missing_ok=True)
    print("shop stopped", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
