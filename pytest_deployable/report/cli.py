"""``deployable metrics`` and ``deployable report``: the ledger shown to the whole team.

Both find the ledger as the other ledger commands do (``--ledger``, then
``DEPLOYABLE_LEDGER``, then the targets file) and fail with the same one-line
errors and exit codes; importing this module imports no database code.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from ..durations import parse_duration
from ..ledger.commands import (
    EXIT_CODES_HELP,
    EXIT_USAGE,
    PROG,
    CommandFailed,
    command,
    common_options,
    emit,
    ledger_call,
    ledger_setup,
    missing_extra,
    open_ledger,
    print_line,
    time_option,
)
from ..untrusted import one_line

__all__ = ["add_commands"]

#: The window ``metrics`` and the page look back over unless told otherwise.
DEFAULT_SINCE = "90d"


def _since_option(text: str) -> datetime | timedelta:
    """``--since``: a length back from ``--until`` (``90d``, ``12h``) or an ISO 8601 time."""
    try:
        seconds = parse_duration(text)
    except ValueError:
        try:
            return time_option(text)
        except argparse.ArgumentTypeError:
            raise argparse.ArgumentTypeError(
                f"invalid --since {text!r}: give a duration such as 90d or 12h, or an ISO 8601 "
                "time with a zone such as 2026-01-01T00:00:00Z") from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"invalid --since {text!r}: it must be more than 0")
    return timedelta(seconds=seconds)


def add_commands(commands: Any) -> None:
    """Add ``metrics`` and ``report`` to the ``deployable`` parser's subparsers."""
    formatter = argparse.RawDescriptionHelpFormatter
    metrics = commands.add_parser(
        "metrics", help="the DORA metrics of a target, from the deployments in the ledger",
        formatter_class=formatter, epilog=EXIT_CODES_HELP,
        description="Compute the DORA metrics of T over a window (SPEC section 13):\n"
        "deployments, deployment frequency, lead time for changes, change failure rate,\n"
        "failed deployment recovery time and rework rate, each with its DORA performance\n"
        "level (Accelerate State of DevOps Report 2023). A deployment is failed when its\n"
        "status is failed or a deployment --remediates it.",
    )
    metrics.add_argument("--target", required=True, metavar="T")
    metrics.add_argument("--since", metavar="DURATION|ISO8601", type=_since_option,
                         default=_since_option(DEFAULT_SINCE),
                         help=f"the window's start: a length back from --until, or a time "
                         f"(default {DEFAULT_SINCE})")
    metrics.add_argument("--until", metavar="ISO8601", type=time_option,
                         help="the window's end (default: now)")
    common_options(metrics)
    metrics.set_defaults(run=_metrics)

    report = commands.add_parser(
        "report", help="write the report page: DIR/index.html, one self-contained file",
        formatter_class=formatter, epilog=EXIT_CODES_HELP,
        description="Write DIR/index.html (SPEC section 14): each target's latest verdict and\n"
        "deployed version, the versions x targets promotion matrix, the verdict history\n"
        "with every check, the DORA metrics as charts, and the checks that most often\n"
        "waited, were rerun or failed. It fetches nothing: open it from file://.",
    )
    report.add_argument("-o", "--output", required=True, metavar="DIR", type=Path,
                        help="the directory to write index.html into (made if missing)")
    report.add_argument("--since", metavar="DURATION|ISO8601", type=_since_option,
                        default=_since_option(DEFAULT_SINCE),
                        help=f"the DORA metrics' window (default {DEFAULT_SINCE} to now)")
    common_options(report)
    report.set_defaults(run=_report)


def _level(name: str | None) -> str:
    return f"  ({name})" if name else ""


