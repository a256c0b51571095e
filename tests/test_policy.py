"""The policy gate: each rule of deploy-policy.toml refuses with exit 7 in one line naming it."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from _signing import make_keys, run

from pytest_deployable.attestation import RunInfo, dump, to_statement, write_atomic
from pytest_deployable.envelope import seal
from pytest_deployable.keys import load_private_key
from pytest_deployable.policy import PolicyError, load_policy, partial_allowed
from pytest_deployable.selection import Selection
from pytest_deployable.targets import Target
from pytest_deployable.verdict import CheckResult, Outcome, RunFacts, decide

PRODUCTION = Target("production", "https://shop.example", protected=True)


def check(name: str, outcome: Outcome = Outcome.PASSED, *, blocking: bool = True,
          module: str = "test_smoke") -> CheckResult:
    return CheckResult(f"tests/deploy/{module}.py::{name}", "smoke", blocking, outcome)


PASSING = [check("test_health"), check("test_catalog"), check("test_login[alice]"),
           CheckResult("deployable::version", "smoke", True, Outcome.PASSED)]


def statement(checks: list[CheckResult] = PASSING, *, complete: bool | None = True,
              age: timedelta = timedelta(seconds=30)) -> dict[str, Any]:
    finished = datetime.now(timezone.utc) - age
    info = RunInfo("shop-api", PRODUCTION, finished - timedelta(seconds=30), finished, "1.4.2",
                   "0123456789abcdef0123456789abcdef01234567")
    # The record the run writes (SPEC §10): a partial run left a check out with -k.
    chosen = Selection() if complete else Selection(
        deselected=("tests/deploy/test_smoke.py::test_login",), keyword="not login")
    data = to_statement(decide(checks, RunFacts(selection=chosen)), info)
    if complete is None:
        del data["predicate"]["deployability"]["selection"]
    return data


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def policy(text: str, name: str = "deploy-policy.toml") -> Path:
    path = Path(name)
    path.write_text(text, encoding="utf-8")
    return path


def verdict(data: dict[str, Any]) -> Path:
    path = Path("v.json")
    write_atomic(path, dump(data))
    return path


def gate(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code, out, err = run(capsys, "gate", "v.json", "--target", "production", *args)
    assert len((out + err).splitlines()) == 1
    return code, (out + err).removeprefix("deployable gate: ").rstrip("\n")


# -- the rules, one by one ----------------------------------------------------------------

#: Each rule: the policy line, the verdict (built when the test runs), the message.
RULES: dict[str, tuple[str, Callable[[], dict[str, Any]], str]] = {
    "required check missing": (
        'required_checks = ["tests/deploy/test_contract.py::*"]', lambda: statement(),
        "v.json: policy production: required_checks: no check in the verdict matches "
        "'tests/deploy/test_contract.py::*'"),
    "required check not passed": (
        'required_checks = ["tests/deploy/test_smoke.py::*"]',
        lambda: statement([*PASSING, check("test_search", Outcome.SKIPPED)]),
        "v.json: policy production: required_checks: tests/deploy/test_smoke.py::test_search "
        "is skipped, not passed (required by 'tests/deploy/test_smoke.py::*')"),
    "required advisory check failed": (
        'required_checks = ["*::test_slow"]',
        lambda: statement([*PASSING, check("test_slow", Outcome.FAILED, blocking=False)]),
        "v.json: policy production: required_checks: tests/deploy/test_smoke.py::test_slow is "
        "failed, not passed (required by '*::test_slow')"),
    "too few checks": (
        "min_checks = 5", lambda: statement(),
        "v.json: policy production: min_checks: 4 checks passed, fewer than min_checks = 5"),
    "warnings not allowed": (
        "allow_warnings = false",
        lambda: statement([*PASSING, check("test_slow", Outcome.FAILED, blocking=False)]),
        "v.json: policy production: allow_warnings = false: the verdict is "
        "DEPLOYABLE_WITH_WARNINGS (1 advisory check failed: tests/deploy/test_smoke.py::"
        "test_slow)"),
    "too old": (
        'max_age = "30m"', lambda: statement(age=timedelta(minutes=45)),
        "v.json: policy production: max_age: the verdict is 45m"),
    "partial run": (
        "", lambda: statement(complete=False),
        "v.json: policy production: allow_partial: the run was partial (selection.complete is "
        "not true); partial runs are refused without --allow-partial"),
    "no selection record": (
        "", lambda: statement(complete=None),
        "v.json: policy production: allow_partial: the run was partial (it records no "
        "selection, so it is not known to be complete); partial runs are refused without "
        "--allow-partial"),
}


@pytest.mark.parametrize("case", list(RULES))
def test_each_rule_refuses_with_exit_7_naming_rule_and_check(
    here: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    rules, data, message = RULES[case]
    verdict(data())
    policy(f"[policy.production]\n{rules}\n")

    code, shown = gate(capsys)
    assert code == 7
    assert shown.startswith(message)


def test_a_verdict_that_meets_every_rule_passes(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    verdict(statement())
    policy('[policy.production]\nrequired_checks = ["tests/deploy/test_smoke.py::*", '
           '"deployable::version", "tests/deploy/test_smoke.py::test_login[alice]"]\n'
           'min_checks = 4\nallow_warnings = false\nallow_partial = false\nmax_age = "30m"\n')

    code, message = gate(capsys)

    assert code == 0
    assert message.startswith("DEPLOYABLE — shop-api 1.4.2 on production")


def test_glob_brackets_are_literal_so_a_parametrized_id_matches_itself(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    verdict(statement())
    policy('[policy.production]\nrequired_checks = ["*::test_login[a]"]\n')

    assert gate(capsys)[0] == 7  # fnmatch would read [a] as a class and match test_logina


def test_a_failing_verdict_keeps_its_own_exit_code(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    verdict(statement([*PASSING, check("test_pay", Outcome.FAILED)], complete=False))
    policy("[policy.production]\nmin_checks = 50\n")

    assert gate(capsys)[0] == 1


# -- partial runs: one decision -----------------------------------------------------------


def test_allow_partial_comes_from_the_flag_unless_the_policy_says(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    verdict(statement(complete=False))
    policy("[policy.production]\nmin_checks = 1\n")
    assert gate(capsys, "--allow-partial")[0] == 0

    policy("[policy.production]\nallow_partial = true\n")
    assert gate(capsys)[0] == 0

    policy("[policy.production]\nallow_partial = false\n")
    assert gate(capsys, "--allow-partial") == (7, (
        "v.json: policy production: allow_partial: the run was partial (selection.complete is "
        "not true); policy production: allow_partial = false (--allow-partial cannot overrule "
        "it)"))


def test_partial_allowed_is_one_decision() -> None:
    path = Path("p.toml")
    assert partial_allowed(True, None)[0] is True
    assert partial_allowed(False, None)[0] is False
    from pytest_deployable.policy import Policy

    assert partial_allowed(True, Policy("production", path, allow_partial=False))[0] is False
    assert partial_allowed(False, Policy("production", path, allow_partial=True))[0] is True


# -- which rules apply --------------------------------------------------------------------


def test_the_star_table_applies_to_every_target_and_a_target_table_adds_to_it(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    verdict(statement())
    policy('[policy."*"]\nmin_checks = 9\n')
    assert gate(capsys) == (7, 'v.json: policy "*": min_checks: 4 checks passed, fewer than '
                               "min_checks = 9")

    # The target's table takes "*"'s rules it does not set: min_checks still holds.
    policy('[policy."*"]\nmin_checks = 9\n[policy.production]\nallow_warnings = false\n')
    assert gate(capsys)[0] == 7
    policy('[policy."*"]\nmin_checks = 9\n[policy.production]\nmin_checks = 2\n')
    assert gate(capsys)[0] == 0
    policy('[policy.staging]\nmin_checks = 9\n')
    assert gate(capsys)[0] == 0


def test_without_target_the_policy_is_the_verdicts_own_targets(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    verdict(statement())
    policy("[policy.production]\nmin_checks = 9\n")

    assert run(capsys, "gate", "v.json")[0] == 7


def test_policy_option_and_the_default_file(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    verdict(statement())
    policy("[policy.production]\nmin_checks = 9\n", "strict.toml")
    assert gate(capsys)[0] == 0  # no deploy-policy.toml here: no policy
    assert gate(capsys, "--policy", "strict.toml")[0] == 7
    _, out, _ = run(capsys, "gate", "v.json", "--policy", "strict.toml", "--format", "json")
    assert json.loads(out)["policy"] == "policy production"


def test_a_policy_that_requires_a_signature(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    Path("keys").mkdir()
    make_keys(here / "keys")
    data = statement()
    policy('[policy.production]\nrequire_signature = true\ntrusted_keys = ["keys/ci.pub"]\n',
           "policy/deploy.toml" if Path("policy").mkdir() is None else "")
    Path("policy/keys").mkdir()
    Path("policy/keys/ci.pub").write_bytes(Path("keys/ci.pub").read_bytes())

    verdict(data)
    assert gate(capsys, "--policy", "policy/deploy.toml") == (8, (
        "v.json: signature required by policy production: require_signature: not signed: the "
        "file is a bare statement"))

    envelope = seal(data, load_private_key(Path("keys/ci.key")), dump(data))
    Path("v.json").write_text(json.dumps(envelope))
    code, message = gate(capsys, "--policy", "policy/deploy.toml")
    assert code == 0  # trusted_keys are relative to the policy file
    assert "; signed by " in message

    policy("[policy.production]\nrequire_signature = true\n", "policy/deploy.toml")
    assert gate(capsys, "--policy", "policy/deploy.toml") == (8, (
        "v.json: signature required by policy production: require_signature, but no trusted "
        "key is given (trusted_keys or --key)"))


# -- the file itself ----------------------------------------------------------------------

BAD_POLICIES = {
    "unknown rule": ("[policy.production]\nrequire_signatures = true\n",
                     "policy.production.require_signatures: unknown rule; the rules are "
                     "require_signature, trusted_keys"),
    "wrong type": ("[policy.production]\nmin_checks = \"5\"\n",
                   "policy.production.min_checks must be a whole number, not \"5\""),
    "bad duration": ("[policy.production]\nmax_age = \"soon\"\n",
                     "policy.production.max_age must be a duration"),
    "duplicate key": ("[policy.production]\nmin_checks = 1\nmin_checks = 2\n", "not valid TOML"),
    "no tables": ("title = 'x'\n", "unknown top-level key 'title'"),
    "empty": ("", "no [policy.TARGET] table"),
    "not a table": ("policy = 3\n", "no [policy.TARGET] table"),
}


@pytest.mark.parametrize("case", list(BAD_POLICIES))
def test_a_bad_policy_file_is_a_usage_error_naming_file_and_key(
    here: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    text, message = BAD_POLICIES[case]
    verdict(statement())
    policy(text)

    code, out, err = run(capsys, "gate", "v.json")

    assert (code, out) == (2, "")
    assert err.startswith("deployable gate: deploy-policy.toml: ")
    assert message in err
    assert len(err.splitlines()) == 1
    with pytest.raises(PolicyError):
        load_policy(Path("deploy-policy.toml"))


def test_a_missing_policy_file_given_by_option_is_a_usage_error(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    verdict(statement())

    assert run(capsys, "gate", "v.json", "--policy", "nope.toml") == (
        2, "", "deployable gate: nope.toml: policy file not found\n")


def test_trusted_keys_refute_a_foreign_signature_even_when_not_required(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_keys(here, "ci")
    intruder = make_keys(here, "intruder")
    data = statement()
    Path("v.json").write_text(json.dumps(seal(data, intruder, dump(data))))
    policy('[policy.production]\ntrusted_keys = ["ci.pub"]\n')

    code, message = gate(capsys)

    assert code == 8
    assert message == (f"v.json: signature: signed by {intruder.keyid}, which is not a trusted "
                       f"key (trusted: {load_private_key(Path('ci.key')).keyid})")
