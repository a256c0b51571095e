"""Targets: named environments loaded from configuration, and ad-hoc URL targets.

A target file is TOML with one ``[targets.NAME]`` table per environment, either
``deploy-targets.toml`` or the ``[tool.deployable]`` table of ``pyproject.toml``.
``${NAME}`` in a string is replaced by the environment variable ``NAME`` when the
target is resolved; every value that came from the environment is a secret,
unless the target lists ``NAME`` in ``public_env`` (ports, regions: configuration
a person needs to see). A secret must be at least 4 characters long, since a
shorter one would be masked inside ordinary words and numbers.

Only the selected target is interpolated, so a staging job does not need the
production token; but every target is checked for unknown keys and wrong types,
because a typo such as ``protect = true`` must never silently unprotect production.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import unquote, urlsplit

from .redact import Redactor
from .target_schema import (
    NAME_RE,
    TargetError,
    check_ledger_table,
    check_promotions,
    check_table,
    timeout_seconds,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = [
    "DEFAULT_TIMEOUT",
    "TARGETS_FILE_NAME",
    "Target",
    "TargetError",
    "TargetsFile",
    "adhoc_target",
    "find_targets_file",
    "is_url",
    "ledger_url",
    "load_targets_file",
    "resolve_target",
]

TARGETS_FILE_NAME = "deploy-targets.toml"
DEFAULT_TIMEOUT = 10.0
DEFAULT_RETRIES = 2
#: Answers in a row that must report the version: enough to meet every replica
#: behind a round-robin of a handful, and one more.
DEFAULT_VERSION_SAMPLES = 5
#: The largest answer the http session reads into memory, by default (64 MiB).
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024

_VAR_RE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

#: A secret shorter than this would be masked inside ordinary words and numbers.
MIN_SECRET_LENGTH = 4


@dataclass(frozen=True)
class Target:
    """A resolved environment that checks run against."""

    name: str
    base_url: str | None = None
    protected: bool = False
    hosts: tuple[str, ...] = ()
    headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    variables: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    timeout: float = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES
    version: str | None = None
    source: str | None = None
    """The targets file this target came from, or None for an ad-hoc URL target."""
    source_sha256: str | None = None
    secrets: frozenset[str] = frozenset()
    """Values taken from the environment: never shown anywhere."""
    version_url: str | None = None
    """Where the target reports its running version (absolute, or a path on base_url)."""
    version_field: str | None = None
    """A dotted path into the version URL's JSON; None reads the body as plain text."""
    version_samples: int = DEFAULT_VERSION_SAMPLES
    """How many answers in a row must report the version before it counts as rolled out."""
    roles: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    """Role name to the host specs that have it; ``only_hosts`` markers select by role."""

    @property
    def fleet(self) -> tuple[str, ...]:
        """Every host spec of the target: ``hosts``, then role members not listed there."""
        return tuple(dict.fromkeys([*self.hosts, *(s for m in self.roles.values() for s in m)]))
    openapi: str | None = None
    """The OpenAPI contract checks validate against: a file, a URL, or a path on the target."""
    contract: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    """The ``[targets.NAME.contract]`` table: ``generate``, ``served``, ``blocking``."""

    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    """The largest answer the ``http`` session reads into memory."""

    ca_bundle: str | None = None
    """A PEM file of CA certificates that TLS connections to the target trust."""
    verify: bool = True
    """Whether TLS certificates are verified; false only on an unprotected target."""

    prometheus: str | None = None
    """The Prometheus server the ``metrics`` fixture queries (an http(s) URL), or None."""
    prometheus_headers: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """Headers sent to Prometheus only (never to ``base_url``)."""
    database: str | None = None
    """A SQLAlchemy URL of the target's database (a secret); the schema check and ``db`` use it."""
    schema_revision: str | None = None
    """The schema revision this release expects (``--deploy-schema-revision`` overrides it)."""
    schema_tool: str | None = None
    """The migration tool whose history to read; None detects it from the tables present."""
    alembic_ini: str | None = None
    """The release's alembic.ini (absolute), whose script directory's head is expected."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form, used to hand the controller's target to xdist workers."""
        return {
            "name": self.name,
            "base_url": self.base_url,
            "protected": self.protected,
            "hosts": list(self.hosts),
            "headers": dict(self.headers),
            "variables": dict(self.variables),
            "timeout": self.timeout,
            "retries": self.retries,
            "max_response_bytes": self.max_response_bytes,
            "ca_bundle": self.ca_bundle,
            "verify": self.verify,
            "version": self.version,
            "source": self.source,
            "source_sha256": self.source_sha256,
            "secrets": sorted(self.secrets),
            "version_url": self.version_url,
            "version_field": self.version_field,
            "version_samples": self.version_samples,
            "roles": {role: list(specs) for role, specs in self.roles.items()},
            "openapi": self.openapi,
            "contract": dict(self.contract),
            "prometheus": self.prometheus,
            "prometheus_headers": dict(self.prometheus_headers),
            "database": self.database,
            "schema_revision": self.schema_revision,
            "schema_tool": self.schema_tool,
            "alembic_ini": self.alembic_ini,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Target:
        """The inverse of :meth:`to_dict`."""
        return cls(
            name=data["name"],
            base_url=data["base_url"],
            protected=data["protected"],
            hosts=tuple(data["hosts"]),
            headers=MappingProxyType(dict(data["headers"])),
            variables=MappingProxyType(dict(data["variables"])),
            timeout=float(data["timeout"]),
            retries=int(data["retries"]),
            max_response_bytes=int(data.get("max_response_bytes", DEFAULT_MAX_RESPONSE_BYTES)),
            ca_bundle=data.get("ca_bundle"),
            verify=bool(data.get("verify", True)),
            version=data["version"],
            source=data["source"],
            source_sha256=data["source_sha256"],
            secrets=frozenset(data["secrets"]),
            version_url=data.get("version_url"),
            version_field=data.get("version_field"),
            version_samples=int(data.get("version_samples", DEFAULT_VERSION_SAMPLES)),
            roles=MappingProxyType(
                {role: tuple(specs) for role, specs in data.get("roles", {}).items()}
            ),
            openapi=data.get("openapi"),
            contract=MappingProxyType(dict(data.get("contract") or {})),
            prometheus=data.get("prometheus"),
            prometheus_headers=MappingProxyType(dict(data.get("prometheus_headers") or {})),
            database=data.get("database"),
            schema_revision=data.get("schema_revision"),
            schema_tool=data.get("schema_tool"),
            alembic_ini=data.get("alembic_ini"),
        )


@dataclass(frozen=True)
class TargetsFile:
    """A parsed targets file: the raw target tables, checked for shape but not interpolated."""

    path: Path
    tables: Mapping[str, Mapping[str, Any]]
    sha256: str
    ledger: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    """The ``[ledger]`` table (``url``), checked for shape but not interpolated."""

    @property
    def names(self) -> tuple[str, ...]:
        """The configured target names, sorted."""
        return tuple(sorted(self.tables))


def is_url(value: str) -> bool:
    """Whether a ``--deploy-target`` value means an ad-hoc URL rather than a name."""
    return "://" in value


def check_target_option(value: str) -> str:
    """Validate a ``--deploy-target`` value: a target name, or an http(s) URL with a host."""
    if is_url(value):
        _check_url(value, "--deploy-target")
    elif not NAME_RE.match(value):
        raise TargetError(
            f"--deploy-target {value!r} is neither a target name (letters, digits, '_', '-', '.') "
            "nor an http(s) URL"
        )
    return value


def _check_url(url: str, where: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetError(
            f"{where}: {_shown_url(url)!r} is not an http(s) URL with a host, "
            "such as https://staging.example or http://127.0.0.1:8000"
        )
    try:
        parts.port  # noqa: B018 - urllib validates the port lazily
    except ValueError:
        raise TargetError(f"{where}: {_shown_url(url)!r} has an invalid port") from None


def url_secrets(url: str) -> set[str]:
    """The credentials in a URL that are secrets: the password, or a user name alone.

    A user name without a password is how tokens ride in URLs
    (``https://TOKEN@host``), so it is a secret when it is long enough to be one.
    """
    parts = urlsplit(url)
    if parts.password:
        return {unquote(parts.password)}
    if parts.username and len(unquote(parts.username)) >= MIN_SECRET_LENGTH:
        return {unquote(parts.username)}
    return set()


def _shown_url(url: str) -> str:
    """A URL with any password (or token as user name) taken out, safe to show."""
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@", 1)
    if parts.username and url_secrets(url):
        return url.replace(f"{parts.username}@", "***@", 1)
    return url


def is_loopback(host: str) -> bool:
    """Whether a host name or address is on this machine's loopback interface."""
    if host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(
        ".localhost"
    ):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def adhoc_target(url: str, *, version: str | None = None) -> Target:
    """An ad-hoc target for ``--deploy-target=URL``: protected unless its host is loopback."""
    _check_url(url, "--deploy-target")
    parts = urlsplit(url)
    secrets = frozenset(url_secrets(url))
    return Target(
        name=_shown_url(url),
        base_url=url,
        protected=not is_loopback(parts.hostname or ""),
        version=version,
        secrets=secrets,
    )


def find_targets_file(rootdir: Path) -> Path | None:
    """The default targets file in ``rootdir``: ``deploy-targets.toml``, else a
    ``pyproject.toml`` holding a ``[tool.deployable]`` table."""
    candidate = rootdir / TARGETS_FILE_NAME
    if candidate.is_file():
        return candidate
    pyproject = rootdir / "pyproject.toml"
    if pyproject.is_file():
        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            return None  # pytest itself reports a broken pyproject.toml
        tool = data.get("tool", {})
        if isinstance(tool, dict) and "deployable" in tool:
            return pyproject
    return None


def load_targets_file(path: Path) -> TargetsFile:
    """Parse and shape-check a targets file; raise :class:`TargetError` naming what is wrong."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise TargetError(f"{path}: targets file not found") from None
    except OSError as exc:
        raise TargetError(f"{path}: cannot read targets file: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise TargetError(f"{path}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise TargetError(f"{path}: invalid TOML: {exc}") from None
    prefix = ""
    if path.name == "pyproject.toml":
        tool = data.get("tool", {})
        data = tool.get("deployable", {}) if isinstance(tool, dict) else {}
        prefix = "tool.deployable."
    if not isinstance(data, dict):
        raise TargetError(f"{path}: [{prefix.rstrip('.')}] must be a table")
    unknown = sorted(set(data) - {"targets", "ledger"})
    if unknown:
        raise TargetError(
            f"{path}: unknown key {prefix}{unknown[0]!r}; the file holds [{prefix}targets.NAME] "
            f"tables and a [{prefix}ledger] table"
        )
    if "ledger" in data:
        check_ledger_table(f"{path}: {prefix}ledger", data["ledger"])
    targets = data.get("targets", {})
    if not isinstance(targets, dict):
        raise TargetError(f"{path}: {prefix}targets must be a table of [targets.NAME] tables")
    for name, table in targets.items():
        where = f"{path}: {prefix}targets.{name}"
        if not NAME_RE.match(name):
            raise TargetError(f"{where}: a target name holds letters, digits, '_', '-' and '.'")
        if not isinstance(table, dict):
            raise TargetError(f"{where} must be a table")
        check_table(where, table)
    check_promotions(f"{path}: {prefix}", targets)
    return TargetsFile(path=path, tables=targets, sha256=hashlib.sha256(raw).hexdigest(),
                       ledger=MappingProxyType(dict(data.get("ledger", {}))))


def ledger_url(targets: TargetsFile, environ: Mapping[str, str] | None = None,
               ) -> tuple[str, frozenset[str]] | None:
    """The ``[ledger] url`` with ``${VAR}`` taken from the environment, and the secrets it
    took; None when the file names no ledger."""
    if "url" not in targets.ledger:
        return None
    prefix = "tool.deployable." if targets.path.name == "pyproject.toml" else ""
    interpolate = _Interpolator(os.environ if environ is None else environ,
                                f"{targets.path}: {prefix}ledger")
    value = interpolate("url", str(targets.ledger["url"]))
    return value, frozenset(interpolate.secrets)


def _ca_bundle(path: Path, where: str, table: Mapping[str, Any]) -> str | None:
    if "ca_bundle" not in table:
        return None
    bundle = (path.parent / table["ca_bundle"]).resolve()
    if not bundle.is_file():
        raise TargetError(f"{where}.ca_bundle: {bundle} is not a file")
    return str(bundle)


def _verify(where: str, table: Mapping[str, Any], protected: bool) -> bool:
    verify = bool(table.get("verify", True))
    if not verify and protected:
        raise TargetError(
            f"{where}.verify = false is not allowed on a protected target; give ca_bundle "
            "with the CA that signed its certificate instead"
        )
    return verify


def _protected_by_name(name: str) -> bool:
    """Whether a target without a ``protected`` key is protected: production-like names are.

    Forgetting ``protected = true`` on production must not open it to
    state-changing requests; ``protected = false`` still says otherwise explicitly.
    """
    return re.match(r"^(prod|production|live)([-_.].*)?$", name, re.IGNORECASE) is not None


class _Interpolator:
    """Replaces ``${NAME}`` from the environment and remembers what it put in."""

    def __init__(
        self, environ: Mapping[str, str], where: str, public: frozenset[str] = frozenset()
    ) -> None:
        self.environ = environ
        self.where = where
        self.public = public
        self.secrets: set[str] = set()

    def __call__(self, key: str, value: str) -> str:
        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name is None:
                return "$"
            if name not in self.environ:
                raise TargetError(
                    f"{self.where}.{key} uses ${{{name}}}, but the environment variable "
                    f"{name} is not set"
                )
            secret = self.environ[name]
            if secret and name not in self.public:
                if len(secret) < MIN_SECRET_LENGTH:
                    raise TargetError(
                        f"{self.where}.{key}: the value of ${{{name}}} is shorter than "
                        f"{MIN_SECRET_LENGTH} characters, too short to hide as a secret; "
                        f"use a real secret, or list {name} in public_env if it is not one"
                    )
                self.secrets.add(secret)
            return secret

        return _VAR_RE.sub(substitute, value)


def resolve_target(
    targets: TargetsFile,
    name: str,
    *,
    environ: Mapping[str, str] | None = None,
    version: str | None = None,
) -> Target:
    """Build the named target, interpolating ``${VAR}`` from ``environ``.

    A usage error about the target may quote a value that holds a secret (an
    invalid URL built from a token): every environment value the target's table
    refers to is masked in its message.
    """
    try:
        return _resolve_target(targets, name, environ=environ, version=version)
    except TargetError as exc:
        env = os.environ if environ is None else environ
        table = targets.tables.get(name, {})
        referenced = {
            env[match] for match in re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", str(table))
            if env.get(match) and match not in table.get("public_env", [])
        }
        raise TargetError(Redactor(referenced)(str(exc))) from None


def _resolve_target(
    targets: TargetsFile,
    name: str,
    *,
    environ: Mapping[str, str] | None = None,
    version: str | None = None,
) -> Target:
    if name not in targets.tables:
        known = ", ".join(targets.names) or "none"
        raise TargetError(
            f"unknown deploy target {name!r} (in {targets.path}); known targets: {known}"
        )
    table = targets.tables[name]
    prefix = "tool.deployable." if targets.path.name == "pyproject.toml" else ""
    where = f"{targets.path}: {prefix}targets.{name}"
    protected = table.get("protected", _protected_by_name(name))
    interpolate = _Interpolator(
        os.environ if environ is None else environ,
        where,
        frozenset(table.get("public_env", [])),
    )

    base_url = table.get("base_url")
    if base_url is not None:
        base_url = interpolate("base_url", base_url)
        _check_url(base_url, f"{where}.base_url")
        interpolate.secrets.update(url_secrets(base_url))
    hosts = tuple(interpolate("hosts", host) for host in table.get("hosts", []))
    roles = {
        role: tuple(interpolate(f"roles.{role}", spec) for spec in specs)
        for role, specs in table.get("roles", {}).items()
    }
    headers = {key: interpolate(f"headers.{key}", value) for key, value in
               table.get("headers", {}).items()}
    variables = {
        key: interpolate(f"variables.{key}", value) if isinstance(value, str) else value
        for key, value in table.get("variables", {}).items()
    }
    openapi = interpolate("openapi", table["openapi"]) if "openapi" in table else None
    contract = {
        key: interpolate(f"contract.{key}", value) if isinstance(value, str) else value
        for key, value in table.get("contract", {}).items()
    }
    prometheus = _prometheus_url(interpolate, where, table)
    prometheus_headers = {
        key: interpolate(f"prometheus_headers.{key}", value)
        for key, value in table.get("prometheus_headers", {}).items()
    }
    database = _database(interpolate, where, table)
    return Target(
        name=name,
        base_url=base_url,
        protected=protected,
        hosts=hosts,
        headers=MappingProxyType(headers),
        variables=MappingProxyType(variables),
        timeout=timeout_seconds(table.get("timeout", DEFAULT_TIMEOUT)) or DEFAULT_TIMEOUT,
        retries=table.get("retries", DEFAULT_RETRIES),
        max_response_bytes=table.get("max_response_bytes", DEFAULT_MAX_RESPONSE_BYTES),
        ca_bundle=_ca_bundle(targets.path, where, table),
        verify=_verify(where, table, protected),
        version=version,
        source=str(targets.path),
        source_sha256=targets.sha256,
        secrets=frozenset(interpolate.secrets),
        version_url=interpolate("version_url", table["version_url"])
        if "version_url" in table
        else None,
        version_field=table.get("version_field"),
        version_samples=table.get("version_samples", DEFAULT_VERSION_SAMPLES),
        roles=MappingProxyType(roles),
        openapi=openapi,
        contract=MappingProxyType(contract),
        prometheus=prometheus,
        prometheus_headers=MappingProxyType(prometheus_headers),
        database=database,
        schema_revision=interpolate("schema_revision", table["schema_revision"])
        if "schema_revision" in table
        else None,
        schema_tool=table.get("schema_tool"),
        alembic_ini=_alembic_ini(targets.path, where, table),
    )


def _prometheus_url(
    interpolate: _Interpolator, where: str, table: Mapping[str, Any]
) -> str | None:
    """The target's ``prometheus`` URL, checked; a password in it is a secret."""
    if "prometheus" not in table:
        return None
    url = interpolate("prometheus", table["prometheus"])
    _check_url(url, f"{where}.prometheus")
    password = urlsplit(url).password
    if password:
        interpolate.secrets.add(unquote(password))
    return url


def _alembic_ini(path: Path, where: str, table: Mapping[str, Any]) -> str | None:
    if "alembic_ini" not in table:
        return None
    ini = (path.parent / table["alembic_ini"]).resolve()
    if not ini.is_file():
        raise TargetError(f"{where}.alembic_ini: {ini} is not a file")
    return str(ini)


def _database(interpolate: _Interpolator, where: str, table: Mapping[str, Any]) -> str | None:
    """The target's database URL, checked; its password is a secret even when written literally."""
    if "database" not in table:
        return None
    from .database import check_database_url  # SQLAlchemy only for targets with a database

    value = interpolate("database", table["database"])
    try:
        checked = check_database_url(value)
    except ValueError as exc:
        raise TargetError(f"{where}.database {exc}") from None
    if checked.password:
        if len(checked.password) < MIN_SECRET_LENGTH:
            raise TargetError(f"{where}.database: the password is shorter than "
                              f"{MIN_SECRET_LENGTH} characters, too short to hide as a secret")
        interpolate.secrets.add(checked.password)
    return value
