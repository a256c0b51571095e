"""The fault matrix, target side: a real misbehaving server on loopback, one row per fault.

For every row the verdict is never DEPLOYABLE, the exit code is the documented
one, the verdict file is whole, and the message names the cause.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from conftest import Server


@dataclass
class Faulty:
    """A raw TCP server on 127.0.0.1 that answers every connection with ``behave``."""

    url: str = ""
    stop: threading.Event = field(default_factory=threading.Event)
    sent: list[int] = field(default_factory=list)


def _serve(listener: socket.socket, behave: Callable[[socket.socket, Faulty], None],
           state: Faulty) -> None:
    listener.settimeout(0.2)
    while not state.stop.is_set():
        try:
            conn, _ = listener.accept()
        except (TimeoutError, OSError):
            continue
        threading.Thread(target=_handle, args=(conn, behave, state), daemon=True).start()


def _handle(conn: socket.socket, behave: Callable[[socket.socket, Faulty], None],
            state: Faulty) -> None:
    with conn:
        try:
            request = b""
            while b"\r\n\r\n" not in request:  # read the whole request, so closing
                chunk = conn.recv(65536)         # later does not reset the connection
                if not chunk:
                    return
                request += chunk
            behave(conn, state)
            conn.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the client gave up: that is the point of most rows


@pytest.fixture
def faulty() -> Iterator[Callable[[Callable[[socket.socket, Faulty], None]], Faulty]]:
    servers: list[tuple[socket.socket, Faulty]] = []

    def start(behave: Callable[[socket.socket, Faulty], None]) -> Faulty:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        state = Faulty(url=f"http://127.0.0.1:{listener.getsockname()[1]}")
        threading.Thread(target=_serve, args=(listener, behave, state), daemon=True).start()
        servers.append((listener, state))
        return state

    yield start
    for listener, state in servers:
        state.stop.set()
        listener.close()


def trickle(conn: socket.socket, state: Faulty) -> None:
    """Headers at once, then one byte every 0.2 s: each read is quick, the body never ends."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                 b"Content-Length: 1000\r\n\r\n")
    while not state.stop.is_set():
        conn.sendall(b" ")
        time.sleep(0.2)


