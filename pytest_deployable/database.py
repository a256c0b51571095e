"""The target's database: a SQLAlchemy connection that is read-only by construction.

A target's ``database`` key is a SQLAlchemy URL for PostgreSQL (through psycopg 3)
or SQLite. Those two are the only ones accepted because for them a read-only
connection can be built rather than promised: PostgreSQL sessions start with
``default_transaction_read_only=on`` and every transaction begins with
``SET TRANSACTION READ ONLY``; SQLite files are opened with ``mode=ro`` (and
``PRAGMA query_only``), which also means a wrong path fails instead of creating
an empty database that a schema check could mistake for a real one.

The URL is a secret (SPEC §3). Driver errors quote DSNs, host names, user names
and file paths, so no driver message is ever passed on: :func:`describe_error`
turns an error into fixed words of our own, chosen by the error's SQLSTATE or by
well-known phrases of libpq and SQLite.

SQLAlchemy is imported only here, and only when a target has a database.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from sqlalchemy.engine import URL, Connection, Engine

__all__ = [
    "DatabaseUnavailable",
    "ReadOnlyDatabaseError",
    "check_database_url",
    "connect",
    "describe_error",
    "make_engine",
]

#: URL schemes accepted, and the driver each one is used with.
_DRIVERS = {
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "postgresql+psycopg": "postgresql+psycopg",
    "sqlite": "sqlite+pysqlite",
    "sqlite+pysqlite": "sqlite+pysqlite",
}

#: PostgreSQL error codes (SQLSTATE) and what they mean, in words that quote nothing.
_SQLSTATES = {
    "28P01": "password authentication failed (wrong user name or password)",
    "28000": "the server refused this user (check the user name and pg_hba.conf)",
    "3D000": "the database does not exist",
    "42501": "permission denied (the user may not read the history table)",
    "42P01": "a table it reads does not exist",
    "57014": "the query was cancelled (statement timeout)",
    "57P03": "the server is not accepting connections yet (starting up or shutting down)",
    "53300": "the server has too many connections",
}

#: Fixed phrases of libpq and SQLite messages, and our own words for them. The
#: driver's text is only searched, never shown: it quotes hosts, users and paths.
_PHRASES = (
    ("password authentication failed", _SQLSTATES["28P01"]),
    ("no password supplied", "the server wants a password and the URL gives none"),
    ("does not exist", "the database (or its user) does not exist"),
    ("connection refused", "unreachable: the connection was refused (nothing listens there)"),
    ("timeout expired", "unreachable: the connection timed out"),
    ("timed out", "unreachable: the connection timed out"),
    ("could not translate host name", "unreachable: the host name does not resolve"),
    ("name or service not known", "unreachable: the host name does not resolve"),
    ("no route to host", "unreachable: no route to the host"),
    ("network is unreachable", "unreachable: the network is unreachable"),
    ("server closed the connection", "the server closed the connection unexpectedly"),
    ("no pg_hba.conf entry", "the server's pg_hba.conf has no rule that lets this user in "
     "from here"),
    ("certificate", "the server's TLS certificate was not accepted"),
    ("ssl error", "the TLS connection to the server failed"),
    ("server does not support ssl", "the server does not support TLS, which the URL requires"),
    ("unable to open database file", "the SQLite database file does not exist or cannot be "
     "read (it is opened read-only, never created)"),
    ("file is not a database", "the SQLite file is not a database"),
    ("no such table", "a table it reads does not exist"),
    ("no such column", "a column it reads does not exist"),
    ("database is locked", "the SQLite database is locked"),
    ("readonly database", "the connection is read-only"),
    ("read-only transaction", "the connection is read-only"),
)


class DatabaseUnavailable(Exception):
    """The target's database could not be reached or read; the message is safe to show."""


class ReadOnlyDatabaseError(Exception):
    """A check tried to write through a read-only ``db`` connection."""


def describe_error(exc: BaseException) -> str:
    """What went wrong, in fixed words that never quote the driver (and so never the URL)."""
    orig = getattr(exc, "orig", None) or exc
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if isinstance(sqlstate, str) and sqlstate in _SQLSTATES:
        return _SQLSTATES[sqlstate]
    try:
        text = str(orig).lower()
    except Exception:  # pragma: no cover - a driver error whose str() fails
        text = ""
    for phrase, meaning in _PHRASES:
        if phrase in text:
            return meaning
    code = f", SQLSTATE {sqlstate}" if isinstance(sqlstate, str) and sqlstate.isalnum() else ""
    return f"{type(orig).__name__}{code} (the driver's message is withheld: it may quote the URL)"


@dataclass(frozen=True)
class DatabaseUrl:
    """A checked ``database`` URL: its backend, and the password to keep secret."""

    backend: str
    password: str | None


def _make_url(value: str) -> URL:
    try:
        from sqlalchemy.engine import make_url
    except ImportError:
        raise ValueError(
            "needs SQLAlchemy: install pytest-deployable[db] (sqlalchemy, psycopg, alembic)"
        ) from None
    try:
        return make_url(value)
    except Exception:
        # SQLAlchemy's own message may quote the URL, a secret.
        raise ValueError("is not a SQLAlchemy URL such as "
                         "postgresql://user:${DB_PASSWORD}@host/name or sqlite:///shop.db"
                         ) from None


