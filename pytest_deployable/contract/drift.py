"""Contract drift: what changed between the contract consumers rely on and the one served.

Pure functions over OpenAPI documents as plain dicts. :func:`diff` compares an
*expected* document (what consumers were built against) with an *actual* one
(what the deployed service says it does) and returns :class:`Finding` s, each
naming where in the spec it is, as a JSON pointer through the operation
(``/paths/~1items~1{id}/get/responses/200/content/application~1json/schema/properties/price``),
so a reader finds it without following ``$ref`` s.

Breaking (consumers fail): a removed path or operation, a removed or no longer
required response field, a changed type, a newly required request parameter,
body or body field, a narrowed request value (bounds, lengths, pattern, format,
a removed enum value, ``additionalProperties: false``), a widened response value,
a removed response code, a response media type or body gone, a request body
media type no longer accepted. Additions and the opposite changes are reported
as compatible. The schema rules are in :mod:`.drift_schema`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .document import METHODS, escape_pointer, resolve_ref
from .drift_schema import Place, compare

__all__ = ["BREAKING_KINDS", "Finding", "diff"]

#: Every kind of breaking change, with what it means.
BREAKING_KINDS: dict[str, str] = {
    "removed-path": "a path consumers call is gone",
    "removed-operation": "a method on a path is gone",
    "removed-response-field": "a response field is gone or no longer required",
    "changed-type": "a value's type changed incompatibly",
    "new-required-param": "a request parameter, body or body field is newly required",
    "removed-enum-value": "a request value allowed before is no longer in its enum",
    "narrowed-request": "a request value is constrained further (a bound, length, pattern, "
    "format or additionalProperties: false): what clients send may be refused",
    "widened-response": "a response value is constrained less (a bound, length, pattern, "
    "format, a new enum value): clients may get what they do not expect",
    "narrowed-response-codes": "a declared response status code is gone",
    "changed-media-type": "a response no longer comes as a media type it did, or a request "
    "body is no longer accepted as one",
    "removed-response-body": "a response that had a body has none",
    "changed-composition": "oneOf/anyOf/not branches changed in a way not compared one by one",
}


@dataclass(frozen=True)
class Finding:
    """One difference between two contracts."""

    kind: str
    path: str
    """A JSON pointer into the spec, through the operation that is affected."""
    message: str
    breaking: bool = True
    side: str = ""
    """``request`` or ``response``; empty for a whole path or operation."""
    field: str = ""
    """The value that changed inside a body or parameter, as a JSON path (``$.name``)."""
    before: str | None = None
    after: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form."""
        return {"kind": self.kind, "path": self.path, "message": self.message,
                "breaking": self.breaking, "side": self.side or None,
                "field": self.field or None, "before": self.before, "after": self.after}

    def __str__(self) -> str:
        label = "BREAKING" if self.breaking else "ok"
        return f"{label} {self.kind} {self.path}: {self.message}"


def _template_key(path: str) -> str:
    """A path template with parameter names erased: ``/items/{id}`` is ``/items/{itemId}``."""
    return re.sub(r"\{[^}/]+\}", "{}", path)


