"""The gate's core: reading a verdict file without trusting it, and the rules for an exit code."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_deployable.attestation import RunInfo, dump, to_statement, write_atomic
from pytest_deployable.gate import (
    EXIT_BAD_FILE,
    EXIT_DEPLOYABLE,
    EXIT_INCONCLUSIVE,
    EXIT_MISMATCH,
    EXIT_NOT_DEPLOYABLE,
    EXIT_STALE,
    GateResult,
    VerdictFileError,
    check_statement,
    evaluate,
    format_duration,
    gate_file,
    parse_duration,
    read_verdict,
)
from pytest_deployable.selection import Selection
from pytest_deployable.targets import Target
from pytest_deployable.verdict import CheckResult, Outcome, RunFacts, decide

NOW = datetime(2026, 1, 1, 14, 0, 0, tzinfo=timezone.utc)
STAGING = Target("staging", "https://staging.shop.example")
FAILING = "tests/deploy/test_smoke.py::test_login"


def check(name: str, outcome: Outcome = Outcome.PASSED, *, blocking: bool = True,
          attempts: int = 1) -> CheckResult:
    return CheckResult(f"tests/deploy/test_smoke.py::{name}", "smoke", blocking, outcome,
                       attempts, 84, None)


PASSING = [check("test_health"), check("test_catalog")]
WARNING = [check("test_health"), check("test_slow", Outcome.FAILED, blocking=False)]
BROKEN = [check("test_health"), check("test_login", Outcome.FAILED)]


def statement(
    checks: list[CheckResult] = PASSING,
    facts: RunFacts | None = None,
    *,
    target: Target = STAGING,
    version: str | None = "1.4.2",
    age: timedelta = timedelta(seconds=41),
) -> dict[str, Any]:
    """A statement built by the real chain: decide, then to_statement."""
    finished = NOW - age
    info = RunInfo("shop-api", target, finished - timedelta(seconds=41), finished, version,
                   "0123456789abcdef0123456789abcdef01234567")
    facts = facts or RunFacts()
    if facts.selection is None:  # as the plugin writes it: a complete run says so
        facts = replace(facts, selection=Selection())
    return to_statement(decide(checks, facts), info)


def write(path: Path, data: Any) -> Path:
    """Write a statement (or any JSON value) as the plugin does: atomically, indented."""
    write_atomic(path, dump(data) if isinstance(data, dict) else json.dumps(data))
    return path


def gate(data: dict[str, Any], **options: Any) -> GateResult:
    arguments: dict[str, Any] = {"target": None, "version": None, "max_age": None,
                                 "strict": False, "now": NOW, "source": "deploy-verdict.json"}
    arguments.update(options)
    return evaluate(data, **arguments)


# -- reading -----------------------------------------------------------------


def test_a_written_verdict_reads_back_unchanged(tmp_path: Path) -> None:
    written = statement(BROKEN)
    path = write(tmp_path / "deploy-verdict.json", written)

    assert read_verdict(path) == written


def edited(change: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    data = statement(BROKEN)
    change(data)
    return data


def ours(data: dict[str, Any]) -> dict[str, Any]:
    deployability: dict[str, Any] = data["predicate"]["deployability"]
    return deployability


def claim_deployable(data: dict[str, Any]) -> None:
    data["predicate"]["result"] = "PASSED"
    ours(data)["verdict"] = "DEPLOYABLE"


BAD_STATEMENTS: dict[str, tuple[Any, str]] = {
    "array": ([statement()], "expected a JSON object, found an array"),
    "string": ("DEPLOYABLE", "expected a JSON object, found \"DEPLOYABLE\""),
    "wrong _type": (edited(lambda d: d.update(_type="https://in-toto.io/Statement/v0.1")),
                    "_type must be 'https://in-toto.io/Statement/v1'"),
    "wrong predicateType": (edited(lambda d: d.update(predicateType="https://slsa.dev/x")),
                            "predicateType must be"),
    "no deployability": (edited(lambda d: d["predicate"].pop("deployability")),
                         "it has no predicate.deployability"),
    "newer schema": (edited(lambda d: ours(d).update(schemaVersion="2")),
                     "written by a newer pytest-deployable, schema 2; this one reads 1"),
    "unknown schema": (edited(lambda d: ours(d).update(schemaVersion="1.0")),
                       "unknown schemaVersion \"1.0\""),
    "result says PASSED": (edited(lambda d: d["predicate"].update(result="PASSED")),
                           "inconsistent verdict file (edited or corrupt): predicate.result is "
                           "PASSED but the verdict is NOT_DEPLOYABLE"),
    "verdict and result edited": (edited(claim_deployable),
                                  "the verdict is DEPLOYABLE but its checks make it at best "
                                  f"NOT_DEPLOYABLE (1 blocking check failed: {FAILING})"),
    "summary edited": (edited(lambda d: ours(d)["summary"].update(failed=0)),
                       "summary.failed is 0 but 1 checks are failed"),
    "unknown verdict": (edited(lambda d: ours(d).update(verdict="SHIP_IT")),
                        "verdict must be one of DEPLOYABLE, DEPLOYABLE_WITH_WARNINGS"),
    "target name": (edited(lambda d: ours(d)["target"].update(name=7)),
                    "predicate.deployability.target.name must be a string, not 7"),
    "version number": (edited(lambda d: ours(d).update(version=1.4)),
                       "version must be a string or null, not 1.4"),
    "no version key": (edited(lambda d: ours(d).pop("version")),
                       "predicate.deployability.version is missing"),
    "local time": (edited(lambda d: ours(d).update(finishedOn="2026-01-01T12:00:41+01:00")),
                   "finishedOn must be an RFC 3339 UTC timestamp"),
    "impossible date": (edited(lambda d: ours(d).update(startedOn="2026-02-30T12:00:00Z")),
                        "startedOn must be an RFC 3339 UTC timestamp"),
    "time travel": (edited(lambda d: ours(d).update(startedOn="2027-01-01T00:00:00Z")),
                    "finishedOn is before startedOn"),
    "summary string": (edited(lambda d: ours(d)["summary"].update(passed="1")),
                       "summary.passed must be a whole number"),
    "checks object": (edited(lambda d: ours(d).update(checks={})),
                      "predicate.deployability.checks must be an array, not an object"),
    "attempts bool": (edited(lambda d: ours(d)["checks"][1].update(attempts=True)),
                      "checks[1].attempts must be a whole number, not true"),
    "check outcome": (edited(lambda d: ours(d)["checks"][0].update(outcome="ok")),
                      "checks[0].outcome must be one of passed, failed"),
    "check no blocking": (edited(lambda d: ours(d)["checks"][0].pop("blocking")),
                          "checks[0].blocking is missing"),
    "reasons string": (edited(lambda d: ours(d).update(reasons="all good")),
                       "reasons must be an array of strings"),
    "no subject": (edited(lambda d: d.update(subject=[])), "subject must be a non-empty array"),
}


@pytest.mark.parametrize(("data", "expected"), BAD_STATEMENTS.values(), ids=BAD_STATEMENTS)
def test_a_bad_statement_is_refused_with_one_line_naming_the_file(
    tmp_path: Path, data: Any, expected: str
) -> None:
    path = write(tmp_path / "deploy-verdict.json", data)

    with pytest.raises(VerdictFileError) as info:
        read_verdict(path)

    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert expected in message
    assert "\n" not in message


BAD_BYTES: dict[str, tuple[bytes, str]] = {
    "empty": (b"", "the verdict file is empty"),
    "not JSON": (b"DEPLOYABLE\n", "not JSON: Expecting value (line 1 column 1)"),
    "not UTF-8": (b'{"_type": "\xff"}', "not UTF-8 text (byte 11)"),
    "NaN": (b'{"a": NaN}', "not a verdict file: NaN is not a JSON value"),
    "duplicate key": (b'{"_type": 1, "_type": 2}',
                      "not a verdict file: the key \"_type\" appears twice in one object"),
    "deep nesting": (b"[" * 100_000, "not JSON"),
}


@pytest.mark.parametrize(("raw", "expected"), BAD_BYTES.values(), ids=BAD_BYTES)
def test_a_file_that_is_not_json_is_refused(tmp_path: Path, raw: bytes, expected: str) -> None:
    path = tmp_path / "deploy-verdict.json"
    path.write_bytes(raw)

    with pytest.raises(VerdictFileError) as info:
        read_verdict(path)

    assert str(info.value).startswith(f"{path}: ")
    assert "\n" not in str(info.value)
    assert expected in str(info.value)


def test_a_file_cut_short_anywhere_is_refused_as_truncated(tmp_path: Path) -> None:
    text = dump(statement())
    path = tmp_path / "deploy-verdict.json"
    messages = []
    for end in range(1, len(text) - 1):
        path.write_text(text[:end], encoding="utf-8")
        with pytest.raises(VerdictFileError) as info:
            read_verdict(path)
        messages.append(str(info.value))

    assert len(messages) > 1000
    assert [m for m in messages if ": truncated: the JSON ends early (line " not in m] == []


def test_a_missing_file_or_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(VerdictFileError, match=r"missing\.json: verdict file not found$"):
        read_verdict(tmp_path / "missing.json")
    with pytest.raises(VerdictFileError, match=r": is a directory, not a verdict file$"):
        read_verdict(tmp_path)


def test_an_edited_line_in_a_message_cannot_forge_output(tmp_path: Path) -> None:
    data = statement(BROKEN)
    ours(data)["reasons"] = ["1 blocking check failed\ndeployable gate: DEPLOYABLE"]

    result = gate(read_verdict(write(tmp_path / "v.json", data)))

    assert result.exit_code == EXIT_NOT_DEPLOYABLE
    assert result.message == "NOT_DEPLOYABLE: 1 blocking check failed\\ndeployable gate: DEPLOYABLE"


# -- the rules ---------------------------------------------------------------


def test_deployable_passes_and_says_what_and_where() -> None:
    result = gate(statement(), target="staging", version="1.4.2", max_age=1800)

    assert result.ok
    assert result.exit_code == EXIT_DEPLOYABLE
    assert result.message == "DEPLOYABLE — shop-api 1.4.2 on staging (verdict 41s old)"
    assert (result.verdict, result.target, result.version, result.age) == (
        "DEPLOYABLE", "staging", "1.4.2", 41.0
    )


def test_warnings_pass_unless_strict() -> None:
    warned = statement(WARNING)

    lenient = gate(warned)
    strict = gate(warned, strict=True)

    assert lenient.exit_code == EXIT_DEPLOYABLE
    assert lenient.message.endswith(
        "(verdict 41s old); warning: 1 advisory check failed: "
        "tests/deploy/test_smoke.py::test_slow"
    )
    assert strict.exit_code == EXIT_NOT_DEPLOYABLE
    assert not strict.ok
    assert strict.message.startswith("DEPLOYABLE_WITH_WARNINGS, not allowed with --strict: 1 ")


def test_not_deployable_names_the_first_reason() -> None:
    result = gate(statement([*BROKEN, check("test_eu", Outcome.SKIPPED)]))

    assert result.exit_code == EXIT_NOT_DEPLOYABLE
    assert result.message == (
        f"NOT_DEPLOYABLE: 1 blocking check failed: {FAILING} (and 1 more)"
    )


def test_inconclusive_has_its_own_code() -> None:
    result = gate(statement(PASSING, RunFacts(interrupted="KeyboardInterrupt")))

    assert result.exit_code == EXIT_INCONCLUSIVE
    assert result.message == "INCONCLUSIVE: the run was interrupted: KeyboardInterrupt"


@pytest.mark.parametrize(
    ("options", "built", "expected"),
    [
        ({"target": "production"}, {}, "deploy-verdict.json is for target 'staging', not "
                                       "'production'"),
        ({"version": "1.4.3"}, {}, "deploy-verdict.json is for version '1.4.2', not '1.4.3'"),
        ({"version": "1.4.2"}, {"version": None},
         "deploy-verdict.json records no version, not '1.4.2'"),
    ],
)
def test_another_target_or_version_is_refused(
    options: dict[str, Any], built: dict[str, Any], expected: str
) -> None:
    result = gate(statement(**built), **options)

    assert result.exit_code == EXIT_MISMATCH
    assert result.message == expected


def test_a_stale_verdict_is_refused() -> None:
    stale = statement(age=timedelta(hours=2, minutes=3))

    result = gate(stale, max_age=parse_duration("30m"))

    assert result.exit_code == EXIT_STALE
    assert result.message == (
        "deploy-verdict.json is 2h 3m old, older than --max-age 30m"
    )
    assert gate(stale, max_age=parse_duration("3h")).exit_code == EXIT_DEPLOYABLE


def test_a_verdict_from_the_future_is_not_trusted_beyond_clock_skew() -> None:
    result = gate(statement(age=-timedelta(minutes=10)))

    assert result.exit_code == EXIT_BAD_FILE
    assert result.message.startswith("deploy-verdict.json finished 10m in the future (")
    assert gate(statement(age=-timedelta(minutes=4))).exit_code == EXIT_DEPLOYABLE


def test_the_rules_apply_in_order() -> None:
    broken_elsewhere_and_stale = statement(BROKEN, age=timedelta(hours=3))
    from_the_future = statement(BROKEN, age=-timedelta(hours=1))

    assert gate(broken_elsewhere_and_stale, target="production",
                max_age=60).exit_code == EXIT_MISMATCH
    assert gate(broken_elsewhere_and_stale, max_age=60).exit_code == EXIT_STALE
    assert gate(broken_elsewhere_and_stale).exit_code == EXIT_NOT_DEPLOYABLE
    assert gate(from_the_future, target="production").exit_code == EXIT_BAD_FILE


def test_evaluate_checks_what_it_is_given() -> None:
    result = gate({"_type": "https://in-toto.io/Statement/v1"})

    assert result.exit_code == EXIT_BAD_FILE
    assert result.verdict is None
    assert result.message == "deploy-verdict.json: not a verdict file: predicateType is missing"


def test_gate_file_never_raises_for_a_bad_file(tmp_path: Path) -> None:
    result = gate_file(tmp_path / "nowhere.json", target="staging")

    assert result.exit_code == EXIT_BAD_FILE
    assert result.message == f"{tmp_path / 'nowhere.json'}: verdict file not found"


# -- durations ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("45", 45), ("2.5", 2.5), ("90s", 90), ("30m", 1800), ("2h", 7200), ("1d", 86400),
     ("1h30m", 5400), ("1h 30m", 5400), ("1d2h3m4s", 93784), ("0.5h", 1800), (" 5m ", 300)],
)
def test_parse_duration_accepts_the_documented_forms(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "m", "-5", "5x", "30M", "1m1h", "1h1h", "1e3", "9" * 400,
                                  "inf", "nan", "\u0663\u0660m"])
def test_parse_duration_refuses_anything_else_and_says_what_works(text: str) -> None:
    with pytest.raises(ValueError, match=r"invalid duration .*: use a number of seconds \(45\)"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (0.9, "0s"), (41, "41s"), (90, "1m 30s"), (1800, "30m"), (7380, "2h 3m"),
     (7385, "2h 3m"), (90000, "1d 1h"), (-5, "0s")],
)
def test_format_duration_shows_two_units(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


# -- properties --------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def refusal_or(read: Callable[[Any], dict[str, Any]], source: Any) -> dict[str, Any] | str:
    """What ``read`` returns, or the message of the VerdictFileError it raises; nothing else."""
    try:
        return read(source)
    except VerdictFileError as exc:
        return str(exc)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("gate")


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=300) | JSON.map(lambda v: json.dumps(v).encode()))
def test_read_verdict_returns_a_statement_or_refuses(scratch: Path, raw: bytes) -> None:
    path = scratch / "fuzz.json"
    path.write_bytes(raw)
    result = refusal_or(read_verdict, path)

    if isinstance(result, str):
        assert result.startswith(f"{path}: ")
        assert "\n" not in result
    else:
        assert isinstance(result, dict)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside a JSON document."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, inner in value.items():
            found += _paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += _paths(inner, (*prefix, index))
    return found


VALID = statement([*BROKEN, check("test_slow", Outcome.FAILED, blocking=False)])
VALID_PATHS = _paths(VALID)


@settings(max_examples=300)
@given(where=st.sampled_from(VALID_PATHS), replacement=JSON, delete=st.booleans())
def test_an_edited_statement_is_a_statement_or_refused(
    where: tuple[Any, ...], replacement: Any, delete: bool
) -> None:
    data = json.loads(json.dumps(VALID))
    parent = data
    for step in where[:-1]:
        parent = parent[step]
    if delete and isinstance(parent, dict):
        del parent[where[-1]]
    else:
        parent[where[-1]] = replacement
    result = refusal_or(check_statement, data)

    if isinstance(result, str):
        assert "\n" not in result
    else:
        assert result is data
        assert evaluate(result, target=None, version=None, max_age=None, strict=False,
                        now=NOW).exit_code in range(7)


CHECKS = st.lists(
    st.builds(
        CheckResult,
        id=st.text(min_size=1, max_size=30),
        category=st.sampled_from(["smoke", "contract", "post_deploy", "unknown"]),
        blocking=st.booleans(),
        outcome=st.sampled_from(Outcome),
        attempts=st.integers(1, 4),
        duration_ms=st.integers(0, 10**6),
        message=st.none() | st.text(max_size=30),
    ),
    max_size=8,
)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    checks=CHECKS,
    interrupted=st.none() | st.text(min_size=1, max_size=20),
    version=st.none() | st.text(max_size=12),
    name=st.text(min_size=1, max_size=20),
    started=st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1),
                         timezones=st.just(timezone.utc)),
    took=st.integers(0, 10**6),
)
def test_every_statement_to_statement_builds_round_trips(
    scratch: Path,
    checks: list[CheckResult],
    interrupted: str | None,
    version: str | None,
    name: str,
    started: datetime,
    took: int,
) -> None:
    info = RunInfo("shop-api", Target(name, None), started, started + timedelta(seconds=took),
                   version)
    written = to_statement(decide(checks, RunFacts(interrupted=interrupted)), info)

    assert read_verdict(write(scratch / "round-trip.json", written)) == written
