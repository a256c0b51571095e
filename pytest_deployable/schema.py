"""The built-in schema check: the target's database is at the revision this release expects.

When a target has a ``database``, the plugin adds one blocking smoke check,
``deployable::schema``. It reads the migration history read-only and passes
when the database is at the expected revision with no failed migration.

The expected revision is, in this order: ``--deploy-schema-revision``, the
target's ``schema_revision``, or the head(s) of the release's Alembic script
directory (the target's ``alembic_ini``, else ``alembic.ini`` in the rootdir).
The check is added when any of those, or ``schema_tool``, is given; a database
used only by the ``db`` fixture gets no schema check.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .state import FACTS, SPEC, STATE
from .targets import Target

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from .schema_history import Tool

__all__ = ["SCHEMA_CHECK_ID", "SchemaCheck", "alembic_ini", "configure", "schema_check"]

SCHEMA_CHECK_ID = "deployable::schema"


def alembic_ini(config: pytest.Config, target: Target) -> Path | None:
    """The release's Alembic configuration: the target's ``alembic_ini``, else the rootdir's."""
    if target.alembic_ini:
        return Path(target.alembic_ini)
    candidate = config.rootpath / "alembic.ini"
    return candidate if candidate.is_file() else None


def _expected(config: pytest.Config, target: Target) -> str | None:
    option: str | None = config.option.deployable_schema_revision
    return option or target.schema_revision


def configure(config: pytest.Config, target: Target | None) -> None:
    """Refuse ``--deploy-schema-revision`` for a target without a database (a usage error).

    Without a deploy target the option is ignored, like the other ``--deploy-*`` options.
    """
    if config.option.deployable_schema_revision and target is not None and not target.database:
        raise pytest.UsageError(
            f"--deploy-schema-revision: target {target.name!r} has no database; add database = "
            "\"${DATABASE_URL}\" to its table in the targets file"
        )


def schema_check(session: pytest.Session, target: Target) -> pytest.Item | None:
    """The ``deployable::schema`` item for this target, or None when nothing asks for one."""
    config = session.config
    if not target.database:
        return None
    if not (_expected(config, target) or target.schema_tool
            or alembic_ini(config, target) is not None):
        return None
    from .markers import CheckSpec
    from .recorder import CheckFacts

    check = SchemaCheck.from_parent(session, name=SCHEMA_CHECK_ID, nodeid=SCHEMA_CHECK_ID)
    check.stash[SPEC] = CheckSpec(category="smoke", blocking=True)
    check.stash[FACTS] = CheckFacts("smoke", True)
    return check


def script_heads(path: Path) -> tuple[list[str], dict[str, tuple[str, ...]]]:
    """The heads of an Alembic script directory, and each revision's down-revisions."""
    try:
        from alembic.config import Config
        from alembic.script import ScriptDirectory
    except ImportError:
        raise AssertionError(
            f"{path}: reading an Alembic script directory needs alembic: install "
            "pytest-deployable[db]"
        ) from None
    if not path.is_file():
        raise AssertionError(f"{path}: no such Alembic configuration file")
    try:
        script = ScriptDirectory.from_config(Config(str(path)))
        parents: dict[str, tuple[str, ...]] = {}
        for revision in script.walk_revisions():
            down = revision.down_revision
            if down is None:
                parents[revision.revision] = ()
            elif isinstance(down, str):
                parents[revision.revision] = (down,)
            else:
                parents[revision.revision] = tuple(down)
        heads = list(script.get_heads())
    except Exception as exc:
        raise AssertionError(
            f"{path}: cannot read its Alembic script directory: {type(exc).__name__}: {exc}"
        ) from None
    if not heads:
        raise AssertionError(f"{path}: its Alembic script directory has no revisions")
    return heads, parents


def read_history(connection: Connection, tool_name: str | None) -> tuple[Tool, str, list[Any]]:
    """The tool, its table's name, and its rows (as mappings of lower-case column names)."""
    from sqlalchemy import column, inspect, select, table

    from .schema_history import TOOLS, HistoryError, detect

    names = inspect(connection).get_table_names()
    if tool_name is None:
        tool, actual = detect(names)
    else:
        tool = TOOLS[tool_name]
        matches = [name for name in names if name.lower() == tool.table]
        if not matches:
            raise HistoryError(f"the {tool.name} history table {tool.table} is missing: "
                               "the migrations never ran here, or the URL names the wrong "
                               "database or schema")
        actual = matches[0]
    columns = {c["name"].lower(): c["name"] for c in inspect(connection).get_columns(actual)}
    missing = [name for name in tool.columns if name not in columns]
    if missing:
        raise HistoryError(f"{actual} has no column {missing[0]}: it is not a {tool.name} "
                           "history table as that tool writes it")
    from .schema_history import MAX_ROWS

    query: Any = (
        select(*(column(columns[name]).label(name) for name in tool.columns))
        .select_from(table(actual))
        .order_by(*(column(columns[name]) for name in tool.order_by))
        .limit(MAX_ROWS + 1)
    )
    rows = [dict(row._mapping) for row in connection.execute(query)]
    return tool, actual, rows


class SchemaCheck(pytest.Item):
    """The ``deployable::schema`` check item."""

    def runtest(self) -> None:
        from sqlalchemy.exc import SQLAlchemyError

        from .database import DatabaseUnavailable, connect, describe_error
        from .schema_history import HistoryError, compare, parse_expected

        target: Target | None = self.config.stash[STATE].target
        if target is None or not target.database:
            raise AssertionError("the schema check needs a target database")
        expected = _expected(self.config, target)
        ini = alembic_ini(self.config, target)
        where = f"target {target.name!r}"
        try:
            with connect(target.database, target_name=target.name, timeout=target.timeout,
                         base=Path(target.source).parent if target.source else None) as conn:
                tool, table, rows = read_history(conn, target.schema_tool)
        except DatabaseUnavailable as exc:
            raise AssertionError(str(exc)) from None
        except HistoryError as exc:
            raise AssertionError(f"{where}: {exc}") from None
        except SQLAlchemyError as exc:
            raise AssertionError(f"{where}: cannot read the migration history: "
                                 f"{describe_error(exc)}") from None
        parents = None
        if tool.name == "alembic" and ini is not None:
            heads, parents = script_heads(ini)
            if expected is None:
                expected = ",".join(heads)
        if expected is None:
            raise AssertionError(
                f"{where}: no expected schema revision for its {tool.name} history; give "
                "schema_revision in the target or --deploy-schema-revision"
                + (" (or an alembic.ini in the rootdir)" if tool.name == "alembic" else "")
            )
        try:
            finding = compare(tool, table, rows, parse_expected(tool, expected), parents)
        except HistoryError as exc:
            raise AssertionError(f"{where}: {exc}") from None
        if not finding.ok:
            raise AssertionError(f"{where} database ({tool.name}): {finding.message}")

    def reportinfo(self) -> tuple[str, int | None, str]:
        return ("deployable", None, SCHEMA_CHECK_ID)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str:
        return str(excinfo.value)
