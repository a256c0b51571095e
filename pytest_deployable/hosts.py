"""Host checks: testinfra's ``host`` fixture, parametrized over the deploy target's hosts.

With a deploy target and no ``--hosts``, this module is registered as a plugin. Its
``host`` fixture overrides testinfra's (a plugin registered later wins), so a check
that takes ``host`` runs once per host of the target, with an id that names the host.
The hosts are testinfra ``Host`` objects from :func:`testinfra.get_hosts`, which caches
them per process, so one connection serves every check on a host. ``--hosts`` given
by hand leaves testinfra's own parametrization alone.

Before the first check on a host runs, the host is probed once per process within
the target's timeout: it must echo back a random nonce, which proves that it runs
the commands it is sent (a host behind a forced command, such as sshd's
``ForceCommand /bin/true``, answers every command with nothing and exit code 0).
A host that does not answer, or does not echo, fails its checks at once, with a
message naming it; the other hosts go on.

Once a paramiko host has answered, its socket gets ``TCP_NODELAY``
(:mod:`.host_sockets` says why: without it every command stalls on Nagle's algorithm).
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import math
import os
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .host_names import KnownHosts, known_hosts, unknown_pattern_error
from .host_sockets import no_delay
from .markers import MarkerError, marker_value
from .redact import Redactor
from .targets import Target

__all__ = [
    "Fleet",
    "FleetHost",
    "NoHost",
    "configure",
    "host",
    "host_name",
    "host_of",
    "not_applicable_reason",
    "select",
]

#: The parameter that carries a :class:`FleetHost` into the ``host`` fixture.
PARAM = "_deployable_host"
_TESTINFRA_PARAM = "_testinfra_host"
# Seconds a probe may take beyond the target's timeout, so that ssh's own
# message ("Connection timed out during banner exchange") wins the race.
_GRACE = 0.5


@dataclass(frozen=True)
class FleetHost:
    """One host of the target: the name people read, its roles, and testinfra's Host."""

    name: str
    """``scheme://[user@]host[:port]``, secrets masked; the check's id and the verdict's key."""
    hostname: str
    roles: tuple[str, ...]
    host: Any = field(compare=False, repr=False)


@dataclass(frozen=True)
class NoHost:
    """The only parameter of a host check that applies to no host of the target."""

    reason: str


def host_name(backend: Any) -> str:
    """``scheme://[user@]host[:port]`` for a testinfra backend; never the password or options."""
    scheme = backend.get_connection_type()
    spec = getattr(backend, "host", None)
    if spec is None or not hasattr(spec, "name"):
        return str(backend.get_pytest_id())
    user = f"{spec.user}@" if spec.user else ""
    port = f":{spec.port}" if spec.port else ""
    return f"{scheme}://{user}{spec.name}{port}"


def select(hosts: Sequence[FleetHost], patterns: Sequence[str] | None) -> list[FleetHost]:
    """The hosts a check applies to: all without patterns, else those with a role among
    ``patterns`` or whose name or hostname matches one of them as a glob."""
    if patterns is None:
        return list(hosts)
    return [
        host
        for host in hosts
        if any(
            pattern in host.roles
            or fnmatch.fnmatchcase(host.name, pattern)
            or fnmatch.fnmatchcase(host.hostname, pattern)
            for pattern in patterns
        )
    ]