def check_database_url(value: str) -> DatabaseUrl:
    """Check a ``database`` value; ValueError whose message (never the URL) says what is wrong."""
    url = _make_url(value)
    if url.drivername not in _DRIVERS:
        raise ValueError(
            f"uses {url.drivername!r}; supported are postgresql:// (or postgresql+psycopg://, "
            "psycopg 3) and sqlite:/// URLs, for which a read-only connection is built, "
            "not promised"
        )
    if url.get_backend_name() == "sqlite" and not url.database:
        raise ValueError("is an in-memory SQLite database, which has no schema to check; "
                         "give a file, such as sqlite:///shop.db")
    if url.get_backend_name() == "postgresql":
        try:
            url.port  # noqa: B018 - make_url checks the port lazily on some versions
        except ValueError:
            raise ValueError("has an invalid port") from None
    return DatabaseUrl(url.get_backend_name(), url.password if url.password else None)


def _sqlite_url(url: URL, base: Path | None, writable: bool) -> URL:
    """A ``file:`` URI for the SQLite file, opened read-only (or read-write, never created)."""
    path = Path(url.database or "")
    if not path.is_absolute() and base is not None:
        path = base / path
    uri = f"file:{quote(str(path))}"
    return url.set(drivername="sqlite+pysqlite", database=uri,
                   query={"mode": "rw" if writable else "ro", "uri": "true"})


def make_engine(value: str, *, timeout: float, writable: bool = False,
                base: Path | None = None) -> Engine:
    """An engine whose connections are read-only unless ``writable``.

    ``base`` is where a relative SQLite path is found (the targets file's folder).
    """
    from sqlalchemy import create_engine, event
    from sqlalchemy.pool import NullPool

    url = _make_url(value)
    url = url.set(drivername=_DRIVERS[url.drivername])
    if url.get_backend_name() == "sqlite":
        engine = create_engine(_sqlite_url(url, base, writable), poolclass=NullPool,
                               connect_args={"timeout": timeout})
        if not writable:
            @event.listens_for(engine, "connect")
            def query_only(dbapi_connection: Any, record: Any) -> None:
                dbapi_connection.execute("PRAGMA query_only = ON")
        return engine
    milliseconds = max(1, round(timeout * 1000))
    options = f"-c statement_timeout={milliseconds} -c lock_timeout={milliseconds}"
    if not writable:
        options += " -c default_transaction_read_only=on"
    given = url.query.get("options")
    if isinstance(given, str) and given:
        # The URL's own ?options= are kept; ours come last, so they win.
        options = f"{given} {options}"
    engine = create_engine(
        url, poolclass=NullPool,
        # libpq wants whole seconds, and treats anything below 2 as 2.
        connect_args={"connect_timeout": max(2, math.ceil(timeout)), "options": options},
    )
    if not writable:
        # Also per transaction: a check that turned the session default off
        # and committed still gets a read-only transaction next.
        @event.listens_for(engine, "begin")
        def read_only(connection: Connection) -> None:
            connection.exec_driver_sql("SET TRANSACTION READ ONLY")
    return engine


def _refuse_writes(engine: Engine, target_name: str) -> None:
    """Turn the database's read-only refusal into one clear error naming the target."""
    from sqlalchemy import event

    @event.listens_for(engine, "handle_error")
    def on_error(context: Any) -> None:
        orig = context.original_exception
        sqlstate = getattr(orig, "sqlstate", None)
        text = str(orig).lower()
        if sqlstate == "25006" or "readonly database" in text or "query_only" in text:
            raise ReadOnlyDatabaseError(
                f"refused a write to the database of target {target_name!r}: the db fixture is "
                "read-only; only a check marked @pytest.mark.destructive, run with "
                "--allow-destructive on an unprotected target, gets a writable connection"
            ) from None


@contextmanager
def connect(value: str, *, target_name: str, timeout: float, writable: bool = False,
            base: Path | None = None) -> Iterator[Connection]:
    """A connection inside a transaction: rolled back at the end, or committed if ``writable``.

    A failure to connect raises :class:`DatabaseUnavailable` with a message that
    names the target and says what went wrong, never quoting the driver.
    """
    from sqlalchemy.exc import SQLAlchemyError

    try:
        engine = make_engine(value, timeout=timeout, writable=writable, base=base)
    except ImportError as exc:
        raise DatabaseUnavailable(
            f"cannot connect to the database of target {target_name!r}: the driver "
            f"{exc.name or 'module'} is not installed; install pytest-deployable[db]"
        ) from None
    _refuse_writes(engine, target_name)
    try:
        try:
            connection = engine.connect()
        except SQLAlchemyError as exc:
            raise DatabaseUnavailable(
                f"cannot connect to the database of target {target_name!r}: "
                f"{describe_error(exc)}"
            ) from None
        with connection:
            transaction = connection.begin()
            try:
                yield connection
            except BaseException:
                if transaction.is_active:
                    transaction.rollback()
                raise
            if transaction.is_active:
                if writable:
                    transaction.commit()
                else:
                    transaction.rollback()
    finally:
        engine.dispose()
