"""Contract drift: what changed between the contract consumers rely on and the one served.

Pure functions over OpenAPI documents as plain dicts. :func:`diff` compares an
*expected* document (what consumers were built against) with an *actual* one
(what the deployed service says it does) and returns :class:`Finding` s, each
naming where in the spec it is, as a JSON pointer through the operation
(``/paths/~1items~1{id}/get/responses/200/content/application~1json/schema/properties/price``),
so a reader finds it without following ``$ref`` s.

Breaking (consumers fail): a removed path or operation, a removed or no longer
required response field, a changed type, a newly required request parameter,
body or body field, a removed enum value, a removed response code. Additions
are reported as not breaking.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["BREAKING_KINDS", "Finding", "diff"]

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

#: Every kind of breaking change, with what it means.
BREAKING_KINDS: dict[str, str] = {
    "removed-path": "a path consumers call is gone",
    "removed-operation": "a method on a path is gone",
    "removed-response-field": "a response field is gone or no longer required",
    "changed-type": "a value's type changed incompatibly",
    "new-required-param": "a request parameter, body or body field is newly required",
    "removed-enum-value": "an allowed value of an enum is gone",
    "narrowed-response-codes": "a declared response status code is gone",
}


@dataclass(frozen=True)
class Finding:
    """One difference between two contracts."""

    kind: str
    path: str
    """A JSON pointer into the spec, through the operation that is affected."""
    message: str
    breaking: bool = True

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {"kind": self.kind, "path": self.path, "message": self.message,
                "breaking": self.breaking}

    def __str__(self) -> str:
        label = "BREAKING" if self.breaking else "ok"
        return f"{label} {self.kind} {self.path}: {self.message}"


def _token(text: str) -> str:
    return text.replace("~", "~0").replace("/", "~1")


def _template_key(path: str) -> str:
    """A path template with parameter names erased: ``/items/{id}`` is ``/items/{itemId}``."""
    return re.sub(r"\{[^}/]+\}", "{}", path)


class _Document:
    """A document with local ``$ref`` resolution."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document

    def resolve(self, value: Any) -> Any:
        for _ in range(50):
            if not (isinstance(value, dict) and isinstance(value.get("$ref"), str)):
                return value
            ref = value["$ref"]
            if not ref.startswith("#"):
                return {}  # external references are not followed
            node: Any = self.document
            for token in filter(None, ref[1:].split("/")):
                token = token.replace("~1", "/").replace("~0", "~")
                try:
                    node = node[int(token)] if isinstance(node, list) else node[token]
                except (KeyError, IndexError, ValueError, TypeError):
                    return {}
            value = node
        return {}

    def schema(self, value: Any) -> dict[str, Any]:
        """A schema with ``$ref`` followed and ``allOf`` merged (properties, required, type)."""
        schema = self.resolve(value)
        if not isinstance(schema, dict):
            return {}
        if "allOf" not in schema:
            return schema
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        properties = dict(merged.get("properties", {}))
        required = list(merged.get("required", []))
        for part in schema["allOf"]:
            flat = self.schema(part)
            properties.update(flat.get("properties", {}))
            required += [r for r in flat.get("required", []) if r not in required]
            if "type" in flat and "type" not in merged:
                merged["type"] = flat["type"]
        merged["properties"] = properties
        merged["required"] = required
        return merged

    def operations(self) -> dict[tuple[str, str], tuple[str, dict[str, Any], list[Any]]]:
        """(template key, method) -> (path as written, operation, path-level parameters)."""
        found = {}
        for path, item in (self.document.get("paths") or {}).items():
            item = self.resolve(item)
            if not isinstance(item, dict):
                continue
            for method in METHODS:
                if isinstance(item.get(method), dict):
                    found[(_template_key(path), method)] = (
                        path, item[method], item.get("parameters", [])
                    )
        return found

    def parameters(
        self, path: str, operation: Mapping[str, Any], shared: list[Any], pointer: str
    ) -> dict[tuple[str, str], tuple[dict[str, Any], str]]:
        """(in, name) -> (parameter, its pointer); operation-level ones override path-level.

        A path parameter is keyed by its position in the template, so renaming
        ``{id}`` to ``{itemId}`` is no change.
        """
        names = re.findall(r"\{([^}/]+)\}", path)
        merged = {}
        path_pointer = pointer.rsplit("/", 1)[0]
        for base, listed in ((path_pointer, shared), (pointer, operation.get("parameters", []))):
            for index, raw in enumerate(listed):
                parameter = self.resolve(raw)
                if isinstance(parameter, dict):
                    where, name = str(parameter.get("in")), str(parameter.get("name"))
                    if where == "path" and name in names:
                        name = f"#{names.index(name)}"
                    merged[(where, name)] = (parameter, f"{base}/parameters/{index}")
        return merged


