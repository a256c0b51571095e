"""OpenAPI documents: where a contract is, reading it, and checking it is OpenAPI 3.0/3.1.

Parsing and spec validation use the ``contract`` extra (pyyaml,
openapi-spec-validator), imported only when a contract is used.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

if TYPE_CHECKING:
    import requests

__all__ = [
    "GENERATED_METHODS",
    "INSTALL_HINT",
    "METHODS",
    "ContractError",
    "MissingExtra",
    "escape_pointer",
    "external_refs",
    "parse_document",
    "pointer_target",
    "read_location",
    "require_extra",
    "resolve_ref",
]

INSTALL_HINT = "pip install 'pytest-deployable[contract]'"
#: The HTTP methods an OpenAPI path item may hold, as written in the document.
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
#: The methods generated checks send: they never change state, on any target.
GENERATED_METHODS = ("GET", "HEAD")
#: How many ``$ref`` hops are followed before a chain counts as a loop.
MAX_REF_HOPS = 50


class ContractError(Exception):
    """A contract that cannot be used: unreadable, not parsable, or not OpenAPI 3.0/3.1.

    Its message is one line naming the file or URL and the problem.
    """


class MissingExtra(ContractError):
    """The ``contract`` extra is not installed."""


def require_extra() -> None:
    """Raise :class:`MissingExtra` unless the ``contract`` extra's libraries import."""
    try:
        import jsonschema  # noqa: F401
        import openapi_schema_validator  # noqa: F401
        import openapi_spec_validator  # noqa: F401
        import yaml  # noqa: F401
    except ImportError as exc:
        raise MissingExtra(
            f"contract checks need {exc.name}, which is not installed: {INSTALL_HINT}"
        ) from None


def escape_pointer(token: str) -> str:
    """One JSON-pointer token: ``~`` and ``/`` escaped (RFC 6901)."""
    return token.replace("~", "~0").replace("/", "~1")


def unescape_pointer(token: str) -> str:
    """One JSON-pointer token as the key it names (RFC 6901, after URL unquoting)."""
    return unquote(token).replace("~1", "/").replace("~0", "~")


def pointer_target(document: Any, pointer: str) -> Any:
    """The part of ``document`` at a JSON pointer such as ``/components/schemas/Item``.

    Raises LookupError when nothing is there.
    """
    node: Any = document
    for token in filter(None, pointer.split("/")):
        key = unescape_pointer(token)
        try:
            node = node[int(key)] if isinstance(node, list) else node[key]
        except (KeyError, IndexError, ValueError, TypeError):
            raise LookupError(f"nothing at {pointer}") from None
    return node


def resolve_ref(document: Any, value: Any) -> Any:
    """``value`` with local ``$ref`` s (``#/components/...``) followed; ``{}`` for a broken
    or looping chain. External ones are refused when the document is parsed."""
    for _ in range(MAX_REF_HOPS):
        if not (isinstance(value, dict) and isinstance(value.get("$ref"), str)):
            return value
        try:
            value = pointer_target(document, value["$ref"].split("#", 1)[-1])
        except LookupError:
            return {}
    return {}


def external_refs(document: Any, pointer: str = "") -> Iterator[tuple[str, str]]:
    """Every ``$ref`` that points outside the document: (where it is, the reference)."""
    if isinstance(document, dict):
        ref = document.get("$ref")
        if isinstance(ref, str) and not ref.startswith("#"):
            yield pointer or "/", ref
        for key, value in document.items():
            yield from external_refs(value, f"{pointer}/{escape_pointer(str(key))}")
    elif isinstance(document, list):
        for index, value in enumerate(document):
            yield from external_refs(value, f"{pointer}/{index}")


