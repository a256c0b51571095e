"""The ``deployable`` command, in-process and as the real process a CI step runs."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

import pytest_deployable
from pytest_deployable.attestation import RunInfo, dump, to_statement, write_atomic
from pytest_deployable.cli import main
from pytest_deployable.selection import Selection
from pytest_deployable.targets import Target
from pytest_deployable.verdict import CheckResult, Outcome, RunFacts, decide

STAGING = Target("staging", "https://staging.shop.example")
FAILING = "tests/deploy/test_smoke.py::test_login"


def check(name: str, outcome: Outcome = Outcome.PASSED, *, blocking: bool = True) -> CheckResult:
    return CheckResult(f"tests/deploy/test_smoke.py::{name}", "smoke", blocking, outcome)


PASSING = [check("test_health"), check("test_catalog")]
WARNING = [check("test_health"), check("test_slow", Outcome.FAILED, blocking=False)]
BROKEN = [check("test_health"), check("test_login", Outcome.FAILED)]


def statement(
    checks: list[CheckResult] = PASSING,
    facts: RunFacts | None = None,
    *,
    version: str | None = "1.4.2",
    age: timedelta = timedelta(seconds=41),
) -> dict[str, Any]:
    finished = datetime.now(timezone.utc) - age
    info = RunInfo("shop-api", STAGING, finished - timedelta(seconds=30), finished, version)
    facts = facts or RunFacts()
    if facts.selection is None:  # as the plugin writes it: a complete run says so
        facts = replace(facts, selection=Selection())
    return to_statement(decide(checks, facts), info)


@pytest.fixture
def verdict_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``deploy-verdict.json`` in the current directory, holding a DEPLOYABLE verdict."""
    monkeypatch.chdir(tmp_path)
    path = Path("deploy-verdict.json")
    write_atomic(path, dump(statement()))
    return path


def write(path: Path, data: dict[str, Any]) -> Path:
    write_atomic(path, dump(data))
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# -- gate, in-process --------------------------------------------------------


def test_gate_passes_with_one_line_on_stdout(
    verdict_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "gate", str(verdict_file), "--target", "staging",
                         "--version", "1.4.2", "--max-age", "30m")

    assert code == 0
    # The verdict finished 41 s before the test started; a loaded machine may add a second.
    [line] = out.splitlines()
    assert re.fullmatch(
        r"deployable gate: DEPLOYABLE — shop-api 1\.4\.2 on staging \(verdict 4\ds old\)", line
    ), line
    assert err == ""


@pytest.mark.parametrize(
    ("built", "argv", "code", "line"),
    [
        ({"checks": BROKEN}, [], 1,
         f"deployable gate: NOT_DEPLOYABLE: 1 blocking check failed: {FAILING}"),
        ({"checks": WARNING}, ["--strict"], 1,
         "deployable gate: DEPLOYABLE_WITH_WARNINGS, not allowed with --strict: 1 advisory "
         "check failed: tests/deploy/test_smoke.py::test_slow"),
        ({"facts": RunFacts(collection_errors=2)}, [], 6,
         "deployable gate: INCONCLUSIVE: 2 collection errors: checks may be missing"),
        ({}, ["--target", "production"], 4,
         "deployable gate: deploy-verdict.json is for target 'staging', not 'production'"),
        ({}, ["--version", "1.4.3"], 4,
         "deployable gate: deploy-verdict.json is for version '1.4.2', not '1.4.3'"),
        ({"age": timedelta(hours=2, minutes=3, seconds=5)}, ["--max-age", "30m"], 5,
         "deployable gate: deploy-verdict.json is 2h 3m old, older than --max-age 30m"),
        ({"age": -timedelta(hours=1, seconds=30)}, [], 3,
         "deployable gate: deploy-verdict.json finished 1h in the future "),
    ],
)
def test_gate_refuses_with_one_line_on_stderr(
    verdict_file: Path,
    capsys: pytest.CaptureFixture[str],
    built: dict[str, Any],
    argv: list[str],
    code: int,
    line: str,
) -> None:
    write(verdict_file, statement(**built))

    exit_code, out, err = run(capsys, "gate", str(verdict_file), *argv)

    assert (exit_code, out) == (code, "")
    assert err.splitlines() == [err.rstrip("\n")]
    assert err.startswith(line)


