"""The pytest side of signed verdicts: ``--deploy-sign-key``, ``--deploy-subject``, the envelope.

Only the controller (or a run without xdist) loads the key and signs; workers
never see the key, only its pieces among the target's secrets, so that they
redact it too. The key and the artifact are read when the run is configured,
so a bad one is a usage error before any check runs.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import pytest

from .provenance import Artifact, parse_artifact
from .targets import Target

__all__ = [
    "ARTIFACT", "SIGNING_KEY_VARIABLE", "SIGN_KEY", "configure", "subject_entries",
    "subject_name", "verdict_text",
]

#: The environment variable that holds a signing key's PEM text (a secret).
SIGNING_KEY_VARIABLE = "DEPLOYABLE_SIGNING_KEY"
#: The key that signs this run's verdict, if any (controller only).
SIGN_KEY = pytest.StashKey[Any]()
#: The artifact ``--deploy-subject`` binds the verdict to, if any.
ARTIFACT = pytest.StashKey[Artifact | None]()


def _two_words(config: pytest.Config, option: str) -> str | None:
    """The value of ``option`` when it was given as two words (``--opt PATH``), else None."""
    args = list(config.invocation_params.args)
    for index, arg in enumerate(args[:-1]):
        if arg == option:
            return str(args[index + 1])
    return None


def _check_rootdir(config: pytest.Config, option: str, path: Path) -> None:
    """Refuse ``--opt PATH`` where pytest let PATH choose the rootdir.

    pytest picks the rootdir before it knows this plugin's options, so in
    ``--opt PATH`` it takes PATH for a test path, and a PATH outside the
    directory pytest runs in moves the rootdir (and the ini file it reads) there.
    ``--opt=PATH`` is one word and never has this problem.
    """
    given = _two_words(config, option)
    if given is None or config.option.inifilename or config.option.rootdir:
        return
    here = config.invocation_params.dir.resolve()
    where = path.resolve()
    if where.exists() and here not in where.parents and where != here:
        raise pytest.UsageError(
            f"{option} {given}: written as two words, pytest takes {given} into account "
            f"when it picks the rootdir (it picked {config.rootpath}); write "
            f"{option}={given}"
        )


def _load_key(config: pytest.Config) -> tuple[Any, str]:
    """The signing key and the PEM text it came from; (None, "") when the run does not sign."""
    from .keys import KeyFileError, load_private_key, private_key_from_pem

    path = config.option.deployable_sign_key
    pem = os.environ.get(SIGNING_KEY_VARIABLE, "")
    try:
        if path:
            full = config.invocation_params.dir / path
            _check_rootdir(config, "--deploy-sign-key", full)
            key = load_private_key(full)
            return key, full.read_text(encoding="ascii")
        if pem.strip():
            return private_key_from_pem(pem, SIGNING_KEY_VARIABLE), pem
    except KeyFileError as exc:
        raise pytest.UsageError(f"--deploy-sign-key: {exc}") from None
    return None, ""


def _subject_option(config: pytest.Config) -> tuple[str, Path, str]:
    """``--deploy-subject`` or ini ``deploy_subject``: the value, its base directory, its name."""
    given = config.option.deployable_subject
    if given:
        return given, config.invocation_params.dir, "--deploy-subject"
    return str(config.getini("deploy_subject") or ""), config.rootpath, "deploy_subject (ini)"


def _artifact(config: pytest.Config) -> Artifact | None:
    given, base, option = _subject_option(config)
    if not given:
        return None
    try:
        artifact = parse_artifact(given, base, option=option)
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    if artifact is not None and not given.startswith("sha256:") and "@sha256:" not in given:
        _check_rootdir(config, "--deploy-subject", base / given)
    return artifact


def subject_name(config: pytest.Config) -> str | None:
    """``--deploy-subject`` when it is a plain name (the subject's name), else None."""
    given, _, _ = _subject_option(config)
    return given if given and config.stash.get(ARTIFACT, None) is None else None


def configure(config: pytest.Config, target: Target, worker: bool) -> Target:
    """Load the signing key and the artifact; the target, with the key's text among its secrets."""
    config.stash[ARTIFACT] = None if worker else _artifact(config)
    config.stash[SIGN_KEY] = None
    if worker:
        return target
    key, text = _load_key(config)
    if key is None:
        return target
    config.stash[SIGN_KEY] = key
    from .keys import pem_secrets

    # The key is a secret like a ${VAR} value: redacted everywhere, and xdist
    # workers learn its pieces (to redact them), never the key object. Both
    # the text as given and its PKCS#8 form are pieces a check could print.
    pieces = frozenset([*pem_secrets(text), *pem_secrets(key.pem())])
    return dataclasses.replace(target, secrets=target.secrets | pieces)


def subject_entries(config: pytest.Config, default_name: str) -> tuple[dict[str, Any], ...]:
    """The statement's extra subject entries: the bound artifact, if any."""
    artifact = config.stash.get(ARTIFACT, None)
    return (artifact.subject(default_name),) if artifact is not None else ()


def verdict_text(config: pytest.Config, statement: dict[str, Any], text: str) -> str:
    """The verdict file's text: ``text`` itself, or a DSSE envelope over it when signing."""
    key = config.stash.get(SIGN_KEY, None)
    if key is None:
        return text
    from .envelope import dump_envelope, seal

    return dump_envelope(seal(statement, key, text))
