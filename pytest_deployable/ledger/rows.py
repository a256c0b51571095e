"""What the ledger hands back: plain frozen rows, free of any database code."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..attestation import format_time

__all__ = ["DEPLOYMENT_STATUSES", "DeploymentRow", "NewDeployment", "VerdictRow"]

DEPLOYMENT_STATUSES = ("succeeded", "failed")


@dataclass(frozen=True)
class VerdictRow:
    """A recorded verdict: the facts queries need, and the document when it was asked for."""

    id: int
    statement_sha256: str
    target: str
    version: str | None
    subject_name: str
    subject_digest: str
    verdict: str
    complete: bool
    signed: bool
    keyids: tuple[str, ...]
    reasons: tuple[str, ...]
    started_on: datetime
    finished_on: datetime
    recorded_at: datetime
    document: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form ``--format json`` prints."""
        return {
            "kind": "verdict", "id": self.id, "digest": f"sha256:{self.statement_sha256}",
            "target": self.target, "version": self.version, "subject": self.subject_name,
            "subjectDigest": self.subject_digest, "verdict": self.verdict,
            "complete": self.complete, "signed": self.signed, "keyids": list(self.keyids),
            "reasons": list(self.reasons), "startedOn": format_time(self.started_on),
            "finishedOn": format_time(self.finished_on),
            "recordedAt": format_time(self.recorded_at),
        }


@dataclass(frozen=True)
class NewDeployment:
    """A deployment to record, as ``record-deployment`` was told it."""

    target: str
    version: str
    status: str
    deployed_at: datetime
    commit: str | None = None
    commit_time: datetime | None = None
    remediates: str | None = None
    key: str | None = None
    """``--id``: the caller's idempotency key, which becomes the deployment's id."""


@dataclass(frozen=True)
class DeploymentRow:
    """A recorded deployment."""

    id: str
    target: str
    version: str
    status: str
    commit: str | None
    commit_time: datetime | None
    deployed_at: datetime
    recorded_at: datetime
    remediates: str | None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form ``--format json`` prints."""
        return {
            "kind": "deployment", "id": self.id, "target": self.target,
            "version": self.version, "status": self.status, "commit": self.commit,
            "commitTime": format_time(self.commit_time) if self.commit_time else None,
            "deployedAt": format_time(self.deployed_at),
            "recordedAt": format_time(self.recorded_at), "remediates": self.remediates,
        }
