"""Signed verdicts: keys, DSSE envelopes, interoperability and tampering, through ``deployable``.

The independent DSSE implementation is securesystemslib (its ``Envelope`` and
its own ``CryptoSigner``); our envelopes are written with ``cryptography`` and a
PAE written from the DSSE spec, so each side checks the other.
"""

from __future__ import annotations

import base64
import json
import os
import stat
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from _signing import b64, make_keys, payload_of, run, spki_keyid, sslib_public, sslib_signer
from conftest import require

from pytest_deployable.attestation import RunInfo, dump, to_statement, write_atomic
from pytest_deployable.envelope import PAYLOAD_TYPE, pae, read_document, seal
from pytest_deployable.gate import VerdictFileError
from pytest_deployable.keys import KeyFileError, load_private_key, load_public_key
from pytest_deployable.selection import Selection
from pytest_deployable.targets import Target
from pytest_deployable.verdict import CheckResult, Outcome, RunFacts, decide

STAGING = Target("staging", "https://staging.shop.example")
PASSING = [CheckResult(f"tests/deploy/test_smoke.py::{name}", "smoke", True, Outcome.PASSED)
           for name in ("test_health", "test_catalog")]
BROKEN = [*PASSING, CheckResult("tests/deploy/test_smoke.py::test_login", "smoke", True,
                                Outcome.FAILED)]


def statement(checks: list[CheckResult] = PASSING) -> dict[str, Any]:
    finished = datetime.now(timezone.utc) - timedelta(seconds=30)
    info = RunInfo("shop-api", STAGING, finished - timedelta(seconds=30), finished, "1.4.2",
                   "0123456789abcdef0123456789abcdef01234567")
    return to_statement(decide(checks, RunFacts(selection=Selection())), info)


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def signed_file(path: Path, key_file: Path, checks: list[CheckResult] = PASSING) -> Path:
    data = statement(checks)
    write_atomic(path, json.dumps(seal(data, load_private_key(key_file), dump(data))))
    return path


# -- PAE and keys -------------------------------------------------------------------------


def test_pae_is_the_dsse_spec_encoding() -> None:
    # The worked example of the DSSE v1 protocol document.
    assert pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )


@pytest.mark.parametrize("algorithm", ["ed25519", "ecdsa-p256"])
def test_keygen_writes_a_secret_key_and_a_public_key(
    here: Path, capsys: pytest.CaptureFixture[str], algorithm: str
) -> None:
    require("cryptography")
    code, out, err = run(capsys, "keygen", "keys/ci", "--algorithm", algorithm)

    assert (code, err) == (0, "")
    assert stat.S_IMODE(os.stat("keys/ci.key").st_mode) == 0o600
    assert stat.S_IMODE(os.stat("keys/ci.pub").st_mode) == 0o644
    from cryptography.hazmat.primitives import serialization

    public = serialization.load_pem_public_key(Path("keys/ci.pub").read_bytes())
    assert out == (f"deployable keygen: wrote keys/ci.key (secret, mode 0600) and keys/ci.pub; "
                   f"keyid {spki_keyid(public)}\n")
    assert Path("keys/ci.key").read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert load_public_key(Path("keys/ci.pub")).keyid == spki_keyid(public)

    code, _, err = run(capsys, "keygen", "keys/ci")
    assert code == 2
    assert err == "deployable keygen: keys/ci.key: already exists; not overwritten (use --force)\n"


def test_a_private_key_open_to_others_is_refused_in_one_line(here: Path) -> None:
    make_keys(here)
    os.chmod("ci.key", 0o640)
    with pytest.raises(KeyFileError) as caught:
        load_private_key(Path("ci.key"))
    assert str(caught.value) == (
        "ci.key: the private key is open to group or others (mode 0640); run chmod 600 ci.key"
    )


