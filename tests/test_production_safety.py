"""Production safety, end to end: the example suite against the real shop, protected."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _service import EXAMPLES, running_shop

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
API_KEY = "demo-key-0123456789"


def run_examples(shop_port: int, workdir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DEPLOYABLE_", "PYTEST_ADDOPTS"))}
    env.update(SHOP_PORT=str(shop_port), SHOP_API_KEY=API_KEY)
    return subprocess.run(
        [sys.executable, "-m", "pytest", str(EXAMPLES / "deploy"), "--deploy-target=local-prod",
         "--deploy-version=1.4.2", f"--deploy-verdict={workdir / 'verdict.json'}", *extra],
        env=env, capture_output=True, text=True, timeout=180, check=False,
    )


@pytest.mark.parametrize("allow", [False, True], ids=["default", "--allow-destructive"])
def test_a_protected_target_gets_no_state_changing_request_unless_allowed(
    tmp_path: Path, allow: bool
) -> None:
    with running_shop(tmp_path / "shop", version="1.4.2", api_key=API_KEY) as shop:
        result = run_examples(shop.port, tmp_path,
                              *(["--allow-destructive"] if allow else []))
        methods = [request["method"] for request in shop.requests()]
    assert methods, "the suite reached the shop"
    ext = json.loads((tmp_path / "verdict.json").read_text())["predicate"]["deployability"]
    if allow:
        assert result.returncode == 0, result.stdout[-3000:]
        assert UNSAFE & set(methods) == {"POST"}
        assert ext["summary"]["refused"] == 0
    else:
        assert result.returncode == 0, result.stdout[-3000:]
        assert UNSAFE & set(methods) == set()
        assert ext["summary"]["refused"] >= 1
        assert "refused" in result.stdout
    assert ext["verdict"] != "NOT_DEPLOYABLE"
