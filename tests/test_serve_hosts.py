"""``deployable serve`` answers only requests whose ``Host`` names it (DNS rebinding).

A web page that points a name of its own at the service's address could otherwise
have a browser on the same machine call it: read the ledger's answers, or start suite
runs against real targets through ``GET /v1/check``. Real servers, real requests; runs
are counted (each suite run appends its pid), never timed.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from _serve import TOKEN, Service, make_project, start

from pytest_deployable.serve.settings import host_allowed, host_of, parse_allowed_host

LOOPBACK = ("localhost", "127.0.0.1", "::1")


@pytest.fixture
def loopback_service(tmp_path: Path) -> Iterator[Service]:
    service = start(make_project(tmp_path), "--suite", "suite", "--cache", "0")
    yield service
    service.stop()


def port_of(service: Service) -> int:
    port = urlsplit(service.url).port
    assert port is not None
    return port


def test_a_foreign_host_gets_400_and_starts_no_run(loopback_service: Service) -> None:
    service = loopback_service
    got = service.get("/v1/check?target=staging&version=1.0.0",
                      headers={"Host": "rebound.attacker.example"})
    assert got.status_code == 400
    error = got.json()["error"]
    assert "the Host header (rebound.attacker.example) does not name this service" in error
    assert "--allowed-host" in error
    assert service.runs() == []  # refused before any route: no suite run started
    assert service.get("/v1/can-i-deploy?version=1.0.0&to=production",
                       headers={"Host": "rebound.attacker.example:8484"}).status_code == 400
    assert service.post("/v1/deployments", json={}, headers={"Host": "evil"}).status_code == 400


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost", "LOCALHOST", "[::1]"])
def test_the_loopback_names_are_answered_on_loopback(loopback_service: Service,
                                                     name: str) -> None:
    got = loopback_service.get("/healthz", headers={"Host": f"{name}:{port_of(loopback_service)}"})
    assert got.status_code == 200, got.text


def test_two_host_headers_are_refused(loopback_service: Service) -> None:
    request = (b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: rebound.example\r\n"
               b"Connection: close\r\n\r\n")
    with socket.create_connection(("127.0.0.1", port_of(loopback_service)), timeout=30) as conn:
        conn.sendall(request)
        status_line = conn.makefile("rb").readline()
    assert status_line.split()[1] == b"400"


def test_allowed_hosts_replace_the_loopback_names(tmp_path: Path) -> None:
    service = start(make_project(tmp_path), "--allowed-host", "deployable.example.com",
                    "--allowed-host", "*.svc.example")
    try:
        def status(host: str) -> int:
            return service.get("/healthz", headers={"Host": host}).status_code

        assert status("deployable.example.com:8484") == 200
        assert status("gate.svc.example") == 200
        assert status("svc.example") == 400  # *.DOMAIN is its subdomains, not the domain
        assert status("evilsvc.example") == 400
        assert status("127.0.0.1") == 400  # named hosts replace the defaults
        write = service.post("/v1/deployments", json={}, headers={"Host": "evil.example"})
        assert write.status_code == 400
    finally:
        service.stop()


def test_beyond_loopback_any_host_unless_named(tmp_path: Path) -> None:
    service = start(make_project(tmp_path), "--listen", "0.0.0.0:0")
    try:
        got = service.get("/healthz", headers={"Host": "deployable.shop.svc.cluster.local"})
        assert got.status_code == 200, got.text
    finally:
        service.stop()


def test_the_token_never_outweighs_the_host(loopback_service: Service) -> None:
    service = loopback_service
    body = {"target": "production", "version": "2.0.0", "id": "pipeline-7"}
    refused = service.post("/v1/deployments", token=TOKEN, json=body,
                           headers={"Host": "rebound.example"})
    assert refused.status_code == 400
    assert "does not name this service" in refused.json()["error"]
    # The same request with this service's name is recorded, so the 400 was the Host's.
    assert service.post("/v1/deployments", token=TOKEN, json=body).status_code == 201


@pytest.mark.parametrize(("header", "host"), [
    ("api.example.com:443", "api.example.com"), ("[::1]:8484", "::1"), ("[::1]", "::1"),
    ("Example.COM", "example.com"), ("a:1:2", None), ("[::1]x", None), ("x:port", None),
    ("", None), (":80", None), ("[::1", None),
])
def test_host_of_reads_a_host_header(header: str, host: str | None) -> None:
    assert host_of(header) == host


def test_host_allowed() -> None:
    assert host_allowed("localhost:1", LOOPBACK)
    assert not host_allowed(None, LOOPBACK)
    assert not host_allowed("localhost.attacker.example", LOOPBACK)
    assert not host_allowed("127.0.0.1.nip.io", LOOPBACK)
    assert host_allowed(None, ("*",))


@pytest.mark.parametrize("text", ["evil host", "a:80", "http://a", "*", "*.example.com",
                                  "[::1]", "Deployable.Example.com"])
def test_parse_allowed_host(text: str) -> None:
    if text in ("evil host", "a:80", "http://a"):
        with pytest.raises(ValueError, match="invalid host"):
            parse_allowed_host(text)
    else:
        assert parse_allowed_host(text) == text.lower().strip("[]")
