"""Provenance: which artifact a run tested, found from options, CI variables and git."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = ["CI_COMMIT_VARIABLES", "Artifact", "find_commit", "find_subject", "parse_artifact"]

#: Environment variables in which common CI systems give the commit being built.
CI_COMMIT_VARIABLES = (
    "GITHUB_SHA",  # GitHub Actions
    "CI_COMMIT_SHA",  # GitLab CI
    "BUILDKITE_COMMIT",
    "CIRCLE_SHA1",
    "BITBUCKET_COMMIT",
    "TRAVIS_COMMIT",
    "GIT_COMMIT",  # Jenkins git plugin
)

_SHA_RE = re.compile(r"^[0-9a-f]{7,64}$")


def find_commit(
    given: str | None, rootdir: Path, environ: Mapping[str, str] | None = None
) -> str | None:
    """The commit under test: ``--deploy-commit``, else a CI variable, else ``git rev-parse``."""
    if given:
        return given
    env = os.environ if environ is None else environ
    for name in CI_COMMIT_VARIABLES:
        value = env.get(name, "").strip().lower()
        if _SHA_RE.match(value):
            return value
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=rootdir,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    value = out.stdout.strip()
    return value if out.returncode == 0 and _SHA_RE.match(value) else None


def find_subject(given: str | None, rootdir: Path) -> str:
    """The artifact's name: ``--deploy-subject``, else pyproject's project name, else rootdir's."""
    if given:
        return given
    pyproject = rootdir / "pyproject.toml"
    try:
        name = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["name"]
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, KeyError, TypeError):
        return rootdir.name
    return name if isinstance(name, str) and name else rootdir.name


_DIGEST_RE = re.compile(r"sha256:([0-9a-fA-F]{64})")
_IMAGE_RE = re.compile(r"(?P<name>[^@\s]+)@sha256:(?P<hex>[0-9a-fA-F]{64})")


@dataclass(frozen=True)
class Artifact:
    """An artifact a verdict is bound to: its name (None: the default subject) and sha256."""

    name: str | None
    sha256: str

    def subject(self, default_name: str) -> dict[str, object]:
        """The statement's subject entry for it."""
        return {"name": self.name or default_name, "digest": {"sha256": self.sha256}}


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def parse_artifact(value: str, base: Path, *, option: str) -> Artifact | None:
    """``value`` as an artifact: ``NAME@sha256:HEX``, ``sha256:HEX`` or a file (its sha256).

    None for a plain name that is none of those (``--deploy-subject shop`` only
    names the subject); ValueError, naming ``option``, for a digest that is not
    64 hex digits or a path to a file that cannot be read.
    """
    image = _IMAGE_RE.fullmatch(value)
    if image is not None:
        return Artifact(image.group("name"), image.group("hex").lower())
    digest = _DIGEST_RE.fullmatch(value)
    if digest is not None:
        return Artifact(None, digest.group(1).lower())
    if value.startswith("sha256:") or "@sha256:" in value:
        raise ValueError(f"{option} {value!r}: a sha256 digest is 64 hexadecimal digits")
    path = base / value
    if path.is_file():
        try:
            return Artifact(path.name, _file_sha256(path))
        except OSError as exc:
            raise ValueError(f"{option} {value!r}: cannot read the file: {exc.strerror}") from None
    if "/" in value or os.sep in value or path.exists():
        raise ValueError(
            f"{option} {value!r}: no such file; give a file, sha256:HEX or NAME@sha256:HEX"
        )
    return None
