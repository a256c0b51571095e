"""A service behind a round-robin balancer on loopback: replicas that may run different versions.

Each replica is a real HTTP server answering ``/version``; in front of them a TCP
proxy hands each new connection to the next replica in turn, as a Kubernetes
Service or an L4 balancer does (it balances connections, not requests).
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Replica:
    """One replica: the body it answers on ``/version`` and how many times it did."""

    body: bytes
    answered: int = 0
    port: int = 0


@dataclass
class RoundRobin:
    """The balancer's URL and its replicas, in the order it hands out connections."""

    url: str
    replicas: list[Replica]
    connections: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)


def _replica_handler(replica: Replica) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            replica.answered += 1
            body = replica.body
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


@contextlib.contextmanager
def round_robin(bodies: list[bytes]) -> Iterator[RoundRobin]:
    """Run one replica per body and a round-robin TCP balancer in front of them."""
    servers = []
    replicas = []
    for body in bodies:
        replica = Replica(body)
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), _replica_handler(replica))
        httpd.daemon_threads = True
        replica.port = httpd.server_address[1]
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
        replicas.append(replica)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    balancer = RoundRobin(f"http://127.0.0.1:{listener.getsockname()[1]}", replicas)
    turn = itertools.cycle(replicas)
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                return
            with balancer._lock:
                balancer.connections += 1
                replica = next(turn)
            upstream = socket.create_connection(("127.0.0.1", replica.port))
            threading.Thread(target=_pipe, args=(client, upstream), daemon=True).start()
            threading.Thread(target=_pipe, args=(upstream, client), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield balancer
    finally:
        stop.set()
        listener.close()
        for httpd in servers:
            httpd.shutdown()
            httpd.server_close()
