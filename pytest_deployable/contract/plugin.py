"""The pytest side of contract checks: the ``contract`` fixture, generated checks, drift.

A target with ``openapi`` set gets a ``contract`` fixture that validates
responses against it. With ``[targets.NAME.contract] generate = true`` the
run gains one check per safe operation (GET/HEAD) whose required parameters
have an example or a default, ``deployable::contract::GET /items/{id}``; with
``served`` set, one check ``deployable::contract::drift`` compares the contract
the deployed service serves with the one consumers rely on (:mod:`.drift`).
These are ordinary contract checks in the verdict.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

from ..redact import Redactor
from ..state import STATE
from ..targets import Target
from .document import ContractError, MissingExtra, parse_document, read_location, require_extra
from .messages import describe_problems
from .validate import (
    Contract,
    ContractViolation,
    Operation,
    load_contract,
)

if TYPE_CHECKING:
    import requests

    from ..http import TargetSession
    from .pact import PactFile

__all__ = ["ContractCheck", "ContractClient", "contract_client", "setup_contract_checks"]

PREFIX = "deployable::contract::"
_CACHE = pytest.StashKey[dict[str, Contract]]()
_SESSION = pytest.StashKey["TargetSession"]()


class ContractClient:
    """What the ``contract`` fixture gives a check: validate responses, or send and validate."""

    def __init__(self, contract: Contract, session: TargetSession, *,
                 on_validated: Callable[[Operation], None] | None = None) -> None:
        self.contract = contract
        self.session = session
        self._on_validated = on_validated
        self._redact = Redactor(session.target.secrets)
        self._base_path = urlsplit(session.target.base_url or "").path.rstrip("/")

    def validate(self, response: requests.Response) -> requests.Response:
        """Check ``response`` against the operation it answers; raise
        :class:`~pytest_deployable.contract.ContractViolation` naming every problem."""
        path = urlsplit(response.request.url or "").path or "/"
        if self._base_path and path.startswith(self._base_path + "/"):
            path = path[len(self._base_path):]
        problems, operation = self.contract.problems(response, path=path)
        if operation is not None and self._on_validated is not None:
            self._on_validated(operation)
        if problems:
            message = self.contract.describe(response, operation, problems)
            raise ContractViolation(self._redact(message))
        return response

    def request(
        self,
        method: str,
        path: str,
        *,
        path_params: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """Send ``method`` to the operation at path template ``path`` through the ``http``
        session and validate the answer.

        Path parameters are keywords (``request("GET", "/items/{id}", id=1)``) or
        ``path_params``; ``params``, ``json``, ``data``, ``headers`` and ``timeout``
        go to requests.
        """
        operation = self.contract.operation_for(method, path)
        if operation is None:
            raise ContractViolation(
                f"{method.upper()} {path} is not an operation of the contract "
                f"{self.contract.source}"
            )
        send = {k: kwargs.pop(k) for k in _REQUESTS_KEYWORDS if k in kwargs}
        values = {**kwargs, **(path_params or {})}
        try:
            url = operation.url(values)
        except KeyError as exc:
            raise TypeError(exc.args[0]) from None
        return self.validate(self.session.request(operation.method, url, **send))


_REQUESTS_KEYWORDS = ("params", "json", "data", "headers", "timeout", "cookies", "files")


def _location_is_file(location: str) -> bool:
    return not location.startswith(("http://", "https://", "/"))


def _base_dir(target: Target) -> Path | None:
    return Path(target.source).parent if target.source else None


def _session(config: pytest.Config, target: Target) -> TargetSession:
    """A session of the target's own for generated checks and fetching served contracts."""
    session = config.stash.get(_SESSION, None)
    if session is None:
        from ..http import TargetSession

        session = TargetSession(target)
        config.stash[_SESSION] = session
        config.add_cleanup(session.close)
    return session


def get_contract(config: pytest.Config, target: Target, location: str) -> Contract:
    """The contract at ``location`` for ``target``, loaded once per process."""
    cache = config.stash.setdefault(_CACHE, {})
    if location not in cache:
        get = None if _location_is_file(location) else _session(config, target).get
        cache[location] = load_contract(location, base_dir=_base_dir(target), get=get)
    return cache[location]


