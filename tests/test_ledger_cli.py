"""The ledger's commands on SQLite and on a real PostgreSQL: record, can-i-deploy, history.

Each test runs ``deployable`` as a user would (its ``main``, in this process) in a
project folder with a targets file, and reads back exit codes and the lines printed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from _ledger import envelope, make_statement, write

from pytest_deployable.cli import main

TARGETS = """\
[targets.staging]
base_url = "https://staging.shop.example"

[targets.qa]
base_url = "https://qa.shop.example"

[targets.production]
base_url = "https://shop.example"
promote_from = ["staging"]
promote_max_age = "7d"

[targets.live]
base_url = "https://live.shop.example"
promote_from = ["staging", "qa"]
"""

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty ledger: a SQLite file, or a new database on the test cluster."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    postgres = request.getfixturevalue("postgres")
    url: str = postgres.url(postgres.create_database())
    return url


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder with a targets file, as the current directory."""
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "deploy-targets.toml").write_text(TARGETS)
    monkeypatch.chdir(folder)
    monkeypatch.delenv("DEPLOYABLE_LEDGER", raising=False)
    return folder


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], ledger_url: str, project: Path) -> Run:
    """Run ``deployable ARGS --ledger URL``: its exit code, stdout and stderr."""

    def call(*args: str, ledger: str | None = ledger_url) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main([*args, *(["--ledger", ledger] if ledger else [])])
        out, err = capsys.readouterr()
        return code, out, err

    return call


def record(run: Run, project: Path, name: str, document: dict[str, Any]) -> tuple[int, str]:
    code, out, err = run("record", str(write(project / name, document)))
    assert code == 0, err
    return code, out


def test_recording_the_same_statement_twice_stores_it_once(run: Run, project: Path) -> None:
    statement = make_statement("staging", "1.4.2")
    first = write(project / "a.json", statement)
    again = write(project / "b.json", json.loads(first.read_text()))
    code, out, _ = run("record", str(first), str(again))
    assert code == 0
    assert "recorded 2 verdicts" in out
    assert "1 new, 1 already known" in out
    code, out, _ = run("record", str(first), "--format", "json")
    result = json.loads(out)
    assert (result["new"], result["known"]) == (0, 1)
    code, out, _ = run("history", "--format", "json")
    verdicts = [e for e in json.loads(out)["entries"] if e["kind"] == "verdict"]
    assert len(verdicts) == 1
    assert verdicts[0]["complete"] is True


def test_an_envelope_of_a_recorded_statement_adds_its_signature(run: Run, project: Path) -> None:
    statement = make_statement("staging", "1.4.2")
    record(run, project, "bare.json", statement)
    _, out, _ = run("record", str(write(project / "signed.json", envelope(statement))),
                    "--format", "json")
    assert json.loads(out)["known"] == 1
    _, out, _ = run("history", "--format", "json")
    [entry] = json.loads(out)["entries"]
    assert entry["signed"] is True
    assert entry["keyids"] == ["ab" * 32]


@pytest.mark.parametrize(("document", "why"), [
    (b'{"_type": "https://in-toto.io/Statement/v1", "_type": "x"}', "appears twice"),
    (b"", "empty"),
    (b'{"payloadType": "application/vnd.in-toto+json", "payload": "%%%", "signatures": []}',
     "not base64"),
    (b'{"payloadType": "text/plain", "payload": "", "signatures": []}', "payloadType"),
])
def test_a_file_that_is_not_a_verdict_records_nothing(run: Run, project: Path, document: bytes,
                                                      why: str) -> None:
    good = write(project / "good.json", make_statement("staging", "1.4.2"))
    (project / "bad.json").write_bytes(document)
    code, _, err = run("record", str(good), str(project / "bad.json"))
    assert code == 3
    assert why in err
    assert "nothing was recorded" in err
    assert "Traceback" not in err
    code, _, err = run("history")  # the ledger was not even created
    assert code == 3
    assert "nothing was recorded there yet" in err


