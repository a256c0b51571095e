"""Contract drift inside one schema: what a changed schema means for a request or a response.

The rule is one: a **request** schema must still accept everything clients send,
so narrowing it breaks them; a **response** schema must not allow what clients do
not expect, so widening it breaks them. The opposite changes are listed as
compatible. :func:`compare` applies it keyword by keyword (type, ``nullable`` and
3.1's ``"null"`` alike, bounds, lengths, ``pattern``, ``format``, ``enum``,
``additionalProperties``, ``required``, properties, items, ``allOf`` merged,
``oneOf``/``anyOf`` branch by branch) and yields :class:`~.drift.Finding` s.
"""

from __future__ import annotations

import json
from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from .document import escape_pointer, resolve_ref

if TYPE_CHECKING:
    from .drift import Finding

__all__ = ["Place", "compare", "flatten"]

#: Deeper than this, a schema is taken as recursive and not followed further.
MAX_DEPTH = 20
#: Keywords whose value is an upper bound, and those whose value is a lower bound.
_UPPER = ("maxLength", "maxItems", "maxProperties")
_LOWER = ("minLength", "minItems", "minProperties")
_NARROWER, _WIDER, _BOTH = "narrower", "wider", "both"
#: (narrower, wider) pairs of formats: every int32 is an int64.
_WIDER_FORMATS = {("int32", "int64"), ("float", "double")}


@dataclass(frozen=True)
class Place:
    """Where a schema is: the two documents, the side, the operation and the field."""

    old: Mapping[str, Any]
    new: Mapping[str, Any]
    side: str
    """``request`` or ``response``."""
    operation: str
    """``POST /pets``."""
    part: str
    """``request body``, ``response 200``, ``query parameter 'limit'``."""
    pointer: str
    field: str = "$"
    """The JSON path of the value inside the body or parameter: ``$.owner.email``."""
    depth: int = 0

    def child(self, token: str, field: str) -> Place:
        """The place one level down."""
        return replace(self, pointer=f"{self.pointer}/{token}", field=field,
                       depth=self.depth + 1)

    def finding(self, kind: str, keyword: str, what: str, *, breaking: bool,
                before: Any, after: Any, at: str | None = None) -> Finding:
        """A finding about ``keyword`` of the schema here."""
        from .drift import Finding

        return Finding(
            kind, at or f"{self.pointer}/{keyword}",
            f"{self.operation} {self.part} {self.field}: {what}",
            breaking=breaking, side=self.side, field=self.field,
            before=_text(before), after=_text(after),
        )


def flatten(document: Mapping[str, Any], value: Any) -> dict[str, Any]:
    """A schema with ``$ref`` followed and ``allOf`` merged (first value of a keyword wins;
    properties and required are united)."""
    schema = resolve_ref(document, value)
    if not isinstance(schema, dict):
        return {}
    if "allOf" not in schema:
        return schema
    merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
    properties = dict(merged.get("properties", {}))
    required = list(merged.get("required", []))
    for part in schema["allOf"] if isinstance(schema["allOf"], list) else []:
        flat = flatten(document, part)
        properties.update(flat.get("properties", {}))
        required += [r for r in flat.get("required", []) if r not in required]
        for key, item in flat.items():
            merged.setdefault(key, item)
    merged["properties"] = properties
    merged["required"] = required
    return merged


def compare(place: Place, before: Any, after: Any) -> Iterator[Finding]:
    """Every difference between two schemas at ``place``, judged for its side."""
    if place.depth > MAX_DEPTH:
        return
    was, now = flatten(place.old, before), flatten(place.new, after)
    if (yield from _type(place, was, now)):
        return  # a changed type says it all; its constraints no longer compare
    for keyword in _UPPER:
        yield from _judge(place, keyword, was.get(keyword), now.get(keyword),
                          _bound_change(was.get(keyword), now.get(keyword), upper=True))
    for keyword in _LOWER:
        yield from _judge(place, keyword, was.get(keyword), now.get(keyword),
                          _bound_change(was.get(keyword), now.get(keyword), upper=False))
    for keyword, upper in (("maximum", True), ("minimum", False)):
        old_bound, new_bound = _numeric_bound(was, upper), _numeric_bound(now, upper)
        yield from _judge(place, keyword, _shown_bound(old_bound), _shown_bound(new_bound),
                          _bound_change(old_bound, new_bound, upper=upper))
    for keyword in ("pattern", "format"):
        old_value, new_value = was.get(keyword), now.get(keyword)
        change = None if old_value == new_value else (
            _NARROWER if old_value is None else _WIDER if new_value is None
            else _NARROWER if (new_value, old_value) in _WIDER_FORMATS
            else _WIDER if (old_value, new_value) in _WIDER_FORMATS else _BOTH
        )
        yield from _judge(place, keyword, old_value, new_value, change)
    yield from _enum(place, was, now)
    if was.get("additionalProperties") is not False and now.get("additionalProperties") is False:
        # Narrower for both sides; for a response that is compatible.
        yield from _judge(place, "additionalProperties", was.get("additionalProperties", True),
                          False, _NARROWER)
    yield from _properties(place, was, now)
    for keyword in ("items", "additionalProperties"):
        if isinstance(was.get(keyword), dict) and isinstance(now.get(keyword), dict):
            field = f"{place.field}[]" if keyword == "items" else f"{place.field}.*"
            yield from compare(place.child(keyword, field), was[keyword], now[keyword])
    yield from _branches(place, was, now)


