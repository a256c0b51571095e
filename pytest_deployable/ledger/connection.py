"""Connecting to the ledger: one code path for SQLite and PostgreSQL, faults as one line.

SQLite runs in WAL mode (readers never wait for a writer) with a busy timeout
(30s unless the URL says ``?timeout=SECONDS``), and every write transaction starts
with ``BEGIN IMMEDIATE``: the write lock is taken first and waited for, so two
writers can never deadlock on upgrading a read lock. PostgreSQL writes are
ordinary transactions; creating or upgrading the schema takes an advisory lock.

The schema is versioned by the Alembic migrations shipped in ``migrations/``.
A ledger at another revision than this package's :data:`~.schema.HEAD` is refused
with one line saying what to do, never read or written half-understood.
Every database error leaves this module as :class:`LedgerError`, whose message is
one line with the URL's secrets masked.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from ..redact import Redactor
from .schema import HEAD, VERSION_TABLE
from .urls import LedgerURL

__all__ = ["REVISIONS", "LedgerError", "LedgerUnusable", "check_revision", "connect",
           "describe", "guard", "revision", "upgrade", "write_transaction"]

#: Every migration this package knows, oldest first.
REVISIONS = ("0001", "0002")
#: How long a writer waits for a lock (SQLite's busy timeout, PostgreSQL's lock_timeout),
#: and PostgreSQL's connect timeout, unless the URL gives them (``?timeout=``,
#: ``?options=-c lock_timeout=...``, ``?connect_timeout=``).
SQLITE_TIMEOUT = 30.0
CONNECT_TIMEOUT = 10
#: pg_advisory_xact_lock key that serialises schema changes ("deployab" in ASCII).
_SCHEMA_LOCK = 0x6465706C6F796162
_MIGRATIONS = "pytest_deployable.ledger:migrations"


class LedgerError(Exception):
    """The ledger cannot be read or written; the message is one line for the user."""


class LedgerUnusable(LedgerError):
    """The extra is missing or the driver is unknown: a setup mistake, not a fault."""


def _first_line(exc: BaseException) -> str:
    original = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(original).splitlines() if line.strip()]
    return lines[0] if lines else type(original).__name__


def describe(exc: BaseException, url: LedgerURL) -> str:
    """One line for a database error, naming the ledger, with every secret masked."""
    detail = _first_line(exc)
    lowered = detail.lower()
    where = f"the ledger {url.shown}"
    if "database is locked" in lowered or "lock timeout" in lowered:
        message = f"{where} is locked by another process and stayed locked: {detail}"
    elif "readonly database" in lowered or "read-only transaction" in lowered:
        message = f"{where} is read-only: {detail}"
    elif "unable to open database file" in lowered:
        message = f"cannot open {where}: is its directory there and writable? ({detail})"
    elif any(word in lowered for word in ("connection refused", "could not connect",
                                            "connection to server", "timeout expired",
                                            "name or service not known", "password")):
        message = f"cannot reach {where}: {detail}"
    else:
        message = f"{where}: {detail}"
    return Redactor(url.secrets)(message)


def connect(url: LedgerURL, *, write: bool, pool_size: int = 1) -> Engine:
    """An engine for the ledger; ``write`` engines also turn a SQLite file to WAL mode.

    ``pool_size``: connections kept open; a command needs one, ``deployable serve``
    one per request it answers at once.
    """
    try:
        parsed = make_url(url.url)
        args: dict[str, Any] = {}
        if url.is_sqlite:
            if "timeout" not in parsed.query:
                args["timeout"] = SQLITE_TIMEOUT
        else:
            if "connect_timeout" not in parsed.query:
                args["connect_timeout"] = CONNECT_TIMEOUT
            if "options" not in parsed.query:
                # A lock held elsewhere must end in an answer, not a pipeline that hangs.
                args["options"] = f"-c lock_timeout={int(SQLITE_TIMEOUT * 1000)}"
        # A small pool, so one command's queries reuse one connection (a PostgreSQL
        # login costs more than the query); Ledger.close disposes of it.
        engine = create_engine(parsed, connect_args=args, pool_size=pool_size, max_overflow=2)
    except (NoSuchModuleError, ImportError) as exc:
        raise LedgerUnusable(
            f"the ledger's database driver is not installed ({_first_line(exc)}): "
            "pip install 'pytest-deployable[ledger]'"
        ) from None
    except (ArgumentError, ValueError) as exc:
        raise LedgerUnusable(Redactor(url.secrets)(
            f"the ledger URL {url.shown} is not valid: {_first_line(exc)}"
        )) from None
    if url.is_sqlite:
        _sqlite_events(engine, write)
    return engine


def _wal(cursor: Any) -> None:
    """Turn the file to WAL mode, waiting for other connections as a write would.

    Changing the journal mode needs the file to itself, and SQLite answers "database
    is locked" at once, without its busy timeout, while another process has it open
    (16 pipelines creating one ledger at the same moment): ask again until the timeout.
    """
    import sqlite3
    import time

    deadline = time.monotonic() + SQLITE_TIMEOUT
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _sqlite_events(engine: Engine, write: bool) -> None:
    # pysqlite's own transaction handling issues BEGIN late and never IMMEDIATE;
    # SQLAlchemy's documented recipe hands BEGIN to us instead.
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys = ON")
            if write:
                _wal(cursor)
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get("ledger_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection in a write transaction, committed at the end, rolled back on error."""
    with engine.connect() as connection:
        connection = connection.execution_options(ledger_write=True)
        with connection.begin():
            yield connection