def test_a_forged_pass_is_refused(run: Run, project: Path) -> None:
    statement = make_statement("staging", "1.4.2", "NOT_DEPLOYABLE")
    statement["predicate"]["deployability"]["verdict"] = "DEPLOYABLE"
    statement["predicate"]["result"] = "PASSED"
    code, _, err = run("record", str(write(project / "forged.json", statement)))
    assert code == 3
    assert "inconsistent verdict file" in err


def test_a_verdict_from_the_future_is_refused(run: Run, project: Path) -> None:
    later = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=2)
    code, _, err = run("record", str(write(
        project / "future.json", make_statement("staging", "1.4.2", finished=later))))
    assert code == 3
    assert "in the future" in err


def test_no_verdict_means_unknown_not_yes(run: Run, project: Path) -> None:
    record(run, project, "other.json", make_statement("staging", "1.4.1"))
    record(run, project, "elsewhere.json", make_statement("qa", "1.4.2"))
    code, out, _ = run("can-i-deploy", "--version", "1.4.2", "--to", "production")
    assert code == 6
    assert out.splitlines()[0] == "unknown: 1.4.2 may not yet go to production"
    assert "staging: unknown: no verdict for 1.4.2 recorded on staging" in out


def test_a_complete_passing_verdict_says_yes_and_names_it(run: Run, project: Path) -> None:
    record(run, project, "good.json", make_statement("staging", "1.4.2"))
    code, out, _ = run("can-i-deploy", "--version", "1.4.2", "--to", "production", "--format",
                       "json")
    answer = json.loads(out)
    assert code == 0
    assert (answer["answer"], answer["deployable"]) == ("yes", True)
    [requirement] = answer["requirements"]
    assert requirement["target"] == "staging"
    assert requirement["verdict"]["verdict"] == "DEPLOYABLE"
    assert answer["reasons"][0].startswith("staging: yes: DEPLOYABLE, complete (verdict #")


def test_a_later_failing_verdict_revokes_an_earlier_pass(run: Run, project: Path) -> None:
    now = datetime.now(timezone.utc).replace(microsecond=0)
    record(run, project, "pass.json",
           make_statement("staging", "1.4.2", finished=now - timedelta(hours=1)))
    record(run, project, "fail.json", make_statement("staging", "1.4.2", "NOT_DEPLOYABLE",
                                                     finished=now - timedelta(minutes=5)))
    # Recording an older pass afterwards does not bring it back: runs are ordered by time.
    record(run, project, "old.json",
           make_statement("staging", "1.4.2", finished=now - timedelta(hours=2)))
    code, out, _ = run("can-i-deploy", "--version", "1.4.2", "--to", "production")
    assert code == 1
    assert "the latest verdict is NOT_DEPLOYABLE" in out


def test_of_two_verdicts_at_the_same_instant_the_worse_decides(run: Run, project: Path) -> None:
    now = datetime.now(timezone.utc).replace(microsecond=0)
    record(run, project, "fail.json",
           make_statement("staging", "1.4.2", "NOT_DEPLOYABLE", finished=now))
    record(run, project, "pass.json", make_statement("staging", "1.4.2", finished=now))
    assert run("can-i-deploy", "--version", "1.4.2", "--to", "production")[0] == 1


@pytest.mark.parametrize(("verdict", "complete", "extra", "code", "says"), [
    ("DEPLOYABLE", False, [], 1, "partial run"),
    ("DEPLOYABLE", None, [], 1, "partial run"),  # written before selection was recorded
    ("INCONCLUSIVE", True, [], 1, "INCONCLUSIVE"),
    ("DEPLOYABLE_WITH_WARNINGS", True, [], 0, "DEPLOYABLE_WITH_WARNINGS, complete"),
    ("DEPLOYABLE_WITH_WARNINGS", True, ["--strict"], 1, "not allowed with --strict"),
])
def test_what_the_latest_verdict_says(run: Run, project: Path, verdict: str,
                                      complete: bool | None, extra: list[str], code: int,
                                      says: str) -> None:
    record(run, project, "v.json", make_statement("staging", "1.4.2", verdict, complete=complete))
    found, out, _ = run("can-i-deploy", "--version", "1.4.2", "--to", "production", *extra)
    assert found == code
    assert says in out


