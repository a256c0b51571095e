"""One run against a deploy target: what happened to each check, and the verdict at the end.

:class:`DeployRun` is registered as a plugin only when the run has a target, so a
plain run pays nothing. Its hooks gather facts (reports, interrupts, crashes,
budgets) and hand them to :func:`~pytest_deployable.verdict.decide`; then it
writes the verdict file and the reports. Its per-check hooks are the ones every
such run needs; those only some runs need are in :mod:`.check_hooks`.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Generator
from datetime import datetime, timezone
from typing import Any

import pytest

from .artifacts import Reports, executes_checks, placeholder, write_final
from .attestation import RunInfo, dump, to_statement, write_atomic
from .budget import Budget, BudgetExhausted
from .durations import format_interval
from .fixtures import WAITS
from .markers import MarkerError, classify
from .outputs import protect_log_file, protect_terminal, redact_report
from .provenance import find_commit, find_subject
from .recorder import META_ATTRIBUTE, check_meta, skip_reason
from .selection import Selection
from .signing import subject_entries, subject_name, verdict_text
from .state import EVIDENCE, FACTS, META, SPEC, TRIES, DeployState, is_worker
from .verdict import Amendment, CheckResult, Decision, Outcome, RunFacts, Soak, Verdict, decide
from .vocabulary import BROKEN

__all__ = ["EXIT_INCONCLUSIVE", "DeployRun", "Terminated", "exit_code"]

#: Exit code of ``pytest --deploy-target`` for an INCONCLUSIVE verdict.
EXIT_INCONCLUSIVE = 6


class Terminated(KeyboardInterrupt):
    """SIGTERM, turned into an interrupt so the session ends and the verdict is written."""


class DeployRun:
    """The hooks of a run with a deploy target; registered only then, so plain runs pay nothing."""

    def __init__(self, config: pytest.Config, state: DeployState) -> None:
        self.config = config
        self.state = state
        self.session: pytest.Session | None = None
        self.budget: Budget | None = None
        self.worker = is_worker(config)
        """Whether this process is an xdist worker, asked on every report."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        # Before the terminal reporter prints its header (it runs trylast). Workers
        # too: under -s their checks print straight to the terminal.
        protect_terminal(self.config, self.state.redactor)
        protect_log_file(self.config, self.state.redactor)
        if is_worker(self.config):
            return
        self.session = session
        if self.config.option.deployable_soak and self.config.getoption("dist", "no") != "no":
            raise pytest.UsageError(
                "--deploy-soak runs its rounds in one process; run it without -n/--dist"
            )
        self._start_verdict()
        budget = self.config.option.deployable_budget
        if budget and threading.current_thread() is threading.main_thread():
            self.budget = Budget(budget, self._budget_ran_out)
            self.state.budget_deadline = self.budget.deadline
            self.budget.start()

    def _start_verdict(self) -> None:
        """Replace any verdict file with INCONCLUSIVE before a check runs (SPEC §10)."""
        state = self.state
        if not executes_checks(self.config):
            return
        lf = self.config.pluginmanager.get_plugin("lfplugin")
        # Read before the run: lastfailed changes as checks pass.
        state.last_failed = bool(getattr(lf, "active", False) and getattr(lf, "lastfailed", None))
        rootdir = self.config.rootpath
        state.subject = find_subject(subject_name(self.config), rootdir)
        state.commit = find_commit(self.config.option.deployable_commit, rootdir)
        assert state.verdict_path is not None
        # An unwritable path fails the final write the same way, and that one says so.
        with contextlib.suppress(OSError):
            statement = to_statement(placeholder(), self._info())
            write_atomic(state.verdict_path,
                         verdict_text(self.config, statement, dump(statement)))

    def _info(self) -> RunInfo:
        state = self.state
        assert state.target is not None
        return RunInfo(
            subject=state.subject or "",
            target=state.target,
            started_on=state.started,
            finished_on=datetime.now(timezone.utc),
            version=state.target.version,
            commit=state.commit,
            artifacts=subject_entries(self.config, state.subject or ""),
        )

    def _statement(self, verdict: Verdict, info: RunInfo) -> dict[str, Any]:
        """The verdict's statement, with the contract coverage of this run when it has one."""
        statement = to_statement(verdict, info)
        # Only a run with a contract has the tracker (contract/coverage.py registers it
        # under this name); the contract modules are not imported for the others.
        if not self.config.pluginmanager.has_plugin("deployable-contract-coverage"):
            return statement
        from .contract.coverage import record

        contract = record(self.config)
        if contract is not None:
            statement["predicate"]["deployability"]["contract"] = self.state.redactor.value(
                contract
            )
        return statement

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_collection_modifyitems(
        self, items: list[pytest.Item]
    ) -> Generator[None, object, object]:
        # Around every other plugin's selection: a check that vanished without
        # pytest_deselected being called was still left out of the run.
        before = list(items)
        result = yield
        kept = set(items)
        self.pytest_deselected([item for item in before if item not in kept])
        return result

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        for item in items:
            spec = item.stash.get(SPEC, None)
            if SPEC not in item.stash:
                try:
                    spec = classify(item)
                except MarkerError:
                    spec = None
                    self.state.deselected[item.nodeid] = None  # a check with bad markers
                    continue
            if spec is not None:
                self.state.deselected[item.nodeid] = None

    def _budget_ran_out(self, elapsed: float) -> None:
        budget = format_interval(self.config.option.deployable_budget)
        self.state.budget_exhausted = (
            f"--deploy-budget {budget} ran out after {format_interval(elapsed)}"
        )

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        state = self.state
        state.expected = [item.nodeid for item in session.items]
        sent: dict[str, dict[str, Any]] = {}
        for item in session.items:
            facts = item.stash.get(FACTS, None)
            if facts is not None:
                state.recorder.classify(item.nodeid, facts)
                sent[item.nodeid] = item.stash[META] = facts.to_dict()
        if is_worker(self.config):
            # Sent to the controller when the worker finishes, so that checks
            # that never ran are still classified there, and the deselection
            # (which happens only where collection does) is recorded.
            output = self.config.workeroutput  # type: ignore[attr-defined]
            output["deployable_facts"] = sent
            output["deployable_deselected"] = list(state.deselected)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        # The facts fixed at collection travel with every report (to the xdist
        # controller too), as plain data made once per check at collection's end.
        meta = item.stash.get(META, None)
        if meta is None:
            facts = item.stash.get(FACTS, None)
            if facts is None:
                return report  # not a check
            meta = item.stash[META] = facts.to_dict()
        if report.when == "call":
            # What the call phase adds; most checks have none of it, and then
            # every phase carries the same dict (the recorder reads no "tries"
            # as one try).
            # Asked with ``in``: Stash.get raises and catches a KeyError for each
            # missing key, and most checks have none of the three.
            extra: dict[str, Any] = {}
            stash = item.stash
            if TRIES in stash:
                extra["tries"] = stash[TRIES]
            if WAITS in stash:
                waits = stash[WAITS]
                if waits:
                    extra["waits"] = [
                        [waited.what, waited.attempts, round(waited.elapsed * 1000)]
                        for waited in waits
                    ]
            if EVIDENCE in stash:
                evidence = stash[EVIDENCE]
                if evidence is not None:
                    extra["evidence"] = evidence
            if extra:
                meta = {**meta, **extra}
        setattr(report, META_ATTRIBUTE, meta)
        redact_report(report, self.state.redactor)
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # In the xdist controller, the workers' reports arrive here.
        if self.worker:
            return
        self.state.recorder.add(report)
        if not report.failed or not self.config.option.deployable_fail_fast:
            return
        meta = check_meta(report)
        if self.state.stopped is None and (meta is None or meta.get("blocking", True)):
            self._stop(f"stopped at the first blocking failure (--deploy-fail-fast): "
                       f"{report.nodeid}")

    def _stop(self, reason: str) -> None:
        self.state.stopped = reason
        dsession = self.config.pluginmanager.get_plugin("dsession")
        if dsession is not None:  # pytest-xdist's controller stops its workers
            dsession.shouldstop = reason
        elif self.session is not None:
            self.session.shouldfail = reason

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.state.collection_errors += 1
        elif report.skipped and report.nodeid:
            # importorskip or skip(allow_module_level=True): whatever checks the
            # module holds were never seen, so they count as skipped blocking checks.
            self.state.skipped_modules.setdefault(report.nodeid, skip_reason(report))

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        value = excinfo.value
        if isinstance(value, BudgetExhausted) or self.state.budget_exhausted:
            return  # recorded as the budget running out, not as an interrupt
        if type(value).__name__ == "Interrupted" and "keyboard" not in str(value).lower():
            # pytest or pytest-xdist stopping on purpose: collection errors (counted
            # already), our own fail-fast, or -x/--maxfail.
            if self.state.stopped is None and not self.state.collection_errors:
                self.state.interrupted = f"pytest stopped it: {value}"
            return
        if isinstance(value, Terminated):
            self.state.interrupted = "received SIGTERM"
        elif isinstance(excinfo.value, KeyboardInterrupt):
            self.state.interrupted = "KeyboardInterrupt (Ctrl-C)"
        else:
            self.state.interrupted = f"pytest.exit: {excinfo.value}"

    def pytest_internalerror(self, excrepr: object) -> None:
        lines = str(excrepr).strip().splitlines()
        self.state.internal_error = lines[-1] if lines else "unknown"

    @pytest.hookimpl(wrapper=True)
    def pytest_runtestloop(self, session: pytest.Session) -> Generator[None, object, object]:
        result = yield
        duration = self.config.option.deployable_soak
        if duration and not is_worker(self.config) and self._first_pass_clean(session):
            items = [
                (item, facts.blocking)
                for item in session.items
                if (facts := item.stash.get(FACTS, None)) is not None
                and facts.category == "post_deploy"
                and facts.status is None
            ]
            from .soak import run_soak  # only runs given --deploy-soak import it

            reporter = self.config.pluginmanager.get_plugin("terminalreporter")
            self.state.soak = run_soak(
                items,
                duration=duration,
                every=self.config.option.deployable_soak_every,
                failure_limit=self.config.option.deployable_soak_failure_limit,
                say=reporter.write_line if reporter is not None else lambda text: None,
                record=self._record_soak,
            )
        return result

    def _record_soak(self, soak: Soak) -> None:
        # Kept as it grows, so an interrupt during the soak keeps the rounds seen.
        self.state.soak = soak

    def _first_pass_clean(self, session: pytest.Session) -> bool:
        checks = self.state.recorder.results(self.state.expected)
        return not session.shouldfail and not any(
            check.blocking and check.outcome in BROKEN for check in checks
        )

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_sessionfinish(
        self, session: pytest.Session, exitstatus: int
    ) -> Generator[None, object, object]:
        # A wrapper, innermost: its second half runs after every other plugin's
        # sessionfinish (pytest's --junitxml included), so the verdict is the last
        # file written, and it runs even when one of them raised.
        try:
            return (yield)
        except BaseException as exc:
            if not is_worker(self.config):
                self.state.internal_error = (
                    f"another plugin's pytest_sessionfinish failed: {type(exc).__name__}: {exc}"
                )
            raise
        finally:
            self._finish(session, exitstatus)

    def _finish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.budget is not None:
            self.budget.cancel()
        if is_worker(self.config) or not executes_checks(self.config):
            return
        state = self.state
        if state.subject is None:
            return  # a usage error before the run began: no verdict at all
        if state.usage_error is not None:
            state.internal_error = f"usage error: {state.usage_error}"
        elif exitstatus == pytest.ExitCode.USAGE_ERROR:
            state.internal_error = state.internal_error or "the run stopped on a usage error"
        if exitstatus == pytest.ExitCode.INTERRUPTED and not (
            state.interrupted or state.collection_errors or state.stopped
            or state.budget_exhausted
        ):
            state.interrupted = "pytest stopped the session"
        if exitstatus == pytest.ExitCode.INTERNAL_ERROR and not state.internal_error:
            state.internal_error = "pytest ended with an internal error"
        selection = Selection(
            deselected=tuple(state.deselected),
            skipped_at_collection=tuple(state.skipped_modules),
            keyword=self.config.option.keyword or None,
            markers=self.config.option.markexpr or None,
            last_failed=state.last_failed,
            args=tuple(self.config.args)
            if self.config.args_source is pytest.Config.ArgsSource.ARGS else (),
        )
        facts = RunFacts(
            interrupted=state.interrupted,
            internal_error=state.internal_error,
            collection_errors=state.collection_errors,
            crashed_workers=tuple(state.crashed_workers),
            budget_exhausted=state.budget_exhausted,
            stopped=state.stopped,
            soak=state.soak,
            selection=selection,
        )
        # A module skipped at collection stands for the checks it would have held.
        skipped = [
            CheckResult(id=module, category="unknown", blocking=True, outcome=Outcome.SKIPPED,
                        attempts=0, message=reason)
            for module, reason in state.skipped_modules.items()
        ]
        verdict = decide([*state.recorder.results(state.expected), *skipped], facts)
        if state.target is not None and not state.target.verify:
            # Evidence gathered without checking who answered is weaker evidence.
            verdict = verdict.amended(Amendment(
                f"TLS certificate verification was off for target {state.target.name!r} "
                "(verify = false)",
                Decision.DEPLOYABLE_WITH_WARNINGS,
            ))
        for amendment in self.config.hook.pytest_deployable_verdict(
            config=self.config, verdict=verdict
        ):
            verdict = verdict.amended(amendment)
        self._write(session, verdict)

    def amend_written(self, session: pytest.Session, amendment: Amendment) -> None:
        """Write the run's verdict again with ``amendment``: a later step (the ledger) failed.

        The verdict file and the exit code must say the same thing, so a step that
        makes the run INCONCLUSIVE after the file was written rewrites the file too.
        """
        if self.state.verdict is not None and self.state.verdict_path is not None:
            self._write(session, self.state.verdict.amended(amendment))

    def _write(self, session: pytest.Session, verdict: Verdict) -> None:
        """Write the reports, then the verdict file; set the exit code from what was written."""
        state = self.state
        assert state.verdict_path is not None
        info = self._info()
        written = write_final(
            verdict, lambda v: self._statement(v, info), Reports.of(self.config),
            state.verdict_path,
            text=lambda statement: verdict_text(self.config, statement, dump(statement)),
        )
        state.verdict, state.statement = written.verdict, written.statement
        state.verdict_written = written.verdict_written
        for error in written.errors:
            sys.stderr.write(f"ERROR: {error}\n")
        session.exitstatus = exit_code(written.verdict.decision,
                                       self.config.option.deployable_strict)
        if not written.verdict_written:
            session.exitstatus = EXIT_INCONCLUSIVE
        if state.usage_error is not None:
            sys.stderr.write(f"ERROR: {state.usage_error}\n")
            session.exitstatus = pytest.ExitCode.USAGE_ERROR

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        from .summary import render_text

        state = self.state
        if state.verdict is None or state.statement is None:
            return
        decision = state.verdict.decision
        markup = {
            Decision.DEPLOYABLE: {"green": True},
            Decision.DEPLOYABLE_WITH_WARNINGS: {"yellow": True},
        }.get(decision, {"red": True})
        terminalreporter.write_sep("=", f"deployability: {decision.value}", bold=True, **markup)
        for line in render_text(state.statement).splitlines():
            terminalreporter.write_line(line)
        if state.verdict_written:
            terminalreporter.write_line(f"verdict file: {state.verdict_path}")
        else:
            terminalreporter.write_line("verdict file: NOT WRITTEN", red=True)


def exit_code(decision: Decision, strict: bool) -> int:
    if decision is Decision.DEPLOYABLE:
        return 0
    if decision is Decision.DEPLOYABLE_WITH_WARNINGS:
        return 1 if strict else 0
    if decision is Decision.NOT_DEPLOYABLE:
        return 1
    return EXIT_INCONCLUSIVE
