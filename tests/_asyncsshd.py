"""An SSH server built on asyncssh, standing in for OpenSSH's sshd in the host tests.

``tests/_sshd.py`` runs it as ``python _asyncsshd.py CONFIG.json`` where ``/usr/sbin/sshd``
is missing (never in CI, which keeps the real OpenSSH server), and in the small fallback
subset of every run (tests/test_ssh_fallback.py) so that it cannot rot.

It does what the host tests need of sshd, the way sshd does it:

- one port on several loopback addresses, so that one server stands in for a fleet;
- public-key authentication for one user and one authorized key, nothing else (no
  passwords, no other user names), so a wrong key is refused as sshd refuses it;
- exec sessions: the user's login shell runs ``-c COMMAND`` as the current user, with
  stdin, stdout, stderr and the exit status (or exit signal) carried back;
- any number of sessions on one connection, as ssh's ControlMaster multiplexes them;
- ``ForceCommand`` per listening address: the forced command runs instead, with
  ``SSH_ORIGINAL_COMMAND`` set, as a restricted deploy key does;
- an environment like sshd's (``HOME`` set to the server's directory, as the sshd
  config's ``SetEnv`` does, so a user's shell profile costs nothing).

It differs where the tests do not look: no pty, no forwarding, no sftp or subsystems, and
a session's command is killed (its whole process group) when the session closes, where
sshd leaves it to finish. Each accepted connection is appended to ``connections.log``
(``LOCAL_ADDRESS PEER_PORT``), so a test can count connections rather than trust timing.

Keys are made here, before listening, with asyncssh itself: a machine without sshd may
lack ``ssh-keygen`` too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pwd
import signal
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncssh

#: sshd's default PATH for a session (Debian's, for root and others alike here).
_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_CHUNK = 65536


@dataclass(frozen=True)
class Config:
    """What the launcher in tests/_sshd.py asks for, read from a JSON file."""

    directory: Path
    addresses: tuple[str, ...]
    port: int
    user: str
    force_commands: Mapping[str, str]

    @classmethod
    def read(cls, path: Path) -> Config:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return cls(Path(data["directory"]), tuple(data["addresses"]), int(data["port"]),
                   str(data["user"]), dict(data.get("force_commands") or {}))


def make_keys(directory: Path) -> None:
    """The host key, the client's key pair and authorized_keys, as ssh-keygen would."""
    directory.mkdir(parents=True, exist_ok=True)
    asyncssh.generate_private_key("ssh-ed25519").write_private_key(directory / "host_key")
    client = asyncssh.generate_private_key("ssh-ed25519")
    client.write_private_key(directory / "client_key")
    client.write_public_key(directory / "client_key.pub")
    client.write_public_key(directory / "authorized_keys")
    # ssh refuses an identity file that others can read.
    os.chmod(directory / "client_key", 0o600)


class Sessions:
    """The exec sessions of the server: their child processes, killed when it stops."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.children: set[asyncio.subprocess.Process] = set()
        account = pwd.getpwuid(os.getuid())
        self.shell = account.pw_shell if os.access(account.pw_shell, os.X_OK) else "/bin/sh"
        self.environ = {
            "HOME": str(config.directory), "USER": config.user, "LOGNAME": config.user,
            "SHELL": self.shell, "PATH": _PATH, "LANG": os.environ.get("LANG", "C.UTF-8"),
        }

    async def serve(self, process: asyncssh.SSHServerProcess[bytes]) -> None:
        """Run one session's command and carry its output and exit status back."""
        local, _ = process.get_extra_info("sockname")[:2]
        peer, peer_port = process.get_extra_info("peername")[:2]
        environ = dict(self.environ,
                       SSH_CONNECTION=f"{peer} {peer_port} {local} {self.config.port}",
                       SSH_CLIENT=f"{peer} {peer_port} {self.config.port}")
        command = process.command
        forced = self.config.force_commands.get(local)
        if forced is not None:
            if command is not None:
                environ["SSH_ORIGINAL_COMMAND"] = command
            command = forced
        argv = [self.shell, "-c", command] if command is not None else [self.shell]
        # A session of its own, so that closing the session can kill all the command began.
        child = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=environ, cwd=self.config.directory,
            start_new_session=True,
        )
        self.children.add(child)
        stdin, stdout, stderr = child.stdin, child.stdout, child.stderr
        assert stdin is not None
        assert stdout is not None
        assert stderr is not None
        feeding = asyncio.ensure_future(_feed(process.stdin, stdin))
        work = asyncio.ensure_future(asyncio.gather(
            _drain(stdout, process.stdout), _drain(stderr, process.stderr), child.wait(),
        ))
        closed = asyncio.ensure_future(process.wait_closed())
        try:
            watched: list[asyncio.Future[Any]] = [work, closed]
            await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
            if not work.done():  # the client went away first: end what it started
                _kill(child)
                await work
                return
            status = child.returncode
            assert status is not None
            if status < 0:
                process.exit_with_signal(signal.Signals(-status).name.removeprefix("SIG"))
            else:
                process.exit(status)
        finally:
            self.children.discard(child)
            feeding.cancel()
            closed.cancel()

    def stop(self) -> None:
        for child in list(self.children):
            _kill(child)


async def _feed(source: asyncssh.SSHReader[bytes], sink: asyncio.StreamWriter) -> None:
    """Copy the session's stdin to the command until the client sends EOF."""
    # A break, signal or window change has no meaning without a pty; a command that
    # closed its stdin early is no error either.
    with contextlib.suppress(OSError, asyncssh.BreakReceived, asyncssh.SignalReceived,
                             asyncssh.TerminalSizeChanged):
        while data := await source.read(_CHUNK):
            sink.write(data)
            await sink.drain()
    sink.close()


async def _drain(source: asyncio.StreamReader, sink: asyncssh.SSHWriter[bytes]) -> None:
    """Copy a command's stdout or stderr to the session until the command closes it."""
    while data := await source.read(_CHUNK):
        try:
            sink.write(data)
        except OSError:  # the session closed: read on so that the command is not blocked
            continue


def _kill(child: asyncio.subprocess.Process) -> None:
    if child.returncode is None:
        with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
            os.killpg(child.pid, signal.SIGKILL)


def _server_class(config: Config) -> type[asyncssh.SSHServer]:
    authorized = asyncssh.read_public_key(config.directory / "authorized_keys")
    log = config.directory / "connections.log"

    class Server(asyncssh.SSHServer):
        def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
            local = conn.get_extra_info("sockname")[0]
            peer_port = conn.get_extra_info("peername")[1]
            with log.open("a", encoding="utf-8") as handle:
                handle.write(f"{local} {peer_port}\n")

        def begin_auth(self, username: str) -> bool:
            return True  # always ask for a key, even of a user it will refuse

        def public_key_auth_supported(self) -> bool:
            return True

        def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
            return username == config.user and key.public_data == authorized.public_data

    return Server


async def main(config: Config) -> None:
    make_keys(config.directory)
    sessions = Sessions(config)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    listeners = [
        await asyncssh.listen(
            address, config.port, server_host_keys=[str(config.directory / "host_key")],
            server_factory=_server_class(config), process_factory=sessions.serve,
            encoding=None, agent_forwarding=False,
        )
        for address in config.addresses
    ]
    await stopping.wait()
    sessions.stop()
    for listener in listeners:
        listener.close()
    for listener in listeners:
        await listener.wait_closed()


if __name__ == "__main__":
    asyncio.run(main(Config.read(Path(sys.argv[1]))))
