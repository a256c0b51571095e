"""Deployments: what was deployed where and when, and which deployment fixed which.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_deployments",
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("target", sa.String(500), nullable=False),
        sa.Column("version", sa.String(500), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("commit", sa.String(200)),
        sa.Column("commit_time", sa.DateTime),
        sa.Column("deployed_at", sa.DateTime, nullable=False),
        sa.Column("recorded_at", sa.DateTime, nullable=False),
        sa.Column("remediates", sa.String(200), sa.ForeignKey("ledger_deployments.id")),
    )
    op.create_index("ix_ledger_deployments_target_time", "ledger_deployments",
                    ["target", "deployed_at"])


def downgrade() -> None:
    op.drop_table("ledger_deployments")
