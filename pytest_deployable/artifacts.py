"""The run's files, in the order SPEC §10 asks: a placeholder first, the verdict last.

A run that executes checks first replaces any verdict file with an INCONCLUSIVE
placeholder, so that a crash, ``os._exit`` or another plugin's failing hook can
never leave an older verdict in place. At the end the reports (JUnit, Markdown,
the CI step summary) are written before the verdict file, and a report that
cannot be written makes the verdict INCONCLUSIVE: a pipeline that reads the
verdict must not proceed on a run whose evidence is incomplete.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .attestation import dump, write_atomic
from .verdict import Amendment, Decision, Verdict

__all__ = [
    "PLACEHOLDER_REASON",
    "Reports",
    "Written",
    "executes_checks",
    "placeholder",
    "write_final",
]

#: The reason the placeholder gives; the gate shows it as INCONCLUSIVE.
PLACEHOLDER_REASON = (
    "the run started and has not finished (or ended without writing its verdict: "
    "a crash, os._exit, or a failing hook)"
)

#: Options under which pytest runs no check at all, so no verdict is written.
_NO_CHECKS = ("collectonly", "showfixtures", "show_fixtures_per_test", "setuponly", "setupplan")


def executes_checks(config: pytest.Config) -> bool:
    """Whether this run executes checks (not ``--collect-only``, ``--fixtures``, ...)."""
    return not any(getattr(config.option, name, False) for name in _NO_CHECKS)


def placeholder() -> Verdict:
    """The INCONCLUSIVE verdict that stands until the run writes its own."""
    return Verdict(Decision.INCONCLUSIVE, (PLACEHOLDER_REASON,), ())


@dataclass(frozen=True)
class Reports:
    """Where the optional reports go: paths already joined to the invocation directory."""

    junit: Path | None = None
    summary: Path | None = None
    step_summary: Path | None = None
    """``$GITHUB_STEP_SUMMARY``: appended to, not replaced."""

    @classmethod
    def of(cls, config: pytest.Config) -> Reports:
        base = config.invocation_params.dir
        junit = config.option.deployable_junit
        summary = config.option.deployable_summary
        step = os.environ.get("GITHUB_STEP_SUMMARY")
        return cls(
            junit=base / junit if junit else None,
            summary=base / summary if summary else None,
            step_summary=Path(step) if step else None,
        )


def _replaced(reports: Reports, statement: dict[str, Any]) -> list[str]:
    """Write the reports that are replaced whole; one line per report that failed."""
    errors: list[str] = []
    if reports.junit is not None:
        from .junit import junit_xml

        errors.extend(_attempt(reports.junit, lambda: junit_xml(statement)))
    if reports.summary is not None:
        from .summary import render_markdown

        errors.extend(_attempt(reports.summary, lambda: render_markdown(statement)))
    return errors


def _attempt(path: Path, render: Callable[[], str]) -> list[str]:
    try:
        write_atomic(path, render())
    except OSError as exc:
        return [f"cannot write {path}: {exc.strerror or exc}"]
    return []


def _append_step_summary(path: Path, statement: dict[str, Any]) -> list[str]:
    from .summary import render_markdown

    try:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(render_markdown(statement) + "\n")
    except OSError as exc:
        return [f"cannot write {exc.filename or path}: {exc.strerror or exc}"]
    return []


@dataclass(frozen=True)
class Written:
    """What :func:`write_final` wrote: the final verdict, its statement, and any errors."""

    verdict: Verdict
    statement: dict[str, Any]
    errors: tuple[str, ...]
    verdict_written: bool


def write_final(
    verdict: Verdict,
    build: Callable[[Verdict], dict[str, Any]],
    reports: Reports,
    verdict_path: Path,
    text: Callable[[dict[str, Any]], str] = dump,
) -> Written:
    """Write the reports, then the verdict file; say what was written and what failed.

    ``build`` turns a verdict into its statement (see
    :func:`~pytest_deployable.attestation.to_statement`). A report that cannot be
    written amends the verdict to INCONCLUSIVE, and the reports already written
    are written again so that none of them shows a better verdict than the file.
    The verdict file itself is the last write; ``text`` turns the statement into
    the file's text (the statement itself, or a signed envelope around it).
    """
    statement = build(verdict)
    errors = _replaced(reports, statement)
    if reports.step_summary is not None and not errors:
        errors.extend(_append_step_summary(reports.step_summary, statement))
    if errors:
        for error in errors:
            verdict = verdict.amended(Amendment(error, Decision.INCONCLUSIVE))
        statement = build(verdict)
        _replaced(reports, statement)
    try:
        write_atomic(verdict_path, text(statement))
    except OSError as exc:
        errors.append(f"cannot write {exc.filename or verdict_path}: {exc.strerror or exc}")
        return Written(verdict, statement, tuple(errors), verdict_written=False)
    return Written(verdict, statement, tuple(errors), verdict_written=True)

