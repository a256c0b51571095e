"""The pytest side of signed verdicts: ``--deploy-sign-key``, ``--deploy-subject``, the envelope.

Only the controller (or a run without xdist) loads the key and signs; workers
never see the key, only its pieces among the target's secrets, so that they
redact it too. The key and the artifact are read when the run is configured,
so a bad one is a usage error before any check runs.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
from pathlib import Path
from typing import Any

import pytest

from .provenance import Artifact, parse_artifact
from .targets import Target

__all__ = [
    "ARTIFACT", "SIGNING_KEY_VARIABLE", "SIGN_KEY", "check_spelling", "configure",
    "subject_entries", "subject_name", "verdict_text",
]

#: The environment variable that holds a signing key's PEM text (a secret).
SIGNING_KEY_VARIABLE = "DEPLOYABLE_SIGNING_KEY"
#: The key that signs this run's verdict, if any (controller only).
SIGN_KEY = pytest.StashKey[Any]()
#: The artifact ``--deploy-subject`` binds the verdict to, if any.
ARTIFACT = pytest.StashKey[Artifact | None]()
#: The subject's name when ``--deploy-subject``/``deploy_subject`` is a plain name.
SUBJECT_NAME = pytest.StashKey[str | None]()


def _two_words(config: pytest.Config, option: str) -> str | None:
    """The value of ``option`` when it was given as two words (``--opt PATH``), else None."""
    args = list(config.invocation_params.args)
    for index, arg in enumerate(args[:-1]):
        if arg == option:
            return str(args[index + 1])
    return None


def _rootdir_without_it(config: pytest.Config) -> Path | None:
    """The rootdir pytest would pick from the real test-path arguments alone, if it can say.

    Uses pytest's own ``determine_setup`` (not public API, so every failure to
    call it falls back to the cautious rule in :func:`_check_rootdir`).
    """
    try:
        from _pytest.config.findpaths import determine_setup
    except ImportError:  # pragma: no cover - a pytest that moved it
        return None
    params = inspect.signature(determine_setup).parameters
    offered: dict[str, Any] = {
        "inifile": None,
        "args": [str(a) for a in config.known_args_namespace.file_or_dir],
        "rootdir_cmd_arg": None,
        "invocation_dir": config.invocation_params.dir,
        "override_ini": config.option.override_ini,
        "config": None,
    }
    try:
        found = determine_setup(**{k: v for k, v in offered.items() if k in params})
    except Exception:  # pragma: no cover - any change in pytest's internals
        return None
    return Path(found[0])


def _check_rootdir(config: pytest.Config, option: str, path: Path) -> None:
    """Refuse ``--opt PATH`` where PATH moved pytest's rootdir.

    pytest picks the rootdir (and the ini file) before it knows this plugin's
    options, so in ``--opt PATH`` it takes PATH for a test path, and a PATH
    outside the project moves the rootdir there. ``--opt=PATH`` is one word and
    never has this problem; ``--opt PATH`` is accepted where the rootdir is the
    one the run would have had anyway.
    """
    given = _two_words(config, option)
    if given is None or config.option.inifilename or config.option.rootdir:
        return
    expected = _rootdir_without_it(config)
    if expected is not None:
        moved = expected.resolve() != config.rootpath.resolve()
    else:
        here = config.invocation_params.dir.resolve()
        moved = here not in path.resolve().parents
    if moved:
        raise pytest.UsageError(
            f"{option} {given}: written as two words, pytest took {given} into account "
            f"when it picked the rootdir ({config.rootpath}); write {option}={given}"
        )


def _load_key(config: pytest.Config) -> tuple[Any, str]:
    """The signing key and the PEM text it came from; (None, "") when the run does not sign."""
    path = config.option.deployable_sign_key
    pem = os.environ.get(SIGNING_KEY_VARIABLE, "")
    if not path and not pem.strip():
        return None, ""  # before importing the key modules, which a run that signs needs
    from .keys import KeyFileError, load_private_key, private_key_from_pem

    try:
        if path:
            full = config.invocation_params.dir / path
            key = load_private_key(full)
            return key, full.read_text(encoding="ascii")
        if pem.strip():
            return private_key_from_pem(pem, SIGNING_KEY_VARIABLE), pem
    except KeyFileError as exc:
        raise pytest.UsageError(f"--deploy-sign-key: {exc}") from None
    return None, ""


def _subject_values(config: pytest.Config) -> list[tuple[str, Path, str]]:
    """``--deploy-subject`` and ini ``deploy_subject``, where given: value, base, name."""
    values = []
    if config.option.deployable_subject:
        values.append((config.option.deployable_subject, config.invocation_params.dir,
                       "--deploy-subject"))
    ini = str(config.getini("deploy_subject") or "")
    if ini:
        values.append((ini, config.rootpath, "deploy_subject (ini)"))
    return values


def _parse(value: str, base: Path, option: str) -> Artifact | None:
    try:
        return parse_artifact(value, base, option=option)
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None


def _artifact(config: pytest.Config) -> Artifact | None:
    """The artifact the option (else the ini key) binds the verdict to, if it names one."""
    for given, base, option in _subject_values(config):
        artifact = _parse(given, base, option)
        if artifact is not None:
            if not given.startswith("sha256:") and "@sha256:" not in given:
                _check_rootdir(config, "--deploy-subject", base / given)
            return artifact
        if option == "--deploy-subject":
            return None  # a plain name given on the command line overrides the ini
    return None


def _plain_name(config: pytest.Config) -> str | None:
    """The subject's name: the option, else the ini key, whichever is a plain name."""
    for given, base, option in _subject_values(config):
        if _parse(given, base, option) is None:
            return given
    return None


def subject_name(config: pytest.Config) -> str | None:
    """The subject's name given as a plain ``--deploy-subject``/``deploy_subject``, if any.

    Worked out when the run was configured: the artifact file may change or go
    away while the checks run, and the end of the run must not fail on it.
    """
    return config.stash.get(SUBJECT_NAME, None)


def check_spelling(config: pytest.Config) -> None:
    """Refuse ``--deploy-sign-key PATH`` or ``--deploy-subject PATH`` where PATH moved the rootdir.

    Checked first, so that the user learns the cause, not a consequence such as a
    targets file that is not found under the wrong rootdir.
    """
    path = config.option.deployable_sign_key
    if path:
        _check_rootdir(config, "--deploy-sign-key", config.invocation_params.dir / path)
    subject = config.option.deployable_subject
    if subject and not subject.startswith("sha256:") and "@sha256:" not in subject:
        _check_rootdir(config, "--deploy-subject", config.invocation_params.dir / subject)


def configure(config: pytest.Config, target: Target, worker: bool) -> Target:
    """Load the signing key and the artifact; the target, with the key's text among its secrets."""
    config.stash[ARTIFACT] = None if worker else _artifact(config)
    config.stash[SUBJECT_NAME] = None if worker else _plain_name(config)
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
