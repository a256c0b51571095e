"""What the ledger's commands share: exit codes, option types, finding and opening the ledger,
and turning a failure into one line and an exit code.

``deployable record``, ``history``, ``can-i-deploy`` (``cli.py``), ``metrics`` and ``report``
(``report/cli.py``) and ``serve`` (``serve/cli.py``) take their ledger the same way, so they
take these. Importing this module imports no database code.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

from ..durations import parse_duration
from ..target_schema import TargetError
from ..untrusted import one_line
from .urls import ENV_VAR, LedgerURL, LedgerUsageError

__all__ = [
    "EXIT_CODES_HELP",
    "EXIT_LEDGER",
    "EXIT_USAGE",
    "PROG",
    "CommandFailed",
    "Setup",
    "bounded",
    "command",
    "common_options",
    "count_option",
    "emit",
    "interval_option",
    "ledger_call",
    "ledger_setup",
    "missing_extra",
    "open_ledger",
    "positive_option",
    "print_line",
    "time_option",
]

PROG = "deployable"
EXIT_USAGE = 2
EXIT_LEDGER = 3

#: What each exit code of the ledger commands means, as ``--help`` shows it.
EXIT_CODES_HELP = """\
exit codes:
  0  done
  2  usage error: bad arguments, a bad targets file or ledger URL, the ledger
     extra not installed, or --id / --remediates naming the wrong deployment
  3  the ledger cannot be read or written (unreachable, locked, read-only, at
     another schema version), or a verdict file is not a trustworthy verdict"""

class CommandFailed(Exception):
    """A command cannot do its job: one line and an exit code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def print_line(stream: TextIO, text: str) -> None:
    encoding = getattr(stream, "encoding", None) or "utf-8"
    stream.write(text.encode(encoding, "backslashreplace").decode(encoding) + "\n")
    stream.flush()


def time_option(text: str) -> datetime:
    """An ISO 8601 time with a zone (``2026-01-01T12:00:00Z``), for --time and --commit-time."""
    value = text.strip()
    try:
        moment = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid time {text!r}: use ISO 8601 with a zone, such as 2026-01-01T12:00:00Z"
        ) from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"invalid time {text!r}: give its zone, such as 2026-01-01T12:00:00Z or +02:00"
        )
    return moment.astimezone(timezone.utc)


def bounded(limit: int) -> Callable[[str], str]:
    """An argparse type for a name the ledger indexes: not empty, at most ``limit`` long."""
    def check(text: str) -> str:
        if not text or len(text) > limit:
            raise argparse.ArgumentTypeError(
                f"expected 1 to {limit} characters, not {len(text)}: the ledger keeps at most "
                f"{limit} characters")
        return text
    return check


def count_option(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number of 0 or more, not {text!r}")
    return int(text)


def positive_option(text: str) -> int:
    if not text.isdigit() or int(text) == 0:
        raise argparse.ArgumentTypeError(f"expected a whole number of 1 or more, not {text!r}")
    return int(text)


def interval_option(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def common_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ledger", metavar="URL",
        help=f"the ledger: sqlite:///PATH or postgresql://USER:PASSWORD@HOST/DB. Env: {ENV_VAR}; "
        "else [ledger] url in the targets file; else deploy-ledger.db beside it",
    )
    parser.add_argument(
        "--targets-file", metavar="PATH", type=Path,
        help="the targets file (default: deploy-targets.toml, else pyproject.toml's "
        "[tool.deployable], in the current directory)",
    )
    parser.add_argument("--format", choices=("text", "json"), default="text",
                        help="text for a person, or one JSON object on stdout")


@dataclass(frozen=True)
class Setup:
    url: LedgerURL
    targets: Any  # TargetsFile | None, imported lazily with the targets module
    cwd: Path


def ledger_setup(args: argparse.Namespace, *, need_targets: bool = False) -> Setup:
    """The ledger's URL, and the targets file when the command needs it or the URL may come
    from it (an unrelated broken targets file does not stop ``record --ledger URL``)."""
    from ..targets import find_targets_file, ledger_url, load_targets_file
    from .urls import resolve

    cwd = Path.cwd()
    try:
        path = args.targets_file or find_targets_file(cwd)
        if not need_targets and not args.targets_file and (args.ledger or os.environ.get(ENV_VAR)):
            path = None
        targets = load_targets_file(path) if path is not None else None
        found = ledger_url(targets) if targets is not None else None
        url = resolve(args.ledger, targets_file=path, cwd=cwd,
                      file_url=found[0] if found else None,
                      file_secrets=found[1] if found else frozenset())
    except (TargetError, LedgerUsageError) as exc:
        raise CommandFailed(EXIT_USAGE, str(exc)) from None
    return Setup(url, targets, cwd)


def missing_extra(exc: ImportError, what: str = "the ledger", extra: str = "ledger",
                  ) -> CommandFailed:
    """The usage error of a command whose extra is not installed: what to install."""
    return CommandFailed(EXIT_USAGE, f"{what} needs the {extra} extra ({exc.name} is "
                         f"missing): pip install 'pytest-deployable[{extra}]'")


def open_ledger(setup: Setup, *, write: bool) -> Any:
    try:
        from .store import Ledger
    except ImportError as exc:
        raise missing_extra(exc) from None
    from .connection import LedgerError, LedgerUnusable

    try:
        return Ledger.open(setup.url, write=write)
    except LedgerUnusable as exc:
        raise CommandFailed(EXIT_USAGE, str(exc)) from None
    except LedgerError as exc:
        raise CommandFailed(EXIT_LEDGER, str(exc)) from None


def ledger_call(call: Callable[[], Any]) -> Any:
    from .store import DeploymentConflict, LedgerError

    try:
        return call()
    except DeploymentConflict as exc:
        raise CommandFailed(EXIT_USAGE, str(exc)) from None
    except LedgerError as exc:
        raise CommandFailed(EXIT_LEDGER, str(exc)) from None


def command(name: str, body: Callable[[argparse.Namespace], int]) -> Callable[
        [argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            return body(args)
        except CommandFailed as exc:
            print_line(sys.stderr, f"{PROG} {name}: {one_line(str(exc))}")
            return exc.code
    return run


def emit(args: argparse.Namespace, document: dict[str, Any], lines: list[str]) -> None:
    if args.format == "json":
        print_line(sys.stdout, json.dumps(document))
    else:
        for line in lines:
            print_line(sys.stdout, one_line(line))
