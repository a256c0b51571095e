"""A server started once per test run and shared by its xdist workers.

pytest's session fixtures run once per *process*: under ``pytest -n 2`` each xdist
worker would start its own PostgreSQL. Here the first worker to ask starts it, under a
file lock in the run's base temporary directory (the parent of every worker's own, the
pattern pytest-xdist's documentation gives), and writes what a client needs to a JSON
file; the others read that file. Each user counts itself in and out of the file, and the
last one out stops the server, so it never outlives the run's last use of it — unless a
worker dies holding it, which :func:`stop_leftover` (called by the controller at the end
of the run) covers.

Only what is plain data crosses processes (ports, paths, passwords); anything that must
live in the test's own process (an in-process HTTP service, a browser handle) cannot be
shared this way: its module is kept on one worker instead (``_scheduling``).
"""

from __future__ import annotations

import fcntl
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

Facts = dict[str, Any]


@contextmanager
def _locked(root: Path, name: str) -> Iterator[Path]:
    """Hold ``NAME.lock`` in ``root``; the state file's path while held."""
    with (root / f"{name}.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield root / f"{name}.json"
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def shared(root: Path, name: str, start: Callable[[], Facts],
           stop: Callable[[Facts], None]) -> Iterator[Facts]:
    """The facts of server ``name``, started by ``start`` if no worker of this run has.

    ``root`` is the run's base temporary directory, the same for every worker of a run
    and different between runs (two runs on one machine never share a server).
    """
    with _locked(root, name) as state:
        fresh = not state.exists()
        record = {"facts": start(), "users": 0} if fresh else json.loads(state.read_text())
        record["users"] += 1
        state.write_text(json.dumps(record))
    try:
        yield record["facts"]
    finally:
        _leave(root, name, stop)


def _leave(root: Path, name: str, stop: Callable[[Facts], None]) -> None:
    """Count one user out of server ``name``; the last one stops it."""
    with _locked(root, name) as state:
        if not state.exists():  # stop_leftover already stopped it
            return
        record = json.loads(state.read_text())
        record["users"] -= 1
        if record["users"] == 0:
            state.unlink()
            stop(record["facts"])
        else:
            state.write_text(json.dumps(record))


def stop_leftover(root: Path, name: str, stop: Callable[[Facts], None]) -> bool:
    """Stop server ``name`` if a worker that used it died before counting itself out."""
    if not (root / f"{name}.lock").exists():
        return False
    with _locked(root, name) as state:
        if not state.exists():
            return False
        record = json.loads(state.read_text())
        state.unlink()
        stop(record["facts"])
        return True
