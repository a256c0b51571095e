"""The first ledger: verdicts and their checks.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_verdicts",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("statement_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("target", sa.String(500), nullable=False),
        sa.Column("version", sa.String(500)),
        sa.Column("subject_name", sa.Text, nullable=False),
        sa.Column("subject_digest", sa.Text, nullable=False),
        sa.Column("verdict", sa.String(32), nullable=False),
        sa.Column("complete", sa.Boolean, nullable=False),
        sa.Column("signed", sa.Boolean, nullable=False),
        sa.Column("keyids", sa.Text, nullable=False),
        sa.Column("reasons", sa.Text, nullable=False),
        sa.Column("started_on", sa.DateTime, nullable=False),
        sa.Column("finished_on", sa.DateTime, nullable=False),
        sa.Column("recorded_at", sa.DateTime, nullable=False),
        sa.Column("document", sa.Text, nullable=False),
    )
    op.create_index("ix_ledger_verdicts_promotion", "ledger_verdicts",
                    ["target", "version", "finished_on"])
    op.create_index("ix_ledger_verdicts_finished_on", "ledger_verdicts", ["finished_on"])
    op.create_table(
        "ledger_checks",
        sa.Column("verdict_id", sa.Integer,
                  sa.ForeignKey("ledger_verdicts.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("check_id", sa.Text, nullable=False),
        sa.Column("category", sa.String(100), nullable=False),
        sa.Column("blocking", sa.Boolean, nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("reruns", sa.Integer, nullable=False),
        sa.Column("waited_ms", sa.Integer, nullable=False),
        sa.Column("duration_ms", sa.Integer),
        sa.Column("host", sa.Text),
        sa.Column("message", sa.Text),
    )


def downgrade() -> None:
    op.drop_table("ledger_checks")
    op.drop_table("ledger_verdicts")