def test_gate_warnings_pass_without_strict(
    verdict_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(verdict_file, statement(WARNING))

    code, out, err = run(capsys, "gate", str(verdict_file))

    assert code == 0
    assert out.startswith("deployable gate: DEPLOYABLE_WITH_WARNINGS — shop-api 1.4.2 on staging")
    assert out.rstrip().endswith("; warning: 1 advisory check failed: "
                                 "tests/deploy/test_smoke.py::test_slow")
    assert err == ""


def test_gate_json_is_one_object_on_stdout_with_the_same_exit_code(
    verdict_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(verdict_file, statement(BROKEN))

    code, out, err = run(capsys, "gate", str(verdict_file), "--format", "json")

    assert code == 1
    assert err == ""
    assert len(out.splitlines()) == 1
    document = json.loads(out)
    assert document == {
        "ok": False,
        "exitCode": 1,
        "verdict": "NOT_DEPLOYABLE",
        "message": f"NOT_DEPLOYABLE: 1 blocking check failed: {FAILING}",
        "target": "staging",
        "version": "1.4.2",
        "ageSeconds": document["ageSeconds"],
        "signature": {"signed": False, "verified": None, "signatures": []},
        "policy": None,
    }
    assert 40 <= document["ageSeconds"] <= 60


def test_gate_json_for_a_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere.json"

    code, out, _ = run(capsys, "gate", str(missing), "--format", "json")

    assert code == 3
    assert json.loads(out) == {
        "ok": False, "exitCode": 3, "verdict": None, "target": None, "version": None,
        "message": f"{missing}: verdict file not found", "ageSeconds": None,
        "signature": None, "policy": None,
    }


def test_gate_bad_file_is_exit_3(verdict_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    verdict_file.write_text('{"_type": "https://in-toto.io/Statement/v1"', encoding="utf-8")

    code, out, err = run(capsys, "gate", str(verdict_file))

    assert (code, out) == (3, "")
    assert err == ("deployable gate: deploy-verdict.json: truncated: the JSON ends early "
                   "(line 1 column 44)\n")


@pytest.mark.parametrize("value", ["30 minutes", "0", "-5m", ""])
def test_a_bad_max_age_is_a_usage_error_naming_the_option(
    verdict_file: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    code, out, err = run(capsys, "gate", str(verdict_file), f"--max-age={value}")

    assert (code, out) == (2, "")
    assert "deployable gate: error: argument --max-age: invalid duration" in err
    assert "Traceback" not in err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys)[0] == 2
    assert run(capsys, "gate")[0] == 2
    code, _, err = run(capsys, "gate", "x.json", "--format", "yaml")
    assert code == 2
    assert "argument --format: invalid choice: 'yaml'" in err


def test_help_and_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    assert "usage: deployable [-h] [--version] COMMAND ..." in out
    # Column widths and wrapping differ between Python versions: compare the words only.
    words = " ".join(out.split())
    assert "gate exit 0 only if the verdict file lets the pipeline proceed" in words
    assert "show print a verdict file for a person" in words
    assert "contract-diff list breaking changes between two OpenAPI contracts" in words

    code, out, _ = run(capsys, "gate", "--help")
    assert code == 0
    assert "usage: deployable gate [-h] [--target NAME] [--version V]" in out
    assert "  6  INCONCLUSIVE" in out

    code, out, _ = run(capsys, "--version")
    assert code == 0
    try:
        expected = metadata.version("pytest-deployable")
    except metadata.PackageNotFoundError:
        expected = "unknown"
    assert out == f"deployable {expected}\n"


# -- show --------------------------------------------------------------------


def test_show_json_is_the_checked_statement(
    verdict_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    written = statement(BROKEN)
    write(verdict_file, written)

    code, out, err = run(capsys, "show", str(verdict_file), "--format", "json")

    assert (code, err) == (0, "")
    assert json.loads(out) == written


@pytest.mark.parametrize("form", ["text", "markdown"])
def test_show_prints_the_summary_for_a_person(
    verdict_file: Path, capsys: pytest.CaptureFixture[str], form: str
) -> None:
    summary = pytest.importorskip("pytest_deployable.summary")
    written = statement(BROKEN)
    write(verdict_file, written)
    render = summary.render_markdown if form == "markdown" else summary.render_text

    code, out, err = run(capsys, "show", str(verdict_file), "--format", form)

    assert (code, err) == (0, "")
    assert out == render(written).rstrip("\n") + "\n"
    assert "NOT_DEPLOYABLE" in out.replace("\\_", "_")  # Markdown escapes the underscore


def test_show_refuses_a_bad_file_with_exit_3(
    verdict_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = statement()
    data["predicate"]["deployability"]["schemaVersion"] = "2"
    write(verdict_file, data)

    code, out, err = run(capsys, "show", str(verdict_file))

    assert (code, out) == (3, "")
    assert err == ("deployable show: deploy-verdict.json: written by a newer pytest-deployable, "
                   "schema 2; this one reads 1: upgrade pytest-deployable to read it\n")


# -- the real process --------------------------------------------------------


def deployable(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``python -m pytest_deployable`` as a CI step would."""
    root = str(Path(next(iter(pytest_deployable.__path__))).parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-m", "pytest_deployable", *argv],
        cwd=cwd, env=env, capture_output=True, text=True, encoding="utf-8", timeout=60,
        check=False,
    )


def test_process_gate_passes(verdict_file: Path) -> None:
    done = deployable("gate", "deploy-verdict.json", "--target", "staging", cwd=Path.cwd())

    assert done.returncode == 0
    assert done.stdout.startswith("deployable gate: DEPLOYABLE — shop-api 1.4.2 on staging")
    assert done.stderr == ""


@pytest.mark.parametrize(
    ("content", "argv", "code", "line"),
    [
        ("[1, 2, 3]\n", [], 3,
         "deployable gate: deploy-verdict.json: not a verdict file: expected a JSON object, "
         "found an array"),
        (None, ["--max-age", "30m"], 5,
         "deployable gate: deploy-verdict.json is 2h 3m old, older than --max-age 30m"),
        (None, ["--max-age", "soon"], 2, None),
    ],
)
def test_process_gate_refuses_with_one_line_and_no_traceback(
    verdict_file: Path, content: str | None, argv: list[str], code: int, line: str | None
) -> None:
    if content is None:
        write(verdict_file, statement(age=timedelta(hours=2, minutes=3, seconds=1)))
    else:
        verdict_file.write_text(content, encoding="utf-8")

    done = deployable("gate", "deploy-verdict.json", *argv, cwd=Path.cwd())

    assert done.returncode == code
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    if line is not None:
        assert done.stderr.splitlines() == [line]
    else:
        assert done.stderr.splitlines()[-1].startswith(
            "deployable gate: error: argument --max-age: invalid duration 'soon'"
        )
