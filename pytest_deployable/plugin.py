"""The pytest plugin's entry point: options, the target, and which tests are checks.

A run with a deploy target is then handled by :class:`.run.DeployRun` (results,
interrupts, the verdict). The hooks only gather facts and hand them to the core
modules (:mod:`.targets`, :mod:`.verdict`, :mod:`.attestation`), where the rules live.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from collections.abc import Generator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import pytest

from . import hooks
from .fixtures import (
    NO_TARGET,
    _deployable_prometheus,
    contract,
    db,
    deploy_target,
    eventually,
    http,
    metrics,
)
from .markers import (
    MARKERS,
    CheckSpec,
    MarkerError,
    check_marker_names,
    check_only_targets,
    classify,
)
from .options import add_options
from .state import FACTS, SPEC, STATE, DeployState, is_worker
from .vocabulary import Outcome

if TYPE_CHECKING:
    from .targets import Target

# Only what every run needs is imported above: pytest imports this module in every
# run on a machine where the plugin is installed, most of them without a deploy
# target. The run's machinery (run.py and what it needs), hosts, contracts,
# metrics, signing and the xdist watchdog are imported where a run needs them,
# always as ``from .module import name``: never ``from . import module``, which
# takes the package's attribute and so can hold a module that pytester's
# in-process runs have since dropped from sys.modules (a second copy, with its
# own stash keys, would then serve the same run).
__all__ = ["_deployable_prometheus", "contract", "db", "deploy_target", "eventually", "http",
           "metrics"]

_WORKER_TARGET = "deployable_target"
_WORKER_BUDGET = "deployable_budget_deadline"
_WORKER_NAMES = "deployable_target_names"
_WORKER_USAGE_ERROR = "deployable_usage_error"


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    pluginmanager.add_hookspecs(hooks)


def _resolve(config: pytest.Config) -> Target | None:
    """The run's target from the options, the environment and the targets file."""
    if is_worker(config):
        names = config.workerinput.get(_WORKER_NAMES)  # type: ignore[attr-defined]
        if names:
            known, source = json.loads(names)
            config.stash[STATE].known_targets = tuple(known)
            config.stash[STATE].targets_source = source
        data = config.workerinput.get(_WORKER_TARGET)  # type: ignore[attr-defined]
        if not data:
            return None
        from .targets import Target

        return Target.from_dict(json.loads(data))
    choice = config.option.deployable_target or os.environ.get("DEPLOYABLE_TARGET") or None
    if choice is None:
        return None
    from .targets import (
        TargetError,
        adhoc_target,
        check_target_option,
        find_targets_file,
        is_url,
        load_targets_file,
        resolve_target,
    )

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
        targets = load_targets_file(path)
        state = config.stash[STATE]
        state.known_targets, state.targets_source = targets.names, path.name
        return resolve_target(targets, choice, version=version)
    except TargetError as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_configure(config: pytest.Config) -> None:
    for name, (description, _) in MARKERS.items():
        config.addinivalue_line("markers", description if name in description else name)
    state = DeployState()
    config.stash[STATE] = state
    if not is_worker(config) and (config.option.deployable_sign_key
                                  or config.option.deployable_subject):
        from .signing import check_spelling  # it checks only these two options

        check_spelling(config)
    target = _resolve(config)
    if target is None:
        return  # without a target the --deploy-* options are ignored, like schema's
    _configure_run(config, state, target)


def _configure_run(config: pytest.Config, state: DeployState, target: Target) -> None:
    """Set up a run with a deploy target: its state, its hooks, its optional parts."""
    from .check_hooks import DestructiveWindow
    from .hosts import configure as configure_hosts
    from .redact import Redactor
    from .run import DeployRun
    from .schema import configure as configure_schema
    from .signing import configure as configure_signing

    configure_schema(config, target)
    target = configure_signing(config, target, worker=is_worker(config))
    state.target = target
    state.redactor = Redactor(target.secrets)
    if is_worker(config):
        state.budget_deadline = config.workerinput.get(_WORKER_BUDGET)  # type: ignore[attr-defined]
    state.allow_destructive = bool(config.option.deployable_allow_destructive)
    if not is_worker(config):
        state.verdict_path = config.invocation_params.dir / (
            config.option.deployable_verdict
            or str(config.getini("deploy_verdict") or "deploy-verdict.json")
        )
        _trap_sigterm(config)
    config.pluginmanager.register(DeployRun(config, state), "deployable-gate")
    if state.allow_destructive:
        config.pluginmanager.register(DestructiveWindow(state), "deployable-destructive")
    if target.prometheus:  # without it the metrics fixture fails: no evaluation to carry
        from .metrics_plugin import register as register_metrics

        register_metrics(config, state.recorder)
    if config.option.deployable_ledger is not None and not is_worker(config):
        from .ledger.plugin import register_recording

        register_recording(config, target)
    configure_hosts(config, target, state.redactor)
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_XdistHooks(state), "deployable-xdist")
        # Only a controller that distributes has workers that can crash; the same
        # condition as xdist's own (dist is "no" unless -n/--dist/-d was given), and
        # wider, since it does not look at --tx.
        if not is_worker(config) and config.getoption("dist", "no") != "no":
            from .watchdog import CrashWatchdog

            config.pluginmanager.register(
                CrashWatchdog(state, config.option.deployable_crash_grace),
                "deployable-crash-watchdog",
            )
    config.hook.pytest_deployable_target_resolved.call_historic(
        kwargs={"config": config, "target": target}
    )
    if target.openapi or target.contract:  # what setup_contract_checks reads
        from .contract.plugin import setup_contract_checks

        setup_contract_checks(config, target)


