"""The ``deployable`` command: gate a pipeline on a verdict file, or show one to a person.

``deployable gate`` exits with one of the codes documented in
:mod:`pytest_deployable.gate` and says why in one line; ``deployable show``
prints a verdict file as text, Markdown or JSON. A user's mistake never ends
in a traceback: argparse reports bad arguments (exit 2), and a missing or
untrustworthy file is one line on stderr (exit 3).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import TextIO

from .gate import (
    EXIT_BAD_FILE,
    EXIT_CODES_HELP,
    EXIT_USAGE,
    VerdictFileError,
    parse_duration,
)
from .keys import ALGORITHMS, KeyFileError, keygen, load_public_key
from .trust_cli import (
    EXIT_SIGNATURE,
    add_trust_options,
    discard_vsa,
    emit_vsa,
    load_vsa_key,
)

__all__ = ["main"]

PROG = "deployable"

_GATE_DESCRIPTION = """\
Exit 0 only when VERDICT_FILE is a well-formed verdict for the given target
and version, not older than --max-age, and DEPLOYABLE (or
DEPLOYABLE_WITH_WARNINGS without --strict). Otherwise exit non-zero with one
line on stderr saying why."""

_DIFF_EXIT_CODES = """\
exit codes:
  0  no breaking change (additions are listed, but do not fail)
  1  breaking changes found
  2  usage error: bad arguments, or the contract extra is not installed
  3  a contract is unreadable, does not parse, or is not valid OpenAPI 3.0/3.1

breaking kinds: removed-path, removed-operation, removed-response-field,
changed-type, new-required-param, removed-enum-value, narrowed-response-codes"""


def _version() -> str:
    try:
        return metadata.version("pytest-deployable")
    except metadata.PackageNotFoundError:
        return "unknown"


def max_age_option(text: str) -> float:
    """Parse ``--max-age``, so that a bad value is a usage error naming the option."""
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}: it must be more than 0")
    return seconds


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Gate a deployment pipeline on the verdict file that "
        "pytest --deploy-target writes.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    gate = commands.add_parser(
        "gate",
        help="exit 0 only if the verdict file lets the pipeline proceed",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=_GATE_DESCRIPTION,
        epilog=EXIT_CODES_HELP,
    )
    gate.add_argument("file", metavar="VERDICT_FILE", type=Path, help="the verdict file to check")
    gate.add_argument("--target", metavar="NAME", help="the target the verdict must be for")
    gate.add_argument("--version", metavar="V", help="the version the verdict must be for")
    gate.add_argument(
        "--max-age",
        metavar="DURATION",
        type=max_age_option,
        help="the oldest verdict accepted, measured from the end of its run: "
        "45 (seconds), 90s, 30m, 2h, 1d, 1h30m",
    )
    gate.add_argument(
        "--strict", action="store_true", help="DEPLOYABLE_WITH_WARNINGS does not pass"
    )
    gate.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text: one line (stdout on success, stderr otherwise); "
        "json: one JSON object on stdout (default: text)",
    )
    add_trust_options(gate)
    gate.set_defaults(run=_gate)

    show = commands.add_parser(
        "show",
        help="print a verdict file for a person",
        description="Print VERDICT_FILE for a person: a text summary, Markdown for a CI job "
        "page, or the checked statement as JSON.",
    )
    show.add_argument("file", metavar="VERDICT_FILE", type=Path, help="the verdict file to show")
    show.add_argument(
        "--format",
        choices=("text", "markdown", "json"),
        default="text",
        help="output format (default: text)",
    )
    show.add_argument(
        "--key", metavar="PUB", type=Path, action="append", default=[],
        help="a trusted public key to verify the signature with (repeatable)",
    )
    show.set_defaults(run=_show)

    keygen = commands.add_parser(
        "keygen",
        help="write a signing key pair: PREFIX.key (mode 0600) and PREFIX.pub",
        description="Write a new signing key: PREFIX.key (PKCS#8 PEM, mode 0600; keep it "
        "secret, e.g. as a CI secret variable) and PREFIX.pub (give it to deployable gate "
        "--key, or list it in the policy's trusted_keys). Prints the keyid.",
    )
    keygen.add_argument("prefix", metavar="PREFIX", type=Path, help="where to write the keys")
    keygen.add_argument("--algorithm", choices=ALGORITHMS, default="ed25519",
                        help="the key type (default: ed25519)")
    keygen.add_argument("--force", action="store_true", help="overwrite existing files")
    keygen.set_defaults(run=_keygen)

    contract_diff = commands.add_parser(
        "contract-diff",
        help="list breaking changes between two OpenAPI contracts",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Compare the contract consumers rely on (EXPECTED) with the one a "
        "service serves (ACTUAL): one finding per line, breaking ones first. EXPECTED and "
        "ACTUAL are OpenAPI 3.0/3.1 files (YAML or JSON) or http(s) URLs.",
        epilog=_DIFF_EXIT_CODES,
    )
    contract_diff.add_argument("expected", metavar="EXPECTED", help="the consumers' contract")
    contract_diff.add_argument("actual", metavar="ACTUAL", help="the served contract")
    contract_diff.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text: one finding per line; json: one object on stdout (default: text)",
    )
    contract_diff.set_defaults(run=_contract_diff)

    from .ledger.cli import add_commands as add_ledger_commands

    add_ledger_commands(commands)

    from .report.cli import add_commands as add_report_commands

    add_report_commands(commands)

    from .serve.cli import add_command as add_serve_command

    add_serve_command(commands)
    return parser


def _print(stream: TextIO, text: str) -> None:
    """Write ``text`` and a newline, escaping what the stream's encoding cannot show."""
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        stream.write(text.encode(encoding, "backslashreplace").decode(encoding) + "\n")
        stream.flush()
    except BrokenPipeError:
        # ``deployable show | head``: the reader has gone, which is not an error of
        # ours. Point the descriptor at /dev/null so that the interpreter's own
        # flush at exit does not fail again; the exit code stays the command's.
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, stream.fileno())
            os.close(devnull)


