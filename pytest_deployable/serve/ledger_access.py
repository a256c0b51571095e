"""The service's one open ledger, and the questions its routes ask of it.

The ledger is opened on first use, not at start-up, and opened again after it
failed: a service started while its database is down answers 503 until the
database is back, then recovers by itself. ``can-i-deploy`` is the ledger's own
promotion rule (:func:`~pytest_deployable.ledger.promotion.decide`) over the
same rule and signature verifier the command uses; nothing is decided here.
"""

from __future__ import annotations

import threading
from datetime import datetime, timezone
from typing import Any

from ..keys import KeyFileError, PublicKey, load_public_key
from ..ledger.can_i_deploy import rule_for, verifier_for
from ..ledger.commands import CommandFailed
from ..ledger.connection import LedgerError, check_revision, guard, revision
from ..ledger.promotion import Promotion, PromotionRule, Verifier, decide
from ..ledger.store import Ledger
from .settings import Settings

__all__ = ["LedgerAccess", "RuleError"]

#: Connections kept open: about one per thread answering at once (anyio's pool has 40).
POOL_SIZE = 8


class RuleError(Exception):
    """The question cannot be answered from the configuration (a 400 for the caller)."""


class LedgerAccess:
    """An open ledger shared by every request, opened lazily; thread-safe."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._ledger: Ledger | None = None
        self._lock = threading.Lock()
        self._rules: dict[str, tuple[PromotionRule, Verifier | None]] = {}
        self._keys: dict[str, tuple[tuple[PublicKey, ...], bool]] = {}

    def get(self) -> Ledger:
        """The open ledger; LedgerError when it cannot be opened (asked again next time)."""
        ledger = self._ledger
        if ledger is not None:
            return ledger
        with self._lock:
            if self._ledger is None:
                # A writer creates a new ledger; a read-only service never does.
                self._ledger = Ledger.open(self.settings.ledger,
                                           write=self.settings.token is not None,
                                           pool_size=POOL_SIZE)
            return self._ledger

    def close(self) -> None:
        """Close the connections."""
        with self._lock:
            if self._ledger is not None:
                self._ledger.close()
                self._ledger = None

    def health(self) -> None:
        """Raise LedgerError unless the ledger answers a query and is at our schema."""
        ledger = self.get()
        url = self.settings.ledger
        with guard(url), ledger.engine.connect() as connection:
            found = revision(connection, url)
        check_revision(found, url)

    # -- can-i-deploy --------------------------------------------------------------------------

    def _rule(self, to: str) -> tuple[PromotionRule, Verifier | None]:
        known = self._rules.get(to)
        if known is not None:
            return known
        try:
            rule = rule_for(self.settings.targets, to, self.settings.policy_path)
            verify = verifier_for(self.settings.policy_path, to) if rule.require_signature \
                else None
        except CommandFailed as exc:
            raise RuleError(str(exc)) from None
        # Only targets of the targets file get here, so the memo stays small.
        self._rules[to] = (rule, verify)
        return rule, verify

    def can_i_deploy(self, version: str, to: str, *, strict: bool = False) -> Promotion:
        """SPEC §12's answer for ``version`` and ``to``; RuleError, LedgerError."""
        rule, verify = self._rule(to)
        ledger = self.get()
        latest = {source: ledger.latest_verdicts(source, version)
                  for source in rule.promote_from}
        return decide(rule, version, latest, now=datetime.now(timezone.utc), strict=strict,
                      verify=verify, document=lambda row: ledger.document(row.id))

    # -- who must sign ---------------------------------------------------------------------------

    def trusted_keys(self, target: str) -> tuple[tuple[PublicKey, ...], bool]:
        """The keys trusted for ``target``'s verdicts (``--key`` and the policy's), and
        whether its policy requires a signature."""
        known = self._keys.get(target)
        if known is not None:
            return known
        keys = list(self.settings.keys)
        required = False
        policy: Any = self.settings.policy
        rules = policy.for_target(target) if policy is not None else None
        if rules is not None:
            required = rules.require_signature
            try:
                keys.extend(load_public_key(path) for path in rules.trusted_keys)
            except KeyFileError as exc:
                raise LedgerError(f"{policy.path}: trusted_keys: {exc}") from None
        answer = (tuple(keys), required)
        if self.settings.targets is None or target in self.settings.targets.tables:
            self._keys[target] = answer  # a bounded memo: not every name a body claims
        return answer
