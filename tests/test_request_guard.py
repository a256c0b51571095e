"""The protected-target guard: an allow-list, enforced wherever a request leaves the session."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import requests
from requests.adapters import HTTPAdapter

from pytest_deployable.http import RefusedRequest, TargetSession
from pytest_deployable.targets import Target


@dataclass
class Recorder:
    """A raw HTTP/1.1 server on loopback that answers 200 to any method and keeps each head."""

    url: str = ""
    heads: list[str] = field(default_factory=list)

    @property
    def methods(self) -> list[str]:
        return [head.split(" ", 1)[0] for head in self.heads]


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    state = Recorder()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.2)
    state.url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                if data:
                    state.heads.append(data.split(b"\r\n\r\n", 1)[0].decode("latin-1"))
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                                 b"Connection: close\r\n\r\nok")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield state
    stop.set()
    thread.join(5)
    listener.close()


def session(url: str, *, allow: bool = False, **target: object) -> TargetSession:
    return TargetSession(Target("prod", url, protected=True, **target),  # type: ignore[arg-type]
                         allow_unsafe=lambda: allow)


@pytest.mark.parametrize(
    "method", ["POST", "PUT", "PATCH", "DELETE", "PURGE", "PROPFIND", "MKCOL", "MOVE", "COPY",
               "LOCK", "TRACE", "CONNECT", "delete", "Purge", "BREW"],
)
def test_only_get_head_and_options_reach_a_protected_target(
    recorder: Recorder, method: str
) -> None:
    with session(recorder.url) as http:
        with pytest.raises(RefusedRequest) as refused:
            http.request(method, "/cache")
        for allowed in ("GET", "HEAD", "OPTIONS"):
            http.request(allowed, "/health")
    assert str(refused.value).startswith(
        f"refused {method.upper()} {recorder.url}/cache: target 'prod' is protected"
    )
    assert recorder.methods == ["GET", "HEAD", "OPTIONS"]


def test_a_prepared_request_sent_directly_is_refused(recorder: Recorder) -> None:
    with session(recorder.url) as http:
        prepared = http.prepare_request(requests.Request("DELETE", f"{recorder.url}/items/1"))
        with pytest.raises(RefusedRequest, match=r"refused DELETE .*/items/1: target 'prod'"):
            http.send(prepared)
    assert recorder.methods == []


def test_a_mounted_adapter_is_guarded_too(recorder: Recorder) -> None:
    with session(recorder.url) as http:
        http.mount(recorder.url, HTTPAdapter())
        prepared = requests.Request("PURGE", f"{recorder.url}/cache").prepare()
        with pytest.raises(RefusedRequest, match="refused PURGE"):
            http.get_adapter(prepared.url or "").send(prepared)
        with pytest.raises(RefusedRequest, match="refused PURGE"):
            http.adapters["http://"].send(prepared)
        with pytest.raises(RefusedRequest, match="refused POST"):
            http.post("/items")
    assert recorder.methods == []


def test_destructive_checks_with_the_option_may_change_state(recorder: Recorder) -> None:
    with session(recorder.url, allow=True) as http:
        http.request("PURGE", "/cache")
        http.send(http.prepare_request(requests.Request("POST", f"{recorder.url}/items")))
    assert recorder.methods == ["PURGE", "POST"]


def test_an_unprotected_target_takes_any_method(recorder: Recorder) -> None:
    with TargetSession(Target("staging", recorder.url)) as http:
        http.request("PURGE", "/cache")
    assert recorder.methods == ["PURGE"]


def test_target_headers_stay_on_the_targets_host(recorder: Recorder) -> None:
    other = socket.socket()  # a second origin: same address, another port
    other.bind(("127.0.0.1", 0))
    port = other.getsockname()[1]
    other.close()
    base = f"http://localhost:{recorder.url.rsplit(':', 1)[1]}"
    with TargetSession(Target("staging", base, headers={"X-Api-Key": "k-0123456789"})) as http:
        http.get("/health")
        http.get(f"{recorder.url}/version")  # same address, but another host name
        http.get(f"{recorder.url}/version", headers={"X-Api-Key": "given-by-the-check"})
    assert "X-Api-Key: k-0123456789" in recorder.heads[0]
    assert "X-Api-Key" not in recorder.heads[1]
    assert "X-Api-Key: given-by-the-check" in recorder.heads[2]
    assert port  # the port was free; nothing listens there


def test_the_version_check_sends_no_target_header_to_another_host(
    pytester: pytest.Pytester, recorder: Recorder
) -> None:
    from conftest import Server  # noqa: F401  (the shop itself is not needed here)

    base = f"http://localhost:{recorder.url.rsplit(':', 1)[1]}"
    pytester.path.joinpath("deploy-targets.toml").write_text(
        f'[targets.local]\nbase_url = "{base}"\nversion_url = "{recorder.url}/version"\n'
        'headers = { "X-Api-Key" = "k-0123456789" }\n'
    )
    pytester.makepyfile("import pytest\n@pytest.mark.smoke\ndef test_ok(): pass\n")
    result = pytester.runpytest("--deploy-target=local", "--deploy-version=ok",
                                "--deploy-version-within=1s")
    assert result.ret == 0, result.stdout.str()
    assert recorder.heads
    assert all("X-Api-Key" not in head for head in recorder.heads)
