"""Signing keys: Ed25519 and ECDSA P-256 in PEM, their keyids, and ``deployable keygen``.

Private keys are PKCS#8 PEM, public keys SubjectPublicKeyInfo PEM; a key's
``keyid`` is the lowercase hex SHA-256 of its public key's DER
SubjectPublicKeyInfo, so anyone holding the ``.pub`` file can compute it.
``cryptography`` (the ``sign`` extra) is imported only when a key is used, so
runs without signing pay nothing for it.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "ALGORITHMS",
    "KeyFileError",
    "PrivateKey",
    "PublicKey",
    "generate",
    "keygen",
    "load_private_key",
    "load_public_key",
    "pem_secrets",
    "private_key_from_pem",
]

#: The key algorithms ``deployable keygen --algorithm`` offers, and the only ones accepted.
ALGORITHMS = ("ed25519", "ecdsa-p256")
_SUPPORTED = "Ed25519 or ECDSA P-256"
_EXTRA = "signing needs the 'sign' extra: pip install 'pytest-deployable[sign]'"


class KeyFileError(Exception):
    """A key that cannot be used; its message is one line for the user."""


def _crypto() -> Any:
    """The ``cryptography`` primitives, or KeyFileError saying which extra to install."""
    try:
        from cryptography.hazmat.primitives import serialization
    except ImportError:
        raise KeyFileError(_EXTRA) from None
    return serialization


def _algorithm(key: Any) -> str | None:
    """``ed25519``, ``ecdsa-p256``, or None for a key type that is not accepted."""
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    if isinstance(key, (ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey)):
        return "ed25519"
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)) and isinstance(
        key.curve, ec.SECP256R1
    ):
        return "ecdsa-p256"
    return None


def _keyid(public: Any) -> str:
    serialization = _crypto()
    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


@dataclass(frozen=True)
class PublicKey:
    """A public key that verifies signatures, named by its keyid and where it came from."""

    keyid: str
    algorithm: str
    source: str
    key: Any = field(repr=False, compare=False)

    def verify(self, signature: bytes, data: bytes) -> bool:
        """Whether ``signature`` is this key's signature over ``data``."""
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        try:
            if self.algorithm == "ed25519":
                self.key.verify(signature, data)
            else:
                # DER-encoded (r, s), as securesystemslib and OpenSSL write them.
                self.key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError):
            return False
        return True

    def pem(self) -> str:
        """The key as SubjectPublicKeyInfo PEM text."""
        serialization = _crypto()
        data: bytes = self.key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return data.decode("ascii")


@dataclass(frozen=True)
class PrivateKey:
    """A private key that signs; ``public`` is its public half."""

    public: PublicKey
    key: Any = field(repr=False, compare=False)

    @property
    def keyid(self) -> str:
        """The keyid of the public half."""
        return self.public.keyid

    def sign(self, data: bytes) -> bytes:
        """This key's signature over ``data``."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        if self.public.algorithm == "ed25519":
            signature: bytes = self.key.sign(data)
        else:
            signature = self.key.sign(data, ec.ECDSA(hashes.SHA256()))
        return signature

    def pem(self) -> str:
        """The key as unencrypted PKCS#8 PEM text."""
        serialization = _crypto()
        data: bytes = self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return data.decode("ascii")


def private_key_from_pem(text: str, source: str) -> PrivateKey:
    """A private key from PKCS#8 PEM text; ``source`` names it in errors (never the text)."""
    serialization = _crypto()
    if "PRIVATE KEY-----" not in text:
        hint = " (this is a public key)" if "PUBLIC KEY-----" in text else ""
        raise KeyFileError(f"{source}: not a PEM private key{hint}")
    try:
        key = serialization.load_pem_private_key(text.encode("ascii", "replace"), password=None)
    except TypeError:
        raise KeyFileError(
            f"{source}: the private key is encrypted; give an unencrypted PKCS#8 key "
            "(keep it in a secret store instead)"
        ) from None
    except (ValueError, UnicodeError):
        # The parser's message may quote the key material, so it is not shown.
        raise KeyFileError(f"{source}: not a PEM private key that can be read") from None
    algorithm = _algorithm(key)
    if algorithm is None:
        raise KeyFileError(f"{source}: unsupported key type; use {_SUPPORTED}")
    public = key.public_key()
    return PrivateKey(PublicKey(_keyid(public), algorithm, source, public), key)


