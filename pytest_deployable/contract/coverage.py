"""Contract coverage: which operations of the contract a run checked, and why not the others.

An operation counts as checked when a response to it was validated in the run
(a generated check, or a check calling the ``contract`` fixture), whatever the
outcome. The record goes into the verdict file as ``deployability.contract``;
with ``[targets.NAME.contract] min_coverage = 0.8`` a run that checked fewer
operations than that share is NOT_DEPLOYABLE, so a deploy cannot pass on a
contract it mostly did not look at.

Validations happen in the process that runs the check (an xdist worker), the
verdict in the controller: each check's validated operations travel in its
report's ``user_properties`` under :data:`PROPERTY`.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from ..verdict import Amendment, Decision

if TYPE_CHECKING:
    from ..targets import Target
    from ..verdict import Verdict
    from .validate import Contract, Operation

__all__ = ["PROPERTY", "Coverage", "CoverageTracker", "measure"]

#: The ``user_properties`` key that carries a validated operation to the controller.
PROPERTY = "deployable.contract.operation"
#: At most this many skipped operations are named in the terminal; the verdict file has all.
_SHOWN = 5


@dataclass(frozen=True)
class Coverage:
    """How much of a contract one run checked."""

    document: str
    operations: tuple[str, ...]
    """Every operation of the contract, in document order."""
    checked: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...]
    """(operation, why it was not checked), for each one not checked."""
    minimum: float | None = None
    error: str | None = None
    """Why coverage could not be measured (the contract could not be loaded)."""

    @property
    def ratio(self) -> float:
        """The share of operations checked; 1.0 for a contract without operations."""
        return len(self.checked) / len(self.operations) if self.operations else 1.0

    @property
    def enough(self) -> bool:
        """Whether the run met ``min_coverage`` (always, when none is set)."""
        if self.minimum is None:
            return True
        return self.error is None and self.ratio + 1e-9 >= self.minimum

    def headline(self) -> str:
        """One line for the terminal and the verdict's reasons."""
        if self.error is not None:
            return f"contract coverage unknown: {self.error}"
        line = (f"contract coverage {len(self.checked)} of {len(self.operations)} operations "
                f"({self.ratio:.0%})")
        if self.minimum is not None:
            relation = "meets" if self.enough else "is below"
            line += f", {relation} contract.min_coverage {self.minimum:.0%}"
        return line

    def to_dict(self) -> dict[str, Any]:
        """The ``deployability.contract`` record of the verdict file."""
        record: dict[str, Any] = {
            "document": self.document,
            "operations": len(self.operations),
            "checked": len(self.checked),
            "coverage": round(self.ratio, 4),
            "minCoverage": self.minimum,
            "checkedOperations": list(self.checked),
            "skipped": [{"operation": op, "reason": reason} for op, reason in self.skipped],
        }
        if self.error is not None:
            record["error"] = self.error
        return record


def not_generated_reason(contract: Contract, operation: Operation) -> str | None:
    """Why no check is generated for ``operation`` (None: one is)."""
    from .document import GENERATED_METHODS

    if operation.method not in GENERATED_METHODS:
        return f"{operation.method} changes state: checks are generated for GET and HEAD only"
    from .plugin import example_values

    if (contract.resolve(operation.spec.get("requestBody")) or {}).get("required"):
        return "needs a request body: no check is generated"
    if example_values(contract, operation) is None:
        return ("a required parameter has no example, examples or default: no check is "
                "generated")
    return None


def measure(contract: Contract, checked: set[str], *, generate: bool,
            minimum: float | None) -> Coverage:
    """The coverage of ``contract`` given the operations a run validated."""
    operations = tuple(str(op) for op in contract.operations)
    skipped = []
    for operation in contract.operations:
        if str(operation) in checked:
            continue
        reason = not_generated_reason(contract, operation)
        if reason is None:
            reason = ("its generated check did not run" if generate
                      else "not validated by any check (contract.generate is off)")
        skipped.append((str(operation), reason))
    return Coverage(
        document=contract.source, operations=operations,
        checked=tuple(op for op in operations if op in checked),
        skipped=tuple(skipped), minimum=minimum,
    )


def min_coverage(target: Target) -> float | None:
    """The target's ``contract.min_coverage``, or None."""
    value = target.contract.get("min_coverage")
    return float(value) if value is not None else None


_VALIDATED = pytest.StashKey[list[str]]()


def note_validated(config: pytest.Config, operation: Operation) -> None:
    """Remember that the running check validated a response to ``operation``."""
    config.stash.setdefault(_VALIDATED, []).append(str(operation))


class CoverageTracker:
    """Counts validated operations across processes and reports coverage at the end."""

    def __init__(self, config: pytest.Config, target: Target) -> None:
        self.config = config
        self.target = target
        self.checked: set[str] = set()
        self.coverage: Coverage | None = None

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        # Into the report, so that it reaches the controller under xdist.
        validated = self.config.stash.get(_VALIDATED, [])
        for operation in dict.fromkeys(validated):
            item.user_properties.append((PROPERTY, operation))
        validated.clear()
        return (yield)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for key, value in report.user_properties:
            if key == PROPERTY:
                self.checked.add(str(value))

    def measure(self) -> Coverage:
        """The run's coverage (measured once, when the verdict is decided)."""
        if self.coverage is None:
            from .document import ContractError
            from .plugin import get_contract

            minimum = min_coverage(self.target)
            location = self.target.openapi or ""
            try:
                contract = get_contract(self.config, self.target, location)
            except ContractError as exc:
                self.coverage = Coverage(location, (), (), (), minimum, error=str(exc))
            else:
                self.coverage = measure(contract, self.checked, minimum=minimum,
                                        generate=bool(self.target.contract.get("generate")))
        return self.coverage

    def pytest_deployable_verdict(self, config: pytest.Config,
                                  verdict: Verdict) -> Amendment | None:
        """Fail the verdict when the run checked less of the contract than the target needs."""
        coverage = self.measure()
        if coverage.enough:
            return None
        return Amendment(coverage.headline(), Decision.NOT_DEPLOYABLE)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """The coverage line, and the first few operations not checked with their reason."""
        if self.coverage is None:
            return
        coverage = self.coverage
        terminalreporter.write_line(f"deployable: {coverage.headline()}")
        for operation, reason in coverage.skipped[:_SHOWN]:
            terminalreporter.write_line(f"  not checked: {operation}: {reason}")
        if len(coverage.skipped) > _SHOWN:
            terminalreporter.write_line(
                f"  ... and {len(coverage.skipped) - _SHOWN} more (the verdict file's "
                "deployability.contract lists them all)"
            )


_TRACKER = pytest.StashKey[CoverageTracker]()


def register(config: pytest.Config, target: Target) -> None:
    """Track coverage for a target with a contract."""
    tracker = CoverageTracker(config, target)
    config.stash[_TRACKER] = tracker
    config.pluginmanager.register(tracker, "deployable-contract-coverage")


def record(config: pytest.Config) -> Mapping[str, Any] | None:
    """The ``deployability.contract`` record for the verdict file, or None without a contract."""
    tracker = config.stash.get(_TRACKER, None)
    return tracker.measure().to_dict() if tracker is not None else None