def setup_contract_checks(config: pytest.Config, target: Target) -> None:
    """Check a target's contract settings when the run starts, and add generated checks.

    A contract file that is missing, does not parse or is not OpenAPI is a usage
    error now; a contract served by the target is fetched when it is needed, and
    its failure fails the checks that need it.
    """
    where = f"{target.source}: targets.{target.name}" if target.source else "target"
    if target.openapi:
        try:
            if _location_is_file(target.openapi):
                get_contract(config, target, target.openapi)
            else:
                require_extra()  # the served contract is fetched when a check needs it
        except ContractError as exc:
            raise pytest.UsageError(f"{where}.openapi: {exc}") from None
    pacts: list[PactFile] = []
    if target.contract.get("pacts"):
        from .pact import find_pacts, require_pact

        try:
            require_pact()
            pacts = find_pacts(list(target.contract["pacts"]), _base_dir(target))
        except ContractError as exc:
            raise pytest.UsageError(f"{where}.contract.pacts: {exc}") from None
    contract = target.contract
    if target.openapi:
        # Not "from . import coverage": see the note on lazy imports in ../plugin.py.
        from .coverage import register

        register(config, target)
    if target.base_url and (contract.get("generate") or contract.get("served") or pacts):
        config.pluginmanager.register(_Generator(target, pacts), "deployable-contract")


class ContractCheck(pytest.Item):
    """A check the plugin makes itself: one contract operation, or the drift between two."""

    def __init__(self, *, check: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._check = check

    def runtest(self) -> None:
        """Run the check; it raises on a problem."""
        self._check()

    def reportinfo(self) -> tuple[Path, int | None, str]:
        """Where the check comes from, for pytest's report."""
        # No domain: pytest would show the dots of "/openapi.json" as "::".
        return self.path, None, ""

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None
    ) -> str | Any:
        """The problem in words, without a traceback into the plugin."""
        if isinstance(excinfo.value, (ContractViolation, ContractError, OSError)) or (
            type(excinfo.value).__module__.startswith("requests")
        ):
            return f"{type(excinfo.value).__name__}: {excinfo.value}"
        return super().repr_failure(excinfo)


