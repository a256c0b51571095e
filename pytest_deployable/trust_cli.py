"""The trust options of ``deployable gate``: keys, artifact, policy, and the VSA it can write.

Kept out of :mod:`pytest_deployable.cli` so that the command's parser stays a
table of subcommands; values are checked at parse time, so a bad one is a usage
error (exit 2) naming the option.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path

from .attestation import write_atomic
from .keys import KeyFileError, PrivateKey, load_private_key
from .policy_gate import EXIT_POLICY, EXIT_SIGNATURE, TrustedResult
from .provenance import Artifact, parse_artifact

__all__ = [
    "EXIT_POLICY", "EXIT_SIGNATURE", "add_trust_options", "discard_vsa", "emit_vsa",
    "load_vsa_key",
]

#: Appended to ``deployable gate --help`` after the gate's own exit codes.
TRUST_EXIT_CODES = """\
  7  the verdict breaks the policy (partial run, a required check missing or not
     passed, too few checks, warnings not allowed, older than max_age)
  8  a signature is required (--key, or require_signature) and none verifies
     with a trusted key: missing, invalid, untrusted, or the wrong payloadType"""


def _subject_option(value: str) -> Artifact:
    try:
        artifact = parse_artifact(value, Path.cwd(), option="--subject")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if artifact is None:
        raise argparse.ArgumentTypeError(
            f"{value!r}: no such file; give a file, sha256:HEX or NAME@sha256:HEX"
        )
    return artifact


def add_trust_options(gate: argparse.ArgumentParser) -> None:
    """Add ``--key``, ``--subject``, ``--policy``, ``--allow-partial`` and the VSA options."""
    gate.epilog = f"{gate.epilog}\n{TRUST_EXIT_CODES}"
    gate.add_argument(
        "--key", metavar="PUB", type=Path, action="append", default=[],
        help="a trusted public key (PEM); repeatable, any one suffices. With it, an "
        "unsigned or badly signed verdict exits 8",
    )
    gate.add_argument(
        "--subject", metavar="ARTIFACT", type=_subject_option,
        help="the artifact the verdict must be for: a file (its sha256), sha256:HEX, or "
        "NAME@sha256:HEX (exit 4 if the verdict does not bind it)",
    )
    gate.add_argument(
        "--policy", metavar="FILE", type=Path,
        help="the policy file (default: deploy-policy.toml in the current directory, "
        "if there is one)",
    )
    gate.add_argument(
        "--allow-partial", action="store_true",
        help="accept a verdict of a partial run (checks deselected or skipped at collection, "
        "--lf, node-id arguments); without it such a verdict exits 7, and a policy's "
        "allow_partial = false cannot be overruled",
    )
    gate.add_argument(
        "--emit-vsa", metavar="FILE", type=Path,
        help="write the decision as a SLSA Verification Summary Attestation v1, whatever it is",
    )
    gate.add_argument(
        "--sign-key", metavar="KEY", type=Path,
        help="sign the VSA with this private key (a DSSE envelope)",
    )


def load_vsa_key(args: argparse.Namespace) -> PrivateKey | None:
    """The key to sign the VSA with, loaded before the gate decides (GateUsage if bad)."""
    from .policy_gate import GateUsage

    if args.sign_key is None:
        return None
    if args.emit_vsa is None:
        raise GateUsage("--sign-key signs the VSA: give --emit-vsa FILE too")
    try:
        return load_private_key(args.sign_key)
    except KeyFileError as exc:
        raise GateUsage(str(exc)) from None


def emit_vsa(
    args: argparse.Namespace, trusted: TrustedResult, key: PrivateKey | None, now: datetime
) -> bool:
    """Write the VSA for this decision; False (and one line on stderr) if it cannot be written."""
    from .envelope import dump_envelope, seal
    from .vsa import vsa_statement

    result = trusted.result
    signer = trusted.document.verified_by if trusted.document else None
    statement = vsa_statement(
        passed=result.ok,
        verdict=result.verdict,
        statement=trusted.statement,
        verdict_file=args.file,
        policy_file=trusted.policy.source if trusted.policy else None,
        subject_sha256=args.subject.sha256 if args.subject else None,
        now=now,
        extra={"exitCode": result.exit_code, "message": result.message,
               "target": result.target, "version": result.version,
               "verdictSignedBy": signer.verified_by if signer else None},
    )
    text = json.dumps(statement, indent=2) + "\n"
    if key is not None:
        text = dump_envelope(seal(statement, key, text))
    try:
        write_atomic(args.emit_vsa, text)
    except OSError as exc:
        sys.stderr.write(f"deployable gate: --emit-vsa {args.emit_vsa}: cannot write: "
                         f"{exc.strerror or exc}\n")
        discard_vsa(args.emit_vsa)
        return False
    return True


def discard_vsa(path: Path) -> None:
    """Remove an older VSA at ``path``, so that no stage acts on a decision not made now."""
    import contextlib
    import os

    with contextlib.suppress(OSError):
        os.unlink(path)
