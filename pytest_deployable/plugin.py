"""The pytest plugin: options, check selection, result gathering, and the verdict at the end.

The hooks here only gather facts and hand them to the core modules
(:mod:`.targets`, :mod:`.verdict`, :mod:`.attestation`); the rules live there.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Generator
from datetime import datetime, timezone
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from . import hooks, hosts
from .attestation import RunInfo, dump, to_statement, write_atomic
from .budget import Budget, BudgetExhausted
from .contract_checks import contract, setup_contract_checks
from .durations import format_interval
from .fixtures import NO_TARGET, WAITS, deploy_target, display_for, eventually, http
from .markers import MARKERS, CheckSpec, MarkerError, classify
from .provenance import find_commit, find_subject
from .recorder import META_ATTRIBUTE, check_meta
from .redact import RedactingStream, Redactor
from .soak import run_soak
from .state import STATE, DeployState
from .targets import (
    Target,
    TargetError,
    adhoc_target,
    check_target_option,
    find_targets_file,
    is_url,
    load_targets_file,
    resolve_target,
)
from .verdict import Decision, RunFacts, Verdict, decide
from .version import VERSION_CHECK_ID, VersionCheck
from .waiting import poll, seconds

__all__ = ["EXIT_INCONCLUSIVE", "contract", "deploy_target", "eventually", "http"]

#: Exit code of ``pytest --deploy-target`` for an INCONCLUSIVE verdict.
EXIT_INCONCLUSIVE = 6
_SPEC = pytest.StashKey[CheckSpec | None]()
_STATUS = pytest.StashKey[str | None]()
_TRIES = pytest.StashKey[int]()
_WORKER_TARGET = "deployable_target"
_WORKER_BUDGET = "deployable_budget_deadline"


class _Terminated(KeyboardInterrupt):
    """SIGTERM, turned into an interrupt so the session ends and the verdict is written."""


def _target_option(value: str) -> str:
    try:
        return check_target_option(value)
    except TargetError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _duration_option(value: str) -> float:
    try:
        return seconds(value, "duration")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _count_option(value: str) -> int:
    if not value.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number of 0 or more, not {value!r}")
    return int(value)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("deployable", "deployment checks (pytest-deployable)")
    group.addoption(
        "--deploy-target", dest="deployable_target", metavar="NAME|URL", type=_target_option,
        help="run the deployment checks against this target: a name from the targets file, "
        "or an http(s) URL (protected unless loopback). Env: DEPLOYABLE_TARGET.",
    )
    group.addoption(
        "--deploy-targets-file", dest="deployable_targets_file", metavar="PATH",
        help="targets file (default: deploy-targets.toml in the rootdir, else "
        "[tool.deployable] in pyproject.toml).",
    )
    group.addoption(
        "--deploy-verdict", dest="deployable_verdict", metavar="PATH",
        help="where to write the verdict file (default: deploy-verdict.json).",
    )
    group.addoption(
        "--deploy-version", dest="deployable_version", metavar="VERSION",
        help="the version under test. Env: DEPLOYABLE_VERSION.",
    )
    group.addoption(
        "--deploy-commit", dest="deployable_commit", metavar="SHA",
        help="the commit under test (default: CI variables, then git rev-parse HEAD).",
    )
    group.addoption(
        "--deploy-subject", dest="deployable_subject", metavar="NAME",
        help="the artifact's name in the verdict (default: pyproject's project name).",
    )
    group.addoption(
        "--deploy-strict", dest="deployable_strict", action="store_true",
        help="exit 1 for DEPLOYABLE_WITH_WARNINGS.",
    )
    group.addoption(
        "--allow-destructive", dest="deployable_allow_destructive", action="store_true",
        help="let checks marked destructive run, and change state, on a protected target.",
    )
    group.addoption(
        "--deploy-junit", dest="deployable_junit", metavar="PATH",
        help="also write the verdict as a JUnit XML gate report.",
    )
    group.addoption(
        "--deploy-summary", dest="deployable_summary", metavar="PATH",
        help="also write the verdict as Markdown (appended to $GITHUB_STEP_SUMMARY when set).",
    )
    group.addoption(
        "--deploy-version-within", dest="deployable_version_within", metavar="DURATION",
        type=_duration_option, default=300.0,
        help="how long the built-in version check waits for the target to report "
        "--deploy-version (default 5m).",
    )
    group.addoption(
        "--deploy-fail-fast", dest="deployable_fail_fast", action="store_true",
        help="stop at the first blocking failure; the rest count as not run.",
    )
    group.addoption(
        "--deploy-budget", dest="deployable_budget", metavar="DURATION",
        type=_duration_option,
        help="a time budget for the whole run (90s, 10m, 1h); when it runs out the run stops.",
    )
    group.addoption(
        "--deploy-soak", dest="deployable_soak", metavar="DURATION", type=_duration_option,
        help="after the first pass, repeat the post_deploy checks for this long.",
    )
    group.addoption(
        "--deploy-soak-every", dest="deployable_soak_every", metavar="DURATION",
        type=_duration_option, default=30.0,
        help="the interval between soak rounds (default 30s).",
    )
    group.addoption(
        "--deploy-soak-failure-limit", dest="deployable_soak_failure_limit", metavar="N",
        type=_count_option, default=0,
        help="how many soak rounds may fail before the verdict fails (default 0).",
    )
    parser.addini("deploy_targets_file", "targets file, relative to the rootdir")
    parser.addini("deploy_verdict", "verdict file path (default deploy-verdict.json)")
    parser.addini("deploy_subject", "the artifact's name in the verdict")


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hooks)


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def _resolve(config: pytest.Config) -> Target | None:
    """The run's target from the options, the environment and the targets file."""
    if _is_worker(config):
        data = config.workerinput.get(_WORKER_TARGET)  # type: ignore[attr-defined]
        return Target.from_dict(json.loads(data)) if data else None
    choice = config.option.deployable_target or os.environ.get("DEPLOYABLE_TARGET") or None
    if choice is None:
        return None
    version = config.option.deployable_version or os.environ.get("DEPLOYABLE_VERSION") or None
    try:
        check_target_option(choice)
        if is_url(choice):
            return adhoc_target(choice, version=version)
        path: Path | None
        if config.option.deployable_targets_file:
            path = config.invocation_params.dir / config.option.deployable_targets_file
        elif config.getini("deploy_targets_file"):
            path = config.rootpath / str(config.getini("deploy_targets_file"))
        else:
            path = find_targets_file(config.rootpath)
        if path is None:
            raise TargetError(
                f"--deploy-target {choice!r}: no deploy-targets.toml or [tool.deployable] in "
                f"pyproject.toml under {config.rootpath}; give --deploy-targets-file or a URL"
            )
        return resolve_target(load_targets_file(path), choice, version=version)
    except TargetError as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_configure(config: pytest.Config) -> None:
    for name, (description, _) in MARKERS.items():
        config.addinivalue_line("markers", description if name in description else name)
    state = DeployState()
    config.stash[STATE] = state
    target = _resolve(config)
    if target is None:
        return
    state.target = target
    state.redactor = Redactor(target.secrets)
    if _is_worker(config):
        state.budget_deadline = config.workerinput.get(_WORKER_BUDGET)  # type: ignore[attr-defined]
    state.allow_destructive = bool(config.option.deployable_allow_destructive)
    if not _is_worker(config):
        state.verdict_path = config.invocation_params.dir / (
            config.option.deployable_verdict
            or str(config.getini("deploy_verdict") or "deploy-verdict.json")
        )
        _trap_sigterm(config)
    config.pluginmanager.register(_Gate(config, state), "deployable-gate")
    hosts.configure(config, target, state.redactor)
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_XdistHooks(state), "deployable-xdist")
    config.hook.pytest_deployable_target_resolved.call_historic(
        kwargs={"config": config, "target": target}
    )
    setup_contract_checks(config, target)


