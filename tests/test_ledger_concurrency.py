"""Sixteen pipelines writing to one ledger at the same moment: nothing lost, nothing twice.

Each writer is a real process running ``deployable``; all of them wait, fully
imported, for one go signal, so their transactions really overlap (on a ledger
that none of them has created yet: creating it is part of the race).
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _ledger import make_statement, write

WRITERS = 16

_WRITER = """\
import sys, time
from pathlib import Path
from pytest_deployable.cli import main
import pytest_deployable.ledger.store  # imported before the signal, like a warm runner
ready, go = Path(sys.argv[1]), Path(sys.argv[2])
ready.touch()
while not go.exists():
    time.sleep(0.002)
sys.exit(main(sys.argv[3:]))
"""


def _race(tmp_path: Path, commands: list[list[str]]) -> list[tuple[int, str, str]]:
    go = tmp_path / "go"
    processes = []
    for index, command in enumerate(commands):
        ready = tmp_path / f"ready-{index}"
        processes.append((ready, subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(ready), str(go), *command], cwd=tmp_path,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)))
    deadline = time.monotonic() + 120
    while not all(ready.exists() for ready, _ in processes):
        assert time.monotonic() < deadline, "the writers did not start"
        time.sleep(0.01)
    go.touch()
    results = []
    for _, process in processes:
        out, err = process.communicate(timeout=120)
        results.append((process.returncode, out, err))
    return results


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    postgres = request.getfixturevalue("postgres")
    url: str = postgres.url(postgres.create_database())
    return url


def test_sixteen_writers_lose_nothing_and_store_nothing_twice(tmp_path: Path,
                                                              ledger_url: str) -> None:
    shared = write(tmp_path / "shared.json", make_statement("staging", "1.0.0"))
    commands = []
    for index in range(WRITERS):
        own = write(tmp_path / f"own-{index}.json",
                    make_statement("staging", f"2.0.{index}", run=index))
        commands.append(["record", str(own), str(shared), "--ledger", ledger_url,
                         "--format", "json"])
    results = _race(tmp_path, commands)
    assert [code for code, _, _ in results] == [0] * WRITERS, [err for _, _, err in results if err]
    answers = [json.loads(out) for _, out, _ in results]
    assert sum(answer["new"] for answer in answers) == WRITERS + 1
    shared_ids = {answer["verdicts"][1]["id"] for answer in answers}
    assert len(shared_ids) == 1  # every writer was told the same row

    from pytest_deployable.ledger.store import Ledger
    from pytest_deployable.ledger.urls import parse_url

    ledger = Ledger.open(parse_url(ledger_url, "test", base=tmp_path), write=False)
    try:
        entries = ledger.history(limit=1000)
        assert len(entries) == WRITERS + 1
        assert sorted(e.version or "" for e in entries) == sorted(
            ["1.0.0", *(f"2.0.{i}" for i in range(WRITERS))])
        checks = ledger.check_rows(entry.id for entry in entries)  # type: ignore[union-attr]
        assert all(len(rows) == 1 for rows in checks.values())
    finally:
        ledger.close()
    if ledger_url.startswith("sqlite"):
        with sqlite3.connect(tmp_path / "ledger.db") as connection:
            assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_sixteen_writers_of_one_deployment_id_record_it_once(tmp_path: Path,
                                                             ledger_url: str) -> None:
    command = ["record-deployment", "--target", "production", "--version", "1.4.2", "--id",
               "pipeline-7", "--ledger", ledger_url, "--format", "json"]
    results = _race(tmp_path, [command] * WRITERS)
    assert [code for code, _, _ in results] == [0] * WRITERS, [err for _, _, err in results if err]
    answers = [json.loads(out) for _, out, _ in results]
    assert {answer["id"] for answer in answers} == {"pipeline-7"}
    assert sum(answer["new"] for answer in answers) == 1