def diff(expected: Mapping[str, Any], actual: Mapping[str, Any]) -> list[Finding]:
    """Every difference from ``expected`` to ``actual``, breaking ones first, then by path."""
    findings = list(_diff(_Document(expected), _Document(actual)))
    findings.sort(key=lambda f: (not f.breaking, f.path, f.kind))
    return findings


def _diff(old: _Document, new: _Document) -> Iterator[Finding]:
    old_ops, new_ops = old.operations(), new.operations()
    old_paths = {key for key, _ in old_ops}
    new_paths = {key for key, _ in new_ops}
    reported_paths = set()
    for (key, method), (path, operation, shared) in old_ops.items():
        pointer = f"/paths/{_token(path)}"
        if key not in new_paths:
            if key not in reported_paths:
                reported_paths.add(key)
                yield Finding("removed-path", pointer, f"path {path} is no longer served")
            continue
        if (key, method) not in new_ops:
            yield Finding(
                "removed-operation", f"{pointer}/{method}",
                f"{method.upper()} {path} is no longer served",
            )
            continue
        new_path, new_operation, new_shared = new_ops[(key, method)]
        yield from _operation(
            old, new, f"/paths/{_token(new_path)}/{method}", f"{method.upper()} {path}",
            new_path, (operation, shared), (new_operation, new_shared),
        )
    for key, method in sorted(set(new_ops) - set(old_ops)):
        path = new_ops[(key, method)][0]
        kind, where = ("added-path", f"/paths/{_token(path)}") if key not in old_paths else (
            "added-operation", f"/paths/{_token(path)}/{method}"
        )
        yield Finding(kind, where, f"{method.upper()} {path} is new", breaking=False)


def _operation(
    old: _Document,
    new: _Document,
    pointer: str,
    name: str,
    path: str,
    before: tuple[dict[str, Any], list[Any]],
    after: tuple[dict[str, Any], list[Any]],
) -> Iterator[Finding]:
    old_op, new_op = before[0], after[0]
    old_params = old.parameters(name.split(" ", 1)[1], *before, pointer)
    new_params = new.parameters(path, *after, pointer)
    for key, (parameter, at) in new_params.items():
        where, param = key[0], str(parameter.get("name"))
        previous = old_params.get(key, (None, ""))[0]
        if parameter.get("required") and not (previous and previous.get("required")):
            yield Finding(
                "new-required-param", at,
                f"{name}: {where} parameter {param!r} is "
                + ("newly required" if previous else "new and required"),
            )
        if previous is not None and "schema" in previous and "schema" in parameter:
            yield from _schema(old, new, previous["schema"], parameter["schema"],
                               f"{at}/schema", f"{name} {where} parameter {param!r}",
                               request=True)
    old_body = old.resolve(old_op.get("requestBody")) or {}
    new_body = new.resolve(new_op.get("requestBody")) or {}
    if new_body.get("required") and not old_body.get("required"):
        yield Finding("new-required-param", f"{pointer}/requestBody/required",
                      f"{name}: a request body is now required")
    for media, content in (new_body.get("content") or {}).items():
        previous = (old_body.get("content") or {}).get(media)
        if previous and "schema" in previous and "schema" in content:
            yield from _schema(
                old, new, previous["schema"], content["schema"],
                f"{pointer}/requestBody/content/{_token(media)}/schema",
                f"{name} request body", request=True,
            )
    yield from _responses(old, new, pointer, name, old_op, new_op)