class _Document:
    """A document with local ``$ref`` resolution."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self.document = document

    def resolve(self, value: Any) -> Any:
        return resolve_ref(self.document, value)

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
        pointer = f"/paths/{escape_pointer(path)}"
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
            old, new, f"/paths/{escape_pointer(new_path)}/{method}", f"{method.upper()} {path}",
            new_path, (operation, shared), (new_operation, new_shared),
        )
    for key, method in sorted(set(new_ops) - set(old_ops)):
        path = new_ops[(key, method)][0]
        token = escape_pointer(path)
        kind, where = ("added-path", f"/paths/{token}") if key not in old_paths else (
            "added-operation", f"/paths/{token}/{method}"
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
                side="request", field=f"{where} parameter {param!r}",
                before="optional" if previous else "absent", after="required",
            )
        if previous is not None and "schema" in previous and "schema" in parameter:
            place = Place(old.document, new.document, "request", name,
                          f"{where} parameter {param!r}", f"{at}/schema")
            yield from compare(place, previous["schema"], parameter["schema"])
    old_body = old.resolve(old_op.get("requestBody")) or {}
    new_body = new.resolve(new_op.get("requestBody")) or {}
    if new_body.get("required") and not old_body.get("required"):
        yield Finding("new-required-param", f"{pointer}/requestBody/required",
                      f"{name}: a request body is now required", side="request",
                      field="request body", before="optional", after="required")
    yield from _content(old, new, f"{pointer}/requestBody", name, "request body",
                        old_body.get("content") or {}, new_body.get("content") or {},
                        side="request")
    yield from _responses(old, new, pointer, name, old_op, new_op)


def _responses(
    old: _Document, new: _Document, pointer: str, name: str,
    old_op: Mapping[str, Any], new_op: Mapping[str, Any],
) -> Iterator[Finding]:
    old_responses = old_op.get("responses") or {}
    new_responses = new_op.get("responses") or {}
    for code, raw in old_responses.items():
        code = str(code)
        at = f"{pointer}/responses/{escape_pointer(code)}"
        if code not in {str(c) for c in new_responses}:
            yield Finding("narrowed-response-codes", at,
                          f"{name}: response {code} is no longer declared", side="response",
                          field=f"response {code}", before="declared", after="absent")
            continue
        previous = old.resolve(raw) or {}
        current = new.resolve(new_responses.get(code, new_responses.get(_int(code)))) or {}
        old_content = previous.get("content") or {}
        new_content = current.get("content") or {}
        if old_content and not new_content:
            yield Finding("removed-response-body", f"{at}/content",
                          f"{name}: response {code} no longer has a body (it was "
                          f"{', '.join(old_content)})", side="response",
                          field=f"response {code}", before=", ".join(old_content),
                          after="no body")
            continue
        yield from _content(old, new, at, name, f"response {code}", old_content, new_content,
                            side="response")
    for code in sorted({str(c) for c in new_responses} - {str(c) for c in old_responses}):
        yield Finding("added-response-code", f"{pointer}/responses/{escape_pointer(code)}",
                      f"{name}: response {code} is new", breaking=False)


def _int(code: str) -> Any:
    return int(code) if code.isdigit() else code


def _media(key: str) -> str:
    return key.split(";")[0].strip().lower()


def _covers(content: Mapping[str, Any], media: str) -> str | None:
    """The key of ``content`` that covers ``media`` (exact, ``type/*`` or ``*/*``), or None."""
    keys = {_media(str(key)): str(key) for key in content}
    wanted = _media(media)
    for candidate in (wanted, wanted.split("/")[0] + "/*", "*/*"):
        if candidate in keys:
            return keys[candidate]
    return None


def _content(
    old: _Document, new: _Document, pointer: str, name: str, part: str,
    before: Mapping[str, Any], after: Mapping[str, Any], *, side: str,
) -> Iterator[Finding]:
    """A request body's or response's media types, and the schema of each kept one."""
    now_types = ", ".join(map(str, after)) or "none"
    for media, content in before.items():
        media = str(media)
        kept = _covers(after, media)
        if kept is None:
            if side == "request" and not after:
                continue  # no body at all now: what clients send is ignored
            message = (f"{name}: the request body is no longer accepted as {media} "
                       f"(now {now_types})") if side == "request" else (
                f"{name}: {part} no longer comes as {media} (now {now_types})")
            yield Finding("changed-media-type", f"{pointer}/content/{escape_pointer(media)}",
                          message, side=side, field=part, before=media, after=now_types)
            continue
        now = after[kept]
        if isinstance(content, dict) and isinstance(now, dict) and (
            "schema" in content and "schema" in now
        ):
            place = Place(old.document, new.document, side, name, part,
                          f"{pointer}/content/{escape_pointer(kept)}/schema")
            yield from compare(place, content["schema"], now["schema"])
    for media in after:
        if _covers(before, str(media)) is None and before:
            yield Finding("added-media-type", f"{pointer}/content/{escape_pointer(str(media))}",
                          f"{name}: {part} may now be {media}", breaking=False, side=side,
                          field=part, before=", ".join(map(str, before)), after=str(media))
