"""Secrets, end to end: planted wherever a target holds one, searched for in every artifact."""

from __future__ import annotations

import base64
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from conftest import Server, require

SECRET = "s3cr3t/p@ss+word=42"

LEAKY = """
import base64
import logging
import sys
from urllib.parse import quote
import pytest

@pytest.mark.smoke
def test_prints_everything(http, deploy_target):
    token = http.headers["X-Api-Key"]
    print("header", token, "encoded", quote(token, safe=""))
    print("b64", base64.b64encode(token.encode()).decode())
    print("to stderr", deploy_target.variables["password"], file=sys.stderr)
    logging.getLogger("check").error("logged %s", token)
    assert token == "not it"

@pytest.mark.contract
def test_raises_with_it(deploy_target):
    raise RuntimeError("raised with " + deploy_target.variables["password"])

@pytest.mark.post_deploy
def test_url_credentials(http, deploy_target):
    assert http.get("/health").status_code == 200
    assert deploy_target.base_url.endswith("nothing"), deploy_target.base_url

@pytest.mark.post_deploy
@pytest.mark.parametrize("value", ["plain"])
def test_passes(http, value):
    http.get("/health").raise_for_status()
"""


@pytest.mark.parametrize("workers", ["0", "2"])
def test_a_planted_secret_appears_in_no_artifact(
    pytester: pytest.Pytester, server: Server, monkeypatch: pytest.MonkeyPatch, workers: str
) -> None:
    if workers != "0":
        require("xdist")
    monkeypatch.setenv("SHOP_SECRET", SECRET)
    monkeypatch.setenv("SHOP_PASS", quote(SECRET, safe=""))
    host, port = server.url.removeprefix("http://").split(":")
    pytester.path.joinpath("deploy-targets.toml").write_text(
        "[targets.local]\n"
        f'base_url = "http://bot:${{SHOP_PASS}}@{host}:{port}"\n'
        'headers = { X-Api-Key = "${SHOP_SECRET}" }\n'
        'variables = { password = "${SHOP_SECRET}" }\n'
        'hosts = ["ssh://deploy@127.0.0.1:1?ssh_identity_file=/keys/${SHOP_SECRET}"]\n'
    )
    pytester.makepyfile(LEAKY)
    result = pytester.runpytest_subprocess(
        "--deploy-target=local", "-n", workers, "-rA", "-v", "-l", "--tb=long",
        "--junitxml=junit.xml", "--deploy-junit=gate.xml", "--deploy-summary=summary.md",
        "-o", "log_cli=true",
    )
    assert result.ret == 1
    # The secret was really used: the server got the header and the credentials.
    assert any(r.headers.get("X-Api-Key") == SECRET for r in server.received)
    assert any("Authorization" in r.headers for r in server.received)
    forms = {
        "raw": SECRET,
        "url-encoded": quote(SECRET, safe=""),
        "url-encoded-plus": quote_plus(SECRET, safe=""),
        "base64": base64.b64encode(SECRET.encode()).decode().rstrip("="),
    }
    artifacts: dict[str, str] = {
        "stdout": result.stdout.str(),
        "stderr": result.stderr.str(),
    }
    for name in ("deploy-verdict.json", "junit.xml", "gate.xml", "summary.md"):
        artifacts[name] = Path(pytester.path / name).read_text()
    assert "***" in artifacts["stdout"]
    hits = [(form, artifact) for form, text in forms.items()
            for artifact, content in artifacts.items() if text in content]
    assert hits == []
