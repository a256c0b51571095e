"""The names ``only_hosts`` may use: roles and hosts of the targets file, checked once.

A role or host pattern that names nothing in the targets file would make its
checks "not applicable" everywhere, silently; so it is a usage error that
suggests the nearest known name, as a mistyped target name is. A name that some
other target defines is fine: one suite serves every target, and a check that
applies to no host of this one is "not applicable" here, with the reason.
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .target_schema import TargetError

__all__ = ["KnownHosts", "known_hosts", "unknown_pattern_error"]


@dataclass(frozen=True)
class KnownHosts:
    """Every role, and every host name, spec and hostname, across the targets file."""

    roles: frozenset[str]
    hosts: tuple[str, ...]

    def knows(self, pattern: str) -> bool:
        """Whether ``pattern`` is a role, or a glob that matches some host."""
        return pattern in self.roles or any(
            fnmatch.fnmatchcase(host, pattern) for host in self.hosts
        )

    def nearest(self, pattern: str) -> str | None:
        """The known role or host name closest to ``pattern``, if any is close."""
        found = difflib.get_close_matches(pattern, [*sorted(self.roles), *self.hosts], n=1)
        return found[0] if found else None


def _hostname(spec: str) -> str:
    """``web1.prod`` for ``ssh://deploy@web1.prod:22?sudo=true``; the spec if it has none."""
    rest = spec.split("://", 1)[-1].split("?", 1)[0]
    host = rest.rsplit("@", 1)[-1]
    if host.startswith("["):  # [::1]:22
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def known_hosts(source: str | None, roles: Iterable[str],
                fleet_names: Sequence[str]) -> KnownHosts:
    """What the targets file at ``source`` defines, with this target's ``roles`` and the
    names of its hosts as built (``fleet_names``: names and hostnames, secrets masked).

    Other targets are read as written (no ``${VAR}`` filled in), so a host of
    another target is known by its spec and its hostname as written.
    """
    from .targets import load_targets_file

    all_roles = set(roles)
    hosts = list(fleet_names)
    if source is not None:
        try:
            tables = load_targets_file(Path(source)).tables
        except TargetError:
            tables = {}  # gone since the run started: this target's names still count
        for table in tables.values():
            table_roles = table.get("roles") or {}
            all_roles.update(table_roles)
            specs = [*table.get("hosts", []),
                     *(spec for members in table_roles.values() for spec in members)]
            for spec in specs:
                hosts += [spec, _hostname(spec)]
    return KnownHosts(frozenset(all_roles), tuple(dict.fromkeys(hosts)))


def unknown_pattern_error(nodeid: str, pattern: str, known: KnownHosts,
                          where: str) -> str:
    """The one line a usage error shows for an ``only_hosts`` name nothing defines."""
    nearest = known.nearest(pattern)
    hint = f"did you mean {nearest!r}?" if nearest else (
        "known roles: " + (", ".join(sorted(known.roles)) or "none")
    )
    return (
        f"{nodeid}: @pytest.mark.only_hosts({pattern!r}): no role or host in {where} "
        f"has that name; {hint}"
    )