def _protect_terminal(config: pytest.Config, redactor: Redactor) -> None:
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


def _trap_sigterm(config: pytest.Config) -> None:
    """Make SIGTERM end the session like Ctrl-C, so the verdict file is still written."""
    if threading.current_thread() is not threading.main_thread():
        return

    def terminated(signum: int, frame: FrameType | None) -> None:
        raise _Terminated()

    previous = signal.signal(signal.SIGTERM, terminated)

    def restore() -> None:
        signal.signal(signal.SIGTERM, previous)

    config.add_cleanup(restore)


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    target = config.stash[STATE].target
    if target is None:
        return None
    lines = [f"deploy target: {target.name} ({target.base_url or 'no base_url'})"]
    fleet = target.fleet
    if fleet:
        shown = ", ".join(fleet[:3]) + (f" and {len(fleet) - 3} more" if len(fleet) > 3 else "")
        lines.append(f"deploy hosts: {shown}")
    if target.version:
        lines.append(f"deploy version: {target.version}")
    if target.protected:
        allowed = config.stash[STATE].allow_destructive
        lines.append(
            "!!! PROTECTED TARGET: state-changing requests are refused"
            + (" (except destructive checks: --allow-destructive)" if allowed else "")
            + " !!!"
        )
    return [config.stash[STATE].redactor(line) for line in lines]


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    state = config.stash[STATE]
    target = state.target
    selected: list[pytest.Item] = []
    deselected: list[pytest.Item] = []
    for item in items:
        try:
            spec = classify(item)
        except MarkerError as exc:
            raise pytest.UsageError(str(exc)) from None
        spec = config.hook.pytest_deployable_check_spec(item=item, spec=spec) or spec
        item.stash[_SPEC] = spec
        item.stash[_STATUS] = None
        if spec is None:
            deselected.append(item)
            continue
        if target is None:
            item.add_marker(pytest.mark.skip(reason=NO_TARGET))
            continue
        if spec.only_targets is not None and target.name not in spec.only_targets:
            item.stash[_STATUS] = "notApplicable"
        elif spec.destructive and target.protected and not state.allow_destructive:
            item.stash[_STATUS] = "refused"
        elif hosts.not_applicable_reason(item):
            item.stash[_STATUS] = "notApplicable"
        selected.append(item)
    if target is None:
        return
    if target.version and target.version_url:
        check = VersionCheck.from_parent(
            session, name=VERSION_CHECK_ID, nodeid=VERSION_CHECK_ID,
            within=config.option.deployable_version_within,
        )
        check.stash[_SPEC] = CheckSpec(category="smoke", blocking=True)
        check.stash[_STATUS] = None
        selected.insert(0, check)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
    # A stable sort keeps collection order within a category.
    items[:] = sorted(selected, key=lambda item: item.stash[_SPEC].rank)  # type: ignore[union-attr]


