"""``deployable::schema`` end to end: real pytest runs against real SQLite files and a real
PostgreSQL, histories written by real Alembic migrations or made by hand in the shapes the
other tools write (sources cited in test_schema_history.py and beside each table below).
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import _db  # noqa: F401 - keeps one copy of SQLAlchemy across in-process runs
import pytest
from _service import EXAMPLES, free_port
from conftest import require

CHECK = "import pytest\n\n@pytest.mark.smoke\ndef test_ok():\n    pass\n"
SHOP_INI = EXAMPLES / "service" / "alembic.ini"
HEADS_INI = Path(__file__).parent / "data" / "alembic-heads" / "alembic.ini"
SCHEMA = "deployable::schema"


def migrate(ini: Path, url: str, revision: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run real Alembic migrations (the script directories' env.py read SHOP_DATABASE_URL)."""
    require("alembic")
    from alembic import command
    from alembic.config import Config

    monkeypatch.setenv("SHOP_DATABASE_URL", url)
    command.upgrade(Config(str(ini)), revision)


def run(pytester: pytest.Pytester, table: str, *args: str,
        subprocess: bool = False) -> tuple[pytest.RunResult, dict[str, Any]]:
    """A deploy run against target ``staging`` (the given table); its result and verdict."""
    require("sqlalchemy")
    pytester.path.joinpath("deploy-targets.toml").write_text("[targets.staging]\n" + table)
    pytester.makepyfile(test_ok=CHECK)
    runner = pytester.runpytest_subprocess if subprocess else pytester.runpytest
    result = runner("--deploy-target=staging", "-p", "no:cacheprovider", *args)
    path = pytester.path / "deploy-verdict.json"
    verdict = json.loads(path.read_text())["predicate"]["deployability"] if path.exists() else {}
    return result, verdict


def schema_check(verdict: dict[str, Any]) -> dict[str, Any]:
    found = [check for check in verdict["checks"] if check["id"] == SCHEMA]
    assert len(found) == 1, verdict["checks"]
    return found[0]


def assert_held(result: pytest.RunResult, verdict: dict[str, Any], *words: str) -> str:
    """NOT_DEPLOYABLE, exit 1, because of the schema check, whose message has ``words``."""
    assert result.ret == 1, result.stdout.str()
    assert verdict["verdict"] == "NOT_DEPLOYABLE"
    check = schema_check(verdict)
    assert check["outcome"] == "failed"
    assert check["blocking"] is True
    assert any(SCHEMA in reason for reason in verdict["reasons"])
    message: str = check["message"]
    for word in words:
        assert word in message, message
    return message


def sqlite_target(path: Path, extra: str = "") -> str:
    return f'database = "sqlite:///{path.name}"\n{extra}'


# -- SQLite and real Alembic migrations ---------------------------------------------------------