def test_a_verdict_older_than_promote_max_age_is_not_evidence(run: Run, project: Path) -> None:
    old = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(days=8)
    record(run, project, "old.json", make_statement("staging", "1.4.2", finished=old))
    code, out, _ = run("can-i-deploy", "--version", "1.4.2", "--to", "production")
    assert code == 6
    assert "older than promote_max_age 7d" in out
    # live has no promote_max_age: the same verdict is still evidence there, for staging.
    record(run, project, "qa.json", make_statement("qa", "1.4.2"))
    assert run("can-i-deploy", "--version", "1.4.2", "--to", "live")[0] == 0


def test_every_target_of_promote_from_is_needed(run: Run, project: Path) -> None:
    record(run, project, "staging.json", make_statement("staging", "1.4.2"))
    code, out, _ = run("can-i-deploy", "--version", "1.4.2", "--to", "live")
    assert code == 6
    assert "staging: yes" in out
    assert "qa: unknown" in out
    record(run, project, "qa.json", make_statement("qa", "1.4.2", "NOT_DEPLOYABLE"))
    assert run("can-i-deploy", "--version", "1.4.2", "--to", "live")[0] == 1


def test_a_required_signature_is_never_taken_on_trust(run: Run, project: Path) -> None:
    (project / "deploy-policy.toml").write_text(
        '[policy.production]\nrequire_signature = true\n')
    statement = make_statement("staging", "1.4.2")
    record(run, project, "signed.json", envelope(statement))
    code, out, _ = run("can-i-deploy", "--version", "1.4.2", "--to", "production")
    assert code == 1
    assert "signature verification is not available" in out
    # Another target without the requirement answers as usual.
    (project / "deploy-policy.toml").write_text('[policy.live]\nrequire_signature = true\n')
    assert run("can-i-deploy", "--version", "1.4.2", "--to", "production")[0] == 0


def test_a_required_signature_is_verified_with_the_policys_trusted_keys(
        run: Run, project: Path) -> None:
    from _signing import make_keys

    from pytest_deployable.envelope import seal

    trusted = make_keys(project / "keys", "ci")
    other = make_keys(project / "keys", "other")
    (project / "deploy-policy.toml").write_text(
        '[policy.production]\nrequire_signature = true\ntrusted_keys = ["keys/ci.pub"]\n')
    # Signed by a key the policy does not trust, and a fake signature: both "no".
    record(run, project, "other.json", seal(make_statement("staging", "1.4.2"), other))
    code, out, _ = run("can-i-deploy", "--version", "1.4.2", "--to", "production")
    assert code == 1
    assert "the signature is invalid or made by no trusted key" in out
    record(run, project, "fake.json", envelope(make_statement("staging", "1.4.3")))
    code, out, _ = run("can-i-deploy", "--version", "1.4.3", "--to", "production")
    assert code == 1
    assert "the signature is invalid or made by no trusted key" in out
    # Signed by the trusted key: yes.
    record(run, project, "good.json", seal(make_statement("staging", "1.4.4"), trusted))
    code, out, _ = run("can-i-deploy", "--version", "1.4.4", "--to", "production")
    assert code == 0, out
    # A trusted key file that cannot be read is a usage error, never "no keys".
    (project / "keys" / "ci.pub").unlink()
    code, _, err = run("can-i-deploy", "--version", "1.4.4", "--to", "production")
    assert code == 2
    assert "trusted_keys" in err


def test_retry_while_unknown_says_that_it_waits(run: Run, project: Path) -> None:
    record(run, project, "other.json", make_statement("staging", "1.4.1"))
    code, out, err = run("can-i-deploy", "--version", "1.4.2", "--to", "production",
                         "--retry-while-unknown", "2", "--retry-interval", "0.01s",
                         "--format", "json")
    assert code == 6
    waits = [line for line in err.splitlines() if "asking again in" in line]
    assert len(waits) == 2
    assert "(attempt 2 of 3)" in waits[0]
    assert "no verdict for 1.4.2 recorded on staging" in waits[0]
    assert json.loads(out)["attempts"] == 3


def test_no_retry_when_the_answer_is_no(run: Run, project: Path) -> None:
    record(run, project, "fail.json", make_statement("staging", "1.4.2", "NOT_DEPLOYABLE"))
    code, _, err = run("can-i-deploy", "--version", "1.4.2", "--to", "production",
                       "--retry-while-unknown", "5", "--retry-interval", "1h")
    assert code == 1
    assert "asking again" not in err