class _Generator:
    """Adds the generated contract checks to a run's items."""

    def __init__(self, target: Target, pacts: list[PactFile]) -> None:
        self.target = target
        self.pacts = pacts
        self.added = 0
        self.not_generated = 0

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(
        self, session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        target = self.target
        blocking = bool(target.contract.get("blocking", True))
        mark = pytest.mark.contract(blocking=blocking)
        added: list[pytest.Item] = []

        def add(name: str, check: Callable[[], None]) -> None:
            item = ContractCheck.from_parent(
                session, name=name, nodeid=PREFIX + name, check=check
            )
            item.add_marker(mark)
            added.append(item)

        if target.contract.get("generate") and target.openapi:
            try:
                loaded = get_contract(config, target, target.openapi)
            except ContractError as exc:
                error = exc

                def fail() -> None:
                    raise error

                add("load", fail)
            else:
                from .coverage import not_generated_reason

                for operation in loaded.operations:
                    values = example_values(loaded, operation)
                    if values is not None and not_generated_reason(loaded, operation) is None:
                        add(str(operation), _operation_check(config, target, operation, values))
                    else:
                        self.not_generated += 1
        served = target.contract.get("served")
        if served and target.openapi:
            add("drift", _drift_check(config, target, target.openapi, str(served)))
        for pact in self.pacts:
            add(f"pact {pact.path.name}", _pact_check(pact, target))
        items.extend(added)
        self.added = len(added)

    def pytest_report_collectionfinish(self, config: pytest.Config) -> str | None:
        """Say how many checks the plugin added, since pytest's "collected" count omits them."""
        added = self.added
        if not added:
            return None
        plural = "s" * (added != 1)
        line = f"deployable: added {added} contract check{plural} ({PREFIX}…)"
        if self.not_generated:
            # Silence here read as "the whole contract is checked"; coverage says which.
            line += (f"; {self.not_generated} operation{'s' * (self.not_generated != 1)} "
                     "not generated (contract coverage at the end)")
        return line


def example_values(contract: Contract, operation: Operation) -> dict[str, dict[str, Any]] | None:
    """Values for the operation's required parameters by location (path, query, header),
    from their examples or defaults; None when one has neither, or a body is required."""
    if (contract.resolve(operation.spec.get("requestBody")) or {}).get("required"):
        return None
    values: dict[str, dict[str, Any]] = {"path": {}, "query": {}, "header": {}}
    for parameter in operation.parameters:
        where = parameter.get("in", "")
        if not parameter.get("required") and where != "path":
            continue
        found = _example(contract, parameter)
        if found is _MISSING or where not in values:
            return None
        values[where][str(parameter.get("name"))] = found
    return values


_MISSING = object()


def _example(contract: Contract, parameter: Mapping[str, Any]) -> Any:
    if "example" in parameter:
        return parameter["example"]
    for example in (parameter.get("examples") or {}).values():
        example = contract.resolve(example)
        if isinstance(example, dict) and "value" in example:
            return example["value"]
    schema = contract.resolve(parameter.get("schema")) or {}
    if "example" in schema:
        return schema["example"]
    if isinstance(schema.get("examples"), list) and schema["examples"]:
        return schema["examples"][0]
    if "default" in schema:
        return schema["default"]
    return _MISSING


def _operation_check(
    config: pytest.Config, target: Target, operation: Operation,
    values: Mapping[str, Mapping[str, Any]],
) -> Callable[[], None]:
    def check() -> None:
        from .coverage import note_validated

        loaded = get_contract(config, target, target.openapi or "")
        client = ContractClient(loaded, _session(config, target),
                                on_validated=lambda op: note_validated(config, op))
        headers = {name: str(value) for name, value in values["header"].items()}
        response = client.request(
            operation.method, operation.path, path_params=values["path"],
            params=dict(values["query"]), headers=headers,
        )
        if not 200 <= response.status_code < 300:
            raise ContractViolation(
                f"{operation} answered {response.status_code}; a generated check expects a "
                "success (2xx) status for the examples in the contract"
            )

    return check


def _drift_check(
    config: pytest.Config, target: Target, expected: str, served: str
) -> Callable[[], None]:
    def check() -> None:
        from .drift import diff

        documents = []
        for location in (expected, served):
            get = None if _location_is_file(location) else _session(config, target).get
            text, source = read_location(location, base_dir=_base_dir(target), get=get)
            documents.append(parse_document(text, source))
        breaking = [f for f in diff(documents[0], documents[1]) if f.breaking]
        if breaking:
            message = describe_problems(
                f"the served contract {served} breaks {expected} for its consumers",
                [f"{finding.kind} {finding.path}: {finding.message}" for finding in breaking],
            )
            raise ContractViolation(Redactor(target.secrets)(message))

    return check


def _pact_check(pact: PactFile, target: Target) -> Callable[[], None]:
    def check() -> None:
        from .pact import verify_pact

        left_out = verify_pact(pact, target)
        if left_out and left_out == len(pact.interactions()):
            pytest.skip(
                f"refused: every interaction of {pact.path.name} changes state, and target "
                f"{target.name!r} is protected"
            )
        if left_out:
            print(f"{left_out} state-changing interaction(s) of {pact.path.name} left out: "
                  f"target {target.name!r} is protected")

    return check


def contract_client(config: pytest.Config, deploy_target: Target,
                    http: TargetSession) -> ContractClient:
    """What the ``contract`` fixture (in :mod:`~pytest_deployable.fixtures`) gives a check.

    The fixture is defined there and imports this module only when a check asks
    for it, so that runs without contract checks do not import the contract modules.
    """
    if not deploy_target.openapi:
        pytest.fail(
            f"deploy target {deploy_target.name!r} has no openapi key; add "
            "openapi = \"contracts/api.yaml\" (or a URL, or /openapi.json) to its table",
            pytrace=False,
        )
    try:
        loaded = get_contract(config, deploy_target, deploy_target.openapi)
    except MissingExtra as exc:
        pytest.fail(str(exc), pytrace=False)
    except ContractError as exc:
        redact = config.stash[STATE].redactor
        pytest.fail(redact(str(exc)), pytrace=False)
    from .coverage import note_validated

    return ContractClient(loaded, http, on_validated=lambda op: note_validated(config, op))
