"""Helpers for the signing tests: keys, envelopes, and the independent DSSE implementation."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import require

from pytest_deployable.cli import main
from pytest_deployable.keys import PrivateKey, keygen

# Imported once, before any pytester run: pytester restores sys.modules after an
# in-process run, and a second copy of cryptography's Python modules would not
# recognise the first copy's objects (the same reason conftest imports requests).
try:
    import cryptography.hazmat.primitives.asymmetric.ec
    import cryptography.hazmat.primitives.asymmetric.ed25519
    import cryptography.hazmat.primitives.serialization  # noqa: F401
    import securesystemslib.dsse
    import securesystemslib.signer  # noqa: F401
except ImportError:  # require() fails or skips the tests that need them
    pass


def make_keys(where: Path, name: str = "ci", algorithm: str = "ed25519") -> PrivateKey:
    """A key pair written as the user gets it: ``deployable keygen`` semantics."""
    require("cryptography")
    return keygen(where / name, algorithm)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """``deployable ARGV`` in process: its exit code, stdout and stderr."""
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def payload_of(envelope: dict[str, Any]) -> dict[str, Any]:
    """The statement inside an envelope, decoded without our code."""
    data: dict[str, Any] = json.loads(base64.b64decode(envelope["payload"]))
    return data


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def sslib_signer(key_file: Path) -> Any:
    """securesystemslib's own signer for a PKCS#8 key, with our keyid (sha256 of the SPKI)."""
    require("securesystemslib")
    from cryptography.hazmat.primitives import serialization
    from securesystemslib.signer import CryptoSigner, SSlibKey

    private = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    public = private.public_key()
    keyid = spki_keyid(public)
    return CryptoSigner(private, SSlibKey.from_crypto(public, keyid=keyid))


def sslib_public(pub_file: Path) -> Any:
    """securesystemslib's Key for a SubjectPublicKeyInfo PEM file, with our keyid."""
    require("securesystemslib")
    from cryptography.hazmat.primitives import serialization
    from securesystemslib.signer import SSlibKey

    public = serialization.load_pem_public_key(pub_file.read_bytes())
    return SSlibKey.from_crypto(public, keyid=spki_keyid(public))


def spki_keyid(public: Any) -> str:
    """The keyid as SPEC §11 defines it, computed here without our code."""
    import hashlib

    from cryptography.hazmat.primitives import serialization

    der = public.public_bytes(serialization.Encoding.DER,
                              serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()
