"""``deployable can-i-deploy``: the promotion rule from the targets file, asked of the ledger.

The rule itself is :func:`.promotion.decide`; this module finds it (the target's
``promote_from`` and ``promote_max_age``, and whether its policy requires
signatures), reads the latest verdicts, and asks again while the answer is
unknown and ``--retry-while-unknown`` allows, saying each time that it waits.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..durations import format_interval, parse_duration
from ..target_schema import TargetError
from .commands import EXIT_USAGE, PROG, CommandFailed
from .policy import find_policy_file, signature_required, signature_verifier
from .promotion import Promotion, PromotionRule, Verifier, decide
from .urls import LedgerURL

__all__ = ["ask", "rule_for", "verifier_for"]


def rule_for(targets: Any, to: str, policy: Path | None) -> PromotionRule:
    """Target ``to``'s promotion rule; CommandFailed (usage) when there is none to apply."""
    if targets is None:
        raise CommandFailed(EXIT_USAGE, "no targets file: can-i-deploy answers from the "
                            "promote_from of the target; give --targets-file or run it where "
                            "deploy-targets.toml is")
    tables = targets.tables
    if to not in tables:
        known = ", ".join(sorted(tables)) or "none"
        raise CommandFailed(EXIT_USAGE, f"--to {to!r} is not a target in {targets.path}; "
                            f"known targets: {known}")
    table = tables[to]
    if "promote_from" not in table:
        raise CommandFailed(EXIT_USAGE, f"{targets.path}: targets.{to} has no promote_from, so "
                            "there is no rule to answer from; add promote_from = [\"NAME\", ...]")
    max_age = table.get("promote_max_age")
    try:
        required = signature_required(policy, to)
    except TargetError as exc:
        raise CommandFailed(EXIT_USAGE, str(exc)) from None
    return PromotionRule(
        to=to, promote_from=tuple(table["promote_from"]),
        max_age=None if max_age is None else (
            float(max_age) if isinstance(max_age, (int, float)) else parse_duration(max_age)),
        require_signature=required,
    )


def verifier_for(policy: Path | None, to: str) -> Verifier | None:
    """How a recorded envelope's signature is checked against ``to``'s trusted keys.

    None when the policy names no trusted key: a target whose policy requires
    signatures then gets "no", never a trusted keyid unchecked.
    """
    try:
        return signature_verifier(policy, to)
    except TargetError as exc:
        raise CommandFailed(EXIT_USAGE, str(exc)) from None


def _latest(ledger: Any, source: str, version: str, subject: str | None) -> Callable[[], Any]:
    return lambda: ledger.latest_verdicts(source, version, subject=subject)


def ask(args: argparse.Namespace, url: LedgerURL, targets: Any, cwd: Path, *,
        open_ledger: Callable[[], Any], call: Callable[[Callable[[], Any]], Any],
        say: Callable[[str], None], verify: Verifier | None = None) -> tuple[Promotion, int]:
    """The answer for ``args.version`` and ``args.to``, and how many times the ledger was asked."""
    policy = find_policy_file(args.policy, getattr(targets, "path", None), cwd)
    rule = rule_for(targets, args.to, policy)
    if verify is None and rule.require_signature:
        verify = verifier_for(policy, args.to)
    ledger = open_ledger()
    try:
        attempt = 0
        while True:
            attempt += 1
            latest = {source: call(_latest(ledger, source, args.version, args.subject_name))
                      for source in rule.promote_from}
            promotion = decide(
                rule, args.version, latest, now=datetime.now(timezone.utc), strict=args.strict,
                verify=verify, document=lambda row: call(lambda: ledger.document(row.id)),
            )
            if promotion.answer != "unknown" or attempt > args.retry_while_unknown:
                return promotion, attempt
            waiting = next(r for r in promotion.requirements if r.answer == "unknown")
            say(f"{PROG} can-i-deploy: unknown ({waiting.target}: {waiting.reason}); asking "
                f"again in {format_interval(args.retry_interval)} (attempt {attempt + 1} of "
                f"{args.retry_while_unknown + 1})")
            time.sleep(args.retry_interval)
    finally:
        ledger.close()