def _read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise KeyFileError(f"{path}: {what} not found") from None
    except IsADirectoryError:
        raise KeyFileError(f"{path}: is a directory, not a {what}") from None
    except UnicodeDecodeError:
        raise KeyFileError(f"{path}: not a PEM {what} (not ASCII text)") from None
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot read the {what}: {exc.strerror}") from None


def load_private_key(path: Path) -> PrivateKey:
    """The private key in ``path``; refused if the file is open to group or others."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise KeyFileError(f"{path}: private key not found") from None
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot read the private key: {exc.strerror}") from None
    if os.name == "posix" and stat.S_ISREG(mode) and mode & 0o077:
        raise KeyFileError(
            f"{path}: the private key is open to group or others (mode "
            f"{stat.S_IMODE(mode):04o}); run chmod 600 {path}"
        )
    return private_key_from_pem(_read_text(path, "private key"), str(path))


def load_public_key(path: Path) -> PublicKey:
    """The public key in ``path`` (SubjectPublicKeyInfo PEM)."""
    serialization = _crypto()
    text = _read_text(path, "public key")
    if "PRIVATE KEY-----" in text:
        raise KeyFileError(
            f"{path}: this is a private key; give the public key (.pub) to verify with"
        )
    try:
        key = serialization.load_pem_public_key(text.encode("ascii"))
    except (ValueError, UnicodeError):
        raise KeyFileError(f"{path}: not a PEM public key (SubjectPublicKeyInfo)") from None
    algorithm = _algorithm(key)
    if algorithm is None:
        raise KeyFileError(f"{path}: unsupported key type; use {_SUPPORTED}")
    return PublicKey(_keyid(key), algorithm, str(path), key)


def generate(algorithm: str = "ed25519") -> PrivateKey:
    """A new private key of ``algorithm`` (one of :data:`ALGORITHMS`)."""
    _crypto()
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    key: Any
    if algorithm == "ed25519":
        key = ed25519.Ed25519PrivateKey.generate()
    elif algorithm == "ecdsa-p256":
        key = ec.generate_private_key(ec.SECP256R1())
    else:
        raise KeyFileError(f"unknown algorithm {algorithm!r}; use one of {', '.join(ALGORITHMS)}")
    public = key.public_key()
    return PrivateKey(PublicKey(_keyid(public), algorithm, "generated", public), key)


def keygen(prefix: Path, algorithm: str = "ed25519", *, force: bool = False) -> PrivateKey:
    """Write ``PREFIX.key`` (mode 0600, created so) and ``PREFIX.pub``; the new key."""
    key_path, pub_path = Path(f"{prefix}.key"), Path(f"{prefix}.pub")
    if not force:
        for path in (key_path, pub_path):
            if path.exists():
                raise KeyFileError(f"{path}: already exists; not overwritten (use --force)")
    key = generate(algorithm)
    from .attestation import write_atomic

    try:
        key_path.parent.mkdir(parents=True, exist_ok=True)
        # Created with 0600 from the first byte: never readable by others, not even briefly.
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            os.chmod(key_path, 0o600)
            handle.write(key.pem())
        write_atomic(pub_path, key.public.pem())
        os.chmod(pub_path, 0o644)  # public: meant to be committed and read by the gate
    except OSError as exc:
        raise KeyFileError(f"{exc.filename or prefix}: cannot write: {exc.strerror}") from None
    return key


def pem_secrets(text: str) -> list[str]:
    """Pieces of a PEM private key to redact: its base64 body, whole and line by line.

    The armour lines (``-----BEGIN PRIVATE KEY-----``) are not secret, and
    masking them would mask every run of dashes in the output.
    """
    lines = [line.strip() for line in text.strip().splitlines()]
    body = [line for line in lines if line and not line.startswith("-----")]
    return ["".join(body), *(line for line in body if len(line) >= 6)]
