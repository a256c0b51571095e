"""Migration history tables: which tool wrote one, what it says, and whether it matches.

Four tools, four tables (layouts as each tool creates them; the tests cite the
source of each):

- Alembic ``alembic_version(version_num)``: one row per applied head.
- Django ``django_migrations(id, app, name, applied)``: one row per applied migration.
- Flyway ``flyway_schema_history(installed_rank, version, ..., type, script, success)``:
  one row per attempt; a failed one stays with ``success`` false until repaired.
- Liquibase ``DATABASECHANGELOG(ID, AUTHOR, FILENAME, ..., ORDEREXECUTED, EXECTYPE, TAG)``.

Every row is untrusted input: each tool's columns and the kind of value each
must hold are one table (:data:`TOOLS`); a row that does not fit fails the
check with a message naming the table and column, and values shown in messages
are escaped and shortened. :func:`compare` is plain Python over the rows.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .untrusted import Kind

__all__ = ["TOOLS", "Finding", "HistoryError", "Tool", "compare", "detect", "parse_expected"]

#: Rows read at most; a history longer than this is refused rather than half-read.
MAX_ROWS = 100_000

NEWER = "newer schema than this release expects"


class HistoryError(Exception):
    """A history table that cannot be read as its tool writes it; the message is for users."""


#: What a column's value must be: the words an error shows, and the test.
_TEXT: Kind = ("text", lambda v: isinstance(v, str) and v != "")
_OPTIONAL_TEXT: Kind = ("text or NULL", lambda v: v is None or isinstance(v, str))
_INT: Kind = ("a whole number", lambda v: type(v) is int)
_FLAG: Kind = ("a boolean (or 0/1)", lambda v: isinstance(v, bool) or v in (0, 1))
_ANY: Kind = ("anything", lambda v: True)


@dataclass(frozen=True)
class Tool:
    """A migration tool: its history table and the columns read from it, with their kinds."""

    name: str
    table: str
    columns: Mapping[str, Kind]
    order_by: tuple[str, ...]
    expected_form: str


TOOLS: dict[str, Tool] = {
    tool.name: tool
    for tool in (
        Tool("alembic", "alembic_version", {"version_num": _TEXT}, ("version_num",),
             "an Alembic revision id (several heads separated by commas)"),
        Tool("django", "django_migrations",
             {"id": _INT, "app": _TEXT, "name": _TEXT, "applied": _ANY}, ("id",),
             "app.migration, such as shop.0003_add_price (several separated by commas)"),
        Tool("flyway", "flyway_schema_history",
             {"installed_rank": _INT, "version": _OPTIONAL_TEXT, "description": _OPTIONAL_TEXT,
              "type": _TEXT, "script": _OPTIONAL_TEXT, "success": _FLAG},
             ("installed_rank",), "a Flyway version, such as 3 or 1.2.0"),
        Tool("liquibase", "databasechangelog",
             {"id": _TEXT, "author": _TEXT, "filename": _TEXT, "orderexecuted": _INT,
              "exectype": _TEXT, "tag": _OPTIONAL_TEXT},
             ("orderexecuted",), "a changeset id or a tag"),
    )
}


@dataclass(frozen=True)
class Finding:
    """The outcome of comparing a history with the expected revision."""

    ok: bool
    message: str
    found: str | None = None


def shown(value: object, limit: int = 80) -> str:
    """An untrusted value for a message: quoted, control characters escaped, shortened."""
    text = value if isinstance(value, str) else str(value)
    text = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"'{text}'"


def detect(table_names: Sequence[str]) -> tuple[Tool, str]:
    """The tool whose history table is present, and the table's name as the database spells it.

    None present, or several, is a HistoryError: a guess could compare the wrong history.
    """
    present = {name.lower(): name for name in table_names}
    found = [(tool, present[tool.table]) for tool in TOOLS.values() if tool.table in present]
    if not found:
        raise HistoryError(
            "no migration history table found (looked for "
            + ", ".join(tool.table for tool in TOOLS.values())
            + "): the migrations never ran here, or the URL names the wrong database or schema"
        )
    if len(found) > 1:
        raise HistoryError(
            "history tables of several tools are present ("
            + ", ".join(f"{name} ({tool.name})" for tool, name in found)
            + "); set schema_tool in the target to say which one this release uses"
        )
    return found[0]


def check_rows(tool: Tool, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """Each row's columns hold what the tool writes; HistoryError naming the first that does not."""
    if len(rows) > MAX_ROWS:
        raise HistoryError(f"{table} holds more than {MAX_ROWS} rows; refusing to read it half")
    for number, row in enumerate(rows, 1):
        for column, (words, fits) in tool.columns.items():
            if not fits(row[column]):
                raise HistoryError(
                    f"{table} row {number}: {column} must be {words}, not {shown(row[column])}; "
                    f"this is not a {tool.name} history as {tool.name} writes it"
                )