def test_at_the_head_of_the_release_is_deployable(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = pytester.path / "shop.db"
    migrate(SHOP_INI, f"sqlite:///{db}", "head", monkeypatch)
    result, verdict = run(pytester, sqlite_target(db, f'alembic_ini = "{SHOP_INI}"\n'))
    assert result.ret == 0, result.stdout.str()
    assert verdict["verdict"] == "DEPLOYABLE"
    assert schema_check(verdict)["outcome"] == "passed"
    assert verdict["checks"][0]["id"] == SCHEMA  # a smoke check, run first


def test_a_migration_that_has_not_run_holds_the_release(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = pytester.path / "shop.db"
    migrate(SHOP_INI, f"sqlite:///{db}", "0001", monkeypatch)
    # alembic.ini in the rootdir is found without a key.
    pytester.path.joinpath("alembic.ini").write_text(
        f"[alembic]\nscript_location = {SHOP_INI.parent / 'migrations'}\n")
    result, verdict = run(pytester, sqlite_target(db))
    assert_held(result, verdict, "target 'staging'", "expected revision '0002'", "found '0001'",
                "migrations have not run")
    result.stdout.fnmatch_lines(["*deployable::schema*", "*expected revision '0002'*"])


def test_a_newer_schema_than_the_release_expects_is_named(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = pytester.path / "shop.db"
    migrate(SHOP_INI, f"sqlite:///{db}", "head", monkeypatch)
    result, verdict = run(pytester, sqlite_target(db, f'alembic_ini = "{SHOP_INI}"\n'),
                          "--deploy-schema-revision=0001")
    assert_held(result, verdict, "expected revision '0001'", "found '0002'",
                "newer schema than this release expects")


def test_the_option_overrides_the_target_key(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = pytester.path / "shop.db"
    migrate(SHOP_INI, f"sqlite:///{db}", "0001", monkeypatch)
    table = sqlite_target(db, 'schema_revision = "0002"\n')
    assert run(pytester, table)[0].ret == 1
    result, verdict = run(pytester, table, "--deploy-schema-revision=0001")
    assert result.ret == 0, result.stdout.str()
    assert verdict["verdict"] == "DEPLOYABLE"


def test_a_missing_sqlite_file_fails_and_is_not_created(pytester: pytest.Pytester) -> None:
    result, verdict = run(pytester, 'database = "sqlite:///nowhere.db"\nschema_revision = "1"\n')
    assert_held(result, verdict, "cannot connect to the database of target 'staging'",
                "does not exist or cannot be read")
    assert not (pytester.path / "nowhere.db").exists()


def test_an_empty_database_is_not_at_any_revision(pytester: pytest.Pytester) -> None:
    import sqlite3

    sqlite3.connect(pytester.path / "empty.db").close()
    result, verdict = run(pytester, sqlite_target(pytester.path / "empty.db",
                                                  'schema_revision = "0002"\n'))
    assert_held(result, verdict, "no migration history table found")


def test_an_empty_alembic_version_table_is_not_a_revision(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = pytester.path / "shop.db"
    migrate(SHOP_INI, f"sqlite:///{db}", "0001", monkeypatch)
    import sqlite3

    with sqlite3.connect(db) as connection:
        connection.execute("DELETE FROM alembic_version")
    result, verdict = run(pytester, sqlite_target(db, 'schema_revision = "0001"\n'))
    assert_held(result, verdict, "found none")


def test_two_tools_history_tables_are_not_a_guess(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = pytester.path / "shop.db"
    migrate(SHOP_INI, f"sqlite:///{db}", "head", monkeypatch)
    import sqlite3

    with sqlite3.connect(db) as connection:
        connection.execute(DJANGO_TABLE.replace("bigint NOT NULL PRIMARY KEY GENERATED BY "
                                                "DEFAULT AS IDENTITY", "integer PRIMARY KEY"))
    result, verdict = run(pytester, sqlite_target(db, 'schema_revision = "0002"\n'))
    assert_held(result, verdict, "alembic_version (alembic)", "django_migrations (django)",
                "set schema_tool")
    # Saying which tool settles it.
    result, verdict = run(pytester, sqlite_target(
        db, 'schema_revision = "0002"\nschema_tool = "alembic"\n'))
    assert result.ret == 0, result.stdout.str()


def test_the_named_tools_table_must_exist(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = pytester.path / "shop.db"
    migrate(SHOP_INI, f"sqlite:///{db}", "head", monkeypatch)
    result, verdict = run(pytester, sqlite_target(
        db, 'schema_revision = "3"\nschema_tool = "flyway"\n'))
    assert_held(result, verdict, "flyway history table flyway_schema_history is missing")


def test_no_expected_revision_fails_instead_of_passing(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = pytester.path / "shop.db"
    migrate(SHOP_INI, f"sqlite:///{db}", "head", monkeypatch)
    result, verdict = run(pytester, sqlite_target(db, 'schema_tool = "alembic"\n'))
    assert_held(result, verdict, "no expected schema revision")


def test_a_database_for_the_db_fixture_alone_adds_no_schema_check(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = pytester.path / "shop.db"
    migrate(SHOP_INI, f"sqlite:///{db}", "head", monkeypatch)
    result, verdict = run(pytester, sqlite_target(db))
    assert result.ret == 0
    assert [check["id"] for check in verdict["checks"]] == ["test_ok.py::test_ok"]


@pytest.mark.parametrize(("upgrade", "ok"), [("heads", True), ("b1", False)])
def test_several_alembic_heads_must_all_be_applied(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, upgrade: str, ok: bool
) -> None:
    db = pytester.path / "shop.db"
    migrate(HEADS_INI, f"sqlite:///{db}", upgrade, monkeypatch)
    result, verdict = run(pytester, sqlite_target(db, f'alembic_ini = "{HEADS_INI}"\n'))
    if ok:
        assert result.ret == 0, result.stdout.str()
        assert verdict["verdict"] == "DEPLOYABLE"
    else:
        assert_held(result, verdict, "expected revision 'b1', 'b2'", "missing 'b2'")


def test_the_verdict_is_the_same_with_xdist(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    require("xdist")
    db = pytester.path / "shop.db"
    migrate(SHOP_INI, f"sqlite:///{db}", "0001", monkeypatch)
    result, verdict = run(pytester, sqlite_target(db, f'alembic_ini = "{SHOP_INI}"\n'),
                          "-n", "2", subprocess=True)
    assert_held(result, verdict, "expected revision '0002', found '0001'")


# -- PostgreSQL: each tool's table, as that tool creates it -------------------------------------

#: Django 4.1+ on PostgreSQL (MigrationRecorder.Migration; its id is an identity column).
DJANGO_TABLE = ('CREATE TABLE "django_migrations" ("id" bigint NOT NULL PRIMARY KEY GENERATED BY '
                'DEFAULT AS IDENTITY, "app" varchar(255) NOT NULL, "name" varchar(255) NOT NULL, '
                '"applied" timestamp with time zone NOT NULL)')
#: Flyway's PostgreSQLDatabase.getRawCreateScript.
FLYWAY_TABLE = (
    'CREATE TABLE "flyway_schema_history" ("installed_rank" INT NOT NULL, "version" VARCHAR(50), '
    '"description" VARCHAR(200) NOT NULL, "type" VARCHAR(20) NOT NULL, "script" VARCHAR(1000) '
    'NOT NULL, "checksum" INTEGER, "installed_by" VARCHAR(100) NOT NULL, "installed_on" '
    'TIMESTAMP NOT NULL DEFAULT now(), "execution_time" INTEGER NOT NULL, "success" BOOLEAN NOT '
    'NULL); ALTER TABLE "flyway_schema_history" ADD CONSTRAINT "flyway_schema_history_pk" '
    'PRIMARY KEY ("installed_rank"); CREATE INDEX "flyway_schema_history_s_idx" ON '
    '"flyway_schema_history" ("success")')
#: Liquibase's CreateDatabaseChangeLogTableGenerator; unquoted, so PostgreSQL folds it to lower
#: case.
LIQUIBASE_TABLE = (
    "CREATE TABLE DATABASECHANGELOG (ID VARCHAR(255) NOT NULL, AUTHOR VARCHAR(255) NOT NULL, "
    "FILENAME VARCHAR(255) NOT NULL, DATEEXECUTED TIMESTAMP NOT NULL, ORDEREXECUTED INT NOT NULL, "
    "EXECTYPE VARCHAR(10) NOT NULL, MD5SUM VARCHAR(35), DESCRIPTION VARCHAR(255), COMMENTS "
    "VARCHAR(255), TAG VARCHAR(255), LIQUIBASE VARCHAR(20), CONTEXTS VARCHAR(255), LABELS "
    "VARCHAR(255), DEPLOYMENT_ID VARCHAR(10))")


def _flyway_row(rank: int, version: str, success: bool) -> str:
    return (f"INSERT INTO flyway_schema_history VALUES ({rank}, '{version}', 'step {rank}', 'SQL', "
            f"'V{version}__step.sql', 12345, 'deploy', now(), 8, {str(success).upper()})")


def _liquibase_row(order: int, ident: str, tag: str | None) -> str:
    shown_tag = f"'{tag}'" if tag else "NULL"
    return (f"INSERT INTO DATABASECHANGELOG VALUES ('{ident}', 'dev', 'db/changelog.xml', now(), "
            f"{order}, 'EXECUTED', '9:abc', 'createTable', '', {shown_tag}, '4.29.0', NULL, "
            "NULL, '1234567890')")


HISTORIES: dict[str, tuple[str, str, str, str]] = {
    # tool: (the table and its rows, a passing expectation, a failing one, words of the failure)
    "django": (
        DJANGO_TABLE + "; INSERT INTO django_migrations (app, name, applied) VALUES "
        "('shop', '0001_initial', now()), ('shop', '0002_price', now())",
        "shop.0002_price", "shop.0003_sku", "app 'shop': expected '0003_sku', which has not run"),
    "flyway": (
        "; ".join([FLYWAY_TABLE, _flyway_row(1, "1", True), _flyway_row(2, "2", True),
                   _flyway_row(3, "3", False)]),
        "", "2", "a failed migration is recorded in flyway_schema_history: version '3'"),
    "liquibase": (
        "; ".join([LIQUIBASE_TABLE, _liquibase_row(1, "1", "v1.4"), _liquibase_row(2, "2", None)]),
        "2", "v1.4", "1 changeset(s) after it"),
}


@pytest.mark.parametrize("tool", sorted(HISTORIES))
def test_each_tools_history_in_postgresql(
    pytester: pytest.Pytester, postgres: Any, tool: str
) -> None:
    sql, good, bad, words = HISTORIES[tool]
    name = postgres.create_database()
    postgres.psql(sql, database=name)
    url = postgres.url(name)
    if good:
        result, verdict = run(pytester, f'database = "{url}"\nschema_revision = "{good}"\n')
        assert result.ret == 0, result.stdout.str()
        assert verdict["verdict"] == "DEPLOYABLE"
        assert schema_check(verdict)["outcome"] == "passed"
    result, verdict = run(pytester, f'database = "{url}"\nschema_revision = "{bad}"\n')
    assert_held(result, verdict, f"({tool})", words)
    if tool == "flyway":
        # A failed row fails the check even when the version asked for was reached.
        result, verdict = run(pytester, f'database = "{url}"\nschema_revision = "3"\n')
        assert_held(result, verdict, "failed migration")


def test_alembic_migrations_in_postgresql(
    pytester: pytest.Pytester, postgres: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = postgres.create_database()
    migrate(SHOP_INI, postgres.url(name), "0001", monkeypatch)
    table = f'database = "{postgres.url(name, driver="postgresql")}"\nalembic_ini = "{SHOP_INI}"\n'
    assert_held(*run(pytester, table), "expected revision '0002', found '0001'")
    migrate(SHOP_INI, postgres.url(name), "head", monkeypatch)
    result, verdict = run(pytester, table)
    assert result.ret == 0, result.stdout.str()
    assert verdict["verdict"] == "DEPLOYABLE"


# -- faults: each with its own message, none deployable, and the URL kept secret ----------------


def _reader(postgres: Any, database: str, password: str) -> str:
    """A login role of its own (so its name is searchable), allowed to read ``database``."""
    role = f"reader_{secrets.token_hex(4)}"
    postgres.psql(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
    postgres.psql(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}", database=database)
    return role


@pytest.mark.parametrize("fault", ["wrong password", "unreachable", "missing history table",
                                   "failed flyway row", "revision ahead"])
def test_faults_are_named_and_the_url_never_shown(
    pytester: pytest.Pytester, postgres: Any, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    name = postgres.create_database()
    password = "Pw-" + secrets.token_urlsafe(12)
    if fault in ("failed flyway row", "revision ahead"):
        postgres.psql("; ".join([FLYWAY_TABLE, _flyway_row(1, "1", True),
                                 _flyway_row(2, "2", fault == "revision ahead")]), database=name)
    role = _reader(postgres, name, password)
    port = free_port() if fault == "unreachable" else postgres.port
    given = "not-" + password if fault == "wrong password" else password
    url = f"postgresql://{role}:{given}@127.0.0.1:{port}/{name}"
    monkeypatch.setenv("DATABASE_URL", url)
    result, verdict = run(
        pytester, 'database = "${DATABASE_URL}"\nschema_revision = "1"\n',
        "-rA", "-l", "--tb=long", "--junitxml=junit.xml", "--deploy-junit=gate.xml",
        "--deploy-summary=summary.md", subprocess=True)
    words = {
        "wrong password": "password authentication failed",
        "unreachable": "unreachable: the connection was refused",
        "missing history table": "no migration history table found",
        "failed flyway row": "a failed migration is recorded",
        "revision ahead": "newer schema than this release expects",
    }[fault]
    message = assert_held(result, verdict, words)
    others = [w for f, w in {
        "wrong password": "password", "unreachable": "unreachable",
        "missing history table": "no migration history", "failed flyway row": "failed migration",
        "revision ahead": "newer schema"}.items() if f != fault]
    assert not any(other in message for other in others), message
    artifacts = {"stdout": result.stdout.str(), "stderr": result.stderr.str()}
    for file in ("deploy-verdict.json", "junit.xml", "gate.xml", "summary.md"):
        artifacts[file] = (pytester.path / file).read_text()
    pieces = [password, given, url, role, name, f"127.0.0.1:{port}"]
    leaks = [(piece, where) for piece in pieces for where, text in artifacts.items()
             if piece in text]
    assert leaks == []


def test_a_database_that_does_not_exist_is_named(
    pytester: pytest.Pytester, postgres: Any
) -> None:
    url = postgres.url(f"nothing_{secrets.token_hex(4)}")
    result, verdict = run(pytester, f'database = "{url}"\nschema_revision = "1"\n')
    assert_held(result, verdict, "cannot connect to the database of target 'staging'",
                "does not exist")


def test_a_history_the_user_may_not_read_is_named(
    pytester: pytest.Pytester, postgres: Any
) -> None:
    name = postgres.create_database()
    postgres.psql("; ".join([FLYWAY_TABLE, _flyway_row(1, "1", True)]), database=name)
    role = f"nobody_{secrets.token_hex(4)}"
    postgres.psql(f"CREATE ROLE {role} LOGIN PASSWORD 'Pw-{role}'")
    url = f"postgresql://{role}:Pw-{role}@127.0.0.1:{postgres.port}/{name}"
    result, verdict = run(pytester, f'database = "{url}"\nschema_revision = "1"\n')
    assert_held(result, verdict, "cannot read the migration history: permission denied")


def test_debug_logging_does_not_show_the_url(
    pytester: pytest.Pytester, postgres: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Debug logging and a failing check that used ``db`` show no piece of the URL.

    (psycopg's connection repr names host, user and database; SQLAlchemy's pool would
    log it at DEBUG, but SQLAlchemy keeps its loggers at WARNING unless configured.)
    """
    name = postgres.create_database()
    postgres.psql("; ".join([FLYWAY_TABLE, _flyway_row(1, "1", True)]), database=name)
    password = "Pw-" + secrets.token_urlsafe(12)
    role = _reader(postgres, name, password)
    url = f"postgresql://{role}:{password}@127.0.0.1:{postgres.port}/{name}"
    monkeypatch.setenv("DATABASE_URL", url)
    pytester.makepyfile(test_db=(
        "import pytest\n\n@pytest.mark.smoke\ndef test_reads(db):\n"
        "    assert db.exec_driver_sql('SELECT 1').scalar() == 2\n"))
    result, verdict = run(
        pytester, 'database = "${DATABASE_URL}"\nschema_revision = "1"\n',
        "-rA", "--log-level=DEBUG", "-o", "log_cli=true", "-o", "log_cli_level=DEBUG",
        "--junitxml=junit.xml", subprocess=True)
    assert result.ret == 1
    assert schema_check(verdict)["outcome"] == "passed"
    text = result.stdout.str() + result.stderr.str() + (pytester.path / "junit.xml").read_text()
    text += json.dumps(verdict)
    assert [piece for piece in (password, role, name) if piece in text] == []
