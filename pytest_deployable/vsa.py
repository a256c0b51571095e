"""The gate's decision as a SLSA Verification Summary Attestation v1.

A later stage (or another tool) that trusts the gate's key can act on the VSA
without re-running the gate: which artifact, which verdict file, which policy,
PASSED or FAILED. Field list: https://slsa.dev/spec/v1.0/verification_summary.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from .attestation import STATEMENT_TYPE, format_time

__all__ = ["VERIFIER_ID", "VSA_PREDICATE_TYPE", "vsa_statement"]

VSA_PREDICATE_TYPE = "https://slsa.dev/verification_summary/v1"
#: Who verified: this tool. The VSA's signature says which installation.
VERIFIER_ID = "https://pypi.org/project/pytest-deployable/"


def _version() -> str:
    try:
        return metadata.version("pytest-deployable")
    except metadata.PackageNotFoundError:
        return "unknown"


def _file_digest(path: Path) -> dict[str, str] | None:
    try:
        return {"sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
    except OSError:
        return None


def _descriptor(path: Path) -> dict[str, Any]:
    """A ResourceDescriptor for a local file: its path as given, and its sha256."""
    digest = _file_digest(path)
    return {"uri": path.as_posix(), **({"digest": digest} if digest else {})}


def vsa_statement(
    *,
    passed: bool,
    verdict: str | None,
    statement: dict[str, Any] | None,
    verdict_file: Path,
    policy_file: Path | None,
    subject_sha256: str | None,
    now: datetime,
    extra: dict[str, Any],
) -> dict[str, Any]:
    """The VSA statement for one decision of the gate.

    Its subjects are the verdict's subjects with a digest (or, when the verdict
    could not be read, the ``--subject`` digest, else the verdict file itself);
    ``resourceUri`` names the artifact as ``NAME@ALG:DIGEST``.
    """
    subjects: list[dict[str, Any]] = []
    if statement is not None:
        subjects = [{"name": s["name"], "digest": dict(s["digest"])}
                    for s in statement["subject"] if s.get("digest")]
        if subject_sha256 is not None:
            # The artifact the gate was asked about comes first.
            subjects.sort(key=lambda s: s["digest"].get("sha256") != subject_sha256)
    if not subjects and subject_sha256 is not None:
        subjects = [{"name": "artifact", "digest": {"sha256": subject_sha256}}]
    if not subjects:
        subjects = [{"name": verdict_file.name, "digest": _file_digest(verdict_file) or {}}]
    first = subjects[0]
    algorithm, value = next(iter(first["digest"].items()), ("sha256", ""))
    policy: dict[str, Any] = (_descriptor(policy_file) if policy_file is not None
                              else {"uri": "pytest-deployable:gate-rules"})
    return {
        "_type": STATEMENT_TYPE,
        "subject": subjects,
        "predicateType": VSA_PREDICATE_TYPE,
        "predicate": {
            "verifier": {"id": VERIFIER_ID, "version": {"pytest-deployable": _version()}},
            "timeVerified": format_time(now),
            "resourceUri": f"{first['name']}@{algorithm}:{value}",
            "policy": policy,
            "inputAttestations": [_descriptor(verdict_file)],
            "verificationResult": "PASSED" if passed else "FAILED",
            # Custom levels may not start with SLSA_; FAILED is the spec's own value.
            "verifiedLevels": [verdict] if passed and verdict else ["FAILED"],
            "deployable": extra,
        },
    }
