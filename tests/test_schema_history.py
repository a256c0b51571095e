"""Reading migration histories: the rules of each tool, over rows shaped as each tool writes them.

The layouts (and where they come from; the end-to-end tests in test_schema_check.py
create the same tables in a real PostgreSQL and SQLite):

- Alembic: ``alembic_version(version_num VARCHAR(32) NOT NULL)``, one row per head;
  sqlalchemy/alembic ``alembic/ddl/impl.py`` (``DefaultImpl.version_table_impl``) and
  ``alembic/runtime/migration.py`` (``version_table`` defaults to ``alembic_version``).
- Django: ``django_migrations(id, app VARCHAR(255), name VARCHAR(255), applied TIMESTAMP)``;
  django/django ``django/db/migrations/recorder.py`` (``MigrationRecorder.Migration``).
- Flyway: ``flyway_schema_history(installed_rank INT, version VARCHAR(50), description,
  type, script, checksum, installed_by, installed_on, execution_time, success BOOLEAN)``;
  flyway/flyway ``flyway-core/.../database/postgresql/PostgreSQLDatabase.java``
  (``getRawCreateScript``).
- Liquibase: ``DATABASECHANGELOG(ID, AUTHOR, FILENAME, DATEEXECUTED, ORDEREXECUTED, EXECTYPE,
  MD5SUM, DESCRIPTION, COMMENTS, TAG, LIQUIBASE, CONTEXTS, LABELS, DEPLOYMENT_ID)``;
  liquibase/liquibase ``liquibase-standard/.../sqlgenerator/core/
  CreateDatabaseChangeLogTableGenerator.java`` and
  ``liquibase-standard/.../changelog/StandardChangeLogHistoryService.java``.
"""

from __future__ import annotations

from typing import Any

import pytest

from pytest_deployable.schema_history import (
    NEWER,
    TOOLS,
    HistoryError,
    compare,
    detect,
    parse_expected,
)


def run(tool: str, rows: list[dict[str, Any]], expected: str,
        parents: dict[str, tuple[str, ...]] | None = None) -> tuple[bool, str]:
    spec = TOOLS[tool]
    finding = compare(spec, spec.table, rows, parse_expected(spec, expected), parents)
    return finding.ok, finding.message


def flyway(rank: int, version: str | None, success: Any = True,
           kind: str = "SQL") -> dict[str, Any]:
    return {"installed_rank": rank, "version": version, "description": f"step {rank}",
            "type": kind, "script": f"V{version}__step.sql", "success": success}


def liquibase(order: int, ident: str, tag: str | None = None,
              exectype: str = "EXECUTED") -> dict[str, Any]:
    return {"id": ident, "author": "dev", "filename": "db/changelog.xml",
            "orderexecuted": order, "exectype": exectype, "tag": tag}


# -- detection: one history table, or a clear failure ------------------------------------------


def test_detects_each_tool_case_insensitively() -> None:
    assert detect(["items", "alembic_version"])[0].name == "alembic"
    assert detect(["django_migrations", "auth_user"])[0].name == "django"
    assert detect(["flyway_schema_history"])[0].name == "flyway"
    tool, name = detect(["DATABASECHANGELOG", "DATABASECHANGELOGLOCK"])
    assert (tool.name, name) == ("liquibase", "DATABASECHANGELOG")


def test_no_history_table_is_not_a_guess() -> None:
    with pytest.raises(HistoryError, match="no migration history table found"):
        detect(["items", "orders"])


def test_two_history_tables_are_not_a_guess() -> None:
    with pytest.raises(HistoryError, match=r"several tools.*set schema_tool"):
        detect(["alembic_version", "django_migrations"])


# -- Alembic -----------------------------------------------------------------------------------

PARENTS = {"0001": (), "0002": ("0001",), "0003": ("0002",)}


def test_alembic_at_the_expected_revision_passes() -> None:
    assert run("alembic", [{"version_num": "0002"}], "0002", PARENTS)[0]


