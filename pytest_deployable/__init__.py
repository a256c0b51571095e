"""pytest-deployable: deployment checks as pytest tests, ending in one fail-closed verdict."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .contract.plugin import ContractClient
from .database import ReadOnlyDatabaseError
from .markers import CheckSpec
from .metrics import Metrics
from .targets import Target
from .verdict import Amendment, CheckResult, Decision, Outcome, Verdict

__all__ = [
    "Amendment",
    "CheckResult",
    "CheckSpec",
    "ContractClient",
    "Decision",
    "Metrics",
    "Outcome",
    "ReadOnlyDatabaseError",
    "RefusedRequest",
    "Target",
    "TargetSession",
    "Verdict",
]

if TYPE_CHECKING:
    from .http import RefusedRequest, TargetSession


def __getattr__(name: str) -> Any:
    # requests is imported only when the http session is used, so runs without
    # --deploy-target do not pay for it.
    if name in ("RefusedRequest", "TargetSession"):
        from . import http

        return getattr(http, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