def text_lines(document: dict[str, Any]) -> list[str]:
    """The metrics as the table a person reads."""
    from .charts import duration_text, percent_text

    levels = document["performance"]["levels"]
    lead = document["leadTimeForChanges"]
    recovery = document["failedDeploymentRecoveryTime"]
    frequency = document["deploymentFrequency"]
    rows = [
        ("deployments", str(document["deployments"]), ""),
        ("deployment frequency", f"{frequency['perDay']:.2f}/day on "
         f"{frequency['deploymentDays']} day{'s' * (frequency['deploymentDays'] != 1)}",
         _level(levels["deploymentFrequency"])),
        ("lead time for changes", f"{duration_text(lead['medianSeconds'])} median of "
         f"{lead['deployments']}", _level(levels["leadTimeForChanges"])),
        ("change failure rate", f"{percent_text(document['changeFailureRate'])} "
         f"({document['failedDeployments']} failed)", _level(levels["changeFailureRate"])),
        ("failed deployment recovery time", f"{duration_text(recovery['medianSeconds'])} median, "
         f"{recovery['unrecovered']} unrecovered", _level(levels["failedDeploymentRecoveryTime"])),
        ("rework rate", f"{percent_text(document['reworkRate'])} "
         f"({document['reworkDeployments']} remediating)", ""),
    ]
    width = max(len(name) for name, _, _ in rows)
    lines = [f"DORA metrics of {document['target']}, {document['since']} to "
             f"{document['until']} ({document['days']:g} days)"]
    lines += [f"  {name:<{width}}  {value}{level}" for name, value, level in rows]
    lines.append(f"  levels: {document['performance']['source']}")
    if lead["commitAfterDeployment"]:
        lines.append(f"  {lead['commitAfterDeployment']} deployment(s) have a commit time "
                     "after their deployment: left out of the lead time")
    return lines


def _metrics_body(args: argparse.Namespace) -> int:
    from .dora import compute, window
    from .queries import metric_rows, targets

    setup = ledger_setup(args)
    start, end = window(args.until, args.since, now=datetime.now(timezone.utc))
    if end < start:
        raise CommandFailed(EXIT_USAGE, f"--since is after --until ({end:%Y-%m-%dT%H:%M:%SZ})")
    ledger = open_ledger(setup, write=False)
    try:
        rows = ledger_call(lambda: metric_rows(ledger, args.target, start))
        known = ledger_call(lambda: targets(ledger)) if not rows else None
    finally:
        ledger.close()
    document = compute(rows, args.target, since=start, until=end).to_dict()
    emit(args, document, text_lines(document))
    if known is not None and args.target not in known:
        # Not an error (a new target has no deployments yet), but a typo must not pass as
        # "no deployments".
        print_line(sys.stderr, one_line(
            f"{PROG} metrics: nothing is recorded for target {args.target!r} in the ledger; "
            f"its targets are: {', '.join(known) or 'none'}"))
    return 0


def _report_body(args: argparse.Namespace) -> int:
    from ..attestation import write_atomic

    try:
        import jinja2  # noqa: F401  (the extra, checked before the ledger is opened)

        from . import render_report
    except ImportError as exc:
        raise missing_extra(exc, "the report page", "report") from None
    setup = ledger_setup(args)
    if isinstance(args.since, datetime) and args.since > datetime.now(timezone.utc):
        raise CommandFailed(EXIT_USAGE, f"--since {args.since:%Y-%m-%dT%H:%M:%SZ} is in the "
                            "future: the window would end before it starts")
    if args.output.exists() and not args.output.is_dir():
        raise CommandFailed(EXIT_USAGE, f"-o {args.output}: not a directory")
    ledger = open_ledger(setup, write=False)
    try:
        page = ledger_call(lambda: render_report(ledger, since=args.since))
    finally:
        ledger.close()
    path = args.output / "index.html"
    try:
        write_atomic(path, page)
        # The page is for the whole team: readable as a file the user made normally is
        # (write_atomic's temporary file is private to its owner).
        mask = os.umask(0)
        os.umask(mask)
        path.chmod(0o666 & ~mask)
    except OSError as exc:
        raise CommandFailed(EXIT_USAGE, f"cannot write {path}: {exc.strerror or exc}") from None
    emit(args, {"report": str(path), "ledger": setup.url.shown},
          [f"wrote {path}: open file://{path.resolve()}"])
    return 0


_metrics = command("metrics", _metrics_body)
_report = command("report", _report_body)
