"""A real OpenSSH server on loopback for host checks, in a temporary directory.

Used by the tests and by ``bench/hosts.py``. The server runs as the current user
with its own host key, authorized key and sshd_config, on a free high port, and
listens on one or more loopback addresses (``127.0.0.x``) so that one server can
stand in for a fleet. Clients get an ``ssh_config`` file that never touches
``~/.ssh``: no known hosts, a fixed identity, batch mode.

Where ``/usr/sbin/sshd`` is missing, :func:`ssh_server` can start an SSH server
from the asyncssh library instead (``tests/_asyncsshd.py``), with the same keys,
addresses, forced commands and client configuration; :func:`choose_server` says
which one a run gets. CI never falls back: it keeps the real OpenSSH server.
"""

from __future__ import annotations

import getpass
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

#: OpenSSH's server; DEPLOYABLE_TEST_SSHD points elsewhere (a missing path simulates a
#: machine without it).
SSHD = os.environ.get("DEPLOYABLE_TEST_SSHD", "/usr/sbin/sshd")
#: Picks the host tests' SSH server: ``openssh``, ``asyncssh``, or unset for the default.
SERVER_VARIABLE = "DEPLOYABLE_TEST_SSH_SERVER"
OPENSSH, ASYNCSSH = "openssh", "asyncssh"


@dataclass
class SshServer:
    """A running sshd: where it listens and the client configuration that reaches it."""

    addresses: tuple[str, ...]
    port: int
    ssh_config: Path
    identity: Path
    user: str
    kind: str = OPENSSH
    """Which server this is: ``openssh`` or ``asyncssh``."""
    connection_log: Path | None = None
    """asyncssh's server only: one line per accepted connection (``ADDRESS PEER_PORT``)."""
    check_scheme: Callable[[str], None] | None = None
    """Called with the scheme of every :meth:`spec`: the tests skip ssh:// specs there when
    the ssh client is missing (paramiko:// needs none)."""

    def connections(self) -> list[str]:
        """The listening address of every connection accepted so far (asyncssh only)."""
        if self.connection_log is None:
            raise RuntimeError(f"the {self.kind} server does not log its connections")
        if not self.connection_log.exists():
            return []
        return [line.split()[0] for line in self.connection_log.read_text().splitlines()]

    def spec(self, scheme: str = "ssh", address: str | None = None, port: int | None = None,
             **options: str) -> str:
        """A testinfra host spec for one address of this server, with its ssh_config.

        The port is in the spec, not in the ssh_config: paramiko lets a config file's
        ``Port`` override the spec's, which would make a dead port look alive.
        """
        if self.check_scheme is not None:
            self.check_scheme(scheme)
        query = "&".join([f"ssh_config={self.ssh_config}",
                          *(f"{k}={v}" for k, v in options.items())])
        return f"{scheme}://{address or self.addresses[0]}:{port or self.port}?{query}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)],
                   check=True, capture_output=True)


def _client_config(directory: Path, user: str) -> Path:
    """An ssh_config for this server's clients that never reads or writes ``~/.ssh``."""
    client = directory / "ssh_config"
    client.write_text(
        "Host *\n"
        f"  User {user}\n  IdentityFile {directory / 'client_key'}\n"
        "  IdentitiesOnly yes\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n"
        "  BatchMode yes\n  LogLevel ERROR\n"
    )
    return client


def _wait_listening(address: str, port: int, process: subprocess.Popen[bytes],
                    timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with socket.create_connection((address, port), timeout=0.5) as sock:
                sock.settimeout(2)
                return sock.recv(4).startswith(b"SSH")
        except OSError:
            time.sleep(0.05)
    return False


#: sshd listens on at most this many addresses (MAX_LISTEN_SOCKS); more take more servers.
_LISTEN_LIMIT = 16


@contextmanager
def sshd(directory: Path, addresses: Sequence[str] = ("127.0.0.1",),
         force_commands: Mapping[str, str] | None = None) -> Iterator[SshServer]:
    """Run ``/usr/sbin/sshd -D -e -f CFG`` on ``addresses`` until the context ends.

    Every address gets the same port, host key and authorized key; one sshd
    process serves up to 16 addresses, so a larger fleet runs several.
    ``force_commands`` maps an address to a ``ForceCommand`` that sshd runs there
    instead of whatever a client asks for (as a restricted deploy key does).
    """
    directory.mkdir(parents=True, exist_ok=True)
    _keygen(directory / "host_key")
    _keygen(directory / "client_key")
    shutil.copy(directory / "client_key.pub", directory / "authorized_keys")
    port = free_port()
    user = getpass.getuser()
    client = _client_config(directory, user)
    if os.geteuid() == 0:  # sshd run as root insists on its privilege separation directory
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    processes: list[subprocess.Popen[bytes]] = []
    groups = [addresses[i:i + _LISTEN_LIMIT] for i in range(0, len(addresses), _LISTEN_LIMIT)]
    try:
        for index, group in enumerate(groups):
            listen = "\n".join(f"ListenAddress {address}" for address in group)
            config = directory / f"sshd_config.{index}"
            config.write_text(
                f"Port {port}\n{listen}\n"
                f"HostKey {directory / 'host_key'}\n"
                f"AuthorizedKeysFile {directory / 'authorized_keys'}\n"
                f"PidFile {directory / f'sshd.{index}.pid'}\n"
                "UsePAM no\nStrictModes no\nPasswordAuthentication no\n"
                "KbdInteractiveAuthentication no\nPubkeyAuthentication yes\n"
                "PermitRootLogin prohibit-password\nUseDNS no\nLogLevel ERROR\n"
                "MaxStartups 200:30:400\nMaxSessions 200\n"
                # A home of its own: the user's shell profile (pyenv and the like) would
                # cost every command a fifth of a second and make timings machine-bound.
                f"SetEnv HOME={directory}\n"
                + "".join(f"Match LocalAddress {address}\n  ForceCommand {command}\n"
                          for address, command in (force_commands or {}).items()
                          if address in group)
            )
            log = directory / f"sshd.{index}.log"
            with log.open("wb") as handle:
                process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)],
                                           stdout=handle, stderr=subprocess.STDOUT)
            processes.append(process)
            for address in group:
                if not _wait_listening(address, port, process):
                    raise RuntimeError(f"sshd did not start on {address}: {log.read_text()}")
        yield SshServer(tuple(addresses), port, client, directory / "client_key", user)
    finally:
        _stop(processes)