def _type(
    place: Place, was: Mapping[str, Any], now: Mapping[str, Any]
) -> Generator[Finding, None, bool]:
    """The type change, if it breaks; returns (as the generator's value) whether it did."""
    old_types, new_types = _types(was), _types(now)
    if old_types == new_types:
        return False
    request = place.side == "request"
    # None is "any type": in a request, gaining a type narrows; in a response, losing one widens.
    if request:
        breaks = new_types is not None and (old_types is None or not old_types <= new_types)
    else:
        breaks = old_types is not None and (new_types is None or not new_types <= old_types)
    yield place.finding("changed-type", "type",
                        f"type was {_shown_types(was)}, is now {_shown_types(now)}",
                        breaking=breaks, before=_shown_types(was), after=_shown_types(now))
    return breaks


def _types(schema: Mapping[str, Any]) -> set[str] | None:
    kind = schema.get("type")
    if kind is None:
        return None
    types = set(map(str, kind)) if isinstance(kind, list) else {str(kind)}
    if schema.get("nullable") is True:  # OAS 3.0's way of saying "null" too
        types.add("null")
    if "number" in types:
        types.add("integer")  # an integer is a number
    return types


def _shown_types(schema: Mapping[str, Any]) -> str:
    kind = schema.get("type")
    if kind is None:
        return "any"
    text = " or ".join(map(str, kind)) if isinstance(kind, list) else str(kind)
    return f"{text} (nullable)" if schema.get("nullable") is True else text


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _numeric_bound(schema: Mapping[str, Any], upper: bool) -> tuple[float, bool] | None:
    """The tightest bound as (value, exclusive): 3.0's boolean ``exclusiveMaximum`` and
    3.1's numeric one alike."""
    value = schema.get("maximum" if upper else "minimum")
    exclusive = schema.get("exclusiveMaximum" if upper else "exclusiveMinimum")
    bounds = []
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        bounds.append((float(value), exclusive is True))
    if isinstance(exclusive, (int, float)) and not isinstance(exclusive, bool):
        bounds.append((float(exclusive), True))
    if not bounds:
        return None
    if upper:
        return min(bounds, key=lambda b: (b[0], not b[1]))
    return max(bounds, key=lambda b: (b[0], b[1]))


def _shown_bound(bound: tuple[float, bool] | None) -> str | None:
    if bound is None:
        return None
    number = int(bound[0]) if bound[0].is_integer() else bound[0]
    return f"{number} (exclusive)" if bound[1] else str(number)


def _bound_change(old: Any, new: Any, *, upper: bool) -> str | None:
    """Whether a bound got narrower or wider (None: the same, or not comparable)."""
    if old == new:
        return None
    if new is None:
        return _WIDER
    if old is None:
        return _NARROWER
    if isinstance(old, tuple) and isinstance(new, tuple):
        tighter = (new[0], not new[1]) < (old[0], not old[1]) if upper else (
            (new[0], new[1]) > (old[0], old[1])
        )
        return _NARROWER if tighter else _WIDER
    if _number(old) and _number(new):
        return _NARROWER if (new < old if upper else new > old) else _WIDER
    return _BOTH


def _judge(place: Place, keyword: str, before: Any, after: Any,
           change: str | None) -> Iterator[Finding]:
    """A finding for a changed constraint: breaking when it narrows a request or widens a
    response."""
    if change is None:
        return
    request = place.side == "request"
    breaking = change == _BOTH or (change == _NARROWER) == request
    if keyword == "additionalProperties" and not request:
        breaking = False  # a response with fewer fields allowed breaks no client
    kind = ("narrowed-" if change != _WIDER else "widened-") + place.side
    if change == _BOTH:
        kind = "narrowed-request" if request else "widened-response"
    verb = {_NARROWER: "narrowed", _WIDER: "widened", _BOTH: "changed"}[change]
    yield place.finding(kind, keyword,
                        f"{keyword} {verb}: was {_text(before)}, is now {_text(after)}",
                        breaking=breaking, before=before, after=after)


