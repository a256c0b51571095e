"""Contract checks: load a target's OpenAPI document and check responses against it.

A :class:`Contract` is an OpenAPI 3.0 or 3.1 document, checked with
openapi-spec-validator when it is loaded. :meth:`Contract.problems` finds the
operation a ``requests`` response answers (by method and path template) and
checks its status code, content type, declared headers and JSON body; bodies
are checked by openapi-schema-validator's OAS 3.0/3.1 validators (jsonschema).

The libraries come with the ``contract`` extra and are imported only when a
contract is used, so the core plugin runs without them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from .document import (
    METHODS,
    escape_pointer,
    parse_document,
    pointer_target,
    read_location,
    require_extra,
    resolve_ref,
)
from .messages import describe_problems, schema_problems

if TYPE_CHECKING:
    import requests

# Reading a document is document.py's, wording problems messages.py's: import them there.
__all__ = ["Contract", "ContractViolation", "Operation", "load_contract"]

_FOUND_CACHE = 4096


class ContractViolation(AssertionError):
    """A response that does not honour the contract; the message lists every problem."""


def load_contract(
    location: str,
    *,
    base_dir: Path | None = None,
    get: Callable[[str], requests.Response] | None = None,
) -> Contract:
    """Read, parse and check the contract at ``location`` (see :func:`read_location`)."""
    text, source = read_location(location, base_dir=base_dir, get=get)
    return Contract(parse_document(text, source), source)


@dataclass(frozen=True)
class Operation:
    """One operation of a contract: a method on a path template."""

    method: str
    """Upper case, as sent: ``GET``."""
    path: str
    """The path template, as in the document: ``/items/{id}``."""
    spec: Mapping[str, Any]
    parameters: tuple[Mapping[str, Any], ...]
    """Path-level and operation-level parameters, ``$ref`` resolved."""
    pointer: str
    """Where the operation is in the document: ``/paths/~1items~1{id}/get``."""
    pattern: re.Pattern[str]

    def __str__(self) -> str:
        return f"{self.method} {self.path}"

    def url(self, values: Mapping[str, Any]) -> str:
        """The path with ``{name}`` replaced by ``values`` (URL-quoted)."""

        def fill(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in values:
                raise KeyError(f"{self}: no value for path parameter {name!r}")
            return quote(str(values[name]), safe="")

        return re.sub(r"\{([^}/]+)\}", fill, self.path)


class Contract:
    """An OpenAPI 3.0/3.1 document, ready to check responses against."""

    def __init__(self, document: Mapping[str, Any], source: str) -> None:
        require_extra()
        from openapi_schema_validator import OAS30Validator, OAS31Validator
        from referencing import Registry
        from referencing.jsonschema import DRAFT4, DRAFT202012

        self.document = document
        self.source = source
        self.version = str(document["openapi"])
        oas31 = self.version.startswith("3.1")
        self._validator_class: Any = OAS31Validator if oas31 else OAS30Validator
        spec = DRAFT202012 if oas31 else DRAFT4
        self._registry: Any = Registry().with_resource(
            "urn:contract", spec.create_resource(document)
        )
        self._validators: dict[str, Any] = {}
        self._found: dict[tuple[str, str], Operation | None] = {}
        from openapi_schema_validator import oas30_format_checker, oas31_format_checker

        from .fast import FastValidators

        self._format_checker = _failing_closed(
            oas31_format_checker if oas31 else oas30_format_checker
        )
        self._fast = FastValidators.create(
            document, oas30=not oas31, slow_validator_class=self._validator_class,
            format_checker=self._format_checker,
        )
        self.prefixes = _server_prefixes(document)
        operations = []
        for path, item in (document.get("paths") or {}).items():
            if not isinstance(item, dict):
                continue
            shared = item.get("parameters", [])
            for method in METHODS:
                if method in item:
                    operations.append(self._operation(path, method, item[method], shared))
        self.operations: tuple[Operation, ...] = tuple(operations)
        """Every operation, in document order."""
        # Literal segments win over templates: /items/mine before /items/{id}.
        self._matching = sorted(operations, key=lambda op: (op.path.count("{"), -len(op.path)))

    def _operation(
        self, path: str, method: str, spec: Mapping[str, Any], shared: list[Any]
    ) -> Operation:
        merged: dict[tuple[str, str], Mapping[str, Any]] = {}
        for raw in [*shared, *spec.get("parameters", [])]:
            parameter = self.resolve(raw)
            merged[(parameter.get("in", ""), parameter.get("name", ""))] = parameter
        regex = "".join(
            "[^/]+" if part.startswith("{") else re.escape(part)
            for part in re.split(r"(\{[^}/]+\})", path)
        )
        return Operation(
            method=method.upper(),
            path=path,
            spec=spec,
            parameters=tuple(merged.values()),
            pointer=f"/paths/{escape_pointer(path)}/{method}",
            pattern=re.compile(f"^{regex}/?$"),
        )

    def resolve(self, value: Any) -> Any:
        """``value`` with a local ``$ref`` (``#/components/...``) followed, recursively."""
        return resolve_ref(self.document, value)

    def pointer(self, pointer: str) -> Any:
        """The part of the document at a JSON pointer such as ``/components/schemas/Item``."""
        return pointer_target(self.document, pointer)

    def operation(self, method: str, path: str) -> Operation | None:
        """The operation that answers ``method`` on a concrete URL path, or None (cached)."""
        key = (method.upper(), path)
        if key not in self._found:
            if len(self._found) >= _FOUND_CACHE:
                self._found.clear()  # URLs with ids are many; the cache stays bounded
            self._found[key] = self._find(*key)
        return self._found[key]

    def _find(self, method: str, path: str) -> Operation | None:
        candidates = [path] + [path[len(p):] for p in self.prefixes if path.startswith(p + "/")]
        for candidate in candidates:
            for op in self._matching:
                if op.method == method and op.pattern.match(candidate):
                    return op
        return None

    def operation_for(self, method: str, template: str) -> Operation | None:
        """The operation declared for ``method`` on a path template, or None."""
        method = method.upper()
        return next(
            (op for op in self.operations if op.method == method and op.path == template), None
        )

    def schema_validator(self, pointer: str) -> Any:
        """An OAS validator for the schema at ``pointer`` (cached; ``$ref`` resolved lazily)."""
        validator = self._validators.get(pointer)
        if validator is None:
            validator = self._validator_class(
                {"$ref": f"urn:contract#{quote(pointer, safe='/~{}')}"},
                registry=self._registry,
                format_checker=self._format_checker,
            )
            self._validators[pointer] = validator
        return validator

    def schema_problems(self, pointer: str, instance: Any) -> list[str]:
        """What is wrong with ``instance`` against the schema at ``pointer`` (empty: nothing).

        A pass comes from the compiled fast path (:mod:`.contract_fast`) when it has
        one; anything else is decided and worded by jsonschema.
        """
        if self._fast is not None and self._fast.is_valid(pointer, instance):
            return []
        return list(schema_problems(self.schema_validator(pointer), instance))

    def validate(self, response: requests.Response, *, path: str | None = None) -> None:
        """Raise :class:`ContractViolation` unless ``response`` honours the contract."""
        problems, operation = self.problems(response, path=path)
        if problems:
            raise ContractViolation(self.describe(response, operation, problems))

    def describe(
        self, response: requests.Response, operation: Operation | None, problems: list[str]
    ) -> str:
        """The message of a violation: the operation, then one line per problem."""
        what = str(operation) if operation else f"{response.request.method} {_path(response)}"
        return describe_problems(
            f"{what} answered {response.status_code}", problems, source=self.source
        )

    def problems(
        self, response: requests.Response, *, path: str | None = None
    ) -> tuple[list[str], Operation | None]:
        """Everything wrong with ``response``, and the operation it answers."""
        method = str(response.request.method or "GET")
        url_path = path or _path(response)
        operation = self.operation(method, url_path)
        if operation is None:
            return [f"no operation {method} {url_path} in the contract"], None
        return list(self._check(operation, response)), operation

    def _check(self, operation: Operation, response: requests.Response) -> Iterator[str]:
        # YAML reads an unquoted 200 as a number.
        declared = operation.spec.get("responses") or {}
        responses = {str(code): value for code, value in declared.items()}
        status = str(response.status_code)
        key = _response_key(responses, status)
        if key is None:
            listed = ", ".join(sorted(responses)) or "none"
            problem = f"status {status} is not declared (declared: {listed})"
            if "default" in responses and status[0] in "45":
                # A client reads `default` as the shape of an answer it may get, not as
                # permission for the server to fail: an error honours the contract only
                # when the operation lists it.
                problem += f"; 'default' does not cover errors: declare {status} or {status[0]}XX"
            yield problem
            return
        declared_response = self.resolve(responses[key])
        pointer = f"{operation.pointer}/responses/{escape_pointer(key)}"
        yield from self._check_headers(declared_response, response, pointer)
        content = declared_response.get("content") or {}
        if not content or response.request.method == "HEAD":
            return
        declared_types = ", ".join(sorted(content))
        if not response.content:
            yield f"the body is empty; the contract declares one ({declared_types})"
            return
        media = (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        chosen = _media_type(media, content)
        if chosen is None:
            yield f"content type {media or '(none)'!r} is not declared (declared: {declared_types})"
            return
        if not _is_json(media):
            return
        try:
            body = json.loads(response.content)
        except ValueError as exc:
            yield f"the body is not valid JSON ({media}): {exc}"
            return
        if "schema" not in content[chosen]:
            return
        schema_pointer = f"{pointer}/content/{escape_pointer(chosen)}/schema"
        yield from self.schema_problems(schema_pointer, body)

    def _check_headers(
        self, declared: Mapping[str, Any], response: requests.Response, pointer: str
    ) -> Iterator[str]:
        for name, raw in (declared.get("headers") or {}).items():
            header = self.resolve(raw)
            if name.lower() == "content-type":
                continue  # OpenAPI says: ignored; the content map declares it
            value = response.headers.get(name)
            if value is None:
                if header.get("required"):
                    yield f"header {name}: required, but not sent"
                continue
            if "schema" in header:
                validator = self.schema_validator(
                    f"{pointer}/headers/{escape_pointer(name)}/schema"
                )
                schema = self.resolve(header["schema"])
                for problem in schema_problems(validator, _header_value(value, schema)):
                    yield f"header {name}: {problem.removeprefix('$: ')}"


def _response_key(responses: Mapping[str, Any], status: str) -> str | None:
    """The declared response a status answers: exact, then its range, then ``default``
    (only for a status below 400)."""
    candidates = [status, status[0] + "XX", status[0] + "xx"]
    if status[0] not in "45":
        candidates.append("default")
    return next((key for key in candidates if key in responses), None)


def _failing_closed(checker: Any) -> Any:
    """A copy of a format checker where a check that raises means "does not conform".

    openapi-schema-validator's ``byte`` check raises UnicodeEncodeError on a
    non-ASCII string: a body the server sent must fail the check, not crash it.
    """
    from jsonschema import FormatChecker

    copy = FormatChecker(formats=())
    for name, (check, _raises) in checker.checkers.items():
        copy.checks(name, raises=Exception)(check)
    return copy


def _path(response: requests.Response) -> str:
    return urlsplit(response.request.url or "").path or "/"


def _media_type(media: str, content: Mapping[str, Any]) -> str | None:
    lowered = {key.split(";")[0].strip().lower(): key for key in content}
    for candidate in (media, media.split("/")[0] + "/*", "*/*"):
        if candidate in lowered:
            return lowered[candidate]
    return None


def _is_json(media: str) -> bool:
    return media == "application/json" or media.endswith("+json")


def _header_value(value: str, schema: Mapping[str, Any]) -> Any:
    """A header's text as the JSON value its schema describes, when it converts."""
    kind = schema.get("type")
    try:
        if kind == "integer":
            return int(value)
        if kind == "number":
            return float(value)
    except ValueError:
        return value
    if kind == "boolean" and value in ("true", "false"):
        return value == "true"
    return value


def _server_prefixes(document: Mapping[str, Any]) -> tuple[str, ...]:
    """URL path prefixes of the document's servers (``/v1`` of ``https://h/v1``), longest first."""
    prefixes = set()
    for server in document.get("servers") or []:
        url = str(server.get("url", "")) if isinstance(server, dict) else ""
        for name, variable in (server.get("variables") or {}).items():
            url = url.replace("{" + name + "}", str(variable.get("default", "")))
        path = urlsplit(url).path.rstrip("/")
        if path:
            prefixes.add(path)
    return tuple(sorted(prefixes, key=len, reverse=True))
