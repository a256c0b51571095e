"""pytest-deployable: deployment checks as pytest tests, ending in one fail-closed verdict."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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
    from .contract.plugin import ContractClient
    from .database import ReadOnlyDatabaseError
    from .http import RefusedRequest, TargetSession
    from .markers import CheckSpec
    from .metrics import Metrics
    from .targets import Target
    from .verdict import Amendment, CheckResult, Decision, Outcome, Verdict

#: Where each public name lives. pytest imports this package in every run on a
#: machine where it is installed (it is the plugin's package), so nothing is
#: imported before it is asked for: a run without a deploy target does not pay
#: for the contract, metric, database or HTTP modules (bench/overhead.py).
_HOMES = {
    "Amendment": "verdict",
    "CheckResult": "verdict",
    "CheckSpec": "markers",
    "ContractClient": "contract.plugin",
    "Decision": "verdict",
    "Metrics": "metrics",
    "Outcome": "verdict",
    "ReadOnlyDatabaseError": "database",
    "RefusedRequest": "http",
    "Target": "targets",
    "TargetSession": "http",
    "Verdict": "verdict",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value  # looked up once
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
