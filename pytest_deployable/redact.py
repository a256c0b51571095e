"""Redaction: no piece of a secret taken from the environment reaches any output (SPEC §3).

The bar is "no 6-character piece of a secret, in any encoding a report can
carry": a truncated repr shows a prefix of a token, ``Authorization: Basic``
carries it base64-encoded after a user name, a URL carries it percent-encoded
in either case, a repr or JSON string escapes its quotes and backslashes, and
terminal colour codes can split it in two. So the redactor knows every such
form of each secret, cuts each form into its 6-character pieces, and masks any
run of text made of them. Shorter secrets (4 or 5 characters) are masked whole.
"""

from __future__ import annotations

import base64
import functools
import html
import json
import re
from collections.abc import Iterable
from typing import IO, Any
from urllib.parse import quote, quote_plus

__all__ = ["MASK", "PIECE", "RedactingStream", "Redactor", "encodings"]

MASK = "***"
#: The shortest piece of a secret that must not appear anywhere.
PIECE = 6

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_PERCENT = re.compile(r"%[0-9A-F]{2}")


def _base64_runs(data: bytes) -> set[str]:
    """The base64 characters fixed by ``data`` wherever it sits in a longer byte stream.

    ``base64("user:" + secret)`` shifts the secret by the prefix's length modulo 3;
    for each shift, skip the characters that take bits from the prefix. The last
    character is kept as it is when the secret ends the stream (zero bits after
    it), as in ``Authorization: Basic``; when more data follows, it differs, and
    the pieces before it still match.
    """
    runs: set[str] = set()
    for shift in range(3):
        first = -(-8 * shift // 6)  # ceil: the first character with no prefix bits
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(b"\0" * shift + data).decode("ascii").rstrip("=")
            runs.add(text[first:])
    return runs


def encodings(secret: str) -> set[str]:
    """Every form of ``secret`` a report can carry (see the module docstring)."""
    escaped = {
        secret,
        repr(secret)[1:-1],
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        html.escape(secret, quote=True),
        html.escape(secret, quote=False),
    }
    # A repr of a JSON string, or JSON of a repr: messages that went through both.
    escaped |= {json.dumps(form)[1:-1] for form in list(escaped)}
    escaped |= {repr(form)[1:-1] for form in list(escaped)}
    forms = set(escaped)
    for plain in (quote(secret, safe=""), quote(secret), quote_plus(secret, safe="")):
        forms.add(plain)
        forms.add(_PERCENT.sub(lambda m: m.group(0).lower(), plain))
    forms |= _base64_runs(secret.encode("utf-8"))
    return {form for form in forms if form}


@functools.lru_cache(maxsize=32)
def _tables(secrets: frozenset[str]) -> tuple[frozenset[str], tuple[str, ...]]:
    """The 6-character pieces of every form, and the whole forms too short to cut."""
    pieces: set[str] = set()
    short: set[str] = set()
    for secret in secrets:
        if not secret:
            continue
        for form in encodings(secret):
            if len(form) < PIECE:
                short.add(form)
            else:
                pieces.update(form[i:i + PIECE] for i in range(len(form) - PIECE + 1))
    return frozenset(pieces), tuple(sorted(short, key=len, reverse=True))


class Redactor:
    """Masks every piece of every known secret, in every form, with ``***``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._pieces, self._short = _tables(frozenset(s for s in secrets if s))

    def __bool__(self) -> bool:
        return bool(self._pieces or self._short)

    def _spans(self, text: str) -> list[tuple[int, int]]:
        """Where in ``text`` secret material is, as merged ``[start, end)`` spans."""
        pieces = self._pieces
        spans = [(i, i + PIECE) for i in range(len(text) - PIECE + 1)
                 if text[i:i + PIECE] in pieces]
        for form in self._short:
            start = text.find(form)
            while start != -1:
                spans.append((start, start + len(form)))
                start = text.find(form, start + 1)
        if not spans:
            return []
        spans.sort()
        merged = [spans[0]]
        for start, end in spans[1:]:
            if start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        return merged

    def __call__(self, text: str) -> str:
        """``text`` with every secret masked."""
        if not self or not text:
            return text
        if "\x1b" in text:
            return self._colored(text)
        spans = self._spans(text)
        if not spans:
            return text
        out: list[str] = []
        at = 0
        for start, end in spans:
            out.append(text[at:start])
            out.append(MASK)
            at = end
        out.append(text[at:])
        return "".join(out)

    def _colored(self, text: str) -> str:
        """Redact text with terminal colour codes, which may split a secret in two.

        The codes are taken out, the plain text is searched, and each masked run
        keeps the codes it covered (after the mask), so colours still reset.
        """
        plain: list[str] = []
        where: list[int] = []  # index in text of each character of plain
        at = 0
        for match in _ANSI.finditer(text):
            for index in range(at, match.start()):
                plain.append(text[index])
                where.append(index)
            at = match.end()
        for index in range(at, len(text)):
            plain.append(text[index])
            where.append(index)
        spans = self._spans("".join(plain))
        if not spans:
            return text
        out: list[str] = []
        at = 0
        for start, end in spans:
            first, last = where[start], where[end - 1] + 1
            out.append(text[at:first])
            out.append(MASK)
            out.extend(_ANSI.findall(text[first:last]))
            at = last
        out.append(text[at:])
        return "".join(out)

    def contains_secret(self, text: str) -> bool:
        """Whether ``text`` shows any piece of any secret."""
        return bool(self) and self(text) != text

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
