"""The shape of a target table: the keys it may hold and what each value must be.

Checked for every target in a file, not just the selected one, because a typo
such as ``protect = true`` must never silently leave production unprotected.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from .durations import parse_duration

__all__ = ["CONTRACT_KEYS", "KEYS", "LEDGER_KEYS", "NAME_RE", "SCHEMA_TOOLS", "TargetError",
           "check_ledger_table", "check_promotions", "check_table", "timeout_seconds"]

#: A target (or role) name: letters, digits, ``_``, ``-`` and ``.``.
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class TargetError(Exception):
    """A user's mistake in the targets configuration; its message is one line for the user."""


#: Migration tools whose history the schema check reads (see schema_history.py).
SCHEMA_TOOLS = ("alembic", "django", "flyway", "liquibase")

#: Every key a target table may hold, with the type its value must have, as
#: the words a usage error shows.
KEYS: dict[str, str] = {
    "base_url": "a string (http or https URL)",
    "hosts": "a list of strings (testinfra host specs)",
    "headers": "a table of strings",
    "variables": "a table of strings, numbers or booleans",
    "timeout": "a positive number of seconds or a duration such as \"5s\" or \"500ms\"",
    "retries": "a whole number from 0 to 10",
    "max_response_bytes": "a whole number of bytes, at least 1024",
    "ca_bundle": "a string: a PEM file of CA certificates, relative to this file",
    "verify": "true or false (false only on unprotected targets)",
    "protected": "true or false",
    "public_env": "a list of environment variable names whose values are not secrets",
    "version_url": "a string: a URL, or a path on base_url, that reports the running version",
    "version_field": "a string: a dotted path into the version URL's JSON, such as build.version",
    "version_samples": "a whole number from 1 to 100: how many answers in a row must report "
    "the version",
    "roles": "a table of role names, each a list of strings (testinfra host specs)",
    "openapi": "a string: the OpenAPI contract (a file relative to this file, an http(s) URL, "
    "or a path on the target such as /openapi.json)",
    "contract": "a table with generate (true/false), served (a string like openapi), "
    "pacts (a list of Pact files or folders), blocking (true/false) and min_coverage "
    "(a share from 0 to 1)",
    "prometheus": "a string: the http(s) URL of the Prometheus server the metrics fixture asks",
    "prometheus_headers": "a table of strings (headers sent to Prometheus only)",
    "database": "a string: a SQLAlchemy URL, postgresql://... or sqlite:///... (a secret)",
    "schema_revision": "a string: the schema revision this release expects",
    "schema_tool": "one of " + ", ".join(SCHEMA_TOOLS),
    "alembic_ini": "a string: the release's alembic.ini, relative to this file",
    "promote_from": "a non-empty list of target names whose passing verdict a version needs "
    "before deployable can-i-deploy says yes for this target",
    "promote_max_age": "a duration such as 7d, 12h or 30m (or a number of seconds): how old "
    "that verdict may be",
}

#: Keys of the targets file's ``[ledger]`` table and the types of their values.
LEDGER_KEYS: dict[str, str] = {
    "url": "a string: the ledger's SQLAlchemy URL (sqlite:///PATH or postgresql://...)",
}

#: Keys of a ``[targets.NAME.contract]`` table and the types of their values.
CONTRACT_KEYS: dict[str, type] = {
    "generate": bool, "served": str, "blocking": bool, "pacts": list, "min_coverage": float,
}


def check_table(where: str, table: Mapping[str, Any]) -> None:
    """Check one ``[targets.NAME]`` table's keys and value types; TargetError naming the key."""
    for key, value in table.items():
        if key not in KEYS:
            raise TargetError(
                f"{where}: unknown key {key!r}; known keys are {', '.join(sorted(KEYS))}"
            )
        if key == "contract" and isinstance(value, dict):
            _check_contract_table(f"{where}.contract", value)
        elif key == "roles" and isinstance(value, dict) and [] in value.values():
            empty = next(role for role, specs in value.items() if specs == [])
            # A role that holds no host would make its only_hosts checks
            # "not applicable" without anyone having said so.
            raise TargetError(
                f"{where}.roles.{empty} is empty: list its hosts, or leave the role out "
                "where a target has none"
            )
        elif not _value_fits(key, value):
            raise TargetError(f"{where}.{key} must be {KEYS[key]}, not {value!r}")
    if not (table.get("base_url") or table.get("hosts") or table.get("roles")
            or table.get("database")):
        raise TargetError(f"{where} needs base_url, hosts, or both (or a database)")
    contract = table.get("contract", {})
    if ({"generate", "served", "min_coverage"} & set(contract)) and "openapi" not in table:
        raise TargetError(f"{where}.contract needs openapi, the contract to check against")


