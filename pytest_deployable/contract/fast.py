"""The fast path of contract validation: jsonschema-rs says "valid" in microseconds.

A response that honours its schema is the common case, and the one that must be
cheap. Each schema is compiled once per run by jsonschema-rs (Rust) from a copy
of the document rewritten so that jsonschema-rs judges as openapi-schema-validator
does. Only a *pass* is taken from it; on a fail, or anything it cannot handle,
:class:`~.contract.Contract` asks jsonschema, which decides and words the
problems exactly as before. So the fast path can make a check faster, never
more lenient, as long as jsonschema-rs never accepts what jsonschema rejects.
The rewrite exists for that:

- OAS 3.0 ``nullable: true`` becomes ``"null"`` in ``type`` (3.0's rule: it only
  widens ``type``), and a ``$ref`` with sibling keywords becomes an ``allOf``
  (openapi-schema-validator applies the siblings; Draft 4 would ignore them);
- ``format`` means what openapi-schema-validator's format checker makes of it:
  nothing for the formats it does not check (``date-time``, ``email``: it ignores
  them) or always passes (``float``, ``password``), ``int32``/``int64`` as bounds
  (which jsonschema-rs applies to floats as well: stricter), and the rest
  (``byte``, ``regex``) handed back to Python, to the same checker;
- a ``pattern`` made only of literals, classes, groups, anchors and quantifiers
  stays with jsonschema-rs (Rust's ``$`` does not match before a final newline
  as Python's does: stricter); any other is handed back to Python, to the same
  regular-expression search jsonschema uses;
- a document with a ``discriminator`` anywhere gets no fast path: jsonschema
  validates only the mapped branch, which a plain ``oneOf`` does not reproduce.

``tests/test_contract_fast.py`` holds the two paths to the same answer on
generated instances.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

__all__ = ["FastValidators"]

#: Keywords whose values are data, not schemas: the rewrite leaves them alone.
_DATA_KEYWORDS = frozenset({"enum", "const", "default", "example", "examples"})
_FORMAT = "x-deployable-format"
_PATTERN = "x-deployable-pattern"
#: Formats openapi-schema-validator checks on JSON values and that are not always true.
_PYTHON_FORMATS = frozenset({"byte", "regex"})
#: int32 and int64 as the bounds openapi-schema-validator checks on integers.
_BOUNDS = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}
#: Literals, classes, groups, anchors, alternation and quantifiers; no class escapes
#: (\d, \w, \s, \b: Unicode in Python, ASCII in ECMA), no flags, no look-arounds.
_SAFE_PATTERN = re.compile(
    r"""^(?:[A-Za-z0-9 ^$|()\[\]{}?*+.,_/:@#!=<>'"%&;~-]|\\[.^$|()\[\]{}?*+/\\-])*$"""
)


class FastValidators:
    """Compiled jsonschema-rs validators for the schemas of one document, by JSON pointer."""

    def __init__(self, document: Mapping[str, Any], *, oas30: bool,
                 slow_validator_class: Any, format_checker: Any) -> None:
        import jsonschema_rs

        self._rs = jsonschema_rs
        self._oas30 = oas30
        self._document = _rewrite(document, oas30=oas30)
        self._compiled: dict[str, Callable[[Any], bool] | None] = {}
        # One jsonschema validator to borrow the exact `pattern` keyword from.
        self._slow = slow_validator_class({}, format_checker=format_checker)
        self._keywords = {_FORMAT: self._format_keyword(format_checker),
                          _PATTERN: self._pattern_keyword()}

    @classmethod
    def create(cls, document: Mapping[str, Any], *, oas30: bool, slow_validator_class: Any,
               format_checker: Any) -> FastValidators | None:
        """Fast validators for ``document``, or None when it gets no fast path."""
        try:
            import jsonschema_rs  # noqa: F401
        except ImportError:
            return None
        if _mentions(document, "discriminator"):
            return None
        return cls(document, oas30=oas30, slow_validator_class=slow_validator_class,
                   format_checker=format_checker)

    def is_valid(self, pointer: str, instance: Any) -> bool:
        """True only when ``instance`` surely honours the schema at ``pointer``."""
        check = self._compiled.get(pointer, _UNSET)
        if check is _UNSET:
            check = self._compile(pointer)
            self._compiled[pointer] = check
        if check is None:
            return False
        try:
            return bool(check(instance))
        except Exception:  # a value jsonschema-rs cannot take: jsonschema decides
            return False

    def _compile(self, pointer: str) -> Callable[[Any], bool] | None:
        root = {**self._document, "$ref": "#" + quote(pointer, safe="/~")}
        cls = self._rs.Draft4Validator if self._oas30 else self._rs.Draft202012Validator
        try:
            validator = cls(root, validate_formats=False, keywords=self._keywords)
        except Exception:  # a schema it does not compile: no fast path for this one
            return None
        is_valid: Callable[[Any], bool] = validator.is_valid
        return is_valid

    @staticmethod
    def _format_keyword(checker: Any) -> type:
        class Format:
            def __init__(self, parent: Any, value: Any, path: Any) -> None:
                self.format = value

            def validate(self, instance: Any) -> None:
                # openapi-schema-validator's format keyword: null is never checked.
                if instance is not None and not checker.conforms(instance, self.format):
                    raise ValueError(f"not a {self.format}")

        return Format

    def _pattern_keyword(self) -> type:
        slow = self._slow
        keyword = slow.VALIDATORS["pattern"]

        class Pattern:
            def __init__(self, parent: Any, value: Any, path: Any) -> None:
                self.pattern = value
                self.parent = parent

            def validate(self, instance: Any) -> None:
                if next(iter(keyword(slow, self.pattern, instance, self.parent)), None):
                    raise ValueError("does not match")

        return Pattern


_UNSET: Any = object()


def _mentions(node: Any, key: str) -> bool:
    if isinstance(node, dict):
        return key in node or any(_mentions(value, key) for value in node.values())
    if isinstance(node, list):
        return any(_mentions(value, key) for value in node)
    return False


def _rewrite(node: Any, *, oas30: bool) -> Any:
    """A copy of the document that jsonschema-rs reads as openapi-schema-validator does."""
    if isinstance(node, list):
        return [_rewrite(value, oas30=oas30) for value in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    extra: list[dict[str, Any]] = []
    for key, value in node.items():
        if key in _DATA_KEYWORDS:
            out[key] = value
        elif key == "format" and isinstance(value, str):
            if value in _BOUNDS:
                low, high = _BOUNDS[value]
                extra.append({"minimum": low, "maximum": high})
            elif value in _PYTHON_FORMATS:
                out[_FORMAT] = value
            # Any other format the OAS format checkers do not check, so neither do we.
        elif key == "pattern" and isinstance(value, str):
            native = _SAFE_PATTERN.match(value) is not None and not (
                "(?" in value or "{," in value
            )
            out["pattern" if native else _PATTERN] = value
        else:
            out[key] = _rewrite(value, oas30=oas30)
    if oas30 and out.get("nullable") is True and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    if oas30 and isinstance(out.get("$ref"), str) and len(out) > 1:
        siblings = {key: value for key, value in out.items() if key != "$ref"}
        out = {"allOf": [{"$ref": out["$ref"]}, siblings]}
    if extra:
        out = {"allOf": [out, *extra]}
    return out