def test_keys_that_are_not_accepted(here: Path) -> None:
    require("cryptography")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    def write_private(name: str, key: Any, password: bytes | None = None) -> Path:
        encryption = (serialization.BestAvailableEncryption(password) if password
                      else serialization.NoEncryption())
        path = here / name
        path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8, encryption))
        os.chmod(path, 0o600)
        return path

    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    p384 = ec.generate_private_key(ec.SECP384R1())
    cases = {
        write_private("rsa.key", rsa_key): "unsupported key type; use Ed25519 or ECDSA P-256",
        write_private("p384.key", p384): "unsupported key type; use Ed25519 or ECDSA P-256",
        write_private("locked.key", p384, b"pw"): "the private key is encrypted",
    }
    for path, message in cases.items():
        with pytest.raises(KeyFileError, match=message):
            load_private_key(path)
    make_keys(here)
    with pytest.raises(KeyFileError, match="this is a private key; give the public key"):
        load_public_key(Path("ci.key"))
    os.chmod("ci.pub", 0o600)
    with pytest.raises(KeyFileError, match=r"not a PEM private key \(this is a public key\)"):
        load_private_key(Path("ci.pub"))


# -- interoperability ---------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["ed25519", "ecdsa-p256"])
def test_our_envelope_verifies_with_securesystemslib(here: Path, algorithm: str) -> None:
    make_keys(here, algorithm=algorithm)
    path = signed_file(here / "v.json", here / "ci.key")
    require("securesystemslib")
    from securesystemslib.dsse import Envelope

    envelope = Envelope.from_dict(json.loads(path.read_text()))
    verified = envelope.verify([sslib_public(here / "ci.pub")], 1)

    assert list(verified) == [load_public_key(here / "ci.pub").keyid]
    assert envelope.payload_type == PAYLOAD_TYPE
    assert json.loads(envelope.payload) == statement() | {
        "predicate": json.loads(envelope.payload)["predicate"]}


@pytest.mark.parametrize("algorithm", ["ed25519", "ecdsa-p256"])
def test_an_envelope_signed_by_securesystemslib_passes_the_gate(
    here: Path, capsys: pytest.CaptureFixture[str], algorithm: str
) -> None:
    make_keys(here, algorithm=algorithm)
    require("securesystemslib")
    from securesystemslib.dsse import Envelope

    envelope = Envelope(json.dumps(statement()).encode(), PAYLOAD_TYPE, {})
    envelope.sign(sslib_signer(here / "ci.key"))
    Path("v.json").write_text(json.dumps(envelope.to_dict()))

    code, out, err = run(capsys, "gate", "v.json", "--key", "ci.pub", "--format", "json")

    assert (code, err) == (0, "")
    facts = json.loads(out)["signature"]
    assert facts == {"signed": True, "verified": True, "signatures": [
        {"keyid": load_public_key(here / "ci.pub").keyid, "verified": True, "key": "ci.pub"}]}


