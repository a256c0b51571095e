"""Shared test fixtures: a real HTTP server on loopback that records what it receives."""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import json
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest

# pytester's in-process runs drop the modules a run imported once it ends; the
# plugin imports requests lazily, so without this a second in-process run would
# mix two copies of requests and http.cookiejar. Importing it here keeps one.
import requests  # noqa: F401

# Likewise cryptography's cipher modes, which paramiko uses: its compiled core keeps the
# classes of their first import, so a paramiko imported again after an in-process run
# would find AES-CTR "not supported" (cheap, 5 ms; paramiko itself would take 0.1 s).
with contextlib.suppress(ImportError):
    import cryptography.hazmat.primitives.ciphers.modes  # noqa: F401

if TYPE_CHECKING:
    from _sshd import SshServer

pytest_plugins = ["pytester"]

#: CI sets this so that a missing test dependency fails the run instead of skipping.
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(module: str) -> ModuleType:
    """Import a test dependency: skip without it locally, fail without it in CI."""
    try:
        return importlib.import_module(module)
    except ImportError:
        if IN_CI:
            pytest.fail(f"test dependency {module!r} is missing in CI", pytrace=False)
        pytest.skip(f"{module} is not installed")


@dataclass
class Received:
    """One request the server got."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Server:
    """A real HTTP server on 127.0.0.1 whose answers a test sets per path."""

    url: str
    routes: dict[str, Any] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    hang: threading.Event = field(default_factory=threading.Event)
    content_types: dict[str, str] = field(default_factory=dict)
    """A Content-Type per path, instead of JSON (or text/plain for bytes)."""

    def route(self, path: str, status: int = 200, body: Any = None) -> None:
        """Answer ``path`` with ``status`` and ``body`` (JSON unless bytes)."""
        self.routes[path] = (status, body)

    def recovers_after(self, path: str, failures: int, before: tuple[int, Any],
                       then: tuple[int, Any]) -> None:
        """Answer ``path`` with ``before`` for the first ``failures`` requests, then ``then``.

        Counting requests, not seconds, keeps a test exact on a loaded machine.
        """
        calls = iter(range(10**9))
        self.routes[path] = lambda: before if next(calls) < failures else then

    def flaps(self, path: str, pattern: list[tuple[int, Any]]) -> None:
        """Answer ``path`` with each answer of ``pattern`` in turn, round and round."""
        calls = iter(range(10**9))
        self.routes[path] = lambda: pattern[next(calls) % len(pattern)]

    def methods(self) -> list[str]:
        """The methods of every request received, in order."""
        return [request.method for request in self.received]


def _handler(server: Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            server.received.append(
                Received(self.command, self.path, dict(self.headers.items()), body)
            )
            if self.path.startswith("/hang"):
                # Accept the connection and never answer (until the test ends).
                server.hang.wait(60)
                return
            route = self.path.split("?", 1)[0]
            answer = server.routes.get(route, (404, {"error": "not found"}))
            status, payload = answer() if callable(answer) else answer
            if isinstance(payload, bytes):
                data, kind = payload, "text/plain"
            else:
                data, kind = json.dumps(payload).encode(), "application/json"
            kind = server.content_types.get(route, kind)
            self.send_response(status)
            if status in (301, 302, 307, 308):
                self.send_header("Location", str(payload.get("location", "/")))
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _answer

    return Handler


@pytest.fixture
def server() -> Iterator[Server]:
    """A running loopback HTTP server; ``/health`` answers 200 unless a test changes it."""
    state = Server(url="")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    # server_close() would join every handler thread, and one serving a keep-alive
    # connection ends only when its client hangs up. Once in a full run the teardown of
    # test_xdist_watchdog's crash test (whose inner run kills a worker) took 54 s, most
    # likely waiting so on a leftover client. The threads are daemons; nothing reads them.
    httpd.block_on_close = False
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    state.route("/health", 200, {"status": "ok"})
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state
    state.hang.set()
    httpd.shutdown()
    httpd.server_close()


#: Added to the ``PYTEST_ADDOPTS`` of every pytest a test starts: two plugins that our
#: dependencies install and no run a test starts uses. Hypothesis's imports all of
#: Hypothesis at the end of every session (its terminal summary): 0.6 of the 1.15 CPU
#: seconds a one-check subprocess run cost. anyio's (from starlette) imports asyncio and
#: anyio's sockets at start: 0.15 s more. Without both, such a run costs 0.3 s. This
#: suite's own process still loads them (the fuzz tests need Hypothesis).
CHILD_ADDOPTS = "-p no:hypothesispytest -p no:anyio"


def _with_child_addopts(current: str | None) -> str:
    return f"{current} {CHILD_ADDOPTS}" if current else CHILD_ADDOPTS


@pytest.fixture(scope="session", autouse=True)
def _lighter_child_pytests() -> Iterator[None]:
    """Every pytest a test starts with ``subprocess`` skips the plugins it never uses.

    Setting the variable now cannot reach this process's own options (parsed long
    ago) nor the xdist workers (already started); it reaches only their children.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTEST_ADDOPTS", _with_child_addopts(os.environ.get("PYTEST_ADDOPTS")))
        yield