def _gate(args: argparse.Namespace) -> int:
    from .policy_gate import GateUsage, run_gate

    now = datetime.now(timezone.utc)
    try:
        vsa_key = load_vsa_key(args)
        trusted = run_gate(
            args.file, target=args.target, version=args.version, max_age=args.max_age,
            strict=args.strict, keys=args.key, subject=args.subject, policy_path=args.policy,
            allow_partial=args.allow_partial, now=now, cwd=Path(),
        )
    except GateUsage as exc:
        if args.emit_vsa is not None:
            discard_vsa(args.emit_vsa)
        _print(sys.stderr, f"{PROG} gate: {exc}")
        return EXIT_USAGE
    result = trusted.result
    if args.emit_vsa is not None and not emit_vsa(args, trusted, vsa_key, now):
        return EXIT_USAGE
    if args.format == "json":
        document = {
            "ok": result.ok,
            "exitCode": result.exit_code,
            "verdict": result.verdict,
            "message": result.message,
            "target": result.target,
            "version": result.version,
            "ageSeconds": None if result.age is None else int(result.age),
            "signature": trusted.document.signature_facts() if trusted.document else None,
            "policy": trusted.policy.label if trusted.policy else None,
        }
        _print(sys.stdout, json.dumps(document))
    elif result.ok:
        _print(sys.stdout, f"{PROG} gate: {result.message}")
    else:
        _print(sys.stderr, f"{PROG} gate: {result.message}")
    return result.exit_code


def _show(args: argparse.Namespace) -> int:
    from .envelope import read_document

    try:
        keys = tuple(load_public_key(path) for path in args.key)
    except KeyFileError as exc:
        _print(sys.stderr, f"{PROG} show: {exc}")
        return EXIT_USAGE
    try:
        document = read_document(args.file, keys)
    except VerdictFileError as exc:
        _print(sys.stderr, f"{PROG} show: {exc}")
        return EXIT_BAD_FILE
    statement = document.statement
    if args.format == "json":
        # The statement as it was; for a signed file (or with --key), plus one key
        # that says who signed it and whether it verified (not in-toto's).
        signature = {"signature": document.signature_facts()} if document.signed or keys else {}
        text = json.dumps({**statement, **signature}, indent=2)
    else:
        from . import summary

        render = summary.render_markdown if args.format == "markdown" else summary.render_text
        text = render(statement).rstrip("\n")
        if document.signed or keys:
            gap = "\n\n" if args.format == "markdown" else "\n"
            text += f"{gap}Signature: {document.describe()}"
    _print(sys.stdout, text)
    return 0 if document.problem is None or not keys else EXIT_SIGNATURE


def _keygen(args: argparse.Namespace) -> int:
    try:
        key = keygen(args.prefix, args.algorithm, force=args.force)
    except KeyFileError as exc:
        _print(sys.stderr, f"{PROG} keygen: {exc}")
        return EXIT_USAGE
    _print(sys.stdout, f"{PROG} keygen: wrote {args.prefix}.key (secret, mode 0600) and "
           f"{args.prefix}.pub; keyid {key.keyid}")
    return 0


def _contract_diff(args: argparse.Namespace) -> int:
    from .contract import ContractError, MissingExtra, parse_document, read_location
    from .contract.drift import diff

    documents = []
    for location in (args.expected, args.actual):
        try:
            documents.append(parse_document(*read_location(location)))
        except MissingExtra as exc:
            _print(sys.stderr, f"{PROG} contract-diff: {exc}")
            return EXIT_USAGE
        except ContractError as exc:
            _print(sys.stderr, f"{PROG} contract-diff: {exc}")
            return EXIT_BAD_FILE
    findings = diff(documents[0], documents[1])
    breaking = sum(finding.breaking for finding in findings)
    if args.format == "json":
        document = {
            "ok": not breaking,
            "breaking": breaking,
            "findings": [finding.to_dict() for finding in findings],
        }
        _print(sys.stdout, json.dumps(document))
    else:
        for finding in findings:
            _print(sys.stdout, str(finding))
        verdict = f"{breaking} breaking change{'s' * (breaking != 1)}" if breaking else (
            "no breaking change"
        )
        _print(sys.stderr if breaking else sys.stdout,
               f"{PROG} contract-diff: {verdict} ({len(findings) - breaking} compatible)")
    return 1 if breaking else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``deployable`` command on ``argv`` (default: the process's); return its exit code."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or argparse's usage error
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    code: int = args.run(args)
    return code