@pytest.mark.parametrize(("args", "says"), [
    (["--to", "staging"], "has no promote_from"),
    (["--to", "prod"], "known targets: live, production, qa, staging"),
    (["--to", "production", "--retry-interval", "soon"], "invalid duration"),
])
def test_can_i_deploy_usage_errors(run: Run, project: Path, args: list[str], says: str) -> None:
    record(run, project, "good.json", make_statement("staging", "1.4.2"))
    code, out, err = run("can-i-deploy", "--version", "1.4.2", *args)
    assert code == 2
    assert says in err
    assert out == ""


def test_deployments_are_idempotent_by_id_and_remediate(run: Run, project: Path) -> None:
    code, out, _ = run("record-deployment", "--target", "production", "--version", "1.4.2",
                       "--id", "pipeline-81", "--commit", "abc123",
                       "--commit-time", "2026-01-01T10:00:00Z", "--time", "2026-01-01T12:00:00Z")
    assert (code, out.strip()) == (0, "pipeline-81")
    code, out, err = run("record-deployment", "--target", "production", "--version", "1.4.2",
                         "--id", "pipeline-81", "--commit", "abc123")
    assert (code, out.strip()) == (0, "pipeline-81")
    assert "recorded before" in err
    code, _, err = run("record-deployment", "--target", "production", "--version", "1.5.0",
                       "--id", "pipeline-81")
    assert code == 2
    assert "already the deployment of '1.4.2'" in err
    code, out, _ = run("record-deployment", "--target", "production", "--version", "1.4.1",
                       "--remediates", "pipeline-81", "--time", "2026-01-01T12:30:00+01:00",
                       "--format", "json")
    fix = json.loads(out)
    assert (code, fix["remediates"], fix["deployedAt"]) == (0, "pipeline-81",
                                                            "2026-01-01T11:30:00Z")
    code, _, err = run("record-deployment", "--target", "production", "--version", "1.4.1",
                       "--remediates", "no-such-id")
    assert code == 2
    assert "no deployment with that id" in err
    code, out, _ = run("history", "--target", "production", "--format", "json")
    entries = json.loads(out)["entries"]
    assert [e["id"] for e in entries] == ["pipeline-81", fix["id"]]
    assert entries[0]["commitTime"] == "2026-01-01T10:00:00Z"


def test_a_time_without_a_zone_is_a_usage_error(run: Run) -> None:
    code, _, err = run("record-deployment", "--target", "production", "--version", "1.4.2",
                       "--time", "2026-01-01T12:00:00")
    assert code == 2
    assert "give its zone" in err


def test_history_is_newest_first_and_filters(run: Run, project: Path) -> None:
    now = datetime.now(timezone.utc).replace(microsecond=0)
    for hours, version in ((3, "1.0"), (2, "1.1"), (1, "1.2")):
        record(run, project, f"{version}.json",
               make_statement("staging", version, finished=now - timedelta(hours=hours)))
    run("record-deployment", "--target", "production", "--version", "1.1",
        "--time", (now - timedelta(minutes=90)).isoformat())
    _, out, _ = run("history", "--limit", "3")
    lines = out.splitlines()
    assert len(lines) == 3
    assert "verdict     staging  1.2  DEPLOYABLE (complete)" in lines[0]
    assert "deployment  production  1.1  succeeded" in lines[1]
    assert "staging  1.1" in lines[2]
    _, out, _ = run("history", "--version", "1.0", "--format", "json")
    assert [e["version"] for e in json.loads(out)["entries"]] == ["1.0"]
    code, _, err = run("history", "--limit", "0")
    assert code == 2
    assert "expected a whole number of 1 or more" in err


def test_reading_an_empty_ledger_is_an_error_not_an_answer(run: Run, project: Path) -> None:
    code, out, err = run("can-i-deploy", "--version", "1.4.2", "--to", "production")
    assert code == 3
    assert out == ""
    assert len(err.splitlines()) == 1
    assert "nothing was recorded there yet" in err