def test_alembic_empty_table_fails() -> None:
    ok, message = run("alembic", [], "0002", PARENTS)
    assert not ok
    assert "found none" in message


def test_alembic_behind_says_migrations_have_not_run() -> None:
    ok, message = run("alembic", [{"version_num": "0001"}], "0002", PARENTS)
    assert not ok
    assert "expected revision '0002'" in message
    assert "found '0001'" in message
    assert "migrations have not run" in message


def test_alembic_ahead_says_newer() -> None:
    ok, message = run("alembic", [{"version_num": "0003"}], "0002", PARENTS)
    assert not ok
    assert NEWER in message


def test_alembic_revision_unknown_to_the_release_is_newer_or_another_branch() -> None:
    ok, message = run("alembic", [{"version_num": "ffff"}], "0002", PARENTS)
    assert not ok
    assert "do not know" in message
    assert NEWER in message


def test_alembic_expected_revision_unknown_to_the_scripts_is_said() -> None:
    ok, message = run("alembic", [{"version_num": "0002"}], "9999", PARENTS)
    assert not ok
    assert "the expected '9999' is not in this release's migrations" in message


def test_alembic_without_a_script_directory_still_names_both() -> None:
    ok, message = run("alembic", [{"version_num": "0001"}], "0002")
    assert not ok
    assert "expected revision '0002', found '0001'" in message


def test_alembic_two_heads_must_both_be_applied() -> None:
    parents = {"a": (), "b1": ("a",), "b2": ("a",)}
    assert run("alembic", [{"version_num": "b1"}, {"version_num": "b2"}], "b1,b2", parents)[0]
    ok, message = run("alembic", [{"version_num": "b1"}], "b1,b2", parents)
    assert not ok
    assert "missing 'b2'" in message


# -- Django ------------------------------------------------------------------------------------

DJANGO = [
    {"id": 1, "app": "contenttypes", "name": "0001_initial", "applied": "2026-01-01"},
    {"id": 2, "app": "shop", "name": "0001_initial", "applied": "2026-01-01"},
    {"id": 3, "app": "shop", "name": "0002_price", "applied": "2026-01-02"},
]


def test_django_expected_migrations_applied_passes() -> None:
    assert run("django", DJANGO, "shop.0002_price, contenttypes.0001_initial")[0]


def test_django_migration_not_run_fails() -> None:
    ok, message = run("django", DJANGO, "shop.0003_sku")
    assert not ok
    assert "app 'shop': expected '0003_sku', which has not run" in message
    assert "latest applied: '0002_price'" in message


def test_django_later_migration_is_newer() -> None:
    ok, message = run("django", DJANGO, "shop.0001_initial")
    assert not ok
    assert NEWER in message
    assert "'0002_price'" in message


def test_django_expected_form_is_checked() -> None:
    with pytest.raises(HistoryError, match=r"app\.migration"):
        parse_expected(TOOLS["django"], "0002_price")


# -- Flyway ------------------------------------------------------------------------------------


def test_flyway_at_version_passes_and_ignores_repeatables_and_schema_marker() -> None:
    rows = [flyway(0, None, kind="SCHEMA"), flyway(1, "1"), flyway(2, "1.1"),
            flyway(3, None, kind="SQL")]
    assert run("flyway", rows, "1.1")[0]
    assert run("flyway", rows, "1.1.0")[0]  # Flyway: 1.1 and 1.1.0 are one version


def test_flyway_failed_row_fails_naming_the_migration() -> None:
    rows = [flyway(1, "1"), flyway(2, "2", success=False)]
    ok, message = run("flyway", rows, "1")
    assert not ok
    assert "failed migration" in message
    assert "version '2'" in message
    assert "V2__step.sql" in message


def test_flyway_failed_row_as_sqlite_stores_it_fails() -> None:
    ok, message = run("flyway", [flyway(1, "1", success=1), flyway(2, "2", success=0)], "2")
    assert not ok
    assert "failed migration" in message


