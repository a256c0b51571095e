"""Safety: protected targets, timeouts and secrets, against a real server that records requests."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from conftest import Server

VerdictOf = Callable[..., dict[str, Any]]

WRITES = """
import pytest

@pytest.mark.smoke
def test_read(http):
    http.get("/health").raise_for_status()

@pytest.mark.smoke
def test_sneaky_write(http):
    # Not marked destructive: must never reach a protected target.
    http.post("/items", json={"name": "x"})

@pytest.mark.smoke
@pytest.mark.destructive
def test_write(http):
    for method in ("post", "put", "patch", "delete"):
        getattr(http, method)("/items")
"""


def protected_targets(pytester: pytest.Pytester, server: Server) -> None:
    pytester.path.joinpath("deploy-targets.toml").write_text(
        f'[targets.prod]\nbase_url = "{server.url}"\nprotected = true\n'
        f'[targets.dev]\nbase_url = "{server.url}"\n'
    )


def test_a_protected_target_receives_no_state_changing_request(
    pytester: pytest.Pytester, server: Server, verdict_of: VerdictOf
) -> None:
    protected_targets(pytester, server)
    pytester.makepyfile(WRITES)
    result = pytester.runpytest("--deploy-target=prod", "-rs")
    result.stdout.fnmatch_lines([
        "*!!! PROTECTED TARGET: state-changing requests are refused !!!*",
        "*refused POST */items: target 'prod' is protected and takes only GET, HEAD, OPTIONS; "
        "mark the check @pytest.mark.destructive and run with --allow-destructive*",
        "*refused: destructive check on protected target 'prod'*",
    ])
    assert result.ret == 1
    assert server.methods() == ["GET"]
    checks = json.loads((pytester.path / "deploy-verdict.json").read_text())["predicate"][
        "deployability"]["checks"]
    assert [(c["id"].split("::")[1], c["outcome"]) for c in checks] == [
        ("test_read", "passed"), ("test_sneaky_write", "failed"), ("test_write", "refused")
    ]
    assert "RefusedRequest" in checks[1]["message"]


def test_destructive_checks_run_with_allow_destructive(
    pytester: pytest.Pytester, server: Server, verdict_of: VerdictOf
) -> None:
    protected_targets(pytester, server)
    pytester.makepyfile(WRITES)
    result = pytester.runpytest("--deploy-target=prod", "--allow-destructive")
    # The unmarked write is still refused; the destructive one may write.
    assert result.ret == 1
    assert server.methods() == ["GET", "POST", "PUT", "PATCH", "DELETE"]
    result.stdout.fnmatch_lines(["*except destructive checks: --allow-destructive*"])


def test_unprotected_targets_accept_writes(pytester: pytest.Pytester, server: Server) -> None:
    protected_targets(pytester, server)
    pytester.makepyfile(WRITES)
    assert pytester.runpytest("--deploy-target=dev").ret == 0
    assert server.methods().count("POST") == 2


def test_refused_destructive_checks_are_listed_and_warn(
    pytester: pytest.Pytester, server: Server, verdict_of: VerdictOf
) -> None:
    protected_targets(pytester, server)
    pytester.makepyfile("""
        import pytest

        @pytest.mark.smoke
        def test_read(http):
            http.get("/health").raise_for_status()

        @pytest.mark.post_deploy
        @pytest.mark.destructive
        def test_write(http):
            http.post("/items")
    """)
    result = pytester.runpytest("--deploy-target=prod")
    assert result.ret == 0
    result.stdout.fnmatch_lines([
        "*= deployability: DEPLOYABLE_WITH_WARNINGS =*",
        "*1 destructive check refused on a protected target*",
    ])
    assert verdict_of()["predicate"]["deployability"]["summary"]["refused"] == 1
    assert server.methods() == ["GET"]


def test_a_target_that_never_answers_fails_within_its_timeout(
    pytester: pytest.Pytester, server: Server, verdict_of: VerdictOf
) -> None:
    pytester.path.joinpath("deploy-targets.toml").write_text(
        f'[targets.slow]\nbase_url = "{server.url}"\ntimeout = 0.5\n'
    )
    pytester.makepyfile("""
        import pytest

        @pytest.mark.smoke
        def test_hangs(http):
            http.get("/hang")
    """)
    started = time.monotonic()
    result = pytester.runpytest("--deploy-target=slow")
    elapsed = time.monotonic() - started
    assert result.ret == 1
    message = verdict_of()["predicate"]["deployability"]["checks"][0]["message"]
    assert f"GET {server.url}/hang: no answer from target 'slow' within 0.5s" in message
    # Not a timing assertion on speed: only that it did not wait for the server's 60 s hang.
    assert elapsed < 30


SECRET = "tok-9f8e7d6c5b4a"

LEAKY = """
import logging
import pytest

@pytest.mark.smoke
def test_prints_and_asserts(http, deploy_target):
    token = http.headers["X-Api-Key"]
    print("using token", token)
    logging.getLogger("check").warning("token is %s", token)
    assert token == "something else"

@pytest.mark.smoke
def test_raises(deploy_target):
    raise RuntimeError("boom with " + deploy_target.variables["password"])

@pytest.mark.smoke
def test_request_reaches_server(http):
    http.get("/health").raise_for_status()
"""


@pytest.mark.parametrize("capture", ["fd", "no"])
def test_secrets_never_appear_in_any_output(
    pytester: pytest.Pytester, server: Server, monkeypatch: pytest.MonkeyPatch, capture: str
) -> None:
    monkeypatch.setenv("SHOP_KEY", SECRET)
    pytester.path.joinpath("deploy-targets.toml").write_text(
        f'[targets.local]\nbase_url = "{server.url}"\n'
        'headers = { X-Api-Key = "${SHOP_KEY}" }\n'
        'variables = { password = "${SHOP_KEY}" }\n'
    )
    pytester.makepyfile(LEAKY)
    result = pytester.runpytest_subprocess(
        "--deploy-target=local", f"--capture={capture}", "-rA", "-v", "-l",
        "--junitxml=junit.xml", "--deploy-junit=gate.xml", "--deploy-summary=summary.md",
    )
    assert result.ret == 1
    # The header really went to the server: the secret was used, then hidden.
    assert server.received[-1].headers["X-Api-Key"] == SECRET
    outputs = {
        "stdout": result.stdout.str(),
        "stderr": result.stderr.str(),
        "verdict": (pytester.path / "deploy-verdict.json").read_text(),
        "junitxml": (pytester.path / "junit.xml").read_text(),
        "deploy-junit": (pytester.path / "gate.xml").read_text(),
        "summary": (pytester.path / "summary.md").read_text(),
    }
    assert "using token ***" in outputs["stdout"]
    assert "boom with ***" in outputs["verdict"]
    for name, text in outputs.items():
        assert SECRET not in text, f"secret leaked into {name}"
