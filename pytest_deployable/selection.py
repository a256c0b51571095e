"""How a run chose its checks, and whether that was the whole suite (SPEC §10).

Plain data, no pytest: the plugin gathers the facts (deselected checks, modules
skipped at collection, ``-k``/``-m``, ``--lf``, the arguments) and
:func:`~pytest_deployable.verdict.decide` reads :attr:`Selection.partial_reason`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .vocabulary import SELECTION_KEYS

__all__ = ["NODE_ID_SEPARATOR", "Selection"]

#: An argument with this in it names test ids, not a directory or file of the suite.
NODE_ID_SEPARATOR = "::"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


@dataclass(frozen=True)
class Selection:
    """Which checks a run left out, and how; a run that left any out is partial."""

    deselected: tuple[str, ...] = ()
    """Ids of checks deselected by ``-k``, ``-m``, ``--deselect``, ``--sw`` or a plugin."""
    skipped_at_collection: tuple[str, ...] = ()
    """Modules (or packages) skipped at collection, whose checks were never seen."""
    keyword: str | None = None
    markers: str | None = None
    last_failed: bool = False
    """``--lf`` ran only the checks that failed last time."""
    args: tuple[str, ...] = ()
    """The file and node-id arguments the run was given (not testpaths or the rootdir)."""

    @property
    def node_ids(self) -> tuple[str, ...]:
        """The arguments that name single tests rather than files or directories."""
        return tuple(arg for arg in self.args if NODE_ID_SEPARATOR in arg)

    @property
    def complete(self) -> bool:
        """Whether the run had every check of the suite it was pointed at."""
        return self.partial_reason is None

    @property
    def partial_reason(self) -> str | None:
        """Why the run is partial, in words, or None for a complete run."""
        parts: list[str] = []
        if self.deselected:
            how = [f"-k {self.keyword!r}" if self.keyword else "",
                   f"-m {self.markers!r}" if self.markers else ""]
            shown = ", ".join(part for part in how if part) or "--deselect, --sw or a plugin"
            parts.append(f"{_plural(len(self.deselected), 'check')} deselected ({shown})")
        if self.skipped_at_collection:
            parts.append(
                f"{_plural(len(self.skipped_at_collection), 'module')} skipped at collection "
                f"({', '.join(self.skipped_at_collection[:3])}"
                + (" and more" if len(self.skipped_at_collection) > 3 else "") + ")"
            )
        if self.last_failed:
            parts.append("--lf ran only the checks that failed last time")
        if self.node_ids:
            parts.append(
                f"node-id arguments ran only {', '.join(self.node_ids[:3])}"
                + (" and more" if len(self.node_ids) > 3 else "")
            )
        if not parts:
            return None
        return "partial run: " + "; ".join(parts) + ": the verdict does not cover the whole suite"

    def to_dict(self) -> dict[str, Any]:
        """The ``deployability.selection`` record of the verdict file."""
        values = (self.complete, list(self.deselected), list(self.skipped_at_collection),
                  self.keyword, self.markers, self.last_failed, list(self.args))
        return dict(zip(SELECTION_KEYS, values, strict=True))
