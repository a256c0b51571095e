"""Which ledger a command uses, and its URL in the forms people paste.

The ledger is a SQLAlchemy URL, chosen in this order: ``--ledger`` (or
``--deploy-ledger=URL``), ``DEPLOYABLE_LEDGER``, ``[ledger] url`` in the targets
file, else ``deploy-ledger.db`` beside the targets file (or in the current
directory when there is none). This module only reads strings: it imports no
database code, so a run that never touches the ledger pays nothing for it.

A URL may carry a password, and a URL from the environment or from ``${VAR}`` in
the targets file is a secret as a whole: :attr:`LedgerURL.shown` is the form that
messages print, and :attr:`LedgerURL.secrets` feeds :class:`~pytest_deployable.redact.Redactor`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = ["DEFAULT_FILE_NAME", "ENV_VAR", "LedgerURL", "LedgerUsageError", "parse_url",
           "resolve"]

ENV_VAR = "DEPLOYABLE_LEDGER"
DEFAULT_FILE_NAME = "deploy-ledger.db"

#: The schemes users paste, and the SQLAlchemy driver each one means here.
#: ``postgres://`` is what Heroku and many platforms put in DATABASE_URL;
#: SQLAlchemy refuses it, so it is taken as ``postgresql://``. A bare
#: ``postgresql://`` means psycopg 3 (the ``ledger`` extra), as SQLAlchemy 2.1
#: does, also on SQLAlchemy 2.0 whose default would be psycopg2.
_SCHEMES = {
    "sqlite": "sqlite",
    "sqlite+pysqlite": "sqlite+pysqlite",
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "postgresql+psycopg": "postgresql+psycopg",
    "postgresql+psycopg2": "postgresql+psycopg2",
}
_FORMS = "sqlite:///PATH, postgresql://USER:PASSWORD@HOST/DATABASE"


class LedgerUsageError(Exception):
    """A ledger URL that is not one; its message is one line naming where it came from."""


@dataclass(frozen=True)
class LedgerURL:
    """A ledger's SQLAlchemy URL, with the form a message may show and the secrets it holds."""

    url: str
    """The URL SQLAlchemy connects to (driver made explicit)."""
    shown: str
    """The URL with its password (or, when it is a secret as a whole, all of it) hidden."""
    secrets: frozenset[str]
    """Strings that must never be printed: the password, and the URL when it is a secret."""
    sqlite_path: Path | None = None
    """The database file, for SQLite; None for a server."""

    @property
    def is_sqlite(self) -> bool:
        """Whether the ledger is a SQLite file (else a PostgreSQL server)."""
        return self.sqlite_path is not None


def _hidden(url: str, password: str | None) -> str:
    """``url`` with the password in its user part replaced by ``***``."""
    if password is None:
        return url
    scheme, _, rest = url.partition("://")
    userinfo, _, host = rest.partition("/")[0].rpartition("@")
    user = userinfo.partition(":")[0]
    return f"{scheme}://{user}:***@{host}" + rest[len(userinfo) + 1 + len(host):]


def parse_url(text: str, where: str, *, base: Path, secret: bool = False) -> LedgerURL:
    """Check ``text`` as a ledger URL; ``where`` names its source in errors.

    A relative SQLite path is taken relative to ``base``. ``secret`` says that the
    whole value came from the environment.
    """
    value = text.strip()
    scheme, sep, rest = value.partition("://")
    if not sep:
        shown = "***" if secret else repr(value)
        raise LedgerUsageError(
            f"{where}: {shown} is not a ledger URL; use {_FORMS} "
            "(to record into the default ledger, give --deploy-ledger without a value, "
            "after the test paths)"
        )
    driver = _SCHEMES.get(scheme.lower())
    if driver is None:
        raise LedgerUsageError(
            f"{where}: the scheme {scheme!r} is not supported; the ledger is SQLite or "
            f"PostgreSQL: {_FORMS}"
        )
    if driver.startswith("sqlite"):
        path_part, _, query = rest.partition("?")
        if not path_part.startswith("/") or path_part in ("/", "/:memory:"):
            raise LedgerUsageError(
                f"{where}: {value!r} names no file; an in-memory ledger forgets everything: "
                "use sqlite:///relative/path.db or sqlite:////absolute/path.db"
            )
        options = parse_qs(query, keep_blank_values=True)
        unknown = sorted(set(options) - {"timeout", "mode", "uri"})
        uri = options.get("uri") == ["true"]
        if unknown or ("mode" in options and not uri):
            raise LedgerUsageError(
                f"{where}: {value!r}: SQLite ledger URLs take ?timeout=SECONDS, and "
                "?mode=ro&uri=true with a file: path (sqlite:///file:PATH?mode=ro&uri=true)"
                + (f"; unknown: {', '.join(unknown)}" if unknown else "")
            )
        prefix = "file:" if uri else ""
        if uri and not path_part.startswith("/file:"):
            raise LedgerUsageError(f"{where}: {value!r}: with uri=true the path starts with "
                                   "file:, as in sqlite:///file:PATH?mode=ro&uri=true")
        path = Path(unquote(path_part[1 + len(prefix):]))
        if not path.is_absolute():
            path = base / path
        url = f"{driver}:///{prefix}{path}" + (f"?{query}" if query else "")
        # A file path holds no password: it is shown, so that a message says which file.
        return LedgerURL(url, url, frozenset(), path)
    parts = urlsplit(f"{driver}://{rest}")
    if not parts.hostname and "host=" not in parts.query:
        raise LedgerUsageError(
            f"{where}: {_hidden(value, parts.password)!r} names no host: use {_FORMS}"
        )
    url = f"{driver}://{rest}"
    secrets = {unquote(parts.password)} if parts.password else set()
    if secret:
        secrets.add(value)
    shown = _hidden(url, parts.password)
    return LedgerURL(url, shown, frozenset(secrets))


def resolve(
    option: str | None,
    *,
    environ: Mapping[str, str] | None = None,
    targets_file: Path | None = None,
    file_url: str | None = None,
    file_secrets: frozenset[str] = frozenset(),
    cwd: Path | None = None,
    option_name: str = "--ledger",
) -> LedgerURL:
    """The ledger to use: the option, then ``DEPLOYABLE_LEDGER``, then the targets file's
    ``[ledger] url`` (already interpolated, with the secrets it took), then the default file."""
    env = os.environ if environ is None else environ
    here = cwd or Path.cwd()
    if option:
        return parse_url(option, option_name, base=here)
    if env.get(ENV_VAR):
        return parse_url(env[ENV_VAR], ENV_VAR, base=here, secret=True)
    if file_url is not None and targets_file is not None:
        found = parse_url(file_url, f"{targets_file}: ledger.url", base=targets_file.parent,
                          secret=bool(file_secrets))
        return LedgerURL(found.url, found.shown, found.secrets | file_secrets, found.sqlite_path)
    base = targets_file.parent if targets_file is not None else here
    path = base / DEFAULT_FILE_NAME
    return LedgerURL(f"sqlite:///{path}", f"sqlite:///{path}", frozenset(), path)
