"""Redaction: secrets taken from the environment never reach any output."""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import IO, Any
from urllib.parse import quote, quote_plus

__all__ = ["MASK", "RedactingStream", "Redactor"]

MASK = "***"


class Redactor:
    """Replaces every known secret, and its URL-encoded and base64 forms, with ``***``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        forms: set[str] = set()
        for secret in secrets:
            if not secret:
                continue
            forms.update(
                {
                    secret,
                    quote(secret, safe=""),
                    quote_plus(secret, safe=""),
                    base64.b64encode(secret.encode()).decode().rstrip("="),
                    base64.urlsafe_b64encode(secret.encode()).decode().rstrip("="),
                }
            )
        # Longest first, so a secret that contains another is masked whole.
        self._forms = tuple(sorted((f for f in forms if f), key=len, reverse=True))

    def __bool__(self) -> bool:
        return bool(self._forms)

    def __call__(self, text: str) -> str:
        """``text`` with every secret masked."""
        for form in self._forms:
            if form in text:
                text = text.replace(form, MASK)
        return text

    def contains_secret(self, text: str) -> bool:
        """Whether ``text`` shows any secret."""
        return any(form in text for form in self._forms)

    def value(self, value: Any) -> Any:
        """A JSON-like value with every string value in it redacted (keys are left alone)."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.value(v) for v in value]
        return value


class RedactingStream:
    """A text stream wrapper that redacts everything written through it.

    Used for the terminal: pytest's own reporter and, under ``-s``, the checks'
    prints. A secret split across two ``write`` calls is not caught; pytest
    writes whole lines, and checks that print do so with ``print``.
    """

    def __init__(self, stream: IO[str], redactor: Redactor) -> None:
        self._stream = stream
        self._redactor = redactor

    def write(self, text: str) -> int:
        self._stream.write(self._redactor(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)
