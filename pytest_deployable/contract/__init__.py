"""Contract checks: OpenAPI documents, validating responses, drift, Pact and their pytest side.

- :mod:`.document`: where a contract is, reading and checking it, and the one
  ``$ref``/JSON-pointer/HTTP-method helper of the group;
- :mod:`.validate`: :class:`Contract`, checking a response against its operation;
- :mod:`.fast`: the compiled fast path of validation (jsonschema-rs);
- :mod:`.drift` and :mod:`.drift_schema`: breaking changes between two documents;
- :mod:`.pact`: replaying consumers' Pact files;
- :mod:`.coverage`: which operations a run checked;
- :mod:`.plugin`: the ``contract`` fixture and the generated, drift and Pact checks.

The names below are importable from ``pytest_deployable.contract`` as before the
group became a package.
"""

from __future__ import annotations

from .document import INSTALL_HINT, ContractError, MissingExtra, parse_document, read_location
from .document import require_extra as require_extra
from .messages import describe_problems
from .validate import Contract, ContractViolation, Operation, load_contract

__all__ = [
    "INSTALL_HINT",
    "Contract",
    "ContractError",
    "ContractViolation",
    "MissingExtra",
    "Operation",
    "describe_problems",
    "load_contract",
    "parse_document",
    "read_location",
    "require_extra",
]

# The public name, as messages and reports show it ("pytest_deployable.contract.ContractViolation").
for _public in (Contract, ContractError, ContractViolation, MissingExtra, Operation):
    _public.__module__ = __name__