def test_show_says_who_signed_and_whether_it_verified(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keyid = make_keys(here).keyid
    make_keys(here, "other")
    signed_file(here / "v.json", here / "ci.key")

    code, out, _ = run(capsys, "show", "v.json")
    assert code == 0
    assert out.splitlines()[-1] == f"Signature: signed by {keyid}, not verified (no key given)"

    code, out, _ = run(capsys, "show", "v.json", "--key", "ci.pub", "--format", "json")
    assert code == 0
    assert json.loads(out)["signature"]["verified"] is True
    assert json.loads(out)["predicate"]["deployability"]["verdict"] == "DEPLOYABLE"

    code, out, _ = run(capsys, "show", "v.json", "--key", "other.pub")
    assert code == 8
    assert out.splitlines()[-1].startswith(
        f"Signature: signed by {keyid}, NOT verified: signed by {keyid}, which is not a trusted key"
    )


# -- the gate and signatures --------------------------------------------------------------


def test_an_unsigned_verdict_fails_when_a_key_is_given(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_keys(here)
    write_atomic(here / "v.json", dump(statement()))

    code, _, err = run(capsys, "gate", "v.json", "--key", "ci.pub")

    assert code == 8
    assert err == ("deployable gate: v.json: signature required by --key: not signed: the file "
                   "is a bare statement\n")


def test_a_signed_verdict_is_still_gated_on_its_content(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_keys(here)
    signed_file(here / "v.json", here / "ci.key", BROKEN)

    code, _, err = run(capsys, "gate", "v.json", "--key", "ci.pub")

    assert code == 1
    assert err.startswith("deployable gate: NOT_DEPLOYABLE: 1 blocking check failed")


def tamper_flip_payload(envelope: dict[str, Any], keys: Path) -> None:
    payload = bytearray(json.dumps(payload_of(envelope)).encode())
    at = payload.index(b"DEPLOYABLE")
    payload[at] = ord("d")  # one byte: still JSON, no longer what was signed
    envelope["payload"] = b64(bytes(payload))


def tamper_swap_signature(envelope: dict[str, Any], keys: Path) -> None:
    # A real signature by the trusted key, over another verdict.
    other = seal(statement(BROKEN), load_private_key(keys / "ci.key"))
    envelope["signatures"] = other["signatures"]


def tamper_resign(envelope: dict[str, Any], keys: Path) -> None:
    edited = payload_of(envelope)
    edited["predicate"]["deployability"]["version"] = "9.9.9"
    envelope.update(seal(edited, load_private_key(keys / "intruder.key")))


def tamper_drop_signature(envelope: dict[str, Any], keys: Path) -> None:
    envelope["signatures"] = []


def tamper_payload_type(envelope: dict[str, Any], keys: Path) -> None:
    envelope["payloadType"] = "application/json"


TAMPERING = {
    "flip one payload byte": (
        tamper_flip_payload, "signature required by --key: the signature by trusted key {keyid} "
        "does not match the payload (sha256 "),
    "swap the signature": (
        tamper_swap_signature, "signature required by --key: the signature by trusted key "
        "{keyid} does not match the payload (sha256 "),
    "re-sign with an untrusted key": (
        tamper_resign, "signature required by --key: signed by {intruder}, which is not a "
        "trusted key (trusted: {keyid})"),
    "drop the signature": (
        tamper_drop_signature, "signature required by --key: the envelope has no signature "
        "(signatures is empty)"),
    "change the payloadType": (
        tamper_payload_type, "signature required by --key: payloadType is \"application/json\", "
        "not 'application/vnd.in-toto+json': not an in-toto statement"),
}


@pytest.mark.parametrize("case", list(TAMPERING))
def test_tampering_exits_8_with_its_own_message(
    here: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    keyid = make_keys(here).keyid
    intruder = make_keys(here, "intruder").keyid
    path = signed_file(here / "v.json", here / "ci.key")
    assert run(capsys, "gate", "v.json", "--key", "ci.pub")[0] == 0
    tamper, expected = TAMPERING[case]
    envelope = json.loads(path.read_text())
    tamper(envelope, here)
    path.write_text(json.dumps(envelope))

    code, out, err = run(capsys, "gate", "v.json", "--key", "ci.pub")

    assert (code, out) == (8, "")
    assert err.startswith("deployable gate: v.json: "
                          + expected.format(keyid=keyid, intruder=intruder))
    assert len(err.splitlines()) == 1


def test_the_swapped_and_flipped_messages_name_different_payloads(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_keys(here)
    messages = []
    for tamper in (tamper_flip_payload, tamper_swap_signature):
        path = signed_file(here / "v.json", here / "ci.key")
        envelope = json.loads(path.read_text())
        tamper(envelope, here)
        path.write_text(json.dumps(envelope))
        messages.append(run(capsys, "gate", "v.json", "--key", "ci.pub")[2])
    assert messages[0] != messages[1]


def test_a_payload_that_is_not_a_verdict_and_not_signed_by_a_trusted_key_exits_8(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_keys(here)
    path = signed_file(here / "v.json", here / "ci.key")
    envelope = json.loads(path.read_text())
    envelope["payload"] = b64(b'{"_type": "https://in-toto.io/Statement/v1"')
    path.write_text(json.dumps(envelope))

    code, _, err = run(capsys, "gate", "v.json", "--key", "ci.pub")

    assert code == 8
    assert "does not match the payload" in err


def test_a_trusted_signature_beside_a_forged_one_suffices_and_a_forged_one_alone_does_not(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keyid = make_keys(here).keyid
    make_keys(here, "intruder")
    path = signed_file(here / "v.json", here / "ci.key")
    envelope = json.loads(path.read_text())
    forged = {"keyid": keyid, "sig": b64(b"\x00" * 64)}
    envelope["signatures"].insert(0, forged)
    path.write_text(json.dumps(envelope))
    assert run(capsys, "gate", "v.json", "--key", "ci.pub")[0] == 0

    envelope["signatures"] = [forged]
    path.write_text(json.dumps(envelope))
    assert run(capsys, "gate", "v.json", "--key", "ci.pub")[0] == 8


def test_any_one_of_several_trusted_keys_suffices(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_keys(here)
    make_keys(here, "backup", "ecdsa-p256")
    signed_file(here / "v.json", here / "backup.key")

    code, out, _ = run(capsys, "gate", "v.json", "--key", "ci.pub", "--key", "backup.pub")

    assert code == 0
    assert out.startswith("deployable gate: DEPLOYABLE — shop-api 1.4.2 on staging")


def test_a_signed_verdict_without_key_still_gates_and_a_wrong_type_never_passes(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_keys(here)
    path = signed_file(here / "v.json", here / "ci.key")
    assert run(capsys, "gate", "v.json")[0] == 0
    envelope = json.loads(path.read_text())
    envelope["payloadType"] = "text/plain"
    path.write_text(json.dumps(envelope))
    assert run(capsys, "gate", "v.json")[0] == 8


@pytest.mark.parametrize(("change", "message"), [
    (lambda e: e.pop("payload"), "not a verdict file: payload is missing"),
    (lambda e: e.update(payload="%%%"), "not a signed verdict: payload is not base64"),
    (lambda e: e.update(signatures={}), "not a verdict file: signatures must be an array"),
    (lambda e: e["signatures"][0].update(sig="***"), "signatures[0].sig is not base64"),
    (lambda e: e["signatures"].append("x"), "signatures[1] must be an object"),
])
def test_a_malformed_envelope_is_exit_3(
    here: Path, capsys: pytest.CaptureFixture[str], change: Any, message: str
) -> None:
    make_keys(here)
    path = signed_file(here / "v.json", here / "ci.key")
    envelope = json.loads(path.read_text())
    change(envelope)
    path.write_text(json.dumps(envelope))

    code, _, err = run(capsys, "gate", "v.json")

    assert code == 3
    assert message in err


def test_duplicate_keys_in_an_envelope_are_refused(here: Path) -> None:
    make_keys(here)
    path = signed_file(here / "v.json", here / "ci.key")
    text = path.read_text()
    path.write_text(text.replace('"payloadType"', '"payloadType": "x", "payloadType"', 1))
    with pytest.raises(VerdictFileError, match="the key \"payloadType\" appears twice"):
        read_document(path)


def test_a_public_key_that_is_not_usable_is_a_usage_error(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_keys(here)
    signed_file(here / "v.json", here / "ci.key")
    Path("junk.pub").write_text("not a key")

    assert run(capsys, "gate", "v.json", "--key", "junk.pub")[1:] == (
        "", "deployable gate: junk.pub: not a PEM public key (SubjectPublicKeyInfo)\n")
    assert run(capsys, "gate", "v.json", "--key", "missing.pub")[0] == 2
    assert run(capsys, "gate", "v.json", "--key", "ci.key")[0] == 2


def test_gate_help_lists_the_new_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "gate", "--help")

    assert code == 0
    words = " ".join(out.split())  # wrapping differs between Python versions
    assert "7 the verdict breaks the policy (partial run, a required check missing" in words
    assert "8 a signature is required (--key, or require_signature) and none verifies" in words
    for option in ("--key PUB", "--subject ARTIFACT", "--policy FILE", "--allow-partial",
                   "--emit-vsa FILE", "--sign-key KEY"):
        assert option in words


def test_no_single_byte_change_to_payload_or_signature_passes(tmp_path: Path) -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from pytest_deployable.policy_gate import run_gate

    make_keys(tmp_path)
    path = signed_file(tmp_path / "v.json", tmp_path / "ci.key")
    original = json.loads(path.read_text())
    payload = base64.b64decode(original["payload"])
    sig = base64.b64decode(original["signatures"][0]["sig"])
    now = datetime.now(timezone.utc)
    assert run_gate(path, keys=[tmp_path / "ci.pub"], now=now, cwd=tmp_path).result.ok

    @settings(max_examples=60, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(part=st.sampled_from(["payload", "sig"]), data=st.data())
    def changed_never_passes(part: str, data: Any) -> None:
        target = bytearray(payload if part == "payload" else sig)
        at = data.draw(st.integers(0, len(target) - 1))
        target[at] = data.draw(st.integers(0, 255).filter(lambda b: b != target[at]))
        envelope = json.loads(json.dumps(original))
        if part == "payload":
            envelope["payload"] = b64(bytes(target))
        else:
            envelope["signatures"][0]["sig"] = b64(bytes(target))
        path.write_text(json.dumps(envelope))
        result = run_gate(path, keys=[tmp_path / "ci.pub"], now=now, cwd=tmp_path).result
        assert result.exit_code == 8

    changed_never_passes()
