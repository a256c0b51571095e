"""Helpers for the database tests.

pytester's in-process runs drop the modules a run imported once it ends; the plugin
imports SQLAlchemy, its dialects and Alembic lazily, so a second in-process run would
mix two copies of them. Importing them here, before any run, keeps one.
"""

from __future__ import annotations

import contextlib
import importlib

PRELOAD = (
    "sqlalchemy", "sqlalchemy.exc", "sqlalchemy.pool", "sqlalchemy.engine",
    "sqlalchemy.dialects.sqlite.pysqlite", "sqlalchemy.dialects.postgresql.psycopg",
    "psycopg", "alembic.config", "alembic.script", "alembic.command",
    "pytest_deployable.database", "pytest_deployable.schema_history",
)

for _name in PRELOAD:
    # A missing one is reported by the tests themselves (conftest.require: skip, or fail in CI).
    with contextlib.suppress(ImportError):
        importlib.import_module(_name)
