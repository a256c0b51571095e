"""Alembic's entry point for the ledger's migrations: always on a connection it is given.

:func:`pytest_deployable.ledger.store.Ledger.upgrade` passes the connection (inside
its transaction, holding the ledger's lock) in ``config.attributes["connection"]``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from pytest_deployable.ledger.schema import VERSION_TABLE

connection = context.config.attributes["connection"]
assert isinstance(connection, Connection)
context.configure(
    connection=connection,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
    transactional_ddl=True,
)
with context.begin_transaction():
    context.run_migrations()
