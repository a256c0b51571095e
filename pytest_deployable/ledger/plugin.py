"""``pytest --deploy-ledger``: record the run's verdict in the ledger once the file is written.

Registered only when the option is given, so a run without it imports no
database code. The verdict file is read back and recorded as it was written
(statement or envelope), so the ledger holds exactly what ``deployable gate``
reads. If recording fails, the run exits with the INCONCLUSIVE code and one
line says why: a pipeline must not go on believing the verdict was remembered.
"""

from __future__ import annotations

import os
from collections.abc import Generator
from pathlib import Path

import pytest

from ..redact import Redactor
from ..run import EXIT_INCONCLUSIVE
from ..state import STATE
from ..targets import Target, TargetError, ledger_url, load_targets_file
from ..verdict import Amendment, Decision
from .urls import LedgerURL, LedgerUsageError, resolve

__all__ = ["LedgerRecording", "register_recording"]


def _url(config: pytest.Config, target: Target) -> LedgerURL:
    option = config.option.deployable_ledger or None
    targets_file = Path(target.source) if target.source else None
    found = None
    if targets_file is not None and not option and not os.environ.get("DEPLOYABLE_LEDGER"):
        found = ledger_url(load_targets_file(targets_file))
    return resolve(option, targets_file=targets_file, cwd=config.invocation_params.dir,
                   file_url=found[0] if found else None,
                   file_secrets=found[1] if found else frozenset(),
                   option_name="--deploy-ledger")


def register_recording(config: pytest.Config, target: Target) -> None:
    """Check the ledger URL now (a usage error before any check runs) and record at the end."""
    try:
        url = _url(config, target)
    except (TargetError, LedgerUsageError) as exc:
        raise pytest.UsageError(str(exc)) from None
    config.pluginmanager.register(LedgerRecording(config, url), "deployable-ledger")


class LedgerRecording:
    """Records the verdict file after every other part of the session finished writing it."""

    def __init__(self, config: pytest.Config, url: LedgerURL) -> None:
        self.config = config
        self.url = url

    @pytest.hookimpl(wrapper=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> Generator[None, None, None]:
        result = yield
        state = self.config.stash[STATE]
        if not state.verdict_written or state.verdict_path is None:
            return result  # nothing to record; the run is INCONCLUSIVE already
        line, failed = self._record(state.verdict_path)
        redact = Redactor((*state.target.secrets, *self.url.secrets)) if state.target else \
            Redactor(self.url.secrets)
        if failed:
            # The file must not keep a verdict the exit code contradicts (SPEC §6, §10): a
            # pipeline that gates the file alone would promote a run the ledger never kept.
            run = self.config.pluginmanager.get_plugin("deployable-gate")
            if run is not None:
                run.amend_written(session, Amendment(redact(line.removeprefix("ERROR: ")),
                                                     Decision.INCONCLUSIVE))
            session.exitstatus = EXIT_INCONCLUSIVE
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(redact(line), red=failed, bold=failed)
        return result

    def _record(self, path: Path) -> tuple[str, bool]:
        from ..gate import VerdictFileError
        from .connection import LedgerError
        from .documents import read_document

        try:
            from .store import Ledger
        except ImportError as exc:
            return (f"ERROR: the verdict was not recorded: the ledger needs the ledger extra "
                    f"({exc.name} is missing): pip install 'pytest-deployable[ledger]'", True)
        try:
            document = read_document(path.read_bytes())
            ledger = Ledger.open(self.url, write=True)
            try:
                [(verdict_id, new)] = ledger.record([document])
            finally:
                ledger.close()
        except (VerdictFileError, LedgerError, OSError) as exc:
            return (f"ERROR: the verdict was not recorded in the ledger, so the run is "
                    f"INCONCLUSIVE: {exc}", True)
        known = "" if new else ", already known"
        return f"ledger: recorded as verdict #{verdict_id} in {self.url.shown}{known}", False