def _trap_sigterm(config: pytest.Config) -> None:
    """Make SIGTERM end the session like Ctrl-C, so the verdict file is still written."""
    if threading.current_thread() is not threading.main_thread():
        return

    from .run import Terminated

    def terminated(signum: int, frame: FrameType | None) -> None:
        raise Terminated()

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
    if target.prometheus:
        lines.append(f"deploy metrics: Prometheus at {target.prometheus}")
    if not target.verify:
        lines.append("!!! TLS CERTIFICATE VERIFICATION IS OFF for this target (verify = false) !!!")
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
    refused = retried = False
    shared_facts: dict[tuple[str, bool, str | None, str | None], CheckFacts] = {}
    if target is not None:  # a run without one only skips its checks: nothing to import
        from .check_hooks import register_needed
        from .hosts import host_of, not_applicable_reason
        from .recorder import CheckFacts
        from .schema import schema_check
    registered = frozenset(
        line.split(":", 1)[0].split("(", 1)[0].strip()
        for line in config.getini("markers")
    )
    # Called per item only when some plugin or conftest implements it (all are
    # registered by now): a hook call costs even with nothing to call.
    hook = config.hook.pytest_deployable_check_spec
    check_spec = hook if hook.get_hookimpls() else None
    for item in items:
        try:
            spec = classify(item)
            if target is not None:
                check_marker_names(item, registered)
                if spec is not None and spec.only_targets and state.known_targets:
                    check_only_targets(item, spec.only_targets, state.known_targets,
                                       state.targets_source)
        except MarkerError as exc:
            # On an xdist worker, _XdistHooks hands it to the controller.
            raise pytest.UsageError(state.redactor(str(exc))) from None
        if check_spec is not None:
            spec = check_spec(item=item, spec=spec) or spec
        item.stash[SPEC] = spec
        if spec is None:
            deselected.append(item)
            continue
        if target is None:
            item.add_marker(pytest.mark.skip(reason=NO_TARGET))
            continue
        status: str | None = None
        if spec.only_targets is not None and target.name not in spec.only_targets:
            status = Outcome.NOT_APPLICABLE.value
        elif spec.destructive and target.protected and not state.allow_destructive:
            status = Outcome.REFUSED.value
        elif not_applicable_reason(item):
            status = Outcome.NOT_APPLICABLE.value
        # Frozen, so checks with the same facts share one (a suite is mostly a few kinds).
        key = (spec.category, spec.blocking, status, host_of(item))
        facts = shared_facts.get(key)
        if facts is None:
            facts = shared_facts[key] = CheckFacts(*key)
        item.stash[FACTS] = facts
        refused = refused or status is not None
        retried = retried or spec.within is not None
        selected.append(item)
    if target is None:
        return
    register_needed(config, state, refused=refused, retried=retried)
    if target.version and target.version_url:
        from .version import VERSION_CHECK_ID, VersionCheck

        check = VersionCheck.from_parent(
            session, name=VERSION_CHECK_ID, nodeid=VERSION_CHECK_ID,
            within=config.option.deployable_version_within,
        )
        check.stash[SPEC] = CheckSpec(category="smoke", blocking=True)
        check.stash[FACTS] = CheckFacts("smoke", True)
        selected.insert(0, check)
    schema_item = schema_check(session, target)
    if schema_item is not None:
        selected.insert(0, schema_item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
    # A stable sort keeps collection order within a category.
    items[:] = sorted(selected, key=lambda item: item.stash[SPEC].rank)  # type: ignore[union-attr]


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
        if self.state.known_targets is not None:
            node.workerinput[_WORKER_NAMES] = json.dumps(
                [self.state.known_targets, self.state.targets_source]
            )

    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        if not self.state.expected:
            self.state.expected = list(ids)

    @pytest.hookimpl(wrapper=True)
    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> Generator[None, None, None]:
        # A worker's usage error (a marker, an only_targets or only_hosts name) would
        # reach the controller as a crash and an internal error: it goes up in the
        # worker's output, the worker runs nothing, and the controller reports it
        # (exit 4, an INCONCLUSIVE verdict).
        try:
            return (yield)
        except pytest.UsageError as exc:
            workeroutput = getattr(config, "workeroutput", None)
            if workeroutput is None:
                raise
            workeroutput[_WORKER_USAGE_ERROR] = str(exc)
            items[:] = []
            return None

    def pytest_testnodedown(self, node: Any, error: object) -> None:
        if error:
            self.state.crashed_workers.append(str(node.gateway.id))
        output = getattr(node, "workeroutput", {})
        if output.get(_WORKER_USAGE_ERROR) and self.state.usage_error is None:
            self.state.usage_error = str(output[_WORKER_USAGE_ERROR])
        from .recorder import CheckFacts

        for nodeid, facts in output.get("deployable_facts", {}).items():
            self.state.recorder.classify(nodeid, CheckFacts.from_dict(facts))
        # Every worker collects the same suite, so each one deselects the same checks.
        for nodeid in output.get("deployable_deselected", []):
            self.state.deselected[str(nodeid)] = None
