"""The verdict file: an in-toto Statement v1 with the test-result predicate.

Standard consumers read ``predicate.result`` and the test lists; the plugin's
own data lives under the ``deployability`` extension key. The file is written
atomically: a reader sees the previous file or the whole new one, never half.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .redact import Redactor
from .targets import Target
from .verdict import CheckResult, Outcome, Verdict
from .vocabulary import BROKEN, SUMMARY_KEYS

__all__ = [
    "PREDICATE_TYPE",
    "SCHEMA_VERSION",
    "STATEMENT_TYPE",
    "RunInfo",
    "format_time",
    "host_summary",
    "to_statement",
    "write_atomic",
]

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://in-toto.io/attestation/test-result/v0.1"
SCHEMA_VERSION = "1"


@dataclass(frozen=True)
class RunInfo:
    """Provenance of a run: what was tested, where, and when."""

    subject: str
    target: Target
    started_on: datetime
    finished_on: datetime
    version: str | None = None
    commit: str | None = None
    artifacts: tuple[dict[str, Any], ...] = ()
    """More subject entries: the artifacts the verdict is bound to (``--deploy-subject``)."""


def format_time(moment: datetime) -> str:
    """An RFC 3339 UTC timestamp with a ``Z``, as in-toto predicates use."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _subject(info: RunInfo) -> dict[str, Any]:
    if info.commit:
        return {"name": info.subject, "digest": {"gitCommit": info.commit}}
    # in-toto requires a digest; without a commit we can only name what we tested.
    identity = f"{info.subject}@{info.version or 'unknown'}"
    return {
        "name": info.subject,
        "digest": {"sha256": hashlib.sha256(identity.encode()).hexdigest()},
        "annotations": {"digestOf": identity},
    }


def _configuration(target: Target) -> dict[str, Any]:
    annotations = {"deployTarget": target.name}
    if target.source is not None and target.source_sha256 is not None:
        return {
            "name": Path(target.source).name,
            "digest": {"sha256": target.source_sha256},
            "annotations": annotations,
        }
    return {"name": "--deploy-target", "uri": target.base_url or target.name,
            "annotations": annotations}


def _check(check: CheckResult) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": check.id,
        "category": check.category,
        "blocking": check.blocking,
        "outcome": check.outcome.value,
        "attempts": check.attempts,
        "durationMs": check.duration_ms,
        "message": check.message,
        "reruns": check.reruns,
    }
    if check.waits:
        data["waits"] = [
            {"what": what, "attempts": attempts, "waitedMs": ms}
            for what, attempts, ms in check.waits
        ]
    if check.host is not None:
        data["host"] = check.host
    if check.metrics:
        data["metrics"] = [dict(evaluation) for evaluation in check.metrics]
    if check.inconclusive is not None:
        data["inconclusive"] = check.inconclusive
    if check.evidence is not None:
        data["evidence"] = dict(check.evidence)
    return data


def _soak(verdict: Verdict) -> dict[str, Any]:
    soak = verdict.facts.soak
    if soak is None:
        return {}
    return {
        "soak": {
            "durationS": soak.duration_s,
            "everyS": soak.every_s,
            "failureLimit": soak.failure_limit,
            "failedRounds": soak.failures,
            "finished": soak.finished,
            "rounds": [
                {"round": r.number, "startedOn": r.started_on, "passed": r.passed,
                 "failed": list(r.failed), "skipped": list(r.skipped), "warned": list(r.warned),
                 **({"interrupted": True} if r.interrupted else {})}
                for r in soak.rounds
            ],
        }
    }


#: The keys of a per-host entry that count checks, in the order of ``summary``.
HOST_COUNT_KEYS = SUMMARY_KEYS


def host_summary(checks: tuple[CheckResult, ...]) -> list[dict[str, Any]]:
    """One entry per host, in the order hosts first appear among the checks: how its
    checks ended, and which checks failed or errored on it (``failedChecks``)."""
    entries: dict[str, dict[str, Any]] = {}
    for check in checks:
        if check.host is None:
            continue
        entry = entries.get(check.host)
        if entry is None:
            entry = entries[check.host] = {
                "host": check.host, **dict.fromkeys(HOST_COUNT_KEYS.values(), 0),
                "failedChecks": [],
            }
        entry[HOST_COUNT_KEYS[check.outcome]] += 1
        if check.outcome in BROKEN:
            entry["failedChecks"].append(check.check)
    return list(entries.values())


def to_statement(verdict: Verdict, info: RunInfo) -> dict[str, Any]:
    """The verdict as an in-toto Statement, with every secret redacted."""
    redact = Redactor(info.target.secrets)
    warned = {check.id for check in verdict.warned}
    passed = [c.id for c in verdict.checks if c.outcome is Outcome.PASSED and c.id not in warned]
    failed = [
        c.id
        for c in verdict.checks
        if c.blocking and c.outcome in BROKEN
    ]
    summary = {key: verdict.count(outcome) for outcome, key in SUMMARY_KEYS.items()}
    target = info.target
    statement: dict[str, Any] = {
        "_type": STATEMENT_TYPE,
        "subject": [_subject(info), *info.artifacts],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "result": verdict.decision.result,
            "configuration": [_configuration(target)],
            "passedTests": passed,
            "warnedTests": sorted(warned, key=[c.id for c in verdict.checks].index),
            "failedTests": failed,
            "deployability": {
                "schemaVersion": SCHEMA_VERSION,
                "verdict": verdict.decision.value,
                "reasons": list(verdict.reasons),
                "target": {
                    "name": target.name,
                    "uri": target.base_url,
                    "protected": target.protected,
                },
                "version": info.version,
                "startedOn": format_time(info.started_on),
                "finishedOn": format_time(info.finished_on),
                "summary": summary,
                "checks": [_check(check) for check in verdict.checks],
                **_soak(verdict),
            },
        },
    }
    if verdict.facts.selection is not None:
        statement["predicate"]["deployability"]["selection"] = verdict.facts.selection.to_dict()
    hosts = host_summary(verdict.checks)
    if hosts:
        statement["predicate"]["deployability"]["hosts"] = hosts
    if not redact:
        return statement
    redacted: dict[str, Any] = redact.value(statement)
    return redacted


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that a reader sees the old file or the whole new one.

    The text goes to a temporary file in the same directory, is flushed to disk,
    and then renamed over ``path``; on any error the temporary file is removed
    and the old file is left as it was.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


#: Above this many checks the verdict file is compact JSON: indenting goes through
#: the json module's pure-Python encoder, which costs more than the checks' own work
#: in a large suite of fast checks (see bench/overhead.py).
INDENT_UP_TO = 200


def dump(statement: Mapping[str, Any]) -> str:
    """The verdict file's text: JSON with a final newline, indented for smaller runs."""
    checks = statement.get("predicate", {}).get("deployability", {}).get("checks", [])
    indent = 2 if len(checks) <= INDENT_UP_TO else None
    return json.dumps(statement, indent=indent, ensure_ascii=False) + "\n"
