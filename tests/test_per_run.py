"""``_per_run``: a server the xdist workers of one run share is started once, stopped once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from _per_run import shared, stop_leftover

TESTS = Path(__file__).parent

CONFTEST = """
import os
from pathlib import Path

import pytest
from _per_run import shared

LOG = Path(os.environ["PER_RUN_LOG"])


def note(line):
    with LOG.open("a") as handle:
        handle.write(line + "\\n")


def start():
    note("start " + os.environ["PYTEST_XDIST_WORKER"])
    return {"token": os.urandom(8).hex()}


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    with shared(tmp_path_factory.getbasetemp().parent, "srv", start,
                lambda facts: note("stop " + facts["token"])) as facts:
        yield facts
"""

# Each worker (``--dist each``) holds the server until both have it, so the two
# uses overlap: counting the log's lines, not waiting a guessed time.
CHECK = """
import os
import time
from pathlib import Path

LOG = Path(os.environ["PER_RUN_LOG"])


def test_uses_the_server(server):
    with LOG.open("a") as handle:
        handle.write(f"use {os.environ['PYTEST_XDIST_WORKER']} {server['token']}\\n")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if sum(line.startswith("use ") for line in LOG.read_text().splitlines()) == 2:
            return
        time.sleep(0.05)
    raise AssertionError("the other worker never used the server")
"""


def test_two_workers_share_one_start_and_the_last_one_stops_it(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = pytester.path / "log.txt"
    monkeypatch.setenv("PER_RUN_LOG", str(log))
    monkeypatch.setenv("PYTHONPATH", str(TESTS))
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_share=CHECK)

    result = pytester.runpytest_subprocess("-n", "2", "--dist", "each", "-p", "no:cacheprovider")

    assert result.ret == 0, result.stdout.str()
    lines = log.read_text().splitlines()
    starts = [line for line in lines if line.startswith("start ")]
    uses = sorted(line.split() for line in lines if line.startswith("use "))
    assert len(starts) == 1, lines
    assert [worker for _, worker, _ in uses] == ["gw0", "gw1"]
    token = uses[0][2]
    assert {t for _, _, t in uses} == {token}
    assert lines[-1] == f"stop {token}", lines  # once, after both uses
    assert sum(line.startswith("stop ") for line in lines) == 1


def test_a_server_a_dead_worker_left_is_stopped_once(tmp_path: Path) -> None:
    stopped: list[dict[str, Any]] = []
    held = shared(tmp_path, "srv", lambda: {"port": 1}, stopped.append)
    held.__enter__()  # and never __exit__: the worker died holding it

    assert stop_leftover(tmp_path, "srv", stopped.append) is True
    assert stopped == [{"port": 1}]
    assert stop_leftover(tmp_path, "srv", stopped.append) is False
    assert stopped == [{"port": 1}]
    assert not (tmp_path / "srv.json").exists()
    with pytest.raises(StopIteration):  # the dead worker's exit, were it to come, is a no-op
        next(held.gen)
    assert stopped == [{"port": 1}]


def test_nothing_started_is_nothing_to_stop(tmp_path: Path) -> None:
    assert stop_leftover(tmp_path, "srv", lambda facts: pytest.fail(json.dumps(facts))) is False