def huge(conn: socket.socket, state: Faulty) -> None:
    """A 200 MB answer, sent as fast as the client reads it."""
    size = 200 * 1024 * 1024
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                 + f"Content-Length: {size}\r\n\r\n".encode())
    block = b"\0" * 65536
    for _ in range(size // len(block)):
        conn.sendall(block)
        state.sent.append(len(block))


def reset_midway(conn: socket.socket, state: Faulty) -> None:
    """Half the answer, then a TCP reset."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                 b"Content-Length: 100\r\n\r\n{\"status\": ")
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    conn.close()  # with a zero linger: an RST, not a FIN


def silent(conn: socket.socket, state: Faulty) -> None:
    """Accepts and never answers."""
    state.stop.wait(60)


def not_json(conn: socket.socket, state: Faulty) -> None:
    body = b"<html>upstream error</html>"
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                 + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)


def storm(conn: socket.socket, state: Faulty) -> None:
    conn.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                 b"Connection: close\r\n\r\n")


CHECK = """
import pytest

@pytest.mark.smoke
def test_health(http):
    response = http.get("/health")
    assert response.status_code == 200, response.status_code
    assert response.json()["status"] == "ok"
"""


def run_against(pytester: pytest.Pytester, url: str, extra: str = "") -> tuple[int, dict]:
    pytester.path.joinpath("deploy-targets.toml").write_text(
        f'[targets.t]\nbase_url = "{url}"\ntimeout = 1\n{extra}'
    )
    pytester.makepyfile(CHECK)
    result = pytester.runpytest("--deploy-target=t")
    text = (pytester.path / "deploy-verdict.json").read_text()
    data = json.loads(text)  # whole: it parses
    return int(result.ret), data["predicate"]["deployability"]


@pytest.mark.parametrize(
    ("behave", "cause"),
    [
        (trickle, "did not finish arriving within 1.0s"),
        (reset_midway, "broke off"),
        (silent, "no answer from target 't' within 1.0s"),
        (not_json, "JSONDecodeError"),
        (storm, "503"),
    ],
    ids=["one byte at a time", "reset mid-response", "never answers", "invalid JSON",
         "503 storm"],
)
def test_a_misbehaving_target_fails_the_check_with_its_cause(
    pytester: pytest.Pytester, faulty: Callable[..., Faulty],
    behave: Callable[[socket.socket, Faulty], None], cause: str,
) -> None:
    server = faulty(behave)
    started = time.monotonic()
    code, ext = run_against(pytester, server.url)
    assert code == 1
    assert ext["verdict"] == "NOT_DEPLOYABLE"
    assert cause in ext["checks"][0]["message"], ext["checks"][0]["message"]
    assert time.monotonic() - started < 30  # bounded by the 1 s timeout, not by the server


def test_a_200_mb_answer_is_refused_without_filling_memory(
    pytester: pytest.Pytester, faulty: Callable[..., Faulty]
) -> None:
    import tracemalloc

    server = faulty(huge)
    tracemalloc.start()
    try:
        code, ext = run_against(pytester, server.url, "max_response_bytes = 4194304\n")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert code == 1
    assert "is larger than 4194304 bytes (the target's max_response_bytes)" in (
        ext["checks"][0]["message"])
    assert peak < 64 * 1024 * 1024, f"peak {peak / 1e6:.0f} MB"
    assert sum(server.sent) < 200 * 1024 * 1024  # the client stopped reading


def test_connection_refused(pytester: pytest.Pytester) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, never listening: refused
        code, ext = run_against(pytester, f"http://127.0.0.1:{port}", "retries = 0\n")
    assert code == 1
    assert "cannot reach target 't'" in ext["checks"][0]["message"]


def test_a_redirect_to_another_host_carries_no_target_secret(
    pytester: pytest.Pytester, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = server  # the other host: another port, so another origin
    other.route("/landing", 200, {"status": "ok"})

    def redirect(conn: socket.socket, state: Faulty) -> None:
        conn.sendall(b"HTTP/1.1 302 Found\r\nLocation: " + other.url.encode()
                     + b"/landing\r\nContent-Length: 0\r\n\r\n")

    first = Faulty()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    first.url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    threading.Thread(target=_serve, args=(listener, redirect, first), daemon=True).start()
    monkeypatch.setenv("SHOP_KEY", "key-0123456789")
    try:
        code, ext = run_against(
            pytester, first.url,
            'headers = { X-Api-Key = "${SHOP_KEY}", Authorization = "Bearer ${SHOP_KEY}" }\n'
            'variables = { cookie = "x" }\n',
        )
    finally:
        first.stop.set()
        listener.close()
    assert code == 0, ext
    landed = [r for r in other.received if r.path == "/landing"]
    assert landed, "the redirect was followed"
    headers = {k.lower() for k in landed[0].headers}
    assert "x-api-key" not in headers
    assert "authorization" not in headers


def test_a_name_that_does_not_resolve(pytester: pytest.Pytester) -> None:
    # Mocked, because it cannot run here: the tests send nothing beyond loopback, not even a
    # query to the machine's resolver. The run's own getaddrinfo fails for this one name the
    # way a resolver's "no such name" does; everything above it (requests, urllib3, the
    # plugin) is real.
    pytester.makeconftest("""
        import socket

        _real = socket.getaddrinfo

        def getaddrinfo(host, *args, **kwargs):
            if host == "shop.does-not-exist.invalid":
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            return _real(host, *args, **kwargs)

        socket.getaddrinfo = getaddrinfo

        def pytest_unconfigure(config):
            socket.getaddrinfo = _real  # in-process runs share the test's socket module
    """)
    code, ext = run_against(pytester, "http://shop.does-not-exist.invalid", "retries = 0\n")
    assert code == 1
    message = ext["checks"][0]["message"]
    assert "cannot reach target 't'" in message
    assert "Name or service not known" in message
