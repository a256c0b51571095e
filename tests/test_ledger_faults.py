"""The ledger when things go wrong: URL forms people paste, unreachable, locked, read-only,
another schema version. Always one line and the documented exit code, never "yes"."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from _ledger import make_statement, write
from _sshd import free_port

from pytest_deployable.cli import main
from pytest_deployable.ledger.connection import REVISIONS
from pytest_deployable.ledger.schema import HEAD, VERSION_TABLE, metadata
from pytest_deployable.ledger.urls import LedgerUsageError, parse_url, resolve

TARGETS = """\
[targets.staging]
base_url = "https://staging.shop.example"

[targets.production]
base_url = "https://shop.example"
promote_from = ["staging"]
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "deploy-targets.toml").write_text(TARGETS)
    write(tmp_path / "good.json", make_statement("staging", "1.4.2"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DEPLOYABLE_LEDGER", raising=False)
    return tmp_path


def deployable(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


# -- URLs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("driver", ["postgresql", "postgresql+psycopg", "postgres"])
def test_the_postgresql_url_forms_people_paste(postgres: Any, project: Path, driver: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    url = postgres.url(postgres.create_database(), driver=driver)
    code, out, _ = deployable(capsys, "record", "good.json", "--ledger", url)
    assert code == 0
    assert "1 new" in out
    assert postgres.password not in out
    assert "postgresql+psycopg://deployable:***@127.0.0.1" in out
    code, out, _ = deployable(capsys, "can-i-deploy", "--version", "1.4.2", "--to",
                              "production", "--ledger", url)
    assert code == 0


@pytest.mark.parametrize(("url", "says"), [
    ("mysql://u:p@db/ledger", "scheme 'mysql' is not supported"),
    ("sqlite://", "in-memory ledger forgets everything"),
    ("sqlite:///:memory:", "in-memory ledger forgets everything"),
    ("deploy-ledger.db", "not a ledger URL"),
    ("postgresql:///ledger", "names no host"),
    ("sqlite:///x.db?mode=ro", "mode=ro&uri=true"),
    ("sqlite:///x.db?journal=off", "unknown: journal"),
])
def test_a_url_that_is_not_a_ledger_is_a_usage_error(project: Path, url: str, says: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = deployable(capsys, "record", "good.json", "--ledger", url)
    assert code == 2
    assert says in one_line(err)
    assert not (project / "x.db").exists()


def test_urls_resolve_in_the_documented_order(tmp_path: Path) -> None:
    targets = tmp_path / "conf" / "deploy-targets.toml"
    env = {"DEPLOYABLE_LEDGER": "postgres://ci:s3cret-pw@db.example/ledger"}
    chosen = resolve("sqlite:///a.db", environ=env, targets_file=targets, cwd=tmp_path)
    assert chosen.sqlite_path == tmp_path / "a.db"
    chosen = resolve(None, environ=env, targets_file=targets, file_url="sqlite:///b.db")
    assert chosen.url == "postgresql+psycopg://ci:s3cret-pw@db.example/ledger"
    assert chosen.shown == "postgresql+psycopg://ci:***@db.example/ledger"
    assert "s3cret-pw" in chosen.secrets
    chosen = resolve(None, environ={}, targets_file=targets, file_url="sqlite:///b.db")
    assert chosen.sqlite_path == targets.parent / "b.db"  # relative to the targets file
    assert resolve(None, environ={}, targets_file=targets).sqlite_path == \
        targets.parent / "deploy-ledger.db"
    assert resolve(None, environ={}, cwd=tmp_path).sqlite_path == tmp_path / "deploy-ledger.db"
    with pytest.raises(LedgerUsageError, match="DEPLOYABLE_LEDGER: \\*\\*\\* is not a ledger"):
        parse_url("hunter2-password", "DEPLOYABLE_LEDGER", base=tmp_path, secret=True)


def test_the_targets_file_names_the_ledger_with_a_secret(
        project: Path, monkeypatch: pytest.MonkeyPatch, postgres: Any,
        capsys: pytest.CaptureFixture[str]) -> None:
    database = postgres.create_database()
    (project / "deploy-targets.toml").write_text(
        TARGETS + f'\n[ledger]\nurl = "postgresql://{postgres.user}:${{LEDGER_PASSWORD}}@'
        f'127.0.0.1:{postgres.port}/{database}"\n')
    monkeypatch.setenv("LEDGER_PASSWORD", postgres.password)
    code, out, _ = deployable(capsys, "record", "good.json")
    assert code == 0
    assert postgres.password not in out
    assert f"/{database}" in out
    # Not a word of ordinary text: any 6-character piece of a secret is masked (SPEC §3).
    monkeypatch.setenv("LEDGER_PASSWORD", "Zq7-wR0ng-kX9")
    code, _, err = deployable(capsys, "history")
    assert code == 3
    assert "password authentication failed" in one_line(err)
    assert "wR0ng" not in err


def test_ledger_table_and_promotion_keys_are_checked(project: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    for text, says in [
        (TARGETS + "\n[ledger]\nurll = 'sqlite:///x.db'\n", "unknown key 'urll'"),
        (TARGETS.replace('["staging"]', '["stagin"]'), "names 'stagin', which is not a target"),
        (TARGETS + 'promote_max_age = "a week"\n', "promote_max_age must be a duration"),
        (TARGETS.replace('["staging"]', "[]"), "promote_from must be a non-empty list"),
    ]:
        (project / "deploy-targets.toml").write_text(text)
        code, _, err = deployable(capsys, "can-i-deploy", "--version", "1", "--to", "production")
        assert code == 2, text
        assert says in one_line(err)


# -- unreachable, locked, read-only --------------------------------------------------------------


def test_an_unreachable_server_is_one_line_without_the_password(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"postgresql://ci:pw-{'x' * 8}@127.0.0.1:{free_port()}/ledger"
    for command in (["record", "good.json"], ["can-i-deploy", "--version", "1.4.2", "--to",
                                              "production"]):
        code, out, err = deployable(capsys, *command, "--ledger", url)
        assert code == 3
        assert out == ""
        assert "cannot reach the ledger postgresql+psycopg://ci:***@127.0.0.1" in one_line(err)
        assert "xxxxxxxx" not in err


def test_a_ledger_in_a_missing_folder(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = deployable(capsys, "record", "good.json", "--ledger",
                              "sqlite:///no/such/folder/ledger.db")
    assert code == 3
    assert "cannot open the ledger sqlite:///" in one_line(err)
    assert "is its directory there and writable?" in err


def test_a_locked_sqlite_ledger_ends_in_one_line(project: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert deployable(capsys, "record", "good.json")[0] == 0
    holder = sqlite3.connect(project / "deploy-ledger.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        write(project / "other.json", make_statement("staging", "1.5.0"))
        code, _, err = deployable(capsys, "record", "other.json", "--ledger",
                                  "sqlite:///deploy-ledger.db?timeout=0.1")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert code == 3
    assert "is locked by another process" in one_line(err)


@pytest.fixture
def pg_ledger(postgres: Any, project: Path,
              capsys: pytest.CaptureFixture[str]) -> tuple[Any, str, str]:
    """A PostgreSQL ledger with one verdict: the cluster, the database and its URL."""
    database = postgres.create_database()
    url = postgres.url(database)
    assert deployable(capsys, "record", "good.json", "--ledger", url)[0] == 0
    return postgres, database, url


def test_a_locked_postgresql_ledger_ends_in_one_line(pg_ledger: tuple[Any, str, str],
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    psycopg = pytest.importorskip("psycopg")
    postgres, database, url = pg_ledger
    holder = psycopg.connect(host="127.0.0.1", port=postgres.port, user=postgres.user,
                             password=postgres.password, dbname=database)
    holder.execute("LOCK TABLE ledger_verdicts IN ACCESS EXCLUSIVE MODE")
    try:
        code, _, err = deployable(capsys, "record", "good.json", "--ledger",
                                  url + "?options=-c%20lock_timeout%3D100")
    finally:
        holder.rollback()
        holder.close()
    assert code == 3
    assert "is locked by another process" in one_line(err)


def test_a_read_only_ledger_records_nothing_but_answers(
        pg_ledger: tuple[Any, str, str], project: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    postgres, database, url = pg_ledger
    postgres.psql(f'ALTER DATABASE "{database}" SET default_transaction_read_only = on')
    write(project / "other.json", make_statement("staging", "1.5.0"))
    code, _, err = deployable(capsys, "record", "other.json", "--ledger", url)
    assert code == 3
    assert "is read-only" in one_line(err)
    code, _, _ = deployable(capsys, "can-i-deploy", "--version", "1.4.2", "--to", "production",
                            "--ledger", url)
    assert code == 0


def test_a_read_only_sqlite_file(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert deployable(capsys, "record", "good.json")[0] == 0
    read_only = "sqlite:///file:deploy-ledger.db?mode=ro&uri=true"
    write(project / "other.json", make_statement("staging", "1.5.0"))
    code, _, err = deployable(capsys, "record", "other.json", "--ledger", read_only)
    assert code == 3
    assert "is read-only" in one_line(err)
    assert deployable(capsys, "can-i-deploy", "--version", "1.4.2", "--to", "production",
                      "--ledger", read_only)[0] == 0


# -- schema versions -----------------------------------------------------------------------------


def _sql(project: Path, url: str, postgres: Any, database: str | None, sql: str) -> None:
    if database is None:
        with sqlite3.connect(project / "deploy-ledger.db") as connection:
            connection.executescript(sql)
    else:
        postgres.psql(sql, database=database)


@pytest.fixture(params=["sqlite", "postgresql"])
def any_ledger(request: pytest.FixtureRequest, project: Path,
               capsys: pytest.CaptureFixture[str]) -> tuple[str, Any, str | None]:
    """A ledger with one verdict, on either database: its URL, the cluster, the database."""
    if request.param == "sqlite":
        url, postgres, database = "sqlite:///deploy-ledger.db", None, None
    else:
        postgres = request.getfixturevalue("postgres")
        database = postgres.create_database()
        url = postgres.url(database)
    assert deployable(capsys, "record", "good.json", "--ledger", url)[0] == 0
    return url, postgres, database


def test_an_older_schema_is_refused_until_upgraded(any_ledger: tuple[str, Any, str | None],
                                                   project: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    url, postgres, database = any_ledger
    _sql(project, url, postgres, database,
         f"DROP TABLE ledger_deployments; UPDATE {VERSION_TABLE} SET version_num = '0001';")
    for command in (["record", "good.json"], ["can-i-deploy", "--version", "1.4.2", "--to",
                                              "production"], ["history"]):
        code, out, err = deployable(capsys, *command, "--ledger", url)
        assert code == 3
        assert "older than this pytest-deployable's 0002: run `deployable ledger upgrade`" in \
            one_line(err)
    code, out, _ = deployable(capsys, "ledger", "upgrade", "--ledger", url)
    assert code == 0
    assert "schema 0001 -> 0002" in out
    code, out, _ = deployable(capsys, "ledger", "upgrade", "--ledger", url, "--format", "json")
    assert json.loads(out)["before"] == json.loads(out)["after"] == "0002"
    assert deployable(capsys, "record-deployment", "--target", "production", "--version",
                      "1.4.2", "--ledger", url)[0] == 0
    assert deployable(capsys, "can-i-deploy", "--version", "1.4.2", "--to", "production",
                      "--ledger", url)[0] == 0


@pytest.mark.parametrize("found", ["0099", "dead-beef"])
def test_a_newer_schema_is_refused_and_not_downgraded(any_ledger: tuple[str, Any, str | None],
                                                      project: Path, found: str,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    url, postgres, database = any_ledger
    _sql(project, url, postgres, database, f"UPDATE {VERSION_TABLE} SET version_num = '{found}';")
    for command in (["record", "good.json"], ["ledger", "upgrade"],
                    ["can-i-deploy", "--version", "1.4.2", "--to", "production"]):
        code, out, err = deployable(capsys, *command, "--ledger", url)
        assert code == 3
        assert out == ""
        assert "which this pytest-deployable does not know (it reads 0002): upgrade " \
            "pytest-deployable" in one_line(err)


def test_a_damaged_version_table_is_refused(any_ledger: tuple[str, Any, str | None],
                                            project: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    url, postgres, database = any_ledger
    _sql(project, url, postgres, database, f"DELETE FROM {VERSION_TABLE};")
    code, _, err = deployable(capsys, "can-i-deploy", "--version", "1.4.2", "--to",
                              "production", "--ledger", url)
    assert code == 3
    assert "holds 0 rows, not 1: damaged" in one_line(err)


def test_the_migrations_build_exactly_the_schema_the_code_uses(
        any_ledger: tuple[str, Any, str | None]) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.config import Config
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy import create_engine

    url, _, _ = any_ledger
    config = Config()
    config.set_main_option("script_location", "pytest_deployable.ledger:migrations")
    scripts = ScriptDirectory.from_config(config)
    assert scripts.get_heads() == [HEAD]
    assert [s.revision for s in reversed(list(scripts.walk_revisions()))] == list(REVISIONS)
    engine = create_engine(parse_url(url, "test", base=Path.cwd()).url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        assert compare_metadata(context, metadata) == []
    engine.dispose()
