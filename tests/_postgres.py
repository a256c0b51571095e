"""A throwaway PostgreSQL cluster on loopback, for the ledger and database-schema tests.

``initdb`` and ``pg_ctl`` from Debian's ``postgresql`` package make a cluster in a
temporary directory, listening on a free port on 127.0.0.1 and on a socket in that
directory, never on the machine's own cluster. PostgreSQL refuses to run as root, so
as root (CI) the cluster belongs to the ``postgres`` system user (or ``nobody``); as
anyone else it belongs to them.

Local socket connections are trusted (the tests' own administration through ``psql``);
TCP connections need the password, so a wrong password is a real refusal.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _per_run import shared, stop_leftover
from _sshd import free_port

SUPERUSER = "deployable"


def bindir() -> Path | None:
    """Where ``initdb`` and ``pg_ctl`` live, or None when PostgreSQL is not installed."""
    found = shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


@dataclass(frozen=True)
class PostgresCluster:
    """A running cluster: where it listens, and how to reach and administer it."""

    port: int
    password: str
    socket_dir: Path
    bin: Path
    user: str = SUPERUSER
    data: Path | None = None
    """The data directory, and the ``pg_ctl -o`` options and user, to stop and start it."""
    options: str = ""
    run_as: tuple[str, ...] = ()

    def pg_ctl(self, action: str) -> None:
        """``pg_ctl stop`` (fast: clients are disconnected) or ``start``, waiting for it."""
        assert self.data is not None
        extra = ["-m", "fast"] if action == "stop" else ["-o", self.options, "-l",
                                                         str(self.data.parent / "postgres.log")]
        result = subprocess.run([*self.run_as, str(self.bin / "pg_ctl"), "-D", str(self.data),
                                 *extra, "-w", "-t", "60", action],
                                capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"pg_ctl {action} failed: {result.stderr.strip()}")

    def url(self, database: str = "postgres", driver: str = "postgresql+psycopg") -> str:
        """A SQLAlchemy URL for ``database`` over TCP with the password."""
        return f"{driver}://{self.user}:{self.password}@127.0.0.1:{self.port}/{database}"

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run ``sql`` as the superuser over the trusted socket; the output, unaligned."""
        result = subprocess.run(
            [str(self.bin / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
             "-h", str(self.socket_dir), "-p", str(self.port), "-U", self.user,
             "-d", database, "-c", sql],
            capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"psql failed: {result.stderr.strip()}")
        return result.stdout

    def create_database(self, name: str | None = None) -> str:
        """A new empty database; its name (fresh by default, so tests never share one)."""
        name = name or f"db_{secrets.token_hex(6)}"
        self.psql(f'CREATE DATABASE "{name}"')
        return name


def _owner() -> tuple[str, int, int] | None:
    """The unprivileged user the cluster runs as when we are root, else None (ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return name, entry.pw_uid, entry.pw_gid
    raise RuntimeError("running as root, and neither a 'postgres' nor a 'nobody' user exists")


def start_cluster() -> PostgresCluster:
    """Start a throwaway cluster; :func:`stop_cluster` stops it and removes its files."""
    found = bindir()
    if found is None:
        raise FileNotFoundError("initdb")
    owner = _owner()
    # mkdtemp is 0700 and ours: as root, hand it to the cluster's user, who must reach it.
    directory = Path(tempfile.mkdtemp(prefix="deployable-pg-"))
    data, socket_dir = directory / "data", directory
    password = secrets.token_urlsafe(12)
    pwfile = directory / "pwfile"
    pwfile.write_text(password + "\n")
    run_as: list[str] = []
    if owner is not None:
        name, uid, gid = owner
        for path in (directory, pwfile):
            os.chown(path, uid, gid)
        run_as = ["runuser", "-u", name, "--"]
    port = free_port()
    log = directory / "postgres.log"
    # Room for both xdist workers' concurrency tests at once (16 writers each).
    options = (f"-c listen_addresses=127.0.0.1 -c port={port} "
               f"-c unix_socket_directories={socket_dir} -c fsync=off "
               "-c full_page_writes=off -c synchronous_commit=off -c max_connections=200")
    cluster = PostgresCluster(port, password, socket_dir, found, data=data, options=options,
                              run_as=tuple(run_as))
    try:
        _call(cluster, str(found / "initdb"), "-D", str(data), "-U", SUPERUSER, "--pwfile",
              str(pwfile), "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8",
              "--locale=C", "--no-sync")
        _call(cluster, str(found / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options,
              "-w", "-t", "60", "start")
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return cluster


def _call(cluster: PostgresCluster, *argv: str) -> None:
    result = subprocess.run([*cluster.run_as, *argv], capture_output=True, text=True,
                            check=False)
    if result.returncode != 0:
        log = cluster.socket_dir / "postgres.log"
        tail = log.read_text()[-2000:] if log.exists() else ""
        raise RuntimeError(f"{argv[0]} failed: {result.stderr.strip()} {tail}")


def stop_cluster(cluster: PostgresCluster) -> None:
    """Stop a cluster :func:`start_cluster` started (from any process) and remove its files."""
    assert cluster.data is not None
    try:
        _call(cluster, str(cluster.bin / "pg_ctl"), "-D", str(cluster.data), "-m", "immediate",
              "-w", "stop")
    finally:
        shutil.rmtree(cluster.socket_dir, ignore_errors=True)


def to_facts(cluster: PostgresCluster) -> dict[str, Any]:
    """A cluster as plain JSON data, for another process (see ``_per_run``)."""
    return {"port": cluster.port, "password": cluster.password,
            "socket_dir": str(cluster.socket_dir), "bin": str(cluster.bin),
            "data": str(cluster.data), "options": cluster.options,
            "run_as": list(cluster.run_as)}


def from_facts(facts: dict[str, Any]) -> PostgresCluster:
    """The cluster :func:`to_facts` described."""
    return PostgresCluster(facts["port"], facts["password"], Path(facts["socket_dir"]),
                           Path(facts["bin"]), data=Path(facts["data"]),
                           options=facts["options"], run_as=tuple(facts["run_as"]))


@contextmanager
def postgres_cluster() -> Iterator[PostgresCluster]:
    """Start a throwaway cluster; stop it and remove its files when the context ends."""
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        stop_cluster(cluster)


@contextmanager
def shared_cluster(root: Path) -> Iterator[PostgresCluster]:
    """The one cluster of this test run, shared by its xdist workers (``root``: the run's
    base temporary directory); the last worker to leave stops it."""
    with shared(root, "postgres", lambda: to_facts(start_cluster()),
                lambda facts: stop_cluster(from_facts(facts))) as facts:
        yield from_facts(facts)


def stop_leftover_cluster(root: Path) -> bool:
    """Stop the run's shared cluster if a worker died before leaving it (True if it did)."""
    return stop_leftover(root, "postgres", lambda facts: stop_cluster(from_facts(facts)))