def _string_keys(node: Any) -> Any:
    if isinstance(node, dict):
        return {_key(key): _string_keys(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_string_keys(value) for value in node]
    return node


def _key(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    return key if isinstance(key, str) else str(key)


def parse_document(text: str, source: str) -> dict[str, Any]:
    """Parse OpenAPI text (JSON or YAML) and check it is a valid OpenAPI 3.0/3.1 document."""
    require_extra()
    import yaml
    from openapi_spec_validator import (
        OpenAPIV30SpecValidator,
        OpenAPIV31SpecValidator,
        validate,
    )
    from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

    document: Any
    if text.lstrip().startswith("{"):
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ContractError(
                f"{source}: not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
            ) from None
    else:
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise ContractError(f"{source}: not valid YAML: {problem}{where}") from None
        # YAML reads `200:` as a number; OpenAPI (JSON) keys are strings.
        document = _string_keys(document)
    if not isinstance(document, dict):
        raise ContractError(
            f"{source}: not an OpenAPI document: the top level is "
            f"{type(document).__name__}, not a mapping"
        )
    version = str(document.get("openapi", ""))
    if "swagger" in document and not version:
        raise ContractError(
            f"{source}: Swagger {document['swagger']} is not supported; "
            "convert it to OpenAPI 3.0 or 3.1"
        )
    if not re.match(r"^3\.[01]\.\d+", version):
        shown = f"'openapi: {version}'" if version else "no 'openapi' field"
        raise ContractError(
            f"{source}: not an OpenAPI 3.0 or 3.1 document ({shown}); "
            "expected 'openapi: 3.0.x' or 'openapi: 3.1.x'"
        )
    for where, ref in external_refs(document):
        # Following them would read other files or fetch URLs the document names, and
        # every check would depend on them; one self-contained document is checkable.
        raise ContractError(
            f"{source}: $ref {ref!r} at {where} points outside the document; external "
            "references are not supported: bundle the contract into one file "
            "(for example with 'redocly bundle')"
        )
    cls = OpenAPIV31SpecValidator if version.startswith("3.1") else OpenAPIV30SpecValidator
    try:
        validate(document, cls=cls)
    except OpenAPIValidationError as exc:
        # With jsonschema-rs installed the spec validator uses it, and its message goes on
        # with the failing schema; the first line is the problem.
        message = str(exc.message).strip().splitlines()[0] if str(exc.message).strip() else "?"
        raise ContractError(
            f"{source}: invalid OpenAPI {version}: {exc.json_path}: {message}"
        ) from None
    except Exception as exc:  # a broken $ref and the like, raised by the resolver
        problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        problem = problem.split(" within {")[0]  # the resolver appends the whole document
        raise ContractError(f"{source}: invalid OpenAPI {version}: {problem[:300]}") from None
    return document


def read_location(
    location: str,
    *,
    base_dir: Path | None = None,
    get: Callable[[str], requests.Response] | None = None,
) -> tuple[str, str]:
    """The text of a contract and a name for messages.

    ``location`` is an http(s) URL, a path on the target (``/openapi.json``,
    fetched with ``get``, the target's session, when ``get`` is given), a
    ``file:`` URL, or a file path relative to ``base_dir``.
    """
    remote = location.startswith(("http://", "https://"))
    if remote or (get is not None and location.startswith("/")):
        if get is None:
            import requests

            def get(url: str) -> requests.Response:
                return requests.get(url, timeout=10)

        try:
            response = get(location)
        except Exception as exc:  # requests' errors, or the session's refusal
            raise ContractError(f"{location}: cannot fetch the contract: {exc}") from None
        if response.status_code != 200:
            raise ContractError(
                f"{location}: cannot fetch the contract: HTTP {response.status_code}"
            )
        return response.text, location
    path = Path(location.removeprefix("file://"))
    if base_dir is not None and not path.is_absolute():
        path = base_dir / path
    try:
        return path.read_text(encoding="utf-8"), str(path)
    except FileNotFoundError:
        raise ContractError(f"{path}: contract file not found") from None
    except UnicodeDecodeError:
        raise ContractError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise ContractError(f"{path}: cannot read the contract: {exc.strerror}") from None
