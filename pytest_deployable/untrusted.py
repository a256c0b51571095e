"""Reading input the tool does not trust: strict JSON, field kinds, and one-line display.

Every file, body and row pytest-deployable reads may have been written by someone
else, so the readers share these few tools rather than each writing its own:

- :func:`parse_json` is JSON without the parts parsers disagree on: a key that
  appears twice in one object, and ``NaN``/``Infinity``, raise :class:`Refused`
  (a ``ValueError``), so a document cannot say one thing to this reader and
  another to the next;
- a :data:`Kind` is what a field must be, as the words an error shows and the
  test, so that readers are declarative tables (``gate.py``'s verdict fields,
  ``policy.py``'s rules, ``serve/bodies.py``'s request bodies);
- :func:`shown` describes a value briefly for such an error, and :func:`one_line`
  escapes control characters so that a value cannot forge output lines.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

__all__ = [
    "ARRAY", "BOOL", "COUNT", "OBJECT", "OPTIONAL_STR", "STR", "STRINGS",
    "Kind", "Refused", "one_line", "parse_json", "parse_time", "shown",
]


class Refused(ValueError):
    """Input that strict JSON does not allow; the message says what, for the user."""


#: What a field must be: the words an error shows, and the test.
Kind = tuple[str, Callable[[Any], bool]]
STR: Kind = ("a string", lambda v: isinstance(v, str))
OPTIONAL_STR: Kind = ("a string or null", lambda v: v is None or isinstance(v, str))
BOOL: Kind = ("true or false", lambda v: isinstance(v, bool))
COUNT: Kind = ("a whole number", lambda v: type(v) is int and v >= 0)
OBJECT: Kind = ("an object", lambda v: isinstance(v, dict))
ARRAY: Kind = ("an array", lambda v: isinstance(v, list))
STRINGS: Kind = ("an array of strings",
                 lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v))

_TIME_RE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?Z"
)


def shown(value: Any) -> str:
    """A short, one-line, printable description of a JSON value for an error message."""
    if isinstance(value, (dict, list)):
        return "an object" if isinstance(value, dict) else "an array"
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def one_line(text: str) -> str:
    """``text`` with control characters escaped, so that input cannot forge output lines."""
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


def parse_time(text: str) -> datetime | None:
    """An RFC 3339 UTC timestamp ending in ``Z`` as an aware datetime, or None if it is not one."""
    match = _TIME_RE.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(part) for part in match.groups()[:6])
    micro = int((match.group(7) or "0").ljust(6, "0")[:6])
    try:
        return datetime(year, month, day, hour, minute, second, micro, tzinfo=timezone.utc)
    except ValueError:
        return None


def _refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Parsers disagree on which of two equal keys wins, so a document that has them
    # could say DEPLOYABLE to one reader and NOT_DEPLOYABLE to another.
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise Refused(f"the key {shown(key)} appears twice in one object")
        result[key] = value
    return result


def _refuse_constant(name: str) -> Any:
    raise Refused(f"{name} is not a JSON value")


def parse_json(text: str) -> Any:
    """Strict JSON: duplicate keys and NaN/Infinity raise :class:`Refused`.

    Malformed JSON raises ``json.JSONDecodeError``, as ``json.loads`` does; both
    are ``ValueError``.
    """
    return json.loads(text, object_pairs_hook=_refuse_duplicates, parse_constant=_refuse_constant)
