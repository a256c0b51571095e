"""A fleet target for the host tests' pytest runs, and the verdict file they read back."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import read_verdict


def fleet_targets(pytester: pytest.Pytester, hosts: list[str], *, timeout: float = 10,
                  roles: dict[str, list[str]] | None = None, extra: str = "") -> None:
    """Write a targets file whose target ``fleet`` has ``hosts`` (and ``roles``)."""
    lines = ["[targets.fleet]", f"hosts = {json.dumps(hosts)}", f"timeout = {timeout}", extra]
    if roles:
        lines.append("[targets.fleet.roles]")
        lines += [f"{role} = {json.dumps(specs)}" for role, specs in roles.items()]
    pytester.path.joinpath("deploy-targets.toml").write_text("\n".join(lines) + "\n")


def deployability(pytester: pytest.Pytester) -> dict[str, Any]:
    """The ``deployability`` part of the run's verdict file."""
    result: dict[str, Any] = read_verdict(pytester.path / "deploy-verdict.json")[
        "predicate"]["deployability"]
    return result
