"""Request bodies and query strings: untrusted input, checked by declarative tables.

Each JSON body the service accepts is described by a table of its keys (what each
must be, whether it is required), as ``gate.py``'s ``verdict_field`` table describes a
verdict file. Duplicate keys and NaN are refused as the gate refuses them; a
body that breaks the table is a 400 whose message names the key and says what
would be right. A bigger body than ``--max-body`` is a 413, before it is read whole.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ..ledger.commands import time_option
from ..ledger.documents import MAX_KEY_LENGTH
from ..ledger.rows import DEPLOYMENT_STATUSES, NewDeployment
from ..untrusted import STR, Kind, Refused, one_line, parse_json, shown

__all__ = ["FLAGGER_HOOKS", "FlaggerCall", "Problem", "deployment", "flagger_call", "json_body",
           "name_parameter"]


class Problem(Exception):
    """An answer other than success: a status and one line saying why (sent as JSON)."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None,
                 **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.headers = dict(headers or {})
        self.extra = extra


def _name(limit: int) -> Kind:
    return (f"a string of 1 to {limit} printable characters",
            lambda v: isinstance(v, str) and 0 < len(v) <= limit and v.isprintable())


_KEY = _name(MAX_KEY_LENGTH)
_ID = _name(200)
_ISO: Kind = ("an ISO 8601 time with a zone, such as 2026-01-01T12:00:00Z",
               lambda v: isinstance(v, str) and _time(v) is not None)
_STATUS: Kind = (" or ".join(map(repr, DEPLOYMENT_STATUSES)), lambda v: v in DEPLOYMENT_STATUSES)
_STRING_MAP: Kind = ("an object of strings", lambda v: isinstance(v, dict) and all(
    isinstance(x, str) for x in v.values()))


def _time(text: str) -> datetime | None:
    try:
        return time_option(text)
    except argparse.ArgumentTypeError:
        return None


def json_body(raw: bytes, what: str) -> Any:
    """``raw`` parsed as JSON, strictly; Problem 400 naming ``what`` if it is not."""
    try:
        return parse_json(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise Problem(400, f"{what}: the body is not UTF-8 JSON") from None
    except Refused as exc:
        raise Problem(400, f"{what}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise Problem(400, f"{what}: the body is not JSON: {exc.msg} (line {exc.lineno} "
                           f"column {exc.colno})") from None
    except (ValueError, RecursionError):
        raise Problem(400, f"{what}: the body is not JSON") from None


def _check(body: Any, what: str, table: Mapping[str, tuple[Kind, bool]], *,
           closed: bool) -> dict[str, Any]:
    """The values of ``body`` by ``table`` (kind, required); ``closed``: no other key."""
    if not isinstance(body, dict):
        raise Problem(400, f"{what}: the body must be a JSON object, not {shown(body)}")
    if closed:
        unknown = sorted(set(body) - set(table))
        if unknown:
            raise Problem(400, f"{what}: unknown key {one_line(unknown[0])!r}; the keys are "
                               f"{', '.join(table)}")
    values: dict[str, Any] = {}
    for key, (kind, required) in table.items():
        if key not in body or (body[key] is None and not required):
            if required:
                raise Problem(400, f"{what}: {key} is missing; it must be {kind[0]}")
            values[key] = None
            continue
        if not kind[1](body[key]):
            raise Problem(400, f"{what}: {key} must be {kind[0]}, not {shown(body[key])}")
        values[key] = body[key]
    return values


#: POST /v1/deployments: record-deployment's options as JSON keys.
_DEPLOYMENT = {
    "target": (_KEY, True), "version": (_KEY, True), "status": (_STATUS, False),
    "commit": (_ID, False), "commitTime": (_ISO, False), "time": (_ISO, False),
    "remediates": (_ID, False), "id": (_ID, False),
}


def deployment(body: Any) -> NewDeployment:
    """The deployment a ``POST /v1/deployments`` body records."""
    v = _check(body, "POST /v1/deployments", _DEPLOYMENT, closed=True)
    return NewDeployment(
        target=v["target"], version=v["version"], status=v["status"] or "succeeded",
        deployed_at=(_time(v["time"]) if v["time"] else None) or datetime.now(timezone.utc),
        commit=v["commit"], commit_time=_time(v["commitTime"]) if v["commitTime"] else None,
        remediates=v["remediates"], key=v["id"],
    )


#: Flagger's hooks this service answers, and whether 200 means "proceed" (else: "roll back").
FLAGGER_HOOKS = {"pre-rollout": True, "rollout": True, "confirm-rollout": True,
                 "confirm-traffic-increase": True, "confirm-promotion": True,
                 "rollback": False}

#: Flagger's webhook payload (CanaryWebhookPayload); Flagger may add keys, so it is open.
_FLAGGER = {"name": (STR, True), "namespace": (STR, True), "phase": (STR, True),
            "checksum": (STR, False), "metadata": (_STRING_MAP, True)}


@dataclass(frozen=True)
class FlaggerCall:
    """A checked Flagger webhook call."""

    hook: str
    canary: str
    """``namespace/name`` of the Canary, for the answer."""
    phase: str
    target: str
    version: str
    run: bool
    """``metadata.run == "true"``: a fresh check, not the ledger's promotion rule."""


def flagger_call(hook: str, body: Any) -> FlaggerCall:
    """The webhook call of ``body`` to ``hook``; Problem 404 / 400 if it is not one."""
    if hook not in FLAGGER_HOOKS:
        raise Problem(404, f"no Flagger hook {one_line(hook)!r} here; the hooks are "
                           f"{', '.join(FLAGGER_HOOKS)}")
    what = f"POST /v1/flagger/{hook}"
    v = _check(body, what, _FLAGGER, closed=False)
    metadata = _check(v["metadata"], f"{what}: metadata",
                      {"target": (_KEY, True), "version": (_KEY, True)}, closed=False)
    run = v["metadata"].get("run", "false")
    if run not in ("true", "false"):
        raise Problem(400, f"{what}: metadata.run must be \"true\" or \"false\", not "
                           f"{shown(run)}")
    return FlaggerCall(hook, f"{v['namespace']}/{v['name']}", v["phase"], metadata["target"],
                       metadata["version"], run == "true")


def name_parameter(query: Mapping[str, str], key: str, route: str) -> str:
    """A required query parameter naming a target or version; Problem 400 if bad."""
    value = query.get(key)
    if value is None or not _KEY[1](value):
        named = "missing" if value is None else f"not {_KEY[0]}"
        raise Problem(400, f"{route}: the query parameter {key} is {named}; ask "
                           f"{route}?{'&'.join(f'{k}=…' for k in _PARAMETERS[route])}")
    return value


_PARAMETERS = {"GET /v1/can-i-deploy": ("version", "to"), "GET /v1/check": ("target", "version")}
