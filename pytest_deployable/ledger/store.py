"""The ledger: record verdicts and deployments, and answer the questions asked of them.

:meth:`Ledger.open` connects and checks the schema; a writer creates an empty
ledger at the current schema on first use, a reader refuses one (there is
nothing to read, and a typo in the URL must not look like "no data yet").
Recording is idempotent: a statement already recorded (by its canonical sha256)
is not stored again, and many processes may record at once (see
:mod:`.connection` for how each database serialises writers).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Engine, Insert, Row, Table, select, update
from sqlalchemy.dialects import postgresql, sqlite

from .connection import (
    LedgerError,
    check_revision,
    connect,
    guard,
    revision,
    upgrade,
    write_transaction,
)
from .documents import Recorded
from .rows import DeploymentRow, NewDeployment, VerdictRow
from .schema import checks, deployments, naive, utc, verdicts
from .urls import LedgerURL

__all__ = ["VERDICT_COLUMNS", "DeploymentConflict", "Ledger", "LedgerError", "deployment_row",
           "verdict_row"]

#: Verdict columns every query reads; the document only when asked for.
VERDICT_COLUMNS = [c for c in verdicts.c if c.name != "document"]


class DeploymentConflict(LedgerError):
    """``--id`` names a different deployment, or ``--remediates`` an unknown one (usage)."""


def verdict_row(row: Row[Any]) -> VerdictRow:
    """A ``ledger_verdicts`` row as a :class:`VerdictRow` (for queries outside the store too)."""
    data = row._mapping
    return VerdictRow(
        id=data["id"], statement_sha256=data["statement_sha256"], target=data["target"],
        version=data["version"], subject_name=data["subject_name"],
        subject_digest=data["subject_digest"], verdict=data["verdict"],
        complete=bool(data["complete"]), signed=bool(data["signed"]),
        keyids=tuple(json.loads(data["keyids"])), reasons=tuple(json.loads(data["reasons"])),
        started_on=utc(data["started_on"]), finished_on=utc(data["finished_on"]),
        recorded_at=utc(data["recorded_at"]), document=data.get("document"),
    )


def deployment_row(row: Row[Any]) -> DeploymentRow:
    """A ``ledger_deployments`` row as a :class:`DeploymentRow`."""
    data = row._mapping
    commit_time = data["commit_time"]
    return DeploymentRow(
        id=data["id"], target=data["target"], version=data["version"], status=data["status"],
        commit=data["commit"], commit_time=utc(commit_time) if commit_time else None,
        deployed_at=utc(data["deployed_at"]), recorded_at=utc(data["recorded_at"]),
        remediates=data["remediates"],
    )


class Ledger:
    """An open ledger. Use :meth:`open`; every method raises only :class:`LedgerError`."""

    def __init__(self, url: LedgerURL, engine: Engine) -> None:
        self.url = url
        self.engine = engine

    @classmethod
    def open(cls, url: LedgerURL, *, write: bool, pool_size: int = 1) -> Ledger:
        """Connect and check the schema; a writer creates an empty ledger at the current one."""
        if url.sqlite_path is not None and not write and not url.sqlite_path.is_file():
            raise LedgerError(
                f"no ledger at {url.sqlite_path}: nothing was recorded there yet (or give "
                "--ledger / DEPLOYABLE_LEDGER)"
            )
        engine = connect(url, write=write, pool_size=pool_size)
        with guard(url):
            with engine.connect() as connection:
                found = revision(connection, url)
            if found is None and write:
                found = upgrade(engine, url, only_if_empty=True)[1]
            if found is None:
                raise LedgerError(
                    f"the ledger {url.shown} is empty: nothing was recorded there yet (or the "
                    "URL names the wrong database)"
                )
            check_revision(found, url)
        return cls(url, engine)

    @classmethod
    def upgrade(cls, url: LedgerURL) -> tuple[str | None, str]:
        """Apply the migrations (``deployable ledger upgrade``); the revisions before and after."""
        engine = connect(url, write=True)
        with guard(url):
            return upgrade(engine, url)

    def close(self) -> None:
        """Release the connection pool."""
        self.engine.dispose()

    def _insert(self, table: Table) -> Insert:
        if self.engine.dialect.name == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)

    # -- writing -------------------------------------------------------------------------------

    def record(self, documents: Sequence[Recorded]) -> list[tuple[int, bool]]:
        """Record verdict documents in one transaction; each one's id and whether it was new.

        A signed envelope of a statement recorded bare before replaces the bare
        document, so that the signature is kept.
        """
        now = naive(datetime.now(timezone.utc))
        insert = self._insert(verdicts)
        statement = insert.on_conflict_do_nothing(  # type: ignore[attr-defined]
            index_elements=["statement_sha256"]
        ).returning(verdicts.c.id)
        results: list[tuple[int, bool]] = []
        with guard(self.url), write_transaction(self.engine) as connection:
            for document in documents:
                row = connection.execute(statement, self._verdict_values(document, now)).first()
                if row is not None:
                    results.append((row.id, True))
                    if document.checks:
                        connection.execute(checks.insert(), [
                            {"verdict_id": row.id, **vars(check)} for check in document.checks
                        ])
                    continue
                known = connection.execute(
                    select(verdicts.c.id, verdicts.c.signed)
                    .where(verdicts.c.statement_sha256 == document.statement_sha256)
                ).one()
                if document.signed and not known.signed:
                    connection.execute(update(verdicts).where(verdicts.c.id == known.id).values(
                        signed=True, keyids=json.dumps(list(document.keyids)),
                        document=document.document,
                    ))
                results.append((known.id, False))
        return results

    @staticmethod
    def _verdict_values(document: Recorded, now: datetime) -> dict[str, Any]:
        return {
            "statement_sha256": document.statement_sha256, "target": document.target,
            "version": document.version, "subject_name": document.subject_name,
            "subject_digest": document.subject_digest, "verdict": document.verdict,
            "complete": document.complete, "signed": document.signed,
            "keyids": json.dumps(list(document.keyids)),
            "reasons": json.dumps(list(document.reasons)),
            "started_on": naive(document.started_on), "finished_on": naive(document.finished_on),
            "recorded_at": now, "document": document.document,
        }

    def record_deployment(self, new: NewDeployment) -> tuple[DeploymentRow, bool]:
        """Record a deployment; the row, and whether it was new (False: ``--id`` seen before)."""
        key = new.key or (
            f"{new.deployed_at.astimezone(timezone.utc):%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"
        )
        values = {
            "id": key, "target": new.target, "version": new.version, "status": new.status,
            "commit": new.commit,
            "commit_time": naive(new.commit_time) if new.commit_time else None,
            "deployed_at": naive(new.deployed_at),
            "recorded_at": naive(datetime.now(timezone.utc)), "remediates": new.remediates,
        }
        statement = self._insert(deployments).on_conflict_do_nothing(  # type: ignore[attr-defined]
            index_elements=["id"]
        ).returning(deployments.c.id)
        with guard(self.url), write_transaction(self.engine) as connection:
            if new.remediates is not None and connection.execute(
                select(deployments.c.id).where(deployments.c.id == new.remediates)
            ).first() is None:
                raise DeploymentConflict(
                    f"--remediates {new.remediates!r}: no deployment with that id in the ledger"
                )
            inserted = connection.execute(statement, values).first()
            row = connection.execute(
                select(deployments).where(deployments.c.id == key)
            ).one()
        found = deployment_row(row)
        if inserted is None:
            same = (found.target, found.version, found.status, found.commit, found.remediates) \
                == (new.target, new.version, new.status, new.commit, new.remediates)
            if not same:
                raise DeploymentConflict(
                    f"--id {key!r} is already the deployment of {found.version!r} to "
                    f"{found.target!r} ({found.status}); an id names one deployment"
                )
        return found, inserted is not None

    # -- reading -------------------------------------------------------------------------------

    def latest_verdicts(self, target: str, version: str, *, subject: str | None = None,
                        with_document: bool = False) -> list[VerdictRow]:
        """The verdicts for ``version`` on ``target`` (of ``subject``, when given) that
        finished last (ties: all of them)."""
        columns = list(verdicts.c) if with_document else VERDICT_COLUMNS
        query = (select(*columns)
                 .where(verdicts.c.target == target, verdicts.c.version == version)
                 .order_by(verdicts.c.finished_on.desc(), verdicts.c.id.desc())
                 .limit(20))
        if subject is not None:
            query = query.where(verdicts.c.subject_name == subject)
        with guard(self.url), self.engine.connect() as connection:
            found = list(connection.execute(query))
        # Only the ties of the first are made into rows: deployable serve asks this of
        # every request, and a version's older runs are most of what the query reads.
        first = found[0].finished_on if found else None
        return [verdict_row(row) for row in found if row.finished_on == first]

    def document(self, verdict_id: int) -> str:
        """The document of a recorded verdict, as it was recorded."""
        with guard(self.url), self.engine.connect() as connection:
            return str(connection.execute(
                select(verdicts.c.document).where(verdicts.c.id == verdict_id)
            ).scalar_one())

    def history(self, *, target: str | None = None, version: str | None = None,
                limit: int = 50) -> list[VerdictRow | DeploymentRow]:
        """Verdicts and deployments, newest first (verdicts by when their run finished)."""
        verdict_query = select(*VERDICT_COLUMNS).order_by(
            verdicts.c.finished_on.desc(), verdicts.c.id.desc()).limit(limit)
        deployment_query = select(deployments).order_by(
            deployments.c.deployed_at.desc(), deployments.c.recorded_at.desc()).limit(limit)
        for column, value in (("target", target), ("version", version)):
            if value is not None:
                verdict_query = verdict_query.where(verdicts.c[column] == value)
                deployment_query = deployment_query.where(deployments.c[column] == value)
        with guard(self.url), self.engine.connect() as connection:
            entries: list[VerdictRow | DeploymentRow] = [
                *(verdict_row(row) for row in connection.execute(verdict_query)),
                *(deployment_row(row) for row in connection.execute(deployment_query)),
            ]
        entries.sort(key=_when, reverse=True)
        return entries[:limit]

    def check_rows(self, verdict_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
        """The checks of some verdicts, by verdict id, in their recorded order."""
        ids = list(verdict_ids)
        found: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
        with guard(self.url), self.engine.connect() as connection:
            for row in connection.execute(select(checks).where(checks.c.verdict_id.in_(ids))
                                          .order_by(checks.c.verdict_id, checks.c.position)):
                found[row.verdict_id].append(dict(row._mapping))
        return found


def _when(entry: VerdictRow | DeploymentRow) -> datetime:
    return entry.finished_on if isinstance(entry, VerdictRow) else entry.deployed_at

