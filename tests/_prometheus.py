"""A real Prometheus on loopback, scraping a real service that exposes metrics.

Used by the tests and by ``bench/metrics.py``. The service is an HTTP server in
this process that serves ``/metrics`` with ``prometheus_client`` from a registry
of its own; a test sets a gauge (``GET /set?case=NAME&value=0.25``, or
:meth:`MetricsService.set`) and waits until Prometheus has scraped that value,
by asking Prometheus' API for it: counting scrapes, never sleeping a guessed time.
Prometheus runs from Debian's package (``/usr/bin/prometheus``) with its own
configuration, a one-second scrape interval and a temporary storage directory.
"""

from __future__ import annotations

import math
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
#: A guard against a Prometheus that never starts or never scrapes: tests wait
#: for a count of scrapes, and only a broken setup ever reaches this.
STARTUP_GUARD = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class MetricsService:
    """A loopback HTTP service whose ``/metrics`` shows gauges the tests set."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

        self.registry = CollectorRegistry()
        self.value = Gauge("app_value", "a value a test sets", ["case", "version"],
                           registry=self.registry)
        self.requests = Counter("app_requests", "requests by status code", ["case", "code"],
                                registry=self.registry)
        self._generate = generate_latest
        self.scrapes = 0
        service = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path == "/metrics":
                    service.scrapes += 1
                    body = service._generate(service.registry)
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain; version=0.0.4")
                elif parts.path == "/set":
                    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                    service.set(query["case"], float(query["value"]),
                                version=query.get("version", ""))
                    body = b"ok\n"
                    self.send_response(200)
                else:
                    body = b"not found\n"
                    self.send_response(404)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = int(self.httpd.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def set(self, case: str, value: float, *, version: str = "") -> None:
        """Set ``app_value{case=..., version=...}``."""
        self.value.labels(case=case, version=version).set(value)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@dataclass
class Prometheus:
    """A running Prometheus: its URL, and waits that count what it has scraped."""

    url: str
    service: MetricsService
    process: subprocess.Popen[bytes]
    log: Path

    def ask(self, promql: str) -> list[dict[str, Any]]:
        """The raw result of an instant query (a vector's samples)."""
        response = requests.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=5)
        response.raise_for_status()
        result: list[dict[str, Any]] = response.json()["data"]["result"]
        return result

    def wait_for(self, promql: str, value: float) -> None:
        """Wait until Prometheus' latest sample of ``promql`` is ``value`` (NaN matches NaN)."""
        deadline = time.monotonic() + STARTUP_GUARD
        while time.monotonic() < deadline:
            result = self.ask(promql)
            if len(result) == 1:
                seen = float(result[0]["value"][1].replace("Inf", "inf"))
                if seen == value or (math.isnan(seen) and math.isnan(value)):
                    return
            if self.process.poll() is not None:
                raise RuntimeError(f"prometheus exited: {self.log.read_text()[-2000:]}")
            time.sleep(0.1)
        raise RuntimeError(f"prometheus never saw {promql} = {value}")

    def show(self, case: str, value: float, *, version: str = "") -> str:
        """Set a gauge and wait until Prometheus has scraped it; return its selector."""
        (selector,) = self.show_all([(case, value, version)])
        return selector

    def show_all(self, gauges: list[tuple[str, float, str]]) -> list[str]:
        """Set every ``(case, value, version)`` gauge, then wait until Prometheus has
        scraped them all: one scrape for all of them, not one each. Their selectors."""
        for case, value, version in gauges:
            self.service.set(case, value, version=version)
        selectors = [f'app_value{{case="{case}",version="{version}"}}'
                     for case, _, version in gauges]
        for selector, (_, value, _) in zip(selectors, gauges, strict=True):
            self.wait_for(selector, value)
        return selectors


@contextmanager
def prometheus(directory: Path) -> Iterator[Prometheus]:
    """Run Prometheus scraping a :class:`MetricsService` every second until the context ends."""
    directory.mkdir(parents=True, exist_ok=True)
    service = MetricsService()
    port = free_port()
    config = directory / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: app\n    scrape_interval: 1s\n"
        f"    static_configs:\n      - targets: ['127.0.0.1:{service.port}']\n"
    )
    log = directory / "prometheus.log"
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={directory / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
            stdout=handle, stderr=subprocess.STDOUT,
        )
    running = Prometheus(f"http://127.0.0.1:{port}", service, process, log)
    try:
        deadline = time.monotonic() + STARTUP_GUARD
        while True:  # the first scrape of the service, seen through the query API
            try:
                if running.ask('up{job="app"} == 1'):
                    break
            except requests.RequestException:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"prometheus did not start: {log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield running
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        service.close()
