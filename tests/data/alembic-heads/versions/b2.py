"""Revision b2 of a script directory with two heads.

Revision ID: b2
"""

from __future__ import annotations

from alembic import op

revision = "b2"
down_revision = 'a'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE TABLE t_b2 (x INTEGER)")


def downgrade() -> None:
    op.execute("DROP TABLE t_b2")
