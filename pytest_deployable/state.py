"""The run's state, kept in ``config.stash`` under one key."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .markers import CheckSpec
from .recorder import CheckFacts, Recorder
from .redact import Redactor

if TYPE_CHECKING:
    # Types only: every pytest run on a machine with the plugin makes a DeployState,
    # and a run without a deploy target needs neither module.
    from .targets import Target
    from .verdict import Soak, Verdict

__all__ = ["EVIDENCE", "FACTS", "META", "SPEC", "STATE", "TRIES", "DeployState", "is_worker"]


@dataclass
class DeployState:
    """Everything the plugin learns during one run, in one process."""

    target: Target | None = None
    redactor: Redactor = field(default_factory=Redactor)
    allow_destructive: bool = False
    started: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    recorder: Recorder = field(default_factory=Recorder)
    expected: list[str] = field(default_factory=list)
    """Node ids of the selected checks, in run order."""
    current_destructive: bool = False
    """Whether the check running now is marked destructive."""
    interrupted: str | None = None
    usage_error: str | None = None
    """A usage error an xdist worker found at collection, for the controller to report."""
    internal_error: str | None = None
    collection_errors: int = 0
    crashed_workers: list[str] = field(default_factory=list)
    budget_deadline: float | None = None
    """When the run's budget ends, as a ``time.time()`` instant, or None."""
    budget_exhausted: str | None = None
    stopped: str | None = None
    """Why the run stopped on purpose (``--deploy-fail-fast``)."""
    soak: Soak | None = None
    deselected: dict[str, None] = field(default_factory=dict)
    """Ids of checks deselected (``-k``, ``-m``, ``--deselect``, ``--sw``, a plugin), in
    order; a dict as an ordered set, since large deselections are common (``-m smoke``)."""
    skipped_modules: dict[str, str] = field(default_factory=dict)
    """Modules skipped at collection, with the skip's reason."""
    last_failed: bool = False
    """``--lf`` narrowed the run to last time's failures."""
    subject: str | None = None
    commit: str | None = None
    """What the run tests, found once at the start (the placeholder names it too)."""
    known_targets: tuple[str, ...] | None = None
    """The target names of the targets file, to check ``only_targets`` against."""
    targets_source: str = "deploy-targets.toml"
    verdict: Verdict | None = None
    verdict_path: Path | None = None
    verdict_written: bool = False
    statement: dict[str, object] | None = None

    def __setattr__(self, name: str, value: object) -> None:
        # The target is set once, when the run starts: a check that replaced it
        # would make the verdict name a target other than the one checked.
        if name == "target" and self.__dict__.get("target") is not None:
            raise AttributeError("the deploy target of a run cannot be changed once it started")
        super().__setattr__(name, value)

    def stop_at(self) -> float | None:
        """The budget's end on this process's monotonic clock, to cap every wait."""
        if self.budget_deadline is None:
            return None
        return time.monotonic() + (self.budget_deadline - time.time())

    def unsafe_allowed(self) -> bool:
        """Whether the running check may send state-changing requests to a protected target."""
        return self.allow_destructive and self.current_destructive


STATE = pytest.StashKey[DeployState]()
#: How an item counts as a check (None: not a check), set at collection.
SPEC = pytest.StashKey[CheckSpec | None]()
#: A check's facts, fixed once at collection (see :class:`~.recorder.CheckFacts`).
FACTS = pytest.StashKey[CheckFacts]()
#: A check's facts as the plain data every report of it carries, made once per check.
META = pytest.StashKey[dict[str, Any]]()
#: How many times a ``within=`` check's body ran.
TRIES = pytest.StashKey[int]()
#: What a check saw that the verdict keeps beside its outcome (the version check's
#: answers), carried on its report as ``evidence``.
EVIDENCE = pytest.StashKey[dict[str, Any]]()


def is_worker(config: pytest.Config) -> bool:
    """Whether this process is a pytest-xdist worker (the controller writes the files)."""
    return hasattr(config, "workerinput")
