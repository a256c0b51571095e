"""The ledger's ``deployable`` subcommands: record, record-deployment, can-i-deploy, history,
ledger upgrade.

Importing this module imports no database code; each command imports the store
when it runs. Every command prints one line on stderr and exits with the codes
in :data:`EXIT_CODES_HELP` when it cannot do its job; none ends in a traceback.
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

__all__ = ["CAN_I_DEPLOY_EXIT_CODES", "EXIT_CODES_HELP", "CommandFailed", "add_commands"]

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

CAN_I_DEPLOY_EXIT_CODES = """\
exit codes:
  0  yes: every target in promote_from has a passing, complete verdict for V
  1  no: evidence against (a failing, inconclusive or partial latest verdict,
     warnings with --strict, a signature required and not verified)
  6  unknown: no verdict for V yet on some target (or only one older than
     promote_max_age); no data never means yes
  3  the ledger cannot be read
  2  usage error"""


class CommandFailed(Exception):
    """A command cannot do its job: one line and an exit code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def _print(stream: TextIO, text: str) -> None:
    encoding = getattr(stream, "encoding", None) or "utf-8"
    stream.write(text.encode(encoding, "backslashreplace").decode(encoding) + "\n")
    stream.flush()


def _time_option(text: str) -> datetime:
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


def _bounded(limit: int) -> Callable[[str], str]:
    """An argparse type for a name the ledger indexes: not empty, at most ``limit`` long."""
    def check(text: str) -> str:
        if not text or len(text) > limit:
            raise argparse.ArgumentTypeError(
                f"expected 1 to {limit} characters, not {len(text)}: the ledger keeps at most "
                f"{limit} characters")
        return text
    return check