def parse_expected(tool: Tool, expected: str) -> list[str]:
    """The expected revision(s) in a tool's terms; HistoryError saying the right form."""
    parts = [part.strip() for part in expected.split(",")] if tool.name in (
        "alembic", "django") else [expected.strip()]
    bad = not parts or any(not part for part in parts)
    if tool.name == "django":
        bad = bad or any(not re.fullmatch(r"[\w]+\.[\w]+", part) for part in parts)
    elif tool.name == "flyway":
        bad = bad or not re.fullmatch(r"\d+([._]\d+)*", parts[0])
    if bad:
        raise HistoryError(
            f"expected revision {shown(expected)} is not {tool.expected_form}"
        )
    return parts


def compare(tool: Tool, table: str, rows: Sequence[Mapping[str, Any]], expected: list[str],
            parents: Mapping[str, tuple[str, ...]] | None = None) -> Finding:
    """Whether the history shows the database at ``expected`` with no failed migration.

    ``parents`` (Alembic only) maps each revision of the release's script
    directory to its down-revisions, to tell "behind" from "newer".
    """
    check_rows(tool, table, rows)
    return _COMPARE[tool.name](table, rows, expected, parents)


def _ancestors(revision: str, parents: Mapping[str, tuple[str, ...]]) -> set[str]:
    seen: set[str] = set()
    todo = list(parents.get(revision, ()))
    while todo:
        current = todo.pop()
        if current not in seen:
            seen.add(current)
            todo.extend(parents.get(current, ()))
    return seen


def _alembic(table: str, rows: Sequence[Mapping[str, Any]], expected: list[str],
             parents: Mapping[str, tuple[str, ...]] | None) -> Finding:
    found = sorted({row["version_num"] for row in rows})
    want = sorted(set(expected))
    found_text = ", ".join(shown(f) for f in found)
    want_text = ", ".join(shown(e) for e in want)
    if found == want:
        return Finding(True, f"at revision {found_text}", found_text)
    if not found:
        return Finding(False, f"expected revision {want_text}, found none: {table} is empty "
                       "(no migration has run)")
    problems: list[str] = []
    for revision in found:
        if revision in want:
            continue
        if parents is None:
            problems.append(f"found {shown(revision)}")
        elif revision not in parents:
            problems.append(f"found {shown(revision)}, which this release's migrations do not "
                            f"know: a {NEWER}, or another branch's")
        elif any(e in _ancestors(revision, parents) for e in want):
            problems.append(f"found {shown(revision)}: a {NEWER} (it comes after the expected "
                            "revision)")
        elif any(revision in _ancestors(e, parents) for e in want):
            problems.append(f"found {shown(revision)}: migrations have not run (it comes before "
                            "the expected revision)")
        else:
            problems.append(f"found {shown(revision)}, on another branch")
    missing = [e for e in want if e not in found]
    unknown = [e for e in want if parents is not None and e not in parents]
    if unknown:
        problems.append(f"and the expected {', '.join(shown(e) for e in unknown)} is not in "
                        "this release's migrations")
    if not problems:
        problems.append("found " + found_text)
    detail = "; ".join(problems)
    return Finding(False, f"expected revision {want_text}, {detail}"
                   + (f" (missing {', '.join(shown(m) for m in missing)})"
                      if missing and len(want) > 1 else ""), found_text)


def _number(name: str) -> int | None:
    match = re.match(r"(\d+)_", name)
    return int(match.group(1)) if match else None


def _django(table: str, rows: Sequence[Mapping[str, Any]], expected: list[str],
            parents: Mapping[str, tuple[str, ...]] | None) -> Finding:
    problems: list[str] = []
    for item in expected:
        app, name = item.split(".", 1)
        applied = [row for row in rows if row["app"] == app]
        names = {row["name"] for row in applied}
        latest = max(applied, key=lambda r: (_number(r["name"]) or -1, r["id"]), default=None)
        latest_text = shown(latest["name"]) if latest else "none"
        if name not in names:
            problems.append(f"app {shown(app)}: expected {shown(name)}, which has not run "
                            f"(latest applied: {latest_text})")
            continue
        number = _number(name)
        later = sorted(row["name"] for row in applied if number is not None
                       and (_number(row["name"]) or -1) > number)
        if later:
            problems.append(f"app {shown(app)}: a {NEWER}: {shown(later[-1])} is applied after "
                            f"the expected {shown(name)}")
    if problems:
        return Finding(False, "; ".join(problems))
    return Finding(True, "at " + ", ".join(shown(e) for e in expected))


