"""Revision a of a script directory with two heads.

Revision ID: a
"""

from __future__ import annotations

from alembic import op

revision = "a"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE TABLE t_a (x INTEGER)")


def downgrade() -> None:
    op.execute("DROP TABLE t_a")
