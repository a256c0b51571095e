"""Provenance: which artifact a run tested, found from options, CI variables and git."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = ["CI_COMMIT_VARIABLES", "find_commit", "find_subject"]

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
