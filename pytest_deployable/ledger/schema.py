"""The ledger's tables, as SQLAlchemy Core sees them at the newest migration.

One row per verdict with the facts queries need in columns of their own (so the
report, the metrics and ``can-i-deploy`` never parse a document), one row per
check of a verdict, one row per deployment. Times are UTC, stored without a zone
so that SQLite and PostgreSQL hold the same values; :func:`utc` puts it back.
The tables' names start with ``ledger_`` so that the ledger can share a database
with an application. The migrations in ``migrations/versions`` build exactly this.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

__all__ = ["HEAD", "VERSION_TABLE", "checks", "deployments", "metadata", "naive", "utc",
           "verdicts"]

#: The newest migration; a ledger at another revision is refused until upgraded.
HEAD = "0002"
#: Alembic's version table, named so it never meets an application's own ``alembic_version``.
VERSION_TABLE = "deployable_ledger_version"

metadata = MetaData()

verdicts = Table(
    "ledger_verdicts", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("statement_sha256", String(64), nullable=False, unique=True),
    Column("target", String(500), nullable=False),
    Column("version", String(500)),
    Column("subject_name", Text, nullable=False),
    Column("subject_digest", Text, nullable=False),
    Column("verdict", String(32), nullable=False),
    Column("complete", Boolean, nullable=False),
    Column("signed", Boolean, nullable=False),
    Column("keyids", Text, nullable=False),  # a JSON array of strings
    Column("reasons", Text, nullable=False),  # a JSON array of strings
    Column("started_on", DateTime, nullable=False),
    Column("finished_on", DateTime, nullable=False),
    Column("recorded_at", DateTime, nullable=False),
    Column("document", Text, nullable=False),
    Index("ix_ledger_verdicts_promotion", "target", "version", "finished_on"),
    Index("ix_ledger_verdicts_finished_on", "finished_on"),
)

checks = Table(
    "ledger_checks", metadata,
    Column("verdict_id", Integer, ForeignKey("ledger_verdicts.id", ondelete="CASCADE"),
           primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("check_id", Text, nullable=False),
    Column("category", String(100), nullable=False),
    Column("blocking", Boolean, nullable=False),
    Column("outcome", String(32), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("reruns", Integer, nullable=False),
    Column("waited_ms", Integer, nullable=False),  # the sum of the check's waits
    Column("duration_ms", Integer),
    Column("host", Text),
    Column("message", Text),
)

deployments = Table(
    "ledger_deployments", metadata,
    Column("id", String(200), primary_key=True),
    Column("target", String(500), nullable=False),
    Column("version", String(500), nullable=False),
    Column("status", String(16), nullable=False),
    Column("commit", String(200)),
    Column("commit_time", DateTime),
    Column("deployed_at", DateTime, nullable=False),
    Column("recorded_at", DateTime, nullable=False),
    Column("remediates", String(200), ForeignKey("ledger_deployments.id")),
    Index("ix_ledger_deployments_target_time", "target", "deployed_at"),
)


def naive(moment: datetime) -> datetime:
    """An aware time as the naive UTC value the ledger stores."""
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


def utc(moment: datetime) -> datetime:
    """A stored naive UTC value as an aware time."""
    return moment.replace(tzinfo=timezone.utc)