def _check_contract_table(where: str, table: Mapping[str, Any]) -> None:
    for key, value in table.items():
        kind = CONTRACT_KEYS.get(key)
        if kind is None:
            raise TargetError(
                f"{where}: unknown key {key!r}; known keys are {', '.join(sorted(CONTRACT_KEYS))}"
            )
        if isinstance(value, list):
            fits = kind is list and all(isinstance(v, str) and v for v in value)
        elif kind is float:
            fits = isinstance(value, (int, float)) and not isinstance(value, bool) and (
                0 <= value <= 1
            )
        else:
            fits = isinstance(value, kind)
        if not fits:
            shown = {bool: "true or false", str: "a string",
                     float: "a share of the operations from 0 to 1 (0.8 for 80%)"}.get(
                kind, "a list of strings (Pact files, or folders of them)"
            )
            raise TargetError(f"{where}.{key} must be {shown}, not {value!r}")


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _string_table(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _whole(low: int, high: float = float("inf")) -> Callable[[Any], bool]:
    return lambda value: (isinstance(value, int) and not isinstance(value, bool)
                          and low <= value <= high)


def _roles(value: Any) -> bool:
    return isinstance(value, dict) and all(
        NAME_RE.match(role) and _strings(specs) for role, specs in value.items()
    )


def _names(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(
        isinstance(v, str) and NAME_RE.match(v) for v in value
    )


def _env_names(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(v, str) and re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", v) for v in value
    )


#: How each key of :data:`KEYS` checks its value (``KEYS`` says the same in words).
_FITS: dict[str, Callable[[Any], bool]] = {
    "base_url": lambda value: isinstance(value, str),
    "hosts": _strings,
    "headers": _string_table,
    "variables": lambda value: isinstance(value, dict) and all(
        isinstance(v, (str, int, float, bool)) for v in value.values()),
    "timeout": lambda value: timeout_seconds(value) is not None,
    "ca_bundle": _text,
    "verify": lambda value: isinstance(value, bool),
    "max_response_bytes": _whole(1024),
    "retries": _whole(0, 10),
    "protected": lambda value: isinstance(value, bool),
    "version_samples": _whole(1, 100),
    "version_url": _text,
    "version_field": _text,
    "roles": _roles,
    "openapi": _text,
    "database": _text,
    "schema_revision": _text,
    "alembic_ini": _text,
    "schema_tool": lambda value: value in SCHEMA_TOOLS,
    "contract": lambda value: isinstance(value, dict),
    "prometheus": _text,
    "prometheus_headers": _string_table,
    "promote_from": _names,
    "promote_max_age": lambda value: _is_duration(value),
    "public_env": _env_names,
}


def _value_fits(key: str, value: Any) -> bool:
    return _FITS[key](value)


def _is_duration(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return value > 0
    if not isinstance(value, str):
        return False
    try:
        return parse_duration(value) > 0
    except ValueError:
        return False


def check_promotions(where: str, tables: Mapping[str, Mapping[str, Any]]) -> None:
    """Every ``promote_from`` names another configured target; TargetError naming it if not."""
    for name, table in tables.items():
        for source in table.get("promote_from", ()):
            if source == name:
                raise TargetError(f"{where}targets.{name}.promote_from names {name!r} itself")
            if source not in tables:
                known = ", ".join(sorted(tables))
                raise TargetError(
                    f"{where}targets.{name}.promote_from names {source!r}, which is not a "
                    f"target in this file; known targets: {known}"
                )


def check_ledger_table(where: str, table: Any) -> None:
    """Check the ``[ledger]`` table's keys and value types; TargetError naming the key."""
    if not isinstance(table, dict):
        raise TargetError(f"{where} must be a table, such as [ledger] url = \"sqlite:///deploy-ledger.db\"")
    for key, value in table.items():
        if key not in LEDGER_KEYS:
            raise TargetError(
                f"{where}: unknown key {key!r}; known keys are {', '.join(sorted(LEDGER_KEYS))}"
            )
        if not isinstance(value, str) or not value:
            raise TargetError(f"{where}.{key} must be {LEDGER_KEYS[key]}, not {value!r}")


def timeout_seconds(value: Any) -> float | None:
    """A target's ``timeout`` in seconds (a number, or a duration string), or None if invalid."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if value > 0 else None
    if isinstance(value, str):
        try:
            seconds = parse_duration(value)
        except ValueError:
            return None
        return seconds if seconds > 0 else None
    return None
