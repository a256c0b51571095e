"""pytest-deployable: deployment checks as pytest tests, ending in one fail-closed verdict."""

from __future__ import annotations

from .http import RefusedRequest, TargetSession
from .markers import CheckSpec
from .targets import Target
from .verdict import Amendment, CheckResult, Decision, Outcome, Verdict

__all__ = [
    "Amendment",
    "CheckResult",
    "CheckSpec",
    "Decision",
    "Outcome",
    "RefusedRequest",
    "Target",
    "TargetSession",
    "Verdict",
]