class Fleet:
    """The target's hosts in this process: built once, probed once each, closed at the end."""

    def __init__(self, config: pytest.Config, target: Target, redactor: Redactor,
                 control_dir: str | None = None) -> None:
        self.config = config
        self.target = target
        self.redactor = redactor
        self._hosts: list[FleetHost] | None = None
        self._verdicts: dict[str, str | None] = {}
        """Host name to None (answered) or why it is unusable."""
        self._lock = threading.Lock()
        self.control_dir = control_dir
        """Where ssh control sockets live. The controller makes it and hands it to xdist
        workers, so that all processes share one ssh connection per host; only the
        process that made it (``owns_control_dir``) stops the masters at the end."""
        self.owns_control_dir = control_dir is None

    @property
    def hosts(self) -> list[FleetHost]:
        """Every host of the target, in the target file's order (``hosts``, then roles)."""
        if self._hosts is None:
            self._hosts = self._build()
        return self._hosts

    def _defaults(self, spec: str) -> dict[str, Any]:
        """Connection options for ``spec``: testinfra's command-line options, the target's
        timeout, and an ssh control socket so that one ssh connection serves every command."""
        option = self.config.option
        defaults: dict[str, Any] = {
            key: getattr(option, key)
            for key in ("connection", "ssh_config", "ssh_identity_file", "sudo_user",
                        "ansible_inventory")
            if getattr(option, key, None)
        }
        for flag in ("sudo", "force_ansible"):
            if getattr(option, flag, False):
                defaults[flag] = True
        seconds = max(1, math.ceil(self.target.timeout))
        defaults["timeout"] = seconds
        if _is_ssh(spec, self.config):
            digest = hashlib.sha256(spec.encode()).hexdigest()[:16]
            defaults["controlpath"] = f"{self.ssh_control_dir()}/{digest}"
            defaults["ssh_extra_args"] = (
                f"-o ServerAliveInterval={seconds} -o ServerAliveCountMax=2"
            )
        return defaults

    def _build(self) -> list[FleetHost]:
        import testinfra

        roles: dict[str, list[str]] = {}
        for role, specs in self.target.roles.items():
            for spec in specs:
                roles.setdefault(spec, []).append(role)
        built: list[FleetHost] = []
        seen: dict[str, int] = {}
        for spec in self.target.fleet:
            try:
                found = testinfra.get_hosts([spec], **self._defaults(spec))
            except Exception as exc:  # testinfra raises RuntimeError, ansible more
                shown = self.redactor(spec)
                raise pytest.UsageError(
                    f"deploy target {self.target.name!r}: host {shown!r} is not a testinfra "
                    f"host spec testinfra can use: {self.redactor(str(exc))}"
                ) from None
            for testinfra_host in found:
                name = self.redactor(host_name(testinfra_host.backend))
                seen[name] = seen.get(name, 0) + 1
                if seen[name] > 1:  # two hosts whose names differ only in a secret
                    name = f"{name}#{seen[name]}"
                hostname = self.redactor(str(testinfra_host.backend.get_hostname()))
                built.append(FleetHost(name, hostname, tuple(roles.get(spec, ())),
                                       testinfra_host))
        return built

    def connect(self, fleet_host: FleetHost) -> Any:
        """testinfra's Host for ``fleet_host``, once it has answered; else fail naming it."""
        with self._lock:
            if fleet_host.name not in self._verdicts:
                self._verdicts[fleet_host.name] = self._probe(fleet_host)
            problem = self._verdicts[fleet_host.name]
        if problem is not None:
            pytest.fail(f"host {fleet_host.name} {problem}", pytrace=False)
        return fleet_host.host

    def _probe(self, fleet_host: FleetHost) -> str | None:
        """:meth:`_answer`, and a host that answered gets its socket tuned for commands."""
        problem = self._answer(fleet_host)
        if problem is None:
            no_delay(fleet_host.host.backend)
        return problem

    def _answer(self, fleet_host: FleetHost) -> str | None:
        """None if the host runs what it is sent within the target's timeout, else
        what is wrong: ``unreachable: WHY`` or ``does not run the commands it is sent: …``.

        Every backend runs ``echo NONCE`` (for ssh this starts the control master;
        for paramiko it connects, and the client is kept for the checks), and the
        answer must be the nonce: exit code 0 alone is what a forced command gives.
        """
        nonce = f"deployable-probe-{secrets.token_hex(8)}"
        outcome: list[str | None] = []

        def run() -> None:
            try:
                result = fleet_host.host.run(f"echo {nonce}")
            except Exception as exc:  # a backend's connection error, of any type
                detail = getattr(exc.args[0], "stderr", None) if exc.args else None
                outcome.append("unreachable: "
                               + (str(detail or exc).strip() or type(exc).__name__))
                return
            answer = result.stdout.strip()
            if answer == nonce and result.rc == 0:
                outcome.append(None)
            elif result.rc != 0 and answer != nonce:
                outcome.append("unreachable: "
                               + (result.stderr.strip() or f"'echo' exited with {result.rc}"))
            else:
                outcome.append(
                    f"does not run the commands it is sent: 'echo {nonce}' answered "
                    f"{answer[:80]!r} with exit code {result.rc} (a forced command, such as "
                    "sshd's ForceCommand or a restricted key's command=?)"
                )

        thread = threading.Thread(target=run, name=f"probe {fleet_host.name}", daemon=True)
        thread.start()
        thread.join(self.target.timeout + _GRACE)
        if not outcome:
            # The thread is left behind; nothing in this process uses the host again.
            return (f"unreachable: no answer to 'echo' within {self.target.timeout:g} s "
                    "(the target's timeout)")
        problem = outcome[0]
        return None if problem is None else self.redactor(" ".join(problem.split()))

    def ssh_control_dir(self) -> str:
        """The directory of the ssh control sockets, made on first use."""
        if self.control_dir is None:
            # Short, so that a socket's path stays under the 108 bytes a socket may have.
            self.control_dir = tempfile.mkdtemp(prefix="deployable-ssh-")
        return self.control_dir

    def close(self) -> None:
        """Stop the ssh control masters of the run and remove their sockets (the owner only:
        a worker that finishes early must not cut the connections the others still use)."""
        if not self.owns_control_dir or self.control_dir is None:
            return
        with os.scandir(self.control_dir) as entries:
            sockets = [entry.path for entry in entries
                       if stat.S_ISSOCK(entry.stat(follow_symlinks=False).st_mode)]
        for path in sockets:
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                subprocess.run(
                    ["ssh", "-o", f"ControlPath={path}", "-O", "exit", "deployable-host"],
                    capture_output=True, timeout=5, check=False,
                )
        shutil.rmtree(self.control_dir, ignore_errors=True)


