"""Database checks: the shop's items table is readable (only where the target has a database).

The schema itself needs no check of ours: with a ``database`` in the target, the
plugin adds ``deployable::schema``, which holds a release whose migrations have
not run. The ``db`` fixture is a read-only SQLAlchemy connection.
"""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = [pytest.mark.smoke, pytest.mark.only_targets("local-db")]


def test_items_table_is_readable(db: Any) -> None:
    """The items table answers a count (SQLAlchemy is imported only for such targets)."""
    count = db.exec_driver_sql("SELECT count(*) FROM items").scalar()
    assert isinstance(count, int)
