"""The gate and partial runs (exit 7), and files that are not verdicts but could hang it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from pytest_deployable.attestation import RunInfo, dump, to_statement, write_atomic
from pytest_deployable.cli import main
from pytest_deployable.gate import EXIT_BAD_FILE, EXIT_PARTIAL, gate_file
from pytest_deployable.selection import Selection
from pytest_deployable.targets import Target
from pytest_deployable.verdict import CheckResult, Outcome, RunFacts, decide

STAGING = Target("staging", "https://staging.shop.example")
PASSING = [CheckResult("t.py::test_health", "smoke", True, Outcome.PASSED)]


def verdict(path: Path, chosen: Selection | None, **changes: Any) -> Path:
    finished = datetime.now(timezone.utc) - timedelta(seconds=5)
    info = RunInfo("shop", STAGING, finished - timedelta(seconds=3), finished, "1.0")
    data = to_statement(decide(PASSING, RunFacts(selection=chosen)), info)
    data["predicate"]["deployability"].update(changes)
    write_atomic(path, dump(data))
    return path


def test_partial_verdicts_exit_7_unless_allowed(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    path = verdict(tmp_path / "v.json", Selection(deselected=("t.py::test_login",),
                                                  keyword="not login"))
    assert main(["gate", str(path)]) == EXIT_PARTIAL
    err = capsys.readouterr().err
    assert "partial run: 1 check deselected (-k 'not login')" in err
    assert "--allow-partial" in err
    assert main(["gate", str(path), "--allow-partial"]) == 0
    assert main(["gate", str(path), "--allow-partial", "--strict"]) == 1


def test_no_selection_record_is_not_known_to_be_complete(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = verdict(tmp_path / "v.json", None)
    assert main(["gate", str(path)]) == EXIT_PARTIAL
    assert "no selection record" in capsys.readouterr().err
    assert main(["gate", str(path), "--allow-partial"]) == 0
    assert main(["gate", str(verdict(tmp_path / "w.json", Selection()))]) == 0


@pytest.mark.parametrize(
    "selection",
    [
        {"complete": True, "deselected": ["t.py::x"], "skippedAtCollection": [],
         "keyword": None, "markers": None, "lastFailed": False, "args": []},
        {"complete": True, "deselected": [], "skippedAtCollection": [], "keyword": None,
         "markers": None, "lastFailed": True, "args": []},
        {"complete": "yes", "deselected": [], "skippedAtCollection": [], "keyword": None,
         "markers": None, "lastFailed": False, "args": []},
        {"complete": True, "deselected": [], "skippedAtCollection": [], "keyword": None,
         "markers": None, "lastFailed": False},
    ],
    ids=["complete-but-deselected", "complete-but-lf", "not-a-bool", "missing-key"],
)
def test_an_edited_selection_is_not_trusted(tmp_path: Path, selection: dict[str, Any]) -> None:
    path = verdict(tmp_path / "v.json", Selection(), selection=selection)
    result = gate_file(path)
    assert result.exit_code == EXIT_BAD_FILE
    assert "selection" in result.message


def test_a_partial_run_cannot_be_edited_to_deployable(tmp_path: Path) -> None:
    path = verdict(tmp_path / "v.json", Selection(last_failed=True))
    data = json.loads(path.read_text())
    data["predicate"]["deployability"]["verdict"] = "DEPLOYABLE"
    data["predicate"]["result"] = "PASSED"
    data["predicate"]["deployability"]["reasons"] = []
    path.write_text(json.dumps(data))
    result = gate_file(path)
    assert result.exit_code == EXIT_BAD_FILE
    assert "partial" in result.message


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "verdict.fifo"
    os.mkfifo(fifo)
    # A subprocess, so that a regression hangs one child with a timeout, not the suite.
    done = subprocess.run(
        [sys.executable, "-m", "pytest_deployable", "gate", str(fifo)],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == EXIT_BAD_FILE
    assert done.stderr.strip().endswith("not a regular file (a pipe, device or socket); "
                                        "give the verdict file")
    assert "Traceback" not in done.stderr


def test_a_device_is_refused_without_reading_it(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest_deployable", "gate", "/dev/zero"],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == EXIT_BAD_FILE
    assert done.stderr.count("\n") == 1
    assert "not a regular file" in done.stderr


def test_a_huge_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    with path.open("wb") as handle:
        handle.truncate(65 * 1024 * 1024)  # sparse: no disk used
    result = gate_file(path)
    assert result.exit_code == EXIT_BAD_FILE
    assert "larger than 64 MiB" in result.message


def test_show_into_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    path = verdict(tmp_path / "v.json", Selection())
    data = json.loads(path.read_text())
    data["predicate"]["deployability"]["checks"] = [
        {**data["predicate"]["deployability"]["checks"][0], "id": f"t.py::test_{n}"}
        for n in range(3000)
    ]
    data["predicate"]["deployability"]["summary"]["passed"] = 3000
    data["predicate"]["passedTests"] = [c["id"] for c in
                                        data["predicate"]["deployability"]["checks"]]
    path.write_text(json.dumps(data))
    show = subprocess.Popen(
        [sys.executable, "-m", "pytest_deployable", "show", str(path), "--format", "json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    assert show.stdout is not None
    assert show.stderr is not None
    show.stdout.readline()
    show.stdout.close()  # what `| head -1` does
    stderr = show.stderr.read().decode()
    show.wait(timeout=60)
    assert "Traceback" not in stderr, stderr
    assert "BrokenPipe" not in stderr, stderr


def test_selection_survives_the_round_trip() -> None:
    selection = Selection(deselected=("a",), skipped_at_collection=("m.py",), keyword="k",
                          markers="m", last_failed=True, args=("t.py::x", "tests"))
    data = selection.to_dict()
    assert data["complete"] is False
    assert replace(selection).to_dict() == data
    assert Selection(args=("tests/deploy",)).complete
    assert not Selection(args=("tests/deploy/test_a.py::test_b",)).complete