_FLEET = pytest.StashKey[Fleet]()
_WORKER_CONTROL_DIR = "deployable_ssh_control_dir"


def _is_ssh(spec: str, config: pytest.Config) -> bool:
    """Whether testinfra reaches ``spec`` with the ssh command (so a control master helps)."""
    from testinfra.backend import parse_hostspec

    default = getattr(config.option, "connection", None)
    connection = parse_hostspec(spec)[1].get("connection", default)
    return connection in ("ssh", "safe-ssh")


def configure(config: pytest.Config, target: Target, redactor: Redactor) -> None:
    """Take over testinfra's ``host`` fixture for ``target``, unless ``--hosts`` was given."""
    if getattr(config.option, "hosts", None):
        return
    workerinput = getattr(config, "workerinput", None)
    shared = workerinput.get(_WORKER_CONTROL_DIR) if workerinput is not None else None
    fleet = Fleet(config, target, redactor, control_dir=shared)
    if workerinput is None and any(_is_ssh(spec, config) for spec in target.fleet):
        fleet.ssh_control_dir()  # before the workers start, so they share it
    config.stash[_FLEET] = fleet
    config.add_cleanup(fleet.close)
    fleet.hosts  # noqa: B018 - a host spec testinfra cannot use is a usage error, now
    config.pluginmanager.register(sys.modules[__name__], "deployable-hosts")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """Hand the controller's ssh control directory to each xdist worker."""
    control_dir = node.config.stash[_FLEET].control_dir
    if control_dir is not None:
        node.workerinput[_WORKER_CONTROL_DIR] = control_dir


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under ``--dist load``, with at least as many hosts as workers, each host's checks
    on one worker (:mod:`.host_schedule` says why); else xdist's own choice."""
    workers = getattr(config.option, "numprocesses", None)
    names = [fleet_host.name for fleet_host in config.stash[_FLEET].hosts]
    if config.getvalue("dist") != "load" or not isinstance(workers, int) or workers < 2:
        return None
    if len(names) < workers:
        return None
    from .host_schedule import HostScheduling

    return HostScheduling(config, log, names)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Refuse an ``only_hosts`` role or host that no target of the file defines."""
    fleet = config.stash[_FLEET]
    if fleet.target.source is None:
        return  # an ad-hoc URL target: no file to know the names from
    known: KnownHosts | None = None
    for item in items:
        try:
            patterns = marker_value(item, "only_hosts")
        except MarkerError:
            continue  # classify() reports it as a usage error
        if not patterns:
            continue
        if known is None:
            names = [n for h in fleet.hosts for n in (h.name, h.hostname)]
            known = known_hosts(fleet.target.source, fleet.target.roles, names)
        for pattern in patterns:
            if not known.knows(pattern):
                where = Path(fleet.target.source).name
                raise pytest.UsageError(
                    fleet.redactor(unknown_pattern_error(
                        item.nodeid.partition("[")[0], pattern, known, where))
                )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if PARAM not in metafunc.fixturenames:
        return
    fleet = metafunc.config.stash[_FLEET]
    try:
        patterns = marker_value(metafunc.definition, "only_hosts")
    except MarkerError:
        patterns = None  # classify() reports it as a usage error once collection ends
    chosen = select(fleet.hosts, patterns)
    params: list[Any] = list(chosen)
    ids = [host.name for host in chosen]
    if not chosen:
        target = fleet.target.name
        if patterns is None:
            reason = f"deploy target {target!r} lists no hosts"
        else:
            shown = ", ".join(repr(p) for p in patterns)
            reason = f"only_hosts({shown}) selects no host of target {target!r}"
        params, ids = [NoHost(reason)], ["no-host"]
    metafunc.parametrize(PARAM, params, ids=ids, scope="module", indirect=True)


@pytest.fixture(scope="module")
def _deployable_host(request: pytest.FixtureRequest) -> FleetHost | NoHost:
    """The host (or the absence of one) this instance of a host check is for."""
    param: FleetHost | NoHost = request.param
    return param


@pytest.fixture(scope="module")
def host(request: pytest.FixtureRequest, _deployable_host: FleetHost | NoHost) -> Any:
    """A testinfra ``Host`` for one host of the deploy target; the check runs once per host."""
    if isinstance(_deployable_host, NoHost):
        pytest.fail(
            f"{_deployable_host.reason}; add hosts to the target, or give --hosts",
            pytrace=False,
        )
    return request.config.stash[_FLEET].connect(_deployable_host)


def not_applicable_reason(item: pytest.Item) -> str | None:
    """Why a host check applies to no host here (its ``only_hosts`` selects none), or None.

    A target that lists no hosts at all is not this case: its host checks fail,
    since a gate that silently checks no machine would pass a broken fleet.
    """
    param = _params(item).get(PARAM)
    if isinstance(param, NoHost) and item.get_closest_marker("only_hosts") is not None:
        return param.reason
    return None


def host_of(item: pytest.Item) -> str | None:
    """The name of the host a check instance runs on, or None if it is not a host check."""
    params = _params(item)
    param = params.get(PARAM)
    if isinstance(param, FleetHost):
        return param.name
    testinfra_host = params.get(_TESTINFRA_PARAM)
    if testinfra_host is not None and hasattr(testinfra_host, "backend"):
        return host_name(testinfra_host.backend)
    return None


def _params(item: pytest.Item) -> dict[str, Any]:
    callspec = getattr(item, "callspec", None)
    return callspec.params if callspec is not None else {}

