"""What ``deployable serve`` was started with, checked once at start-up.

Every file the service reads (targets, policy, keys, the suite) is read and
checked here, so that a mistake is one line and exit 2 before the port opens,
never a 500 on the first request. Changing them needs a restart.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..keys import PublicKey
from ..ledger.urls import LedgerURL

__all__ = ["DEFAULT_LISTEN", "LOOPBACK_NAMES", "MAX_BODY", "MIN_TOKEN_LENGTH", "Settings",
           "host_allowed", "host_of", "parse_allowed_host", "parse_listen"]

DEFAULT_LISTEN = "127.0.0.1:8484"
#: The largest request body accepted (413 above it); a verdict of ~5,000 checks fits.
MAX_BODY = 1024 * 1024
#: A bearer token shorter than this is refused at start-up: it could be guessed.
MIN_TOKEN_LENGTH = 16


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:8484`` for IPv6) as a host and a port; ValueError saying why."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"invalid address {text!r}: use HOST:PORT, such as {DEFAULT_LISTEN} "
                         "or [::1]:8484 (port 0: any free port)")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host:
        raise ValueError(f"invalid address {text!r}: give the host, such as {DEFAULT_LISTEN} "
                         "(0.0.0.0 listens on every interface)")
    return host, int(port)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (``localhost`` counts)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


#: The Host names a service listening on loopback answers to unless ``--allowed-host`` says.
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")

_NAME = re.compile(r"(\*\.)?[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?")


def parse_allowed_host(text: str) -> str:
    """An ``--allowed-host`` value: a host name or address, ``*.DOMAIN``, or ``*``; ValueError."""
    name = text.strip().lower()
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    if name == "*" or _NAME.fullmatch(name) or _is_address(name):
        return name
    raise ValueError(f"invalid host {text!r}: give a name such as deployable.example.com, an "
                     "address, *.example.com for its subdomains, or * for any (no port)")


def host_of(header: str) -> str | None:
    """The host of a ``Host`` header (``name``, ``name:port``, ``[v6]:port``), lower case;
    None if it is not one."""
    value = header.strip().lower()
    if value.startswith("["):
        host, bracket, rest = value[1:].partition("]")
        if not bracket:
            return None
    else:
        host, colon, port = value.partition(":")
        rest = colon + port
    if rest and not (rest[0] == ":" and (rest[1:].isdigit() or rest == ":")):
        return None
    return host or None


def host_allowed(header: str | None, allowed: tuple[str, ...]) -> bool:
    """Whether a request's ``Host`` header names this service, by ``allowed``."""
    if "*" in allowed:
        return True
    host = host_of(header) if header is not None else None
    if host is None:
        return False
    return any(host == name or (name.startswith("*.") and host.endswith(name[1:]))
               for name in allowed)


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Settings:
    """The service's configuration, checked."""

    host: str
    port: int
    ledger: LedgerURL
    cwd: Path
    targets: Any = None
    """The TargetsFile (None without one): target names and their promotion rules."""
    policy: Any = None
    """The PolicyFile (None without one): who must sign the verdicts of each target."""
    keys: tuple[PublicKey, ...] = ()
    """``--key``: trusted for every target, beside the policy's trusted_keys."""
    token: str | None = field(default=None, repr=False)
    """The bearer token write routes need; None: the service is read-only."""
    token_env: str | None = None
    suite: Path | None = None
    cache: float = 30.0
    check_timeout: float = 600.0
    max_body: int = MAX_BODY
    allowed_hosts: tuple[str, ...] = ("*",)
    """The ``Host`` names requests must carry (``*``: any); others get 400. Without
    ``--allowed-host``: the loopback names when listening on loopback, else any."""

    @property
    def secrets(self) -> tuple[str, ...]:
        """Strings no answer may show: the token and the ledger URL's secrets."""
        return (*((self.token,) if self.token else ()), *self.ledger.secrets)

    @property
    def policy_path(self) -> Path | None:
        """The policy file's path, for the ledger's signature rule."""
        return None if self.policy is None else Path(self.policy.path)

    def child_environment(self) -> dict[str, str]:
        """The environment of a suite run: ours, without the token, with the ledger's URL.

        The URL goes in ``DEPLOYABLE_LEDGER`` rather than the command line, where
        ``ps`` would show its password to every user of the machine.
        """
        env = {k: v for k, v in os.environ.items() if k != self.token_env}
        env["DEPLOYABLE_LEDGER"] = self.ledger.url
        return env