def test_flyway_ahead_and_behind() -> None:
    rows = [flyway(1, "1"), flyway(2, "2"), flyway(3, "10")]
    ok, message = run("flyway", rows, "2")
    assert not ok
    assert NEWER in message
    assert "found '10'" in message  # numeric, not text, order: 10 is after 2
    ok, message = run("flyway", rows, "11")
    assert not ok
    assert "migrations have not run" in message


def test_flyway_undone_version_is_not_current() -> None:
    rows = [flyway(1, "1"), flyway(2, "2"), flyway(3, "2", kind="UNDO_SQL")]
    assert run("flyway", rows, "1")[0]


def test_flyway_no_versioned_migration_fails() -> None:
    ok, message = run("flyway", [flyway(1, None, kind="SCHEMA")], "1")
    assert not ok
    assert "found none" in message


# -- Liquibase ---------------------------------------------------------------------------------


def test_liquibase_last_changeset_or_tag_passes() -> None:
    rows = [liquibase(1, "1"), liquibase(2, "2", tag="v1.4")]
    assert run("liquibase", rows, "2")[0]
    assert run("liquibase", rows, "v1.4")[0]


def test_liquibase_changesets_after_the_tag_are_newer() -> None:
    rows = [liquibase(1, "1", tag="v1.4"), liquibase(2, "2")]
    ok, message = run("liquibase", rows, "v1.4")
    assert not ok
    assert NEWER in message
    assert "1 changeset(s) after it" in message


def test_liquibase_reran_changesets_do_not_move_the_schema() -> None:
    rows = [liquibase(1, "1"), liquibase(2, "2", tag="v2"), liquibase(3, "views", exectype="RERAN")]
    assert run("liquibase", rows, "v2")[0]


def test_liquibase_failed_changeset_fails() -> None:
    ok, message = run("liquibase", [liquibase(1, "1"), liquibase(2, "2", exectype="FAILED")], "1")
    assert not ok
    assert "failed changeset" in message
    assert "db/changelog.xml::2::dev" in message


def test_liquibase_empty_table_fails() -> None:
    ok, message = run("liquibase", [], "v1")
    assert not ok
    assert "found none" in message
    ok, message = run("liquibase", [liquibase(1, "views", exectype="RERAN")], "views")
    assert not ok


def test_liquibase_missing_changeset() -> None:
    ok, message = run("liquibase", [liquibase(1, "1")], "3")
    assert not ok
    assert "which has not run" in message


# -- untrusted rows ----------------------------------------------------------------------------


@pytest.mark.parametrize(("tool", "row", "column"), [
    ("alembic", {"version_num": None}, "version_num"),
    ("alembic", {"version_num": 7}, "version_num"),
    ("flyway", {**flyway(1, "1"), "success": "yes"}, "success"),
    ("flyway", {**flyway(1, "1"), "installed_rank": "1"}, "installed_rank"),
    ("liquibase", {**liquibase(1, "1"), "exectype": None}, "exectype"),
    ("django", {"id": 1, "app": "", "name": "0001_x", "applied": None}, "app"),
])
def test_a_row_of_the_wrong_shape_fails_naming_the_column(
    tool: str, row: dict[str, Any], column: str
) -> None:
    with pytest.raises(HistoryError, match=f"row 1: {column} must be"):
        run(tool, [row], {"alembic": "x", "flyway": "1", "liquibase": "1",
                          "django": "a.0001_x"}[tool])


def test_values_in_messages_are_escaped_and_short() -> None:
    ok, message = run("alembic", [{"version_num": "\x1b[32mPASSED\x1b[0m" + "x" * 500}], "0002")
    assert not ok
    assert "\x1b" not in message
    assert len(message) < 300


def test_a_flyway_version_that_is_not_one_is_refused() -> None:
    with pytest.raises(HistoryError, match="not a Flyway version"):
        run("flyway", [flyway(1, "1.x")], "1")
    with pytest.raises(HistoryError, match="a Flyway version"):
        parse_expected(TOOLS["flyway"], "v1")
