"""One run against a deploy target: what happened to each check, and the verdict at the end.

:class:`DeployRun` is registered as a plugin only when the run has a target, so a
plain run pays nothing. Its hooks gather facts (reports, interrupts, crashes,
budgets) and hand them to :func:`~pytest_deployable.verdict.decide`; then it
writes the verdict file and the reports.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Generator
from datetime import datetime, timezone
from typing import Any

import pytest

from . import hosts
from .attestation import RunInfo, dump, to_statement, write_atomic
from .budget import Budget, BudgetExhausted
from .durations import format_interval
from .fixtures import WAITS, display_for
from .provenance import find_commit, find_subject
from .recorder import META_ATTRIBUTE, check_meta
from .redact import RedactingStream, Redactor
from .soak import run_soak
from .state import EVIDENCE, SPEC, STATUS, TRIES, DeployState, is_worker
from .verdict import Amendment, Decision, RunFacts, Soak, Verdict, decide
from .waiting import poll

__all__ = ["EXIT_INCONCLUSIVE", "DeployRun", "Terminated", "exit_code"]

#: Exit code of ``pytest --deploy-target`` for an INCONCLUSIVE verdict.
EXIT_INCONCLUSIVE = 6
#: A check's report metadata that is the same in every phase.
_META = pytest.StashKey[dict[str, Any]]()


class Terminated(KeyboardInterrupt):
    """SIGTERM, turned into an interrupt so the session ends and the verdict is written."""


def protect_terminal(config: pytest.Config, redactor: Redactor) -> None:
    """Route everything pytest prints (and, under ``-s``, what checks print) through redaction."""
    if not redactor:
        return
    writer = config.get_terminal_writer()
    if hasattr(writer, "_file"):
        writer._file = RedactingStream(writer._file, redactor)
    if config.getoption("capture", "fd") == "no":
        saved = sys.stdout, sys.stderr
        sys.stdout = RedactingStream(sys.stdout, redactor)
        sys.stderr = RedactingStream(sys.stderr, redactor)

        def restore() -> None:
            sys.stdout, sys.stderr = saved

        config.add_cleanup(restore)


class DeployRun:
    """The hooks of a run with a deploy target; registered only then, so plain runs pay nothing."""

    def __init__(self, config: pytest.Config, state: DeployState) -> None:
        self.config = config
        self.state = state
        self.session: pytest.Session | None = None
        self.budget: Budget | None = None

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        # Before the terminal reporter prints its header (it runs trylast).
        if is_worker(self.config):
            return
        protect_terminal(self.config, self.state.redactor)
        self.session = session
        if self.config.option.deployable_soak and self.config.getoption("dist", "no") != "no":
            raise pytest.UsageError(
                "--deploy-soak runs its rounds in one process; run it without -n/--dist"
            )
        budget = self.config.option.deployable_budget
        if budget and threading.current_thread() is threading.main_thread():
            self.budget = Budget(budget, self._budget_ran_out)
            self.state.budget_deadline = self.budget.deadline
            self.budget.start()

    def _budget_ran_out(self, elapsed: float) -> None:
        budget = format_interval(self.config.option.deployable_budget)
        self.state.budget_exhausted = (
            f"--deploy-budget {budget} ran out after {format_interval(elapsed)}"
        )

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        state = self.state
        state.expected = [item.nodeid for item in session.items]
        specs: dict[str, tuple[str, bool]] = {}
        for item in session.items:
            spec = item.stash.get(SPEC, None)
            if spec is not None:
                state.recorder.classify(item.nodeid, spec.category, spec.blocking)
                specs[item.nodeid] = (spec.category, spec.blocking)
        if is_worker(self.config):
            # Sent to the controller when the worker finishes, so that checks
            # that never ran are still classified there.
            self.config.workeroutput["deployable_specs"] = specs  # type: ignore[attr-defined]

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        status = item.stash.get(STATUS, None)
        target = self.state.target
        if status is None or target is None:
            return
        if status == "refused":
            pytest.skip(
                f"refused: destructive check on protected target {target.name!r} "
                "(run with --allow-destructive to allow it)"
            )
        reason = hosts.not_applicable_reason(item)
        pytest.skip(reason or f"not applicable to target {target.name!r}")

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, object, object]:
        spec = item.stash.get(SPEC, None)
        self.state.current_destructive = spec is not None and spec.destructive
        try:
            return (yield)
        finally:
            self.state.current_destructive = False

    @pytest.hookimpl(tryfirst=True)
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function) -> bool | None:
        """Retry the body of a check marked ``within=`` until it passes or time is up."""
        spec = pyfuncitem.stash.get(SPEC, None)
        if spec is None or spec.within is None or spec.every is None:
            return None
        from _pytest.python import pytest_pyfunc_call as call_body

        tries = 0

        def attempt() -> None:
            nonlocal tries
            tries += 1
            call_body(pyfuncitem)

        try:
            waited = poll(
                attempt, what=pyfuncitem.nodeid, within=spec.within, every=spec.every,
                display=display_for(self.config), stop_at=self.state.stop_at(),
                retry_on=(Exception, pytest.fail.Exception),
            )
            pyfuncitem.stash.setdefault(WAITS, []).append(waited)
        finally:
            pyfuncitem.stash[TRIES] = tries
        return True

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        spec = item.stash.get(SPEC, None)
        if spec is None:
            return report
        # What does not change between phases is worked out once per check.
        meta = item.stash.get(_META, None)
        if meta is None:
            meta = item.stash[_META] = {
                "category": spec.category,
                "blocking": spec.blocking,
                "status": item.stash.get(STATUS, None),
                "host": hosts.host_of(item),
            }
        if report.when == "call":
            meta = {**meta, "tries": item.stash.get(TRIES, 1)}
            waits = item.stash.get(WAITS, None)
            if waits:
                meta["waits"] = [
                    [waited.what, waited.attempts, round(waited.elapsed * 1000)]
                    for waited in waits
                ]
            evidence = item.stash.get(EVIDENCE, None)
            if evidence is not None:
                meta["evidence"] = evidence
        setattr(report, META_ATTRIBUTE, meta)
        redact = self.state.redactor
        if redact:
            if report.longrepr is not None and redact.contains_secret(report.longreprtext):
                report.longrepr = redact(report.longreprtext)
            report.sections = [(title, redact(text)) for title, text in report.sections]
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # In the xdist controller, the workers' reports arrive here.
        if is_worker(self.config):
            return
        self.state.recorder.add(report)
        meta = check_meta(report)
        if (
            self.config.option.deployable_fail_fast
            and report.failed
            and self.state.stopped is None
            and (meta is None or meta.get("blocking", True))
        ):
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
                (item, spec.blocking)
                for item in session.items
                if (spec := item.stash.get(SPEC, None)) is not None
                and spec.category == "post_deploy"
                and item.stash.get(STATUS, None) is None
            ]
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
            check.blocking and check.outcome.value in ("failed", "error") for check in checks
        )

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.budget is not None:
            self.budget.cancel()
        if is_worker(self.config) or exitstatus == pytest.ExitCode.USAGE_ERROR:
            return
        state = self.state
        if exitstatus == pytest.ExitCode.INTERRUPTED and not (
            state.interrupted or state.collection_errors or state.stopped
            or state.budget_exhausted
        ):
            state.interrupted = "pytest stopped the session"
        if exitstatus == pytest.ExitCode.INTERNAL_ERROR and not state.internal_error:
            state.internal_error = "pytest ended with an internal error"
        facts = RunFacts(
            interrupted=state.interrupted,
            internal_error=state.internal_error,
            collection_errors=state.collection_errors,
            crashed_workers=tuple(state.crashed_workers),
            budget_exhausted=state.budget_exhausted,
            stopped=state.stopped,
            soak=state.soak,
        )
        verdict = decide(state.recorder.results(state.expected), facts)
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
        state.verdict = verdict
        session.exitstatus = exit_code(verdict.decision, self.config.option.deployable_strict)
        if not self._write(verdict):
            session.exitstatus = EXIT_INCONCLUSIVE

    def _write(self, verdict: Verdict) -> bool:
        """Write the verdict file and the reports; False (and one line on stderr) if it failed."""
        state = self.state
        assert state.target is not None
        assert state.verdict_path is not None
        rootdir = self.config.rootpath
        info = RunInfo(
            subject=find_subject(
                self.config.option.deployable_subject
                or str(self.config.getini("deploy_subject") or ""),
                rootdir,
            ),
            target=state.target,
            started_on=state.started,
            finished_on=datetime.now(timezone.utc),
            version=state.target.version,
            commit=find_commit(self.config.option.deployable_commit, rootdir),
        )
        statement = to_statement(verdict, info)
        state.statement = statement
        try:
            write_atomic(state.verdict_path, dump(statement))
            state.verdict_written = True
            write_reports(self.config, statement)
        except OSError as exc:
            sys.stderr.write(
                f"ERROR: cannot write {exc.filename or state.verdict_path}: "
                f"{exc.strerror or exc}\n"
            )
            return False
        return True

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


def write_reports(config: pytest.Config, statement: dict[str, Any]) -> None:
    """Write the optional JUnit and Markdown renderings of the verdict."""
    base = config.invocation_params.dir
    if config.option.deployable_junit:
        from .junit import junit_xml

        write_atomic(base / config.option.deployable_junit, junit_xml(statement))
    summary_path = config.option.deployable_summary
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary_path or step_summary:
        from .summary import render_markdown

        markdown = render_markdown(statement)
        if summary_path:
            write_atomic(base / summary_path, markdown)
        if step_summary:
            with open(step_summary, "a", encoding="utf-8") as handle:
                handle.write(markdown + "\n")