def _responses(
    old: _Document, new: _Document, pointer: str, name: str,
    old_op: Mapping[str, Any], new_op: Mapping[str, Any],
) -> Iterator[Finding]:
    old_responses = old_op.get("responses") or {}
    new_responses = new_op.get("responses") or {}
    for code, raw in old_responses.items():
        code = str(code)
        at = f"{pointer}/responses/{_token(code)}"
        if code not in {str(c) for c in new_responses}:
            yield Finding("narrowed-response-codes", at,
                          f"{name}: response {code} is no longer declared")
            continue
        previous = old.resolve(raw) or {}
        current = new.resolve(new_responses.get(code, new_responses.get(_int(code)))) or {}
        for media, content in (previous.get("content") or {}).items():
            now = (current.get("content") or {}).get(media)
            if now is None or "schema" not in content or "schema" not in now:
                continue
            yield from _schema(
                old, new, content["schema"], now["schema"],
                f"{at}/content/{_token(media)}/schema", f"{name} response {code}",
                request=False,
            )
    for code in sorted({str(c) for c in new_responses} - {str(c) for c in old_responses}):
        yield Finding("added-response-code", f"{pointer}/responses/{_token(code)}",
                      f"{name}: response {code} is new", breaking=False)


def _int(code: str) -> Any:
    return int(code) if code.isdigit() else code


def _types(schema: Mapping[str, Any]) -> set[str] | None:
    kind = schema.get("type")
    if kind is None:
        return None
    types = set(kind) if isinstance(kind, list) else {str(kind)}
    if schema.get("nullable"):
        types.add("null")
    if "number" in types:
        types.add("integer")  # an integer is a number
    return types


def _schema(
    old: _Document, new: _Document, before: Any, after: Any, pointer: str, name: str,
    *, request: bool, depth: int = 0,
) -> Iterator[Finding]:
    """Compare two schemas. For a response, the new one must not allow what consumers
    do not expect; for a request, it must still accept what consumers send."""
    if depth > 20:  # recursive schemas
        return
    was, now = old.schema(before), new.schema(after)
    old_types, new_types = _types(was), _types(now)
    if old_types is not None and new_types is not None:
        narrower, wider = (old_types, new_types) if request else (new_types, old_types)
        if not narrower <= wider:
            yield Finding(
                "changed-type", f"{pointer}/type",
                f"{name}: type was {_shown(was)}, is now {_shown(now)}",
            )
            return
    if "enum" in was and "enum" in now:
        gone = [value for value in was["enum"] if value not in now["enum"]]
        if gone:
            yield Finding("removed-enum-value", f"{pointer}/enum",
                          f"{name}: enum value(s) {', '.join(map(repr, gone))} removed")
        added = [value for value in now["enum"] if value not in was["enum"]]
        if added:
            yield Finding("added-enum-value", f"{pointer}/enum",
                          f"{name}: enum value(s) {', '.join(map(repr, added))} added",
                          breaking=False)
    old_props = was.get("properties") or {}
    new_props = now.get("properties") or {}
    old_required = set(was.get("required") or [])
    new_required = set(now.get("required") or [])
    for field, schema in old_props.items():
        at = f"{pointer}/properties/{_token(field)}"
        if field not in new_props:
            if not request:
                yield Finding("removed-response-field", at,
                              f"{name}: field {field!r} was removed")
            continue
        if not request and field in old_required and field not in new_required:
            yield Finding("removed-response-field", f"{pointer}/required",
                          f"{name}: field {field!r} is no longer required (may be absent)")
        yield from _schema(old, new, schema, new_props[field], at, f"{name} field {field!r}",
                           request=request, depth=depth + 1)
    if request:
        for field in sorted(new_required - old_required):
            yield Finding("new-required-param", f"{pointer}/required",
                          f"{name}: field {field!r} is newly required")
    else:
        for field in sorted(set(new_props) - set(old_props)):
            yield Finding("added-response-field", f"{pointer}/properties/{_token(field)}",
                          f"{name}: field {field!r} is new", breaking=False)
    if "items" in was and "items" in now:
        yield from _schema(old, new, was["items"], now["items"], f"{pointer}/items",
                           f"{name} items", request=request, depth=depth + 1)


def _shown(schema: Mapping[str, Any]) -> str:
    kind = schema.get("type")
    text = "/".join(kind) if isinstance(kind, list) else str(kind)
    return f"{text} (nullable)" if schema.get("nullable") else text