def revision(connection: Connection, url: LedgerURL) -> str | None:
    """The ledger's schema revision; None for an empty database; LedgerError if not a ledger."""
    inspector = inspect(connection)
    # Ledger tables first, the version table second: another process's first migration
    # commits both at once, and a reader outside the schema lock that asked in the other
    # order could see the version table missing, then the ledger tables present.
    has_ledger_tables = inspector.has_table("ledger_verdicts")
    if not inspector.has_table(VERSION_TABLE):
        if has_ledger_tables:
            raise LedgerError(f"the ledger {url.shown} has ledger tables but no schema version "
                              "table: not written by pytest-deployable, or damaged")
        return None
    found = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    if len(found) != 1:
        raise LedgerError(f"the ledger {url.shown}: its schema version table holds "
                          f"{len(found)} rows, not 1: damaged")
    return str(found[0])


def check_revision(found: str | None, url: LedgerURL) -> None:
    """LedgerError unless ``found`` is this package's schema."""
    if found == HEAD:
        return
    if found in REVISIONS:
        raise LedgerError(
            f"the ledger {url.shown} is at schema {found}, older than this pytest-deployable's "
            f"{HEAD}: run `deployable ledger upgrade` (with the same --ledger)"
        )
    raise LedgerError(
        f"the ledger {url.shown} is at schema {str(found)[:40]!r}, which this pytest-deployable "
        f"does not know (it reads {HEAD}): upgrade pytest-deployable"
    )


def upgrade(engine: Engine, url: LedgerURL, *, only_if_empty: bool = False) -> tuple[str | None,
                                                                                      str]:
    """Bring the schema to HEAD under the ledger's lock; the revisions before and after.

    With ``only_if_empty`` an existing ledger is left as it is (first use).
    """
    from alembic import command
    from alembic.config import Config

    with write_transaction(engine) as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                               {"key": _SCHEMA_LOCK})
        before = revision(connection, url)
        if before is not None and (only_if_empty or before == HEAD):
            return before, before
        if before is not None and before not in REVISIONS:
            check_revision(before, url)
        config = Config()
        config.set_main_option("script_location", _MIGRATIONS)
        config.attributes["connection"] = connection
        command.upgrade(config, HEAD)
        return before, HEAD


@contextmanager
def guard(url: LedgerURL) -> Iterator[None]:
    """Turn any database error inside the block into :class:`LedgerError` (one line)."""
    try:
        yield
    except (SQLAlchemyError, OSError) as exc:
        raise LedgerError(describe(exc, url)) from None
