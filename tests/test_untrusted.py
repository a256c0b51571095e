"""The shared readers of untrusted input: strict JSON, one-line display, field kinds.

Each reader of files, bodies and rows (the gate, the ledger, serve, the Prometheus
client, policies) goes through these, so a weakness here would be a weakness in
all of them.
"""

from __future__ import annotations

import json

import pytest

from pytest_deployable.untrusted import (
    COUNT,
    STRINGS,
    Refused,
    one_line,
    parse_json,
    parse_time,
    shown,
)


@pytest.mark.parametrize(("text", "words"), [
    ('{"verdict": "NOT_DEPLOYABLE", "verdict": "DEPLOYABLE"}', 'the key "verdict" appears twice'),
    ('{"a": {"b": 1, "b": 1}}', 'the key "b" appears twice'),
    ('{"failed": NaN}', "NaN is not a JSON value"),
    ('[Infinity]', "Infinity is not a JSON value"),
    ('[-Infinity]', "-Infinity is not a JSON value"),
])
def test_parse_json_refuses_what_parsers_disagree_on(text: str, words: str) -> None:
    with pytest.raises(Refused, match=words):
        parse_json(text)
    json.loads(text)  # the standard library alone would have taken it


def test_parse_json_reads_plain_json_and_raises_on_malformed() -> None:
    assert parse_json('{"a": [1, 2.5, "x", null, true]}') == {"a": [1, 2.5, "x", None, True]}
    with pytest.raises(json.JSONDecodeError):
        parse_json('{"a": ')


def test_one_line_escapes_what_could_forge_a_line() -> None:
    forged = "ok\nDEPLOYABLE\r\x1b[2K\u2028"
    assert one_line(forged) == "ok\\nDEPLOYABLE\\r\\x1b[2K\\u2028"
    assert "\n" not in one_line(forged)
    assert "\x1b" not in one_line(forged)


def test_shown_is_short_and_names_containers() -> None:
    assert shown({"a": 1}) == "an object"
    assert shown([1]) == "an array"
    assert shown("x" * 100) == '"' + "x" * 36 + "..."
    assert shown(True) == "true"


def test_kinds_reject_lookalikes() -> None:
    assert COUNT[1](3)
    assert not COUNT[1](True)
    assert not COUNT[1](-1)
    assert not COUNT[1](3.0)
    assert STRINGS[1](["a"])
    assert not STRINGS[1](["a", 1])
    assert not STRINGS[1]("a")


@pytest.mark.parametrize("text", ["2026-02-30T00:00:00Z", "2026-01-01T00:00:00+00:00",
                                  "2026-01-01 00:00:00Z", "2026-01-01T00:00:00.1234567890Z"])
def test_parse_time_takes_only_utc_rfc3339(text: str) -> None:
    assert parse_time(text) is None


def test_parse_time_reads_fractions() -> None:
    when = parse_time("2026-01-01T12:00:00.25Z")
    assert when is not None
    assert when.microsecond == 250000
    assert when.utcoffset() is not None