class _Gate:
    """The hooks of a run with a deploy target; registered only then, so plain runs pay nothing."""

    def __init__(self, config: pytest.Config, state: DeployState) -> None:
        self.config = config
        self.state = state
        self.session: pytest.Session | None = None
        self.budget: Budget | None = None

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        # Before the terminal reporter prints its header (it runs trylast).
        if _is_worker(self.config):
            return
        _protect_terminal(self.config, self.state.redactor)
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
            spec = item.stash.get(_SPEC, None)
            if spec is not None:
                state.recorder.classify(item.nodeid, spec.category, spec.blocking)
                specs[item.nodeid] = (spec.category, spec.blocking)
        if _is_worker(self.config):
            # Sent to the controller when the worker finishes, so that checks
            # that never ran are still classified there.
            self.config.workeroutput["deployable_specs"] = specs  # type: ignore[attr-defined]

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        status = item.stash.get(_STATUS, None)
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
        spec = item.stash.get(_SPEC, None)
        self.state.current_destructive = spec is not None and spec.destructive
        try:
            return (yield)
        finally:
            self.state.current_destructive = False

    @pytest.hookimpl(tryfirst=True)
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function) -> bool | None:
        """Retry the body of a check marked ``within=`` until it passes or time is up."""
        spec = pyfuncitem.stash.get(_SPEC, None)
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
            pyfuncitem.stash[_TRIES] = tries
        return True

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        spec = item.stash.get(_SPEC, None)
        if spec is None:
            return report
        meta: dict[str, Any] = {
            "category": spec.category,
            "blocking": spec.blocking,
            "status": item.stash.get(_STATUS, None),
            "host": hosts.host_of(item),
        }
        if report.when == "call":
            meta["tries"] = item.stash.get(_TRIES, 1)
            meta["waits"] = [
                [waited.what, waited.attempts, round(waited.elapsed * 1000)]
                for waited in item.stash.get(WAITS, [])
            ]
        setattr(report, META_ATTRIBUTE, meta)
        redact = self.state.redactor
        if redact:
            if report.longrepr is not None and redact.contains_secret(report.longreprtext):
                report.longrepr = redact(report.longreprtext)
            report.sections = [(title, redact(text)) for title, text in report.sections]
        return report

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # In the xdist controller, the workers' reports arrive here.
        if _is_worker(self.config):
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
            # pytest-xdist stopping on purpose: our own fail-fast, or -x/--maxfail
            if self.state.stopped is None:
                self.state.interrupted = f"the run stopped early: {value}"
            return
        if isinstance(value, _Terminated):
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
        if duration and not _is_worker(self.config) and self._first_pass_clean(session):
            items = [
                (item, spec.blocking)
                for item in session.items
                if (spec := item.stash.get(_SPEC, None)) is not None
                and spec.category == "post_deploy"
                and item.stash.get(_STATUS, None) is None
            ]
            reporter = self.config.pluginmanager.get_plugin("terminalreporter")
            self.state.soak = run_soak(
                items,
                duration=duration,
                every=self.config.option.deployable_soak_every,
                failure_limit=self.config.option.deployable_soak_failure_limit,
                say=reporter.write_line if reporter is not None else lambda text: None,
            )
        return result

    def _first_pass_clean(self, session: pytest.Session) -> bool:
        checks = self.state.recorder.results(self.state.expected)
        return not session.shouldfail and not any(
            check.blocking and check.outcome.value in ("failed", "error") for check in checks
        )

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.budget is not None:
            self.budget.cancel()
        if _is_worker(self.config) or exitstatus == pytest.ExitCode.USAGE_ERROR:
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
        for amendment in self.config.hook.pytest_deployable_verdict(
            config=self.config, verdict=verdict
        ):
            verdict = verdict.amended(amendment)
        state.verdict = verdict
        session.exitstatus = _exit_code(verdict.decision, self.config.option.deployable_strict)
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
            _write_reports(self.config, statement)
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