def test_retry_while_unknown_waits_until_a_verdict_arrives(run: Run, project: Path,
                                                           ledger_url: str) -> None:
    record(run, project, "other.json", make_statement("staging", "1.4.1"))
    asking = subprocess.Popen(
        [sys.executable, "-m", "pytest_deployable", "can-i-deploy", "--version", "1.4.2",
         "--to", "production", "--retry-while-unknown", "1000", "--retry-interval", "0.05s",
         "--ledger", ledger_url], cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
        assert asking.stderr is not None
        first = asking.stderr.readline()  # it says that it waits before the verdict exists
        assert "unknown (staging: no verdict for 1.4.2 recorded on staging); asking again" in first
        record(run, project, "good.json", make_statement("staging", "1.4.2"))
        out, err = asking.communicate(timeout=120)
    finally:
        if asking.poll() is None:
            asking.kill()
            asking.wait()
    assert asking.returncode == 0, err
    assert out.startswith("yes: 1.4.2 may go to production")


def test_ids_and_versions_too_long_for_the_ledger_are_usage_errors(run: Run) -> None:
    code, _, err = run("record-deployment", "--target", "production", "--version", "1" * 501)
    assert code == 2
    assert "expected 1 to 500 characters" in err


def test_subject_keeps_another_applications_pass_out(run: Run, project: Path) -> None:
    other = make_statement("staging", "1.4.2")
    other["subject"][0]["name"] = "billing-api"
    record(run, project, "billing.json", other)
    assert run("can-i-deploy", "--version", "1.4.2", "--to", "production")[0] == 0
    code, out, _ = run("can-i-deploy", "--version", "1.4.2", "--to", "production",
                       "--subject-name", "shop-api")
    assert code == 6
    assert "no verdict for 1.4.2 recorded on staging" in out


def test_each_check_is_a_row_with_its_waits_reruns_and_message(
        run: Run, project: Path, ledger_url: str) -> None:
    from pytest_deployable.attestation import RunInfo, to_statement
    from pytest_deployable.ledger.store import Ledger
    from pytest_deployable.ledger.urls import parse_url
    from pytest_deployable.targets import Target
    from pytest_deployable.verdict import CheckResult, Outcome
    from pytest_deployable.verdict import decide as decide_verdict

    end = datetime.now(timezone.utc).replace(microsecond=0)
    checks = [
        CheckResult("tests/deploy/test_a.py::test_up", "smoke", True, Outcome.PASSED,
                    attempts=3, duration_ms=900, reruns=1,
                    waits=(("GET /health", 4, 1200), ("GET /ready", 2, 300))),
        CheckResult("tests/deploy/test_a.py::test_fast", "post_deploy", False, Outcome.FAILED,
                    duration_ms=80, message="p95 latency 412 ms > 200 ms", host="web1"),
    ]
    statement = to_statement(decide_verdict(checks), RunInfo(
        "shop-api", Target("staging", "https://s.example"), end - timedelta(seconds=9), end,
        "1.4.2"))
    statement["predicate"]["deployability"]["selection"] = make_statement(
        "staging", "1.4.2")["predicate"]["deployability"]["selection"]
    record(run, project, "v.json", statement)
    ledger = Ledger.open(parse_url(ledger_url, "test", base=project), write=False)
    try:
        [row] = ledger.history()
        rows = ledger.check_rows([row.id])[row.id]  # type: ignore[union-attr]
    finally:
        ledger.close()
    picked = [(r["check_id"], r["category"], r["blocking"], r["outcome"], r["attempts"],
               r["reruns"], r["waited_ms"], r["duration_ms"], r["host"], r["message"])
              for r in rows]
    assert picked == [
        ("tests/deploy/test_a.py::test_up", "smoke", True, "passed", 3, 1, 1500, 900, None,
         None),
        ("tests/deploy/test_a.py::test_fast", "post_deploy", False, "failed", 1, 0, 0, 80,
         "web1", "p95 latency 412 ms > 200 ms"),
    ]
    statement["predicate"]["deployability"]["checks"][0]["waits"] = [{"waitedMs": "long"}]
    code, _, err = run("record", str(write(project / "bad.json", statement)))
    assert code == 3
    assert "checks[0].waits must be an array" in err