def _stop(processes: Sequence[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def asyncsshd(directory: Path, addresses: Sequence[str] = ("127.0.0.1",),
              force_commands: Mapping[str, str] | None = None) -> Iterator[SshServer]:
    """Run asyncssh's SSH server (``tests/_asyncsshd.py``) like :func:`sshd`, for machines
    without OpenSSH's server. One process serves every address; it makes its own keys."""
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    user = getpass.getuser()
    client = _client_config(directory, user)
    config = directory / "asyncsshd.json"
    config.write_text(json.dumps({
        "directory": str(directory), "addresses": list(addresses), "port": port,
        "user": user, "force_commands": dict(force_commands or {}),
    }))
    log = directory / "asyncsshd.log"
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("_asyncsshd.py")), str(config)],
            stdout=handle, stderr=subprocess.STDOUT,
        )
    try:
        for address in addresses:
            # Its first start imports asyncssh and makes three keys: more than sshd takes.
            if not _wait_listening(address, port, process, timeout=30):
                raise RuntimeError(f"asyncssh's server did not start on {address}: "
                                   f"{log.read_text()}")
        yield SshServer(tuple(addresses), port, client, directory / "client_key", user,
                        ASYNCSSH, directory / "connections.log")
    finally:
        _stop([process])


class ServerUnavailable(Exception):
    """No SSH server can run the host tests here; ``fatal`` if that must fail the run."""

    def __init__(self, message: str, *, fatal: bool) -> None:
        super().__init__(message)
        self.fatal = fatal


def choose_server(environ: Mapping[str, str], in_ci: bool, sshd_path: str = SSHD) -> str:
    """The SSH server the host tests run against: ``openssh`` or ``asyncssh``.

    OpenSSH wherever ``sshd_path`` exists. Without it, asyncssh, except in CI, where a
    missing sshd is a broken machine (``.ci/run`` installs it) and must fail the tests
    rather than quietly test something else. ``DEPLOYABLE_TEST_SSH_SERVER`` asks for one:
    ``openssh`` never falls back; ``asyncssh`` runs the fallback where sshd exists too
    (to try it), and is refused in CI. Raises :class:`ServerUnavailable` when the one
    it must use is missing.
    """
    wanted = environ.get(SERVER_VARIABLE, "").strip().lower()
    if wanted not in ("", OPENSSH, ASYNCSSH):
        raise ServerUnavailable(f"{SERVER_VARIABLE}={wanted!r}: use {OPENSSH!r} or "
                                f"{ASYNCSSH!r}, or leave it unset", fatal=True)
    if wanted == ASYNCSSH and in_ci:
        raise ServerUnavailable(f"{SERVER_VARIABLE}=asyncssh: CI tests hosts against "
                                "OpenSSH's sshd only", fatal=True)
    if wanted != ASYNCSSH and os.path.exists(sshd_path):
        return OPENSSH
    if wanted == OPENSSH or in_ci:
        raise ServerUnavailable(f"{sshd_path} is missing (apt-get install openssh-server)",
                                fatal=in_ci)
    if importlib.util.find_spec("asyncssh") is None:
        missing = "" if wanted == ASYNCSSH else f"{sshd_path} is missing, and so is "
        raise ServerUnavailable(f"{missing}asyncssh is not installed (pip install -e "
                                "'.[test]')", fatal=False)
    return ASYNCSSH


@contextmanager
def ssh_server(kind: str, directory: Path, addresses: Sequence[str] = ("127.0.0.1",),
               force_commands: Mapping[str, str] | None = None) -> Iterator[SshServer]:
    """Run the SSH server ``kind`` (see :func:`choose_server`) until the context ends."""
    start = {OPENSSH: sshd, ASYNCSSH: asyncsshd}[kind]
    with start(directory, addresses, force_commands) as server:
        yield server


@dataclass
class SilentServer:
    """A TCP server on loopback that accepts connections and never says a word."""

    port: int = 0
    _sock: socket.socket = field(default_factory=socket.socket)
    _held: list[socket.socket] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> SilentServer:
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            self._held.append(conn)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for conn in self._held:
            conn.close()
        self._sock.close()
