"""``pytest --deploy-ledger``: real sessions against a real local server, recorded in a ledger."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from _sshd import free_port
from conftest import Server, require

from pytest_deployable.cli import main

# pytester's in-process runs drop the modules a run imported once it ends; the
# ledger's database code is imported lazily, so without this a second in-process
# run would mix two copies of SQLAlchemy (as tests/conftest.py does for requests).
for _module in ("sqlalchemy.dialects.postgresql.psycopg", "psycopg", "alembic.command",
                "alembic.config", "pytest_deployable.ledger.store"):
    require(_module)

SUITE = """
import pytest

@pytest.mark.smoke
def test_health(http):
    assert http.get("/health").json() == {"status": "ok"}
"""


def targets(server: Server) -> str:
    return f"""
[targets.staging]
base_url = "{server.url}"

[targets.production]
base_url = "https://shop.example"
promote_from = ["staging"]
"""


def test_a_run_records_its_verdict_and_can_i_deploy_answers_from_it(
        pytester: pytest.Pytester, server: Server, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("DEPLOYABLE_LEDGER", raising=False)
    pytester.makefile(".toml", **{"deploy-targets": targets(server)})
    pytester.makepyfile(SUITE)
    result = pytester.runpytest("--deploy-target=staging", "--deploy-version=1.4.2",
                                "--deploy-ledger")
    assert result.ret == 0
    ledger = pytester.path / "deploy-ledger.db"
    result.stdout.fnmatch_lines([f"ledger: recorded as verdict #1 in sqlite:///{ledger}"])
    statement = json.loads((pytester.path / "deploy-verdict.json").read_text())

    monkeypatch.chdir(pytester.path)
    capsys.readouterr()
    code = main(["history", "--format", "json"])
    [entry] = json.loads(capsys.readouterr().out)["entries"]
    assert code == 0
    assert (entry["target"], entry["version"], entry["verdict"]) == ("staging", "1.4.2",
                                                                     "DEPLOYABLE")
    # Completeness comes from the verdict file's selection record; a file without
    # one is not complete, and then the answer must be "no", never "yes".
    complete = (statement["predicate"]["deployability"].get("selection") or {}).get("complete")
    assert entry["complete"] is (complete is True)
    code = main(["can-i-deploy", "--version", "1.4.2", "--to", "production"])
    assert code == (0 if complete is True else 1)

    # Another run of the same version (of another commit, so that its statement differs
    # even when both runs fall in the same second): a second verdict.
    result = pytester.runpytest("--deploy-target=staging", "--deploy-version=1.4.2",
                                "--deploy-commit=" + "1" * 40,
                                f"--deploy-ledger=sqlite:///{ledger}")
    result.stdout.fnmatch_lines(["ledger: recorded as verdict #2 in *"])


def test_a_recording_failure_makes_the_run_inconclusive(pytester: pytest.Pytester,
                                                        server: Server) -> None:
    pytester.makepyfile(SUITE)
    password = "pw-never-shown-42"
    result = pytester.runpytest(
        f"--deploy-target={server.url}", "--deploy-version=1.4.2",
        f"--deploy-ledger=postgresql://ci:{password}@127.0.0.1:{free_port()}/ledger")
    assert result.ret == 6
    result.stdout.fnmatch_lines([
        "ERROR: the verdict was not recorded in the ledger, so the run is INCONCLUSIVE: "
        "cannot reach the ledger postgresql+psycopg://ci:***@127.0.0.1:*"
    ])
    assert password not in result.stdout.str() + result.stderr.str()
    # The file says what the exit code says, so a gate on the file alone cannot pass it.
    text = (pytester.path / "deploy-verdict.json").read_text()
    assert password not in text
    ext = json.loads(text)["predicate"]["deployability"]
    assert ext["verdict"] == "INCONCLUSIVE"
    assert ext["reasons"][-1].startswith(
        "the verdict was not recorded in the ledger, so the run is INCONCLUSIVE: cannot reach")
    assert [c["outcome"] for c in ext["checks"]] == ["passed"]  # what the checks found stays
    gate = subprocess.run([sys.executable, "-m", "pytest_deployable", "gate",
                           str(pytester.path / "deploy-verdict.json")],
                          capture_output=True, text=True, check=False)
    assert gate.returncode == 6, gate.stdout + gate.stderr


def test_a_run_records_into_postgresql(pytester: pytest.Pytester, server: Server,
                                       postgres: Any) -> None:
    pytester.makepyfile(SUITE)
    database = postgres.create_database()
    result = pytester.runpytest(f"--deploy-target={server.url}", "--deploy-version=1.4.2",
                                f"--deploy-ledger={postgres.url(database, driver='postgres')}")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["ledger: recorded as verdict #1 in postgresql+psycopg://*:***@*"])
    assert postgres.password not in result.stdout.str()
    rows = postgres.psql("SELECT target, version, verdict FROM ledger_verdicts", database)
    assert rows.strip() == f"{server.url}|1.4.2|DEPLOYABLE"
    assert postgres.psql("SELECT count(*) FROM ledger_checks", database).strip() == "1"


def test_with_xdist_the_controller_records_once(pytester: pytest.Pytester, server: Server,
                                               tmp_path: Path) -> None:
    pytester.makepyfile(SUITE + """
@pytest.mark.smoke
def test_more(http):
    assert http.get("/health").status_code == 200
""")
    ledger = tmp_path / "ledger.db"
    result = pytester.runpytest_subprocess(f"--deploy-target={server.url}", "-n", "2",
                                           "--deploy-version=1.4.2",
                                           f"--deploy-ledger=sqlite:///{ledger}")
    assert result.ret == 0
    assert result.stdout.str().count("ledger: recorded as verdict #") == 1
    with sqlite3.connect(ledger) as connection:
        assert connection.execute("SELECT count(*) FROM ledger_verdicts").fetchone() == (1,)
        assert connection.execute("SELECT count(*) FROM ledger_checks").fetchone() == (2,)


@pytest.mark.parametrize(("option", "says"), [
    ("--deploy-ledger=mysql://x/y", "scheme 'mysql' is not supported"),
    ("--deploy-ledger=tests", "'tests' is not a ledger URL"),
])
def test_a_bad_ledger_url_is_a_usage_error_before_any_check(pytester: pytest.Pytester,
                                                            server: Server, option: str,
                                                            says: str) -> None:
    pytester.makepyfile(SUITE)
    result = pytester.runpytest(f"--deploy-target={server.url}", option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert says in result.stderr.str()
    assert server.received == []


def test_without_the_option_no_database_code_is_imported(pytester: pytest.Pytester,
                                                         server: Server) -> None:
    pytester.makepyfile(SUITE)
    pytester.makeconftest("""
import sys
def pytest_unconfigure(config):
    with open("modules.txt", "w") as handle:
        handle.write(" ".join(m for m in ("sqlalchemy", "alembic", "psycopg")
                              if m in sys.modules))
""")
    result = pytester.runpytest_subprocess(f"--deploy-target={server.url}")
    assert result.ret == 0
    assert (pytester.path / "modules.txt").read_text() == ""
    gate = subprocess.run(
        [sys.executable, "-c", "import sys\nfrom pytest_deployable.cli import main\n"
         "main(['gate', '--help'])\nprint('sqlalchemy' in sys.modules)"],
        capture_output=True, text=True, check=True, cwd=Path(pytester.path))
    assert gate.stdout.splitlines()[-1] == "False"