def _flyway_version(text: str) -> tuple[int, ...]:
    parts = [int(p) for p in re.split(r"[._]", text)]
    while len(parts) > 1 and parts[-1] == 0:
        parts.pop()  # Flyway: 1.0 and 1 are the same version
    return tuple(parts)


def _flyway(table: str, rows: Sequence[Mapping[str, Any]], expected: list[str],
            parents: Mapping[str, tuple[str, ...]] | None) -> Finding:
    failed = [row for row in rows if not row["success"]]
    if failed:
        row = failed[-1]
        what = shown(row["version"] or "repeatable")
        return Finding(False, f"a failed migration is recorded in {table}: version {what} "
                       f"({shown(row['description'] or '')}, script "
                       f"{shown(row['script'] or '')}, installed_rank "
                       f"{row['installed_rank']}); repair it and migrate again")
    applied: dict[tuple[int, ...], str] = {}
    for row in sorted(rows, key=lambda r: r["installed_rank"]):
        version, kind = row["version"], row["type"].upper()
        if version is None or kind == "SCHEMA":
            continue  # repeatable migrations and Flyway's own schema-creation marker
        if not re.fullmatch(r"\d+([._]\d+)*", version):
            raise HistoryError(f"{table} row installed_rank {row['installed_rank']}: version "
                               f"{shown(version)} is not a Flyway version")
        key = _flyway_version(version)
        if kind.startswith("UNDO") or kind == "DELETE":
            applied.pop(key, None)
        else:
            applied[key] = version
    want = _flyway_version(expected[0])
    if not applied:
        return Finding(False, f"expected version {shown(expected[0])}, found none: no "
                       f"versioned migration has run ({table} has none)")
    current = max(applied)
    found = applied[current]
    if current == want:
        return Finding(True, f"at version {shown(found)}", found)
    if current > want:
        return Finding(False, f"expected version {shown(expected[0])}, found {shown(found)}: a "
                       f"{NEWER}", found)
    return Finding(False, f"expected version {shown(expected[0])}, found {shown(found)}: "
                   "migrations have not run", found)


def _liquibase(table: str, rows: Sequence[Mapping[str, Any]], expected: list[str],
               parents: Mapping[str, tuple[str, ...]] | None) -> Finding:
    ordered = sorted(rows, key=lambda r: r["orderexecuted"])
    failed = [row for row in ordered if row["exectype"].upper() == "FAILED"]

    def name(row: Mapping[str, Any]) -> str:
        return shown(f"{row['filename']}::{row['id']}::{row['author']}", 160)

    if failed:
        return Finding(False, f"a failed changeset is recorded in {table}: {name(failed[-1])}")
    # Re-runs of runAlways/runOnChange changesets do not move the schema forward.
    moving = [row for row in ordered if row["exectype"].upper() != "RERAN"]
    if not moving:
        return Finding(False, f"expected {shown(expected[0])}, found none: {table} is empty")
    last = moving[-1]
    want = expected[0]

    def matches(row: Mapping[str, Any]) -> bool:
        return bool(row["id"] == want or row["tag"] == want)

    if matches(last):
        return Finding(True, f"at {shown(want)} ({name(last)})", want)
    hits = [i for i, row in enumerate(moving) if matches(row)]
    if hits:
        after = len(moving) - 1 - hits[-1]
        return Finding(False, f"expected {shown(want)}, found {after} changeset(s) after it, the "
                       f"last {name(last)}: a {NEWER}", name(last))
    return Finding(False, f"expected changeset or tag {shown(want)}, which has not run (the last "
                   f"executed is {name(last)})", name(last))


_Compare = Callable[[str, Sequence[Mapping[str, Any]], list[str],
                     Mapping[str, tuple[str, ...]] | None], Finding]
_COMPARE: dict[str, _Compare] = {
    "alembic": _alembic, "django": _django, "flyway": _flyway, "liquibase": _liquibase,
}
