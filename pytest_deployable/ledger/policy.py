"""The policy facts ``can-i-deploy`` reads: whether a target requires signed verdicts, and whose.

The policy file is SPEC section 11's (``deploy-policy.toml``), read by the one loader
in :mod:`pytest_deployable.policy` that ``deployable gate`` uses too, so the gate and
``can-i-deploy`` can never read one file two ways.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ..target_schema import TargetError

if TYPE_CHECKING:
    from ..policy import Policy

__all__ = ["POLICY_FILE_NAME", "find_policy_file", "signature_required", "signature_verifier"]

POLICY_FILE_NAME = "deploy-policy.toml"


def find_policy_file(option: str | None, targets_file: Path | None, cwd: Path) -> Path | None:
    """``--policy``, else ``deploy-policy.toml`` beside the targets file, else in ``cwd``."""
    if option:
        return cwd / option
    for folder in (targets_file.parent if targets_file else None, cwd):
        if folder is not None and (folder / POLICY_FILE_NAME).is_file():
            return folder / POLICY_FILE_NAME
    return None


def _policy_for(path: Path, target: str) -> Policy | None:
    from ..policy import PolicyError, load_policy

    try:
        return load_policy(path).for_target(target)
    except PolicyError as exc:
        raise TargetError(str(exc)) from None


def signature_required(path: Path | None, target: str) -> bool:
    """``require_signature`` for ``target`` (its table over ``"*"``); False without a file.

    A policy file that cannot be read is a TargetError (a usage error), never "not required".
    """
    if path is None:
        return False
    policy = _policy_for(path, target)
    return bool(policy is not None and policy.require_signature)


def signature_verifier(path: Path | None, target: str) -> Callable[[str], bool] | None:
    """Whether a recorded document is signed by one of ``target``'s trusted keys.

    None when the policy names no trusted key: then no signature can be checked,
    and a target that requires signatures gets "no". A key file that cannot be
    read is a TargetError (a usage error), never "no keys".
    """
    if path is None:
        return None
    policy = _policy_for(path, target)
    if policy is None or not policy.trusted_keys:
        return None
    from ..envelope import open_document
    from ..gate import VerdictFileError, parse_json
    from ..keys import KeyFileError, load_public_key

    try:
        keys = tuple(load_public_key(key) for key in policy.trusted_keys)
    except KeyFileError as exc:
        raise TargetError(f"{path}: trusted_keys: {exc}") from None

    def verify(document: str) -> bool:
        try:
            opened = open_document(parse_json(document), keys)
        except (VerdictFileError, ValueError, RecursionError):
            return False
        return opened.signed and opened.verified_by is not None

    return verify
