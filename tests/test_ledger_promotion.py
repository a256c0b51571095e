"""The promotion rule on its own: plain rows in, an answer out (no database)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from pytest_deployable.ledger.promotion import PromotionRule, decide
from pytest_deployable.ledger.rows import VerdictRow

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)
PASS = VerdictRow(
    id=7, statement_sha256="ab" * 32, target="staging", version="1.4.2", subject_name="shop",
    subject_digest="gitCommit:0", verdict="DEPLOYABLE", complete=True, signed=True,
    keyids=("k1",), reasons=(), started_on=NOW - timedelta(hours=1, minutes=1),
    finished_on=NOW - timedelta(hours=1), recorded_at=NOW, document='{"signed": "envelope"}',
)
SIGNED = PromotionRule("production", ("staging",), require_signature=True)


def test_a_required_signature_is_checked_by_the_verifier_on_the_document() -> None:
    seen: list[str] = []

    def verify(document: str) -> bool:
        seen.append(document)
        return True

    promotion = decide(SIGNED, "1.4.2", {"staging": [PASS]}, now=NOW, verify=verify)
    assert promotion.answer == "yes"
    assert seen == ['{"signed": "envelope"}']


@pytest.mark.parametrize(("row", "verify", "says"), [
    (PASS, None, "signature verification is not available"),
    (replace(PASS, signed=False, keyids=()), lambda document: True, "this one is not signed"),
    (PASS, lambda document: False, "invalid or made by no trusted key"),
])
def test_a_required_signature_fails_closed(row: VerdictRow, verify: object, says: str) -> None:
    promotion = decide(SIGNED, "1.4.2", {"staging": [row]}, now=NOW,
                       verify=verify)  # type: ignore[arg-type]
    assert (promotion.answer, promotion.exit_code) == ("no", 1)
    assert says in promotion.reasons[0]


def test_an_unknown_verdict_word_counts_as_the_worst() -> None:
    odd = replace(PASS, id=8, verdict="MAYBE")
    promotion = decide(PromotionRule("production", ("staging",)), "1.4.2",
                       {"staging": [PASS, odd]}, now=NOW)
    assert promotion.answer == "no"
    assert "the latest verdict is MAYBE" in promotion.reasons[0]


def test_a_rule_without_sources_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one target"):
        decide(PromotionRule("production", ()), "1.4.2", {}, now=NOW)