def _exit_code(decision: Decision, strict: bool) -> int:
    if decision is Decision.DEPLOYABLE:
        return 0
    if decision is Decision.DEPLOYABLE_WITH_WARNINGS:
        return 1 if strict else 0
    if decision is Decision.NOT_DEPLOYABLE:
        return 1
    return EXIT_INCONCLUSIVE


def _write_reports(config: pytest.Config, statement: dict[str, Any]) -> None:
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


class _XdistHooks:
    """Hooks that exist only when pytest-xdist is installed."""

    def __init__(self, state: DeployState) -> None:
        self.state = state

    def pytest_configure_node(self, node: Any) -> None:
        # Workers take the controller's target whole: no re-reading of files,
        # options or the environment that might differ (pytest-base-url's bug).
        if self.state.target is not None:
            node.workerinput[_WORKER_TARGET] = json.dumps(self.state.target.to_dict())
        node.workerinput[_WORKER_BUDGET] = self.state.budget_deadline

    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        if not self.state.expected:
            self.state.expected = list(ids)

    def pytest_testnodedown(self, node: Any, error: object) -> None:
        if error:
            self.state.crashed_workers.append(str(node.gateway.id))
        specs = getattr(node, "workeroutput", {}).get("deployable_specs", {})
        for nodeid, (category, blocking) in specs.items():
            self.state.recorder.classify(nodeid, category, blocking)