def _count_option(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number of 0 or more, not {text!r}")
    return int(text)


def _positive_option(text: str) -> int:
    if not text.isdigit() or int(text) == 0:
        raise argparse.ArgumentTypeError(f"expected a whole number of 1 or more, not {text!r}")
    return int(text)


def _interval_option(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _common(parser: argparse.ArgumentParser) -> None:
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


def add_commands(commands: Any) -> None:
    """Add the ledger's subcommands to the ``deployable`` parser's subparsers."""
    formatter = argparse.RawDescriptionHelpFormatter
    record = commands.add_parser(
        "record", help="record verdict files in the ledger", formatter_class=formatter,
        description="Record verdict files (bare statements or signed envelopes) in the "
        "ledger. A statement already recorded is not stored again. Every file is checked "
        "first: if one is not a trustworthy verdict, none is recorded.",
        epilog=EXIT_CODES_HELP,
    )
    record.add_argument("files", metavar="FILE", nargs="+", type=Path, help="verdict files")
    _common(record)
    record.set_defaults(run=_record)

    deployment = commands.add_parser(
        "record-deployment", help="record that a version was deployed to a target",
        formatter_class=formatter, epilog=EXIT_CODES_HELP,
        description="Record that VERSION was deployed to TARGET and print the deployment's "
        "id. With --id the call is idempotent: the same id again records nothing.",
    )
    deployment.add_argument("--target", required=True, metavar="T", type=_bounded(500))
    deployment.add_argument("--version", required=True, metavar="V", type=_bounded(500))
    deployment.add_argument("--status", choices=("succeeded", "failed"), default="succeeded")
    deployment.add_argument("--commit", metavar="SHA", type=_bounded(200))
    deployment.add_argument("--commit-time", metavar="ISO8601", type=_time_option)
    deployment.add_argument("--time", metavar="ISO8601", type=_time_option,
                            help="when it was deployed (default: now)")
    deployment.add_argument("--remediates", metavar="ID", type=_bounded(200),
                            help="this deployment fixes or rolls back deployment ID")
    deployment.add_argument("--id", metavar="KEY", type=_bounded(200),
                            help="an idempotency key: the deployment's id")
    _common(deployment)
    deployment.set_defaults(run=_record_deployment)

    can = commands.add_parser(
        "can-i-deploy", help="may version V go to target T? (from the ledger)",
        formatter_class=formatter, epilog=CAN_I_DEPLOY_EXIT_CODES,
        description="Answer from T's promotion rule in the targets file (promote_from, "
        "promote_max_age): V needs a complete, passing latest verdict on each target of "
        "promote_from. Lists, per target, the verdict that decided.",
    )
    can.add_argument("--version", required=True, metavar="V")
    can.add_argument("--to", required=True, metavar="T")
    can.add_argument("--subject-name", metavar="NAME",
                     help="count only verdicts about this artifact (the subject name in the "
                     "verdict), for a ledger that several applications share")
    can.add_argument("--strict", action="store_true",
                     help="DEPLOYABLE_WITH_WARNINGS is not enough")
    can.add_argument("--retry-while-unknown", metavar="N", type=_count_option, default=0,
                     help="ask again up to N times while the answer is unknown")
    can.add_argument("--retry-interval", metavar="DURATION", type=_interval_option,
                     default=10.0, help="the wait between those attempts (default 10s)")
    can.add_argument("--policy", metavar="FILE",
                     help="the policy file (default: deploy-policy.toml beside the targets "
                     "file, or here)")
    _common(can)
    can.set_defaults(run=_can_i_deploy)

    history = commands.add_parser(
        "history", help="list recorded verdicts and deployments, newest first",
        formatter_class=formatter, epilog=EXIT_CODES_HELP,
    )
    history.add_argument("--target", metavar="T")
    history.add_argument("--version", metavar="V")
    history.add_argument("--limit", metavar="N", type=_positive_option, default=20)
    _common(history)
    history.set_defaults(run=_history)

    ledger = commands.add_parser("ledger", help="manage the ledger's database")
    actions = ledger.add_subparsers(dest="action", metavar="ACTION", required=True)
    upgrade = actions.add_parser(
        "upgrade", help="create the ledger, or migrate it to this version's schema",
        formatter_class=formatter, epilog=EXIT_CODES_HELP,
    )
    _common(upgrade)
    upgrade.set_defaults(run=_upgrade)


@dataclass(frozen=True)
class _Setup:
    url: LedgerURL
    targets: Any  # TargetsFile | None, imported lazily with the targets module
    cwd: Path


def _setup(args: argparse.Namespace, *, need_targets: bool = False) -> _Setup:
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
    return _Setup(url, targets, cwd)


def _missing_extra(exc: ImportError) -> CommandFailed:
    return CommandFailed(EXIT_USAGE, f"the ledger needs the ledger extra ({exc.name} is "
                         "missing): pip install 'pytest-deployable[ledger]'")


def _open(setup: _Setup, *, write: bool) -> Any:
    try:
        from .store import Ledger
    except ImportError as exc:
        raise _missing_extra(exc) from None
    from .connection import LedgerError, LedgerUnusable

    try:
        return Ledger.open(setup.url, write=write)
    except LedgerUnusable as exc:
        raise CommandFailed(EXIT_USAGE, str(exc)) from None
    except LedgerError as exc:
        raise CommandFailed(EXIT_LEDGER, str(exc)) from None


def _ledger_call(call: Callable[[], Any]) -> Any:
    from .store import DeploymentConflict, LedgerError

    try:
        return call()
    except DeploymentConflict as exc:
        raise CommandFailed(EXIT_USAGE, str(exc)) from None
    except LedgerError as exc:
        raise CommandFailed(EXIT_LEDGER, str(exc)) from None


def _command(name: str, body: Callable[[argparse.Namespace], int]) -> Callable[
        [argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        try:
            return body(args)
        except CommandFailed as exc:
            _print(sys.stderr, f"{PROG} {name}: {one_line(str(exc))}")
            return exc.code
    return run


def _emit(args: argparse.Namespace, document: dict[str, Any], lines: list[str]) -> None:
    if args.format == "json":
        _print(sys.stdout, json.dumps(document))
    else:
        for line in lines:
            _print(sys.stdout, one_line(line))


def _record_body(args: argparse.Namespace) -> int:
    from ..gate import VerdictFileError
    from .documents import read_document

    setup = _setup(args)
    documents, bad = [], []
    for path in args.files:
        try:
            documents.append(read_document(path.read_bytes()))
        except VerdictFileError as exc:
            bad.append(f"{path}: {exc}")
        except OSError as exc:
            bad.append(f"{path}: cannot read: {exc.strerror or exc}")
    if bad:
        for line in bad[:-1]:
            _print(sys.stderr, f"{PROG} record: {one_line(line)}")
        count = f"{len(bad)} of {len(args.files)} files are not verdicts; " if len(bad) > 1 \
            else ""
        raise CommandFailed(EXIT_LEDGER, f"{bad[-1]} ({count}nothing was recorded)")
    ledger = _open(setup, write=True)
    try:
        results = _ledger_call(lambda: ledger.record(documents))
    finally:
        ledger.close()
    new = sum(1 for _, is_new in results if is_new)
    entries = [{"file": str(path), "id": verdict_id, "new": is_new,
                "digest": f"sha256:{document.statement_sha256}"}
               for path, document, (verdict_id, is_new)
               in zip(args.files, documents, results, strict=True)]
    _emit(args, {"recorded": len(results), "new": new, "known": len(results) - new,
                 "ledger": setup.url.shown, "verdicts": entries},
          [f"recorded {len(results)} verdict{'s' * (len(results) != 1)} in {setup.url.shown}: "
           f"{new} new, {len(results) - new} already known"])
    return 0


def _record_deployment_body(args: argparse.Namespace) -> int:
    from .rows import NewDeployment

    setup = _setup(args)
    new = NewDeployment(
        target=args.target, version=args.version, status=args.status,
        deployed_at=args.time or datetime.now(timezone.utc), commit=args.commit,
        commit_time=args.commit_time, remediates=args.remediates, key=args.id,
    )
    ledger = _open(setup, write=True)
    try:
        row, is_new = _ledger_call(lambda: ledger.record_deployment(new))
    finally:
        ledger.close()
    document = {**row.to_dict(), "new": is_new}
    _emit(args, document, [row.id])
    if not is_new and args.format == "text":
        _print(sys.stderr, f"{PROG} record-deployment: {row.id} was recorded before; "
                           "nothing changed")
    return 0


def _history_body(args: argparse.Namespace) -> int:
    from ..attestation import format_time
    from .rows import VerdictRow

    setup = _setup(args)
    ledger = _open(setup, write=False)
    try:
        entries = _ledger_call(lambda: ledger.history(
            target=args.target, version=args.version, limit=args.limit))
    finally:
        ledger.close()
    lines = []
    for entry in entries:
        if isinstance(entry, VerdictRow):
            flags = ("complete" if entry.complete else "PARTIAL") + (
                ", signed" if entry.signed else "")
            lines.append(f"{format_time(entry.finished_on)}  verdict     {entry.target}  "
                         f"{entry.version or '-'}  {entry.verdict} ({flags})  #{entry.id} "
                         f"sha256:{entry.statement_sha256[:12]}")
        else:
            fixes = f"  remediates {entry.remediates}" if entry.remediates else ""
            lines.append(f"{format_time(entry.deployed_at)}  deployment  {entry.target}  "
                         f"{entry.version}  {entry.status}  {entry.id}{fixes}")
    if not lines:
        lines.append("nothing recorded" + (" that matches" if args.target or args.version
                                           else ""))
    _emit(args, {"entries": [entry.to_dict() for entry in entries]}, lines)
    return 0


def _upgrade_body(args: argparse.Namespace) -> int:
    setup = _setup(args)
    try:
        from .store import Ledger
    except ImportError as exc:
        raise _missing_extra(exc) from None
    from .connection import LedgerUnusable

    try:
        before, after = _ledger_call(lambda: Ledger.upgrade(setup.url))
    except LedgerUnusable as exc:
        raise CommandFailed(EXIT_USAGE, str(exc)) from None
    line = (f"the ledger {setup.url.shown} is at schema {after}: up to date" if before == after
            else f"the ledger {setup.url.shown}: schema {before or 'none'} -> {after}")
    _emit(args, {"ledger": setup.url.shown, "before": before, "after": after}, [line])
    return 0


_record = _command("record", _record_body)
_record_deployment = _command("record-deployment", _record_deployment_body)
_history = _command("history", _history_body)
_upgrade = _command("ledger upgrade", _upgrade_body)


def _can_i_deploy_body(args: argparse.Namespace) -> int:
    from .can_i_deploy import ask

    setup = _setup(args, need_targets=True)
    promotion, attempts = ask(args, setup.url, setup.targets, setup.cwd,
                              open_ledger=lambda: _open(setup, write=False),
                              call=_ledger_call, say=lambda line: _print(sys.stderr, line))
    if args.format == "json":
        _print(sys.stdout, json.dumps({**promotion.to_dict(), "attempts": attempts}))
    else:
        verb = "may" if promotion.answer == "yes" else "may not yet" \
            if promotion.answer == "unknown" else "may not"
        _print(sys.stdout, one_line(f"{promotion.answer}: {promotion.version} {verb} go to "
                                     f"{promotion.to}"))
        for reason in promotion.reasons:
            _print(sys.stdout, "  " + one_line(reason))
    return int(promotion.exit_code)


_can_i_deploy = _command("can-i-deploy", _can_i_deploy_body)
