"""The ``db`` fixture: read-only by construction; writable only as SPEC §16 allows; the
database keys checked as user input; SQLAlchemy imported only for targets with a database.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import _db  # noqa: F401 - keeps one copy of SQLAlchemy across in-process runs
import pytest
from conftest import require
from test_usage_errors import assert_usage_error

WRITER = '''
import pytest
from sqlalchemy import text

@pytest.mark.smoke
def test_reads(db):
    assert db.execute(text("SELECT count(*) FROM items")).scalar() == 1

@pytest.mark.smoke{marks}
def test_writes(db):
    db.execute(text("INSERT INTO items (name) VALUES ('written by a check')"))
'''

#: A check that turns PostgreSQL's session default off, commits, and tries again.
SNEAKY = '''
import pytest
from sqlalchemy import text

@pytest.mark.smoke
def test_sneaks_a_write(db):
    db.execute(text("SET default_transaction_read_only = off"))
    db.commit()
    db.execute(text("INSERT INTO items (name) VALUES ('sneaked')"))
'''


def run(pytester: pytest.Pytester, table: str, checks: str,
        *args: str) -> tuple[pytest.RunResult, dict[str, Any]]:
    require("sqlalchemy")
    pytester.path.joinpath("deploy-targets.toml").write_text("[targets.staging]\n" + table)
    pytester.makepyfile(test_db=checks)
    result = pytester.runpytest("--deploy-target=staging", "-p", "no:cacheprovider", *args)
    verdict = json.loads((pytester.path / "deploy-verdict.json").read_text())
    return result, verdict["predicate"]["deployability"]


def outcome(verdict: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in verdict["checks"] if c["id"].endswith(name))


def sqlite_items(path: Path) -> Path:
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
        connection.execute("INSERT INTO items (name) VALUES ('seed')")
    connection.close()
    return path


def sqlite_count(path: Path) -> int:
    connection = sqlite3.connect(path)
    try:
        return int(connection.execute("SELECT count(*) FROM items").fetchone()[0])
    finally:
        connection.close()


@pytest.fixture
def pg_items(postgres: Any) -> tuple[Any, str]:
    name = postgres.create_database()
    postgres.psql("CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL); "
                  "INSERT INTO items (name) VALUES ('seed')", database=name)
    return postgres, name


def pg_count(pg_items: tuple[Any, str]) -> int:
    postgres, name = pg_items
    return int(postgres.psql("SELECT count(*) FROM items", database=name).strip())


# -- read-only by construction ------------------------------------------------------------------


def test_postgresql_reads_and_refuses_a_write_naming_the_target(
    pytester: pytest.Pytester, pg_items: tuple[Any, str]
) -> None:
    postgres, name = pg_items
    result, verdict = run(pytester, f'database = "{postgres.url(name)}"\n',
                          WRITER.format(marks=""))
    assert result.ret == 1
    assert outcome(verdict, "test_reads")["outcome"] == "passed"
    written = outcome(verdict, "test_writes")
    assert written["outcome"] == "failed"
    assert "refused a write to the database of target 'staging'" in written["message"]
    assert pg_count(pg_items) == 1


def test_postgresql_stays_read_only_after_a_check_turns_the_default_off(
    pytester: pytest.Pytester, pg_items: tuple[Any, str]
) -> None:
    postgres, name = pg_items
    result, verdict = run(pytester, f'database = "{postgres.url(name)}"\n', SNEAKY)
    assert result.ret == 1
    assert "refused a write" in outcome(verdict, "test_sneaks_a_write")["message"]
    assert pg_count(pg_items) == 1


def test_sqlite_reads_and_refuses_a_write(pytester: pytest.Pytester) -> None:
    path = sqlite_items(pytester.path / "shop.db")
    result, verdict = run(pytester, 'database = "sqlite:///shop.db"\n', WRITER.format(marks=""))
    assert result.ret == 1
    assert outcome(verdict, "test_reads")["outcome"] == "passed"
    assert "refused a write to the database of target 'staging'" in outcome(
        verdict, "test_writes")["message"]
    assert sqlite_count(path) == 1


# -- writable only for a destructive check, with --allow-destructive, on an unprotected target --


def test_destructive_with_allow_destructive_on_unprotected_target_writes(
    pytester: pytest.Pytester, pg_items: tuple[Any, str]
) -> None:
    postgres, name = pg_items
    result, verdict = run(pytester, f'database = "{postgres.url(name)}"\nprotected = false\n',
                          WRITER.format(marks="\n@pytest.mark.destructive"),
                          "--allow-destructive")
    assert result.ret == 0, result.stdout.str()
    assert verdict["verdict"] == "DEPLOYABLE"
    assert pg_count(pg_items) == 2  # committed when the check ended


def test_destructive_without_the_option_stays_read_only(
    pytester: pytest.Pytester, pg_items: tuple[Any, str]
) -> None:
    postgres, name = pg_items
    result, verdict = run(pytester, f'database = "{postgres.url(name)}"\n',
                          WRITER.format(marks="\n@pytest.mark.destructive"))
    assert result.ret == 1
    assert "refused a write" in outcome(verdict, "test_writes")["message"]
    assert pg_count(pg_items) == 1


def test_a_protected_target_stays_read_only_even_with_allow_destructive(
    pytester: pytest.Pytester
) -> None:
    path = sqlite_items(pytester.path / "shop.db")
    result, verdict = run(pytester, 'database = "sqlite:///shop.db"\nprotected = true\n',
                          WRITER.format(marks="\n@pytest.mark.destructive"),
                          "--allow-destructive")
    assert result.ret == 1
    assert "refused a write" in outcome(verdict, "test_writes")["message"]
    assert sqlite_count(path) == 1


def test_a_target_without_a_database_fails_the_check(
    pytester: pytest.Pytester, server: Any
) -> None:
    result, verdict = run(pytester, f'base_url = "{server.url}"\n', WRITER.format(marks=""))
    assert result.ret == 1
    assert "has no database; the db fixture needs one" in outcome(verdict, "test_reads")["message"]


def test_an_unreachable_database_fails_the_check_without_the_url(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    from _service import free_port

    url = f"postgresql://someone:Secret-Pass-1@127.0.0.1:{free_port()}/nothing"
    monkeypatch.setenv("DATABASE_URL", url)
    result, verdict = run(pytester, 'database = "${DATABASE_URL}"\n', WRITER.format(marks=""))
    assert result.ret == 1
    message = outcome(verdict, "test_reads")["message"]
    assert "cannot connect to the database of target 'staging': unreachable" in message
    for piece in ("Secret-Pass-1", "someone", url):
        assert piece not in result.stdout.str() + json.dumps(verdict)


# -- the keys are user input ----------------------------------------------------------------------


@pytest.mark.parametrize(("table", "words"), [
    ('database = "mysql://app:Hunter-22@db/shop"\n',
     ["targets.staging.database uses 'mysql'", "postgresql://", "sqlite:///"]),
    ('database = "postgresql+psycopg2://app:Hunter-22@db/shop"\n',
     ["targets.staging.database uses 'postgresql+psycopg2'", "postgresql+psycopg://"]),
    ('database = "sqlite:///x.db"\nalembic_ini = "nope/alembic.ini"\n',
     ["targets.staging.alembic_ini:", "is not a file"]),
    ('database = "sqlite://"\n', ["targets.staging.database is an in-memory SQLite database"]),
    ('database = "not a url Hunter-22"\n', ["targets.staging.database is not a SQLAlchemy URL"]),
    ('database = "sqlite:///x.db"\nschema_tool = "rails"\n',
     ["targets.staging.schema_tool must be one of alembic, django, flyway, liquibase"]),
    ('database = "sqlite:///x.db"\nschema_revision = ""\n', ["targets.staging.schema_revision"]),
    ('database = "postgresql://app:abc@db/shop"\n', ["the password is shorter than 4"]),
])
def test_bad_database_keys_are_usage_errors(
    pytester: pytest.Pytester, table: str, words: list[str]
) -> None:
    require("sqlalchemy")
    pytester.path.joinpath("deploy-targets.toml").write_text("[targets.staging]\n" + table)
    pytester.makepyfile("import pytest\n@pytest.mark.smoke\ndef test_ok(): pass\n")
    result = pytester.runpytest("--deploy-target=staging")
    assert_usage_error(result, *words)
    assert "Hunter-22" not in result.stderr.str() + result.stdout.str()


def test_a_relative_sqlite_path_is_relative_to_the_targets_file(
    pytester: pytest.Pytester
) -> None:
    folder = pytester.mkdir("deploy")
    path = sqlite_items(folder / "shop.db")
    folder.joinpath("targets.toml").write_text(
        '[targets.staging]\ndatabase = "sqlite:///shop.db"\n')
    pytester.makepyfile(test_db=WRITER.format(marks=""))
    result = pytester.runpytest("--deploy-target=staging", "--deploy-targets-file",
                                "deploy/targets.toml", "-p", "no:cacheprovider")
    assert result.ret == 1  # the write is refused; the read found the seeded row
    result.assert_outcomes(passed=1, failed=1)
    assert sqlite_count(path) == 1
    assert not (pytester.path / "shop.db").exists()


def test_schema_revision_option_needs_a_database(
    pytester: pytest.Pytester, server: Any
) -> None:
    pytester.makepyfile("import pytest\n@pytest.mark.smoke\ndef test_ok(): pass\n")
    result = pytester.runpytest(f"--deploy-target={server.url}", "--deploy-schema-revision=3")
    assert_usage_error(result, "--deploy-schema-revision", "has no database")


def test_a_literal_password_in_the_url_is_a_secret(pytester: pytest.Pytester) -> None:
    path = sqlite_items(pytester.path / "shop.db")
    assert path.exists()
    checks = ('import pytest\n@pytest.mark.smoke\ndef test_shows(deploy_target):\n'
              '    assert False, "the url is " + deploy_target.database\n')
    result, verdict = run(
        pytester, 'database = "postgresql://app:Literal-Pass-9@127.0.0.1:1/shop"\n', checks)
    assert result.ret == 1
    assert "Literal-Pass-9" not in result.stdout.str() + json.dumps(verdict)
    assert "***" in outcome(verdict, "test_shows")["message"]


def test_sqlalchemy_is_imported_only_for_a_target_with_a_database(
    pytester: pytest.Pytester, server: Any
) -> None:
    pytester.makepyfile(
        "import sys\nimport pytest\n\n@pytest.mark.smoke\ndef test_nothing_imported():\n"
        "    assert not [m for m in sys.modules if m.split('.')[0] in "
        "('sqlalchemy', 'psycopg', 'alembic')]\n")
    result = pytester.runpytest_subprocess(f"--deploy-target={server.url}")
    assert result.ret == 0, result.stdout.str()


def test_url_options_cannot_turn_read_only_off(
    pytester: pytest.Pytester, pg_items: tuple[Any, str]
) -> None:
    postgres, name = pg_items
    url = postgres.url(name) + "?options=-c%20default_transaction_read_only%3Doff"
    result, verdict = run(pytester, f'database = "{url}"\n', WRITER.format(marks=""))
    assert result.ret == 1
    assert outcome(verdict, "test_reads")["outcome"] == "passed"
    assert "refused a write" in outcome(verdict, "test_writes")["message"]
    assert pg_count(pg_items) == 1


def test_a_check_can_expect_the_refusal(pytester: pytest.Pytester) -> None:
    sqlite_items(pytester.path / "shop.db")
    checks = (
        "import pytest\nfrom pytest_deployable import ReadOnlyDatabaseError\n\n"
        "@pytest.mark.smoke\ndef test_cannot_write(db):\n"
        "    with pytest.raises(ReadOnlyDatabaseError, match=\"target 'staging'\"):\n"
        "        db.exec_driver_sql(\"DELETE FROM items\")\n")
    result, _ = run(pytester, 'database = "sqlite:///shop.db"\n', checks)
    assert result.ret == 0, result.stdout.str()
    assert sqlite_count(pytester.path / "shop.db") == 1
