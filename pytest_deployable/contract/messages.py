"""Contract violations in words: one line per problem, bounded, the first one in the headline.

jsonschema's errors become "where: expected X, got Y" lines (the JSON path of the
bad value, what the schema wanted, what came, cut to a readable size); a
message puts the first problem on its first line, so a report that keeps only
the start of a failure still says what broke.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator
from typing import Any

__all__ = ["MAX_LINE", "MAX_PROBLEMS", "describe_problems", "schema_problems"]

#: At most this many problems are listed for one response; the rest are counted.
MAX_PROBLEMS = 10
_SHOWN_VALUE = 80

#: A problem line is cut to this many characters: a message is read, and stored in reports.
MAX_LINE = 300


def describe_problems(headline: str, problems: list[str], *, source: str | None = None) -> str:
    """A violation's message: the headline, the first problem and the contract on one line,
    then every problem on its own line, each bounded.

    The first problem comes before the contract's name, so that a report which keeps
    only the start of a failure's first line still shows what broke.
    """
    shown = [_bounded(problem) for problem in problems]
    first = shown[0] if shown else "no problem listed"
    others = sum(not problem.startswith("...") for problem in shown) - 1
    more = f" (and {others} more)" if others > 0 else ""
    contract = f"; the contract is {source}" if source else ""
    lines = [f"{headline}: {first}{more}{contract}:"]
    lines += [f"  {problem}" for problem in shown[: MAX_PROBLEMS + 1]]
    if len(shown) > MAX_PROBLEMS + 1:
        lines.append(f"  ... and {len(shown) - MAX_PROBLEMS - 1} more")
    return "\n".join(lines)


def _bounded(line: str) -> str:
    line = " ".join(line.split())  # a value's own newlines would break the one-line rule
    return line if len(line) <= MAX_LINE else line[: MAX_LINE - 1] + "…"


def schema_problems(validator: Any, instance: Any) -> Iterator[str]:
    """What a jsonschema validator finds wrong with ``instance``, in words, at most
    :data:`MAX_PROBLEMS` of them."""
    # iter_errors is lazy: a huge body with many bad values stops at the limit.
    errors = list(itertools.islice(validator.iter_errors(instance), MAX_PROBLEMS + 1))
    errors.sort(key=lambda error: (list(map(str, error.absolute_path)), error.validator))
    # The OAS 3.0 validator reports a null for a non-nullable type twice (type, nullable).
    yield from dict.fromkeys(_explain(error) for error in errors[:MAX_PROBLEMS])
    if len(errors) > MAX_PROBLEMS:
        yield f"... and more (only the first {MAX_PROBLEMS} are listed)"


def _explain(error: Any) -> str:
    """One problem in words: where, what was expected, what came."""
    where = error.json_path
    kind = error.validator
    expected = error.validator_value
    came = f"got {_show(error.instance)}"
    if kind == "type":
        types = expected if isinstance(expected, list) else [expected]
        if error.schema.get("nullable"):
            types = [*types, "null"]
        return f"{where}: expected {' or '.join(map(str, types))}, {came}"
    if kind == "required":
        missing = re.match(r"^'(.*)' is a required property$", error.message)
        name = missing.group(1) if missing else error.message
        return f"{where}: required property {name!r} is missing"
    if kind == "enum":
        return f"{where}: expected one of {_show(expected)}, {came}"
    if kind == "const":
        return f"{where}: expected {_show(expected)}, {came}"
    if kind in ("additionalProperties", "unevaluatedProperties"):
        return f"{where}: {error.message}"
    if kind in ("oneOf", "anyOf"):
        return f"{where}: expected a value matching {kind} of {len(expected)} schemas, {came}"
    return f"{where}: expected {kind} {_show(expected)}, {came}"


def _show(value: Any) -> str:
    if value is None:
        return "null"
    kind = {dict: "object", list: "array", str: "string", bool: "boolean"}.get(
        type(value), "number"
    )
    text = json.dumps(value, default=str)
    if len(text) > _SHOWN_VALUE:
        text = text[: _SHOWN_VALUE - 1] + "…"
    return f"{kind} {text}"
