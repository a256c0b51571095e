"""Whether a target's policy requires signed verdicts: the one policy fact ``can-i-deploy`` reads.

The policy file (SPEC section 11, ``deploy-policy.toml``) belongs to the signing
work; until its loader and verifier are connected here, ``can-i-deploy`` reads only
``require_signature`` for the target (or ``"*"``), and with no verifier it answers
"no" for a target that requires signatures: it never trusts a keyid it cannot check.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..target_schema import TargetError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = ["POLICY_FILE_NAME", "find_policy_file", "signature_required"]

POLICY_FILE_NAME = "deploy-policy.toml"


def find_policy_file(option: str | None, targets_file: Path | None, cwd: Path) -> Path | None:
    """``--policy``, else ``deploy-policy.toml`` beside the targets file, else in ``cwd``."""
    if option:
        return cwd / option
    for folder in (targets_file.parent if targets_file else None, cwd):
        if folder is not None and (folder / POLICY_FILE_NAME).is_file():
            return folder / POLICY_FILE_NAME
    return None


def signature_required(path: Path | None, target: str) -> bool:
    """``require_signature`` of ``[policy.TARGET]``, else of ``[policy."*"]``; False without a file.

    A policy file that cannot be read is a TargetError (a usage error), never "not required".
    """
    if path is None:
        return False
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TargetError(f"{path}: policy file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TargetError(f"{path}: cannot read the policy file: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise TargetError(f"{path}: invalid TOML: {exc}") from None
    policies = data.get("policy", {})
    if not isinstance(policies, dict):
        raise TargetError(f"{path}: policy must be a table of [policy.TARGET] tables")
    for name in (target, "*"):
        table = policies.get(name)
        if isinstance(table, dict) and "require_signature" in table:
            value = table["require_signature"]
            if not isinstance(value, bool):
                raise TargetError(
                    f"{path}: policy.{name}.require_signature must be true or false"
                )
            return value
    return False
