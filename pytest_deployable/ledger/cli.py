"""The ledger's ``deployable`` subcommands: record, record-deployment, can-i-deploy, history,
ledger upgrade.

Importing this module imports no database code; each command imports the store
when it runs. Every command prints one line on stderr and exits with the codes
in :data:`EXIT_CODES_HELP` when it cannot do its job; none ends in a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..untrusted import one_line
from .commands import (
    EXIT_CODES_HELP,
    EXIT_LEDGER,
    EXIT_USAGE,
    PROG,
    CommandFailed,
    bounded,
    command,
    common_options,
    count_option,
    emit,
    interval_option,
    ledger_call,
    ledger_setup,
    missing_extra,
    open_ledger,
    positive_option,
    print_line,
    time_option,
)

__all__ = ["CAN_I_DEPLOY_EXIT_CODES", "EXIT_CODES_HELP", "CommandFailed", "add_commands"]

CAN_I_DEPLOY_EXIT_CODES = """\
exit codes:
  0  yes: every target in promote_from has a passing, complete verdict for V
  1  no: evidence against (a failing, inconclusive or partial latest verdict,
     warnings with --strict, a signature required and not verified)
  6  unknown: no verdict for V yet on some target (or only one older than
     promote_max_age); no data never means yes
  3  the ledger cannot be read
  2  usage error"""


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
    common_options(record)
    record.set_defaults(run=_record)

    deployment = commands.add_parser(
        "record-deployment", help="record that a version was deployed to a target",
        formatter_class=formatter, epilog=EXIT_CODES_HELP,
        description="Record that VERSION was deployed to TARGET and print the deployment's "
        "id. With --id the call is idempotent: the same id again records nothing.",
    )
    deployment.add_argument("--target", required=True, metavar="T", type=bounded(500))
    deployment.add_argument("--version", required=True, metavar="V", type=bounded(500))
    deployment.add_argument("--status", choices=("succeeded", "failed"), default="succeeded")
    deployment.add_argument("--commit", metavar="SHA", type=bounded(200))
    deployment.add_argument("--commit-time", metavar="ISO8601", type=time_option)
    deployment.add_argument("--time", metavar="ISO8601", type=time_option,
                            help="when it was deployed (default: now)")
    deployment.add_argument("--remediates", metavar="ID", type=bounded(200),
                            help="this deployment fixes or rolls back deployment ID")
    deployment.add_argument("--id", metavar="KEY", type=bounded(200),
                            help="an idempotency key: the deployment's id")
    common_options(deployment)
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
    can.add_argument("--retry-while-unknown", metavar="N", type=count_option, default=0,
                     help="ask again up to N times while the answer is unknown")
    can.add_argument("--retry-interval", metavar="DURATION", type=interval_option,
                     default=10.0, help="the wait between those attempts (default 10s)")
    can.add_argument("--policy", metavar="FILE",
                     help="the policy file (default: deploy-policy.toml beside the targets "
                     "file, or here)")
    common_options(can)
    can.set_defaults(run=_can_i_deploy)

    history = commands.add_parser(
        "history", help="list recorded verdicts and deployments, newest first",
        formatter_class=formatter, epilog=EXIT_CODES_HELP,
    )
    history.add_argument("--target", metavar="T")
    history.add_argument("--version", metavar="V")
    history.add_argument("--limit", metavar="N", type=positive_option, default=20)
    common_options(history)
    history.set_defaults(run=_history)

    ledger = commands.add_parser("ledger", help="manage the ledger's database")
    actions = ledger.add_subparsers(dest="action", metavar="ACTION", required=True)
    upgrade = actions.add_parser(
        "upgrade", help="create the ledger, or migrate it to this version's schema",
        formatter_class=formatter, epilog=EXIT_CODES_HELP,
    )
    common_options(upgrade)
    upgrade.set_defaults(run=_upgrade)


def _record_body(args: argparse.Namespace) -> int:
    from ..gate import VerdictFileError
    from .documents import read_document

    setup = ledger_setup(args)
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
            print_line(sys.stderr, f"{PROG} record: {one_line(line)}")
        count = f"{len(bad)} of {len(args.files)} files are not verdicts; " if len(bad) > 1 \
            else ""
        raise CommandFailed(EXIT_LEDGER, f"{bad[-1]} ({count}nothing was recorded)")
    ledger = open_ledger(setup, write=True)
    try:
        results = ledger_call(lambda: ledger.record(documents))
    finally:
        ledger.close()
    new = sum(1 for _, is_new in results if is_new)
    entries = [{"file": str(path), "id": verdict_id, "new": is_new,
                "digest": f"sha256:{document.statement_sha256}"}
               for path, document, (verdict_id, is_new)
               in zip(args.files, documents, results, strict=True)]
    emit(args, {"recorded": len(results), "new": new, "known": len(results) - new,
                 "ledger": setup.url.shown, "verdicts": entries},
          [f"recorded {len(results)} verdict{'s' * (len(results) != 1)} in {setup.url.shown}: "
           f"{new} new, {len(results) - new} already known"])
    return 0


def _record_deployment_body(args: argparse.Namespace) -> int:
    from .rows import NewDeployment

    setup = ledger_setup(args)
    new = NewDeployment(
        target=args.target, version=args.version, status=args.status,
        deployed_at=args.time or datetime.now(timezone.utc), commit=args.commit,
        commit_time=args.commit_time, remediates=args.remediates, key=args.id,
    )
    ledger = open_ledger(setup, write=True)
    try:
        row, is_new = ledger_call(lambda: ledger.record_deployment(new))
    finally:
        ledger.close()
    document = {**row.to_dict(), "new": is_new}
    emit(args, document, [row.id])
    if not is_new and args.format == "text":
        print_line(sys.stderr, f"{PROG} record-deployment: {row.id} was recorded before; "
                           "nothing changed")
    return 0


def _history_body(args: argparse.Namespace) -> int:
    from ..attestation import format_time
    from .rows import VerdictRow

    setup = ledger_setup(args)
    ledger = open_ledger(setup, write=False)
    try:
        entries = ledger_call(lambda: ledger.history(
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
    emit(args, {"entries": [entry.to_dict() for entry in entries]}, lines)
    return 0


def _upgrade_body(args: argparse.Namespace) -> int:
    setup = ledger_setup(args)
    try:
        from .store import Ledger
    except ImportError as exc:
        raise missing_extra(exc) from None
    from .connection import LedgerUnusable

    try:
        before, after = ledger_call(lambda: Ledger.upgrade(setup.url))
    except LedgerUnusable as exc:
        raise CommandFailed(EXIT_USAGE, str(exc)) from None
    line = (f"the ledger {setup.url.shown} is at schema {after}: up to date" if before == after
            else f"the ledger {setup.url.shown}: schema {before or 'none'} -> {after}")
    emit(args, {"ledger": setup.url.shown, "before": before, "after": after}, [line])
    return 0


_record = command("record", _record_body)
_record_deployment = command("record-deployment", _record_deployment_body)
_history = command("history", _history_body)
_upgrade = command("ledger upgrade", _upgrade_body)


def _can_i_deploy_body(args: argparse.Namespace) -> int:
    from .can_i_deploy import ask

    setup = ledger_setup(args, need_targets=True)
    promotion, attempts = ask(args, setup.url, setup.targets, setup.cwd,
                              open_ledger=lambda: open_ledger(setup, write=False),
                              call=ledger_call, say=lambda line: print_line(sys.stderr, line))
    if args.format == "json":
        print_line(sys.stdout, json.dumps({**promotion.to_dict(), "attempts": attempts}))
    else:
        verb = "may" if promotion.answer == "yes" else "may not yet" \
            if promotion.answer == "unknown" else "may not"
        print_line(sys.stdout, one_line(f"{promotion.answer}: {promotion.version} {verb} go to "
                                     f"{promotion.to}"))
        for reason in promotion.reasons:
            print_line(sys.stdout, "  " + one_line(reason))
    return int(promotion.exit_code)


_can_i_deploy = command("can-i-deploy", _can_i_deploy_body)