def _enum(place: Place, was: Mapping[str, Any], now: Mapping[str, Any]) -> Iterator[Finding]:
    old, new = was.get("enum"), now.get("enum")
    if old == new or (old is None and new is None):
        return
    request = place.side == "request"
    if not isinstance(old, list) or not isinstance(new, list):
        yield from _judge(place, "enum", old, new, _NARROWER if old is None else _WIDER)
        return
    gone = [value for value in old if value not in new]
    added = [value for value in new if value not in old]
    if gone:
        yield place.finding(
            "removed-enum-value" if request else "narrowed-response", "enum",
            f"enum value(s) {', '.join(map(_text, gone))} removed",
            breaking=request, before=old, after=new,
        )
    if added:
        yield place.finding(
            "added-enum-value" if request else "widened-response", "enum",
            f"enum value(s) {', '.join(map(_text, added))} added",
            breaking=not request, before=old, after=new,
        )


def _properties(place: Place, was: Mapping[str, Any],
                now: Mapping[str, Any]) -> Iterator[Finding]:
    request = place.side == "request"
    old_props = was.get("properties") or {}
    new_props = now.get("properties") or {}
    old_required = set(was.get("required") or [])
    new_required = set(now.get("required") or [])
    for name, schema in old_props.items():
        token = f"properties/{escape_pointer(str(name))}"
        child = place.child(token, f"{place.field}.{name}")
        if name not in new_props:
            if not request:
                yield child.finding("removed-response-field", "", f"field {name!r} was removed",
                                    breaking=True, before="present", after="absent",
                                    at=child.pointer)
            continue
        if not request and name in old_required and name not in new_required:
            yield child.finding("removed-response-field", "",
                                f"field {name!r} is no longer required (may be absent)",
                                breaking=True, before="required", after="optional",
                                at=f"{place.pointer}/required")
        yield from compare(child, schema, new_props[name])
    if request:
        for name in sorted(new_required - old_required):
            child = place.child(f"properties/{escape_pointer(str(name))}",
                                f"{place.field}.{name}")
            yield child.finding("new-required-param", "", f"field {name!r} is newly required",
                                breaking=True, before="optional", after="required",
                                at=f"{place.pointer}/required")
    else:
        for name in sorted(set(new_props) - set(old_props)):
            child = place.child(f"properties/{escape_pointer(str(name))}",
                                f"{place.field}.{name}")
            yield child.finding("added-response-field", "", f"field {name!r} is new",
                                breaking=False, before="absent", after="present",
                                at=child.pointer)


def _branches(place: Place, was: Mapping[str, Any], now: Mapping[str, Any]) -> Iterator[Finding]:
    """``oneOf``/``anyOf``/``not``: compared branch by branch when the branches line up;
    otherwise a breaking finding that says they were not compared (fail closed)."""
    for keyword in ("oneOf", "anyOf", "not"):
        old, new = was.get(keyword), now.get(keyword)
        if old is None and new is None:
            continue
        if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
            for index, (before, after) in enumerate(zip(old, new, strict=True)):
                yield from compare(place.child(f"{keyword}/{index}", place.field), before, after)
            continue
        if isinstance(old, dict) and isinstance(new, dict):
            # `not` inverts the rule: compare it as the other side would.
            other = "response" if place.side == "request" else "request"
            yield from compare(replace(place.child(keyword, place.field), side=other), old, new)
            continue
        if _canonical(place.old, old) != _canonical(place.new, new):
            yield place.finding(
                "changed-composition", keyword,
                f"{keyword} changed ({_count(old)} -> {_count(new)}); its branches are not "
                "compared one by one, so this change is taken as breaking: review it by hand",
                breaking=True, before=_count(old), after=_count(new),
            )


def _count(value: Any) -> str:
    if value is None:
        return "absent"
    return f"{len(value)} branches" if isinstance(value, list) else "a schema"


def _canonical(document: Mapping[str, Any], value: Any, depth: int = 0) -> str:
    """A schema as text with its ``$ref`` s followed, to tell a real change from a renamed
    component."""

    def expand(node: Any, level: int) -> Any:
        if level > MAX_DEPTH:
            return "…"
        node = resolve_ref(document, node)
        if isinstance(node, dict):
            return {key: expand(item, level + 1) for key, item in node.items()}
        if isinstance(node, list):
            return [expand(item, level + 1) for item in node]
        return node

    return json.dumps(expand(value, depth), sort_keys=True, default=str)


def _text(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str)
