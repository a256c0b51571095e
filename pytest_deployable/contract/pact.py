"""Pact verification: replay consumers' Pact files against the deployed target.

With ``[targets.NAME.contract] pacts = ["pacts/"]`` the run gains one contract
check per Pact file, ``deployable::contract::pact web-shop.json``, verified by
pact-python (the ``pact`` extra; its Rust core ships inside the wheel). On a
protected target only the file's safe interactions (GET, HEAD, OPTIONS) are
replayed: the verifier sends its own requests, so the ``http`` session's
refusal cannot guard it, and this module does instead.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..redact import Redactor
from ..targets import Target
from .document import ContractError, MissingExtra
from .messages import MAX_LINE
from .validate import ContractViolation

__all__ = ["PACT_HINT", "PactFile", "find_pacts", "verify_pact"]

PACT_HINT = "pip install 'pytest-deployable[pact]'"
#: Interactions replayed on a protected target (the verifier bypasses the http session).
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass(frozen=True)
class PactFile:
    """One consumer's Pact file for the provider."""

    path: Path
    document: dict[str, Any]

    @property
    def consumer(self) -> str:
        """The consumer's name."""
        return str(self.document.get("consumer", {}).get("name", "?"))

    @property
    def provider(self) -> str:
        """The provider's name."""
        return str(self.document.get("provider", {}).get("name", "?"))

    def interactions(self) -> list[dict[str, Any]]:
        """The file's interactions."""
        found = self.document.get("interactions", [])
        return [i for i in found if isinstance(i, dict)]


def require_pact() -> None:
    """Raise :class:`MissingExtra` unless pact-python imports."""
    try:
        import pact  # noqa: F401
    except ImportError:
        raise MissingExtra(f"Pact checks need pact-python, which is not installed: "
                           f"{PACT_HINT}") from None


def find_pacts(locations: list[str], base_dir: Path | None) -> list[PactFile]:
    """The Pact files named by ``locations`` (files, or folders of ``*.json``), read and checked."""
    found: list[PactFile] = []
    for location in locations:
        path = Path(location)
        if base_dir is not None and not path.is_absolute():
            path = base_dir / path
        paths = sorted(path.glob("*.json")) if path.is_dir() else [path]
        if not paths:
            raise ContractError(f"{path}: no Pact files (*.json) in this folder")
        for one in paths:
            try:
                document = json.loads(one.read_text(encoding="utf-8"))
            except FileNotFoundError:
                raise ContractError(f"{one}: Pact file not found") from None
            except (OSError, UnicodeDecodeError) as exc:
                raise ContractError(f"{one}: cannot read the Pact file: {exc}") from None
            except json.JSONDecodeError as exc:
                raise ContractError(
                    f"{one}: not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
                ) from None
            if not isinstance(document, dict) or not isinstance(
                document.get("interactions"), list
            ):
                raise ContractError(f"{one}: not a Pact file (no 'interactions' list)")
            found.append(PactFile(one, document))
    return found


def verify_pact(pact: PactFile, target: Target, *, allow_unsafe: bool = False) -> int:
    """Replay ``pact`` against ``target``; return the number of interactions left out.

    Raise :class:`ContractViolation` with the verifier's failures, redacted.
    """
    require_pact()
    from pact import Verifier

    os.environ.setdefault("PACT_DO_NOT_TRACK", "true")  # no usage reports from a gate
    assert target.base_url is not None
    interactions = pact.interactions()
    kept = [i for i in interactions if allow_unsafe or not target.protected
            or str(i.get("request", {}).get("method", "GET")).upper() in SAFE_METHODS]
    left_out = len(interactions) - len(kept)
    if not kept:
        return left_out
    redact = Redactor(target.secrets)
    with tempfile.TemporaryDirectory(prefix="deployable-pact-") as folder:
        source = Path(folder) / pact.path.name
        source.write_text(json.dumps({**pact.document, "interactions": kept}), encoding="utf-8")
        verifier = Verifier(pact.provider, host=urlsplit(target.base_url).hostname)
        verifier.add_transport(url=target.base_url)
        verifier.add_source(source)
        verifier.set_request_timeout(int(target.timeout * 1000))
        if target.headers:
            verifier.add_custom_headers(dict(target.headers))
        try:
            verifier.verify()
        except RuntimeError:
            output = _ANSI.sub("", verifier.output(strip_ansi=True))
            failures = output.split("Failures:", 1)[-1].split("Please note:", 1)[0].strip()
            raise ContractViolation(redact(
                f"the target does not honour the Pact of {pact.consumer} -> {pact.provider} "
                f"({pact.path.name}):\n{_bounded(failures)}"
            )) from None
    return left_out


#: The verifier's failure text is kept to this many lines, each cut to MAX_LINE characters.
_MAX_LINES = 40


def _bounded(text: str) -> str:
    lines = [line if len(line) <= MAX_LINE else line[: MAX_LINE - 1] + "…"
             for line in text.splitlines()]
    if len(lines) > _MAX_LINES:
        lines = [*lines[:_MAX_LINES], f"... and {len(lines) - _MAX_LINES} more lines"]
    return "\n".join(lines)