@pytest.fixture
def pytester(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """pytest's ``pytester``, whose runs (in-process or not) skip the plugins they never use.

    ``pytester`` empties ``PYTEST_ADDOPTS`` for isolation; this puts back only
    :data:`CHILD_ADDOPTS`, after it.
    """
    monkeypatch.setenv("PYTEST_ADDOPTS", CHILD_ADDOPTS)
    return pytester


def read_verdict(path: Path) -> dict[str, Any]:
    """The ``deployability`` part of a verdict file."""
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


@pytest.fixture
def verdict_of(pytester: pytest.Pytester) -> Callable[..., dict[str, Any]]:
    """Read the verdict file a pytester run wrote (default path)."""

    def read(name: str = "deploy-verdict.json") -> dict[str, Any]:
        return read_verdict(pytester.path / name)

    return read


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll ``predicate`` until true or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A throwaway PostgreSQL cluster, started once per test run (see ``_per_run``).

    Under xdist the workers share one cluster: tests never share a database (each
    makes its own with ``create_database``), and none stops the cluster, so sharing it
    costs no isolation and saves an ``initdb`` and a start per worker.

    Without PostgreSQL installed the tests that use it skip, except in CI, where
    ``.ci/run`` installs Debian's ``postgresql`` and its absence fails them.
    """
    from _postgres import bindir, postgres_cluster, shared_cluster

    if bindir() is None:
        if IN_CI:
            pytest.fail("PostgreSQL (initdb) is missing in CI; .ci/run installs it",
                        pytrace=False)
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    if "PYTEST_XDIST_WORKER" not in os.environ:  # no xdist: this process is the whole run
        with postgres_cluster() as cluster:
            yield cluster
        return
    with shared_cluster(tmp_path_factory.getbasetemp().parent) as cluster:
        yield cluster


@contextmanager
def host_ssh_server(directory: Path, addresses: tuple[str, ...],
                    force_commands: Mapping[str, str] | None = None) -> Iterator[SshServer]:
    """The SSH server of the host tests on ``addresses``: OpenSSH's sshd, or where it is
    missing (never in CI) asyncssh's (tests/_sshd.py's ``choose_server`` says which).

    Without any, the tests that use it skip, except in CI, where they fail. ssh:// specs
    also need the ssh client (openssh-client); paramiko:// ones run without it.
    """
    from _sshd import ServerUnavailable, choose_server, ssh_server

    try:
        kind = choose_server(os.environ, IN_CI)
    except ServerUnavailable as exc:
        if exc.fatal:
            pytest.fail(f"no SSH server for the host tests: {exc}", pytrace=False)
        pytest.skip(f"no SSH server for the host tests: {exc}")
    with ssh_server(kind, directory, addresses, force_commands) as server:
        yield dataclasses.replace(server, check_scheme=require_ssh_client)


def require_ssh_client(scheme: str) -> None:
    """Skip a test of an ssh:// spec where the ssh client is missing (fail in CI)."""
    if scheme in ("ssh", "safe-ssh") and shutil.which("ssh") is None:
        if IN_CI:
            pytest.fail("the ssh client is missing in CI (apt-get install openssh-client)",
                        pytrace=False)
        pytest.skip("the ssh client is not installed (apt-get install openssh-client)")


def pytest_sessionfinish(session: pytest.Session) -> None:
    """On the xdist controller: stop a shared cluster a crashed worker left running."""
    config = session.config
    if hasattr(config, "workerinput") or not config.pluginmanager.hasplugin("dsession"):
        return
    from _postgres import stop_leftover_cluster

    # The parent of every worker's base temporary directory (xdist reads it the same way).
    root = config._tmp_path_factory.getbasetemp()  # type: ignore[attr-defined]
    stop_leftover_cluster(root)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under ``-n`` (``--dist load``), keep the modules of ``_scheduling.ONE_WORKER`` whole."""
    if config.getoption("dist") != "load":
        return None  # an explicit --dist is obeyed
    from _scheduling import ModulesOnOneWorker

    return ModulesOnOneWorker(config, log)
