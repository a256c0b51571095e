"""``deployable gate --emit-vsa``: the decision as a SLSA VSA v1, read back against the spec."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from _signing import make_keys, payload_of, run, sslib_public
from conftest import require

from pytest_deployable.attestation import RunInfo, to_statement, write_atomic
from pytest_deployable.envelope import seal
from pytest_deployable.keys import load_private_key
from pytest_deployable.targets import Target
from pytest_deployable.verdict import CheckResult, Outcome, decide

#: The predicate's fields in https://slsa.dev/spec/v1.0/verification_summary, and
#: whether the spec requires them.
VSA_FIELDS = {
    "verifier": True, "timeVerified": False, "resourceUri": True, "policy": True,
    "inputAttestations": False, "verificationResult": True, "verifiedLevels": True,
    "dependencyLevels": False, "slsaVersion": False,
}
#: Our one extension field, ignored by consumers that do not know it.
EXTENSION = "deployable"
DIGEST = "ab" * 32


def statement(outcome: Outcome = Outcome.PASSED) -> dict[str, Any]:
    checks = [CheckResult("tests/deploy/test_smoke.py::test_health", "smoke", True, outcome)]
    finished = datetime.now(timezone.utc) - timedelta(seconds=20)
    info = RunInfo("shop-api", Target("production", "https://shop.example"),
                   finished - timedelta(seconds=20), finished, "1.4.2", "0" * 40,
                   artifacts=({"name": "registry.example/shop", "digest": {"sha256": DIGEST}},))
    data = to_statement(decide(checks), info)
    # The record of SPEC §10, in full, as the run writes it.
    data["predicate"]["deployability"]["selection"] = {
        "complete": True, "deselected": [], "skippedAtCollection": [], "keyword": None,
        "markers": None, "lastFailed": False, "args": []}
    return data


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    make_keys(tmp_path, "ci")
    make_keys(tmp_path, "gate")
    Path("deploy-policy.toml").write_text("[policy.production]\nrequire_signature = true\n"
                                          'trusted_keys = ["ci.pub"]\n')
    return tmp_path


def signed_verdict(outcome: Outcome = Outcome.PASSED) -> None:
    data = statement(outcome)
    write_atomic(Path("v.json"), json.dumps(seal(data, load_private_key(Path("ci.key")))))


def sha256(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_the_vsa_has_the_spec_fields_and_says_passed(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    signed_verdict()

    code, _, err = run(capsys, "gate", "v.json", "--target", "production", "--subject",
                       f"sha256:{DIGEST}", "--emit-vsa", "vsa.json")

    assert (code, err) == (0, "")
    vsa = json.loads(Path("vsa.json").read_text())
    assert vsa["_type"] == "https://in-toto.io/Statement/v1"
    assert vsa["predicateType"] == "https://slsa.dev/verification_summary/v1"
    predicate = vsa["predicate"]
    assert set(predicate) - set(VSA_FIELDS) == {EXTENSION}
    assert [name for name, required in VSA_FIELDS.items()
            if required and name not in predicate] == []
    assert predicate["verifier"]["id"].startswith("https://")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", predicate["timeVerified"])
    assert predicate["resourceUri"] == f"registry.example/shop@sha256:{DIGEST}"
    assert predicate["policy"] == {"uri": "deploy-policy.toml",
                                   "digest": {"sha256": sha256("deploy-policy.toml")}}
    assert predicate["inputAttestations"] == [{"uri": "v.json",
                                               "digest": {"sha256": sha256("v.json")}}]
    assert predicate["verificationResult"] == "PASSED"
    assert predicate["verifiedLevels"] == ["DEPLOYABLE"]
    assert not any(level.startswith("SLSA_") for level in predicate["verifiedLevels"])
    # The artifact the gate was asked about is the first subject, with its digest.
    assert vsa["subject"][0] == {"name": "registry.example/shop", "digest": {"sha256": DIGEST}}
    assert all(subject["digest"] for subject in vsa["subject"])
    assert predicate[EXTENSION]["exitCode"] == 0
    assert predicate[EXTENSION]["verdictSignedBy"] == load_private_key(Path("ci.key")).keyid


@pytest.mark.parametrize(("outcome", "tamper", "code"), [
    (Outcome.FAILED, False, 1),
    (Outcome.PASSED, True, 8),
])
def test_a_refusal_is_a_failed_vsa(
    here: Path, capsys: pytest.CaptureFixture[str], outcome: Outcome, tamper: bool, code: int
) -> None:
    signed_verdict()
    run(capsys, "gate", "v.json", "--emit-vsa", "vsa.json")
    assert json.loads(Path("vsa.json").read_text())["predicate"]["verificationResult"] == "PASSED"
    signed_verdict(outcome)
    if tamper:
        envelope = json.loads(Path("v.json").read_text())
        envelope["signatures"] = []
        Path("v.json").write_text(json.dumps(envelope))

    assert run(capsys, "gate", "v.json", "--emit-vsa", "vsa.json")[0] == code

    predicate = json.loads(Path("vsa.json").read_text())["predicate"]
    assert predicate["verificationResult"] == "FAILED"
    assert predicate["verifiedLevels"] == ["FAILED"]
    assert predicate[EXTENSION]["exitCode"] == code


def test_an_unreadable_verdict_still_gets_a_failed_vsa(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Path("v.json").write_text("{")

    assert run(capsys, "gate", "v.json", "--subject", f"sha256:{DIGEST}",
               "--emit-vsa", "vsa.json")[0] == 3

    vsa = json.loads(Path("vsa.json").read_text())
    assert vsa["predicate"]["verificationResult"] == "FAILED"
    assert vsa["subject"] == [{"name": "artifact", "digest": {"sha256": DIGEST}}]


def test_the_vsa_is_signed_when_a_key_is_given_and_verifies_independently(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    signed_verdict()

    code, _, _ = run(capsys, "gate", "v.json", "--emit-vsa", "vsa.json", "--sign-key", "gate.key")

    assert code == 0
    envelope = json.loads(Path("vsa.json").read_text())
    require("securesystemslib")
    from securesystemslib.dsse import Envelope

    Envelope.from_dict(dict(envelope)).verify([sslib_public(here / "gate.pub")], 1)
    assert payload_of(envelope)["predicate"]["verificationResult"] == "PASSED"
    # show reads verdicts only: a VSA is a signed statement, but not a verdict.
    code, _, err = run(capsys, "show", "vsa.json", "--key", "gate.pub")
    assert code == 3
    assert "predicateType must be" in err


def test_a_usage_error_removes_an_older_vsa(here: Path, capsys: pytest.CaptureFixture[str]) -> None:
    signed_verdict()
    run(capsys, "gate", "v.json", "--emit-vsa", "vsa.json")
    assert Path("vsa.json").exists()

    Path("junk.key").write_text("junk")
    Path("junk.key").chmod(0o600)

    code, _, err = run(capsys, "gate", "v.json", "--emit-vsa", "vsa.json", "--sign-key",
                       "junk.key")

    assert code == 2
    assert err == "deployable gate: junk.key: not a PEM private key\n"
    assert not Path("vsa.json").exists()


def test_sign_key_without_emit_vsa_is_a_usage_error(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    signed_verdict()

    assert run(capsys, "gate", "v.json", "--sign-key", "gate.key") == (
        2, "", "deployable gate: --sign-key signs the VSA: give --emit-vsa FILE too\n")


def test_a_vsa_that_cannot_be_written_is_exit_2(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    signed_verdict()
    Path("out").mkdir()
    Path("out/vsa.json").mkdir()  # a directory where the file should go: cannot write

    code, _, err = run(capsys, "gate", "v.json", "--emit-vsa", "out/vsa.json")

    assert code == 2
    assert err.startswith("deployable gate: --emit-vsa out/vsa.json: cannot write: ")
