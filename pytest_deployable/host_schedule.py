"""With pytest-xdist, every check of one host on one worker: one connection per host.

Under xdist's default ``--dist load`` the checks of a host are spread over the
workers, and every worker that gets one of them connects to that host and probes
it. With paramiko that is a TCP and an SSH handshake, about eight round trips,
per worker per host: on a fleet 100 ms away, 32 hosts x 5 checks at ``-n 4``
opened about twice as many connections as there are hosts, and the workers spent
their time on handshakes instead of checks.

:class:`HostScheduling` is xdist's own ``LoadScopeScheduling`` with the host as
the scope: a host's checks are one unit of work, handed whole to one worker;
every other check is a unit of its own, handed out as under ``load``. Which
checks run, and how each is recorded, does not change; only which worker runs
them. It is used only when the run asked for ``--dist load`` (what ``-n`` gives)
and the target has at least as many hosts as there are workers: with fewer hosts,
queueing a host's checks on one worker while the others idle would be slower
than a handshake per worker. A worker that crashes in the middle of a host's
unit leaves it to xdist's scope rescheduling, and if that stalls, to the crash
watchdog (``watchdog.py``), which ends the run with a verdict that does not pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from xdist.scheduler import LoadScopeScheduling

__all__ = ["HostScheduling", "host_scope"]


def host_scope(nodeid: str, names: Sequence[str]) -> str | None:
    """The host a check instance's node id runs on, among ``names``, or None.

    The host's name is the parameter id this plugin gives (``test_x[ssh://web1]``);
    other parameters join it with ``-`` (``test_x[ssh://web1-3]``). A host name
    that contains another (``web1`` and ``web10``) is matched whole, longest first.
    """
    if not nodeid.endswith("]") or "[" not in nodeid:
        return None
    ids = nodeid[nodeid.index("[") + 1:-1]
    for name in sorted(names, key=len, reverse=True):
        if (ids == name or ids.startswith(f"{name}-") or ids.endswith(f"-{name}")
                or f"-{name}-" in ids):
            return name
    return None


class HostScheduling(LoadScopeScheduling):  # type: ignore[misc]  # xdist is untyped
    """xdist's scope scheduling, the scope of a host check being its host."""

    def __init__(self, config: pytest.Config, log: Any, names: Sequence[str]) -> None:
        super().__init__(config, log)
        self.names = tuple(names)

    def _split_scope(self, nodeid: str) -> str:
        host = host_scope(nodeid, self.names)
        # The prefix keeps a host apart from a node id that happens to equal its name.
        return nodeid if host is None else f"deployable-host::{host}"
