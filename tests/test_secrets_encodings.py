"""SPEC §3's bar: no 6-character piece of a secret, in any encoding, in any artifact.

Secrets of several shapes are planted (a long random token, one with ``%``, ``{}``
and quotes, URL credentials, a token used as a URL user name); checks leak them in
every way a report can carry them; every artifact is searched for every piece.
"""

from __future__ import annotations

import base64
import json
import re
from urllib.parse import quote, quote_plus

import pytest
from conftest import Server, require

from pytest_deployable.redact import Redactor

TOKEN = "Zq7tK2mW9xB4vN8cR1yT5uL3sD6hJ0pF"
WEIRD = "pa%ss{w0rd}&<Xy\"z'9Q"
URL_PASS = "Hk3Lm9Qp2Wx7Rt5Y"
USER_TOKEN = "ghp8Jd3Kq0Lw5Mz2Nx7Pv4Rb1Tc6Yf9Ua"

LEAKY = '''
import base64
import json
import logging
import os
from urllib.parse import quote, quote_plus

import pytest

TOKEN = os.environ["T_TOKEN"]
WEIRD = os.environ["T_WEIRD"]


@pytest.mark.smoke
def test_prints_every_encoding(http, deploy_target):
    answer = http.get("/health")
    print("basic", answer.request.headers.get("Authorization"))
    print("b64", base64.b64encode(TOKEN.encode()).decode())
    print("b64 user", base64.b64encode(("someone:" + TOKEN).encode()).decode())
    print("pct", quote(WEIRD, safe=""), quote(WEIRD, safe="").lower(), quote_plus(WEIRD))
    print("repr", repr(WEIRD), "json", json.dumps({"w": WEIRD}))
    print("ansi", "\\x1b[31m" + TOKEN[:16] + "\\x1b[0m" + TOKEN[16:])
    logging.getLogger("check").warning("logged %s and %s", TOKEN, quote(WEIRD).lower())
    assert TOKEN[:9] == "x", "prefix " + TOKEN[:8]


@pytest.mark.smoke
def test_truncated_repr(deploy_target):
    assert deploy_target.headers["X-Api-Key"] == "Key " + "y" * 300


@pytest.mark.contract
def test_skip_reason(record_property):
    record_property("token", TOKEN)
    record_property("weird", WEIRD)
    pytest.skip("skipped with " + TOKEN)


@pytest.mark.contract(blocking=False)
def test_xfail_reason():
    pytest.xfail("xfail with " + WEIRD)
'''


def pieces(secret: str, *, user: str = "someone") -> set[str]:
    """Every 6-character piece of every form SPEC §3 names, computed independently."""
    def lower(text: str) -> str:
        return re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), text)

    forms = {
        secret, quote(secret, safe=""), lower(quote(secret, safe="")), quote_plus(secret),
        quote(secret), lower(quote(secret)), repr(secret)[1:-1], json.dumps(secret)[1:-1],
        base64.b64encode(secret.encode()).decode().rstrip("="),
        base64.b64encode(f"{user}:{secret}".encode()).decode().rstrip("=")[
            (len(user) + 1) * 4 // 3 + 1: -1],
    }
    return {form[i:i + 6] for form in forms for i in range(len(form) - 5)}


def hits(artifacts: dict[str, str], secrets: dict[str, set[str]]) -> list[tuple[str, str, str]]:
    return sorted({(name, which, piece) for name, text in artifacts.items()
                   for which, found in secrets.items() for piece in found if piece in text})


@pytest.mark.parametrize("workers", ["0", "2"])
def test_no_piece_of_any_secret_in_any_artifact(
    pytester: pytest.Pytester, server: Server, monkeypatch: pytest.MonkeyPatch, workers: str
) -> None:
    if workers != "0":
        require("xdist")
    monkeypatch.setenv("T_TOKEN", TOKEN)
    monkeypatch.setenv("T_WEIRD", WEIRD)
    monkeypatch.setenv("T_PASS", URL_PASS)
    host, port = server.url.removeprefix("http://").split(":")
    pytester.path.joinpath("deploy-targets.toml").write_text(
        "[targets.local]\n"
        f'base_url = "http://bot:${{T_PASS}}@{host}:{port}"\n'
        'headers = { X-Api-Key = "Key ${T_TOKEN}", X-Weird = "${T_WEIRD}" }\n'
    )
    pytester.makepyfile(test_leaky=LEAKY)
    result = pytester.runpytest_subprocess(
        "--deploy-target=local", "-n", workers, "-rA", "-v", "-l", "--tb=long", "--color=yes",
        "--junitxml=junit.xml", "--deploy-junit=gate.xml", "--deploy-summary=summary.md",
        "--log-file=run.log", "--log-file-level=INFO", "-o", "log_cli=true",
    )
    assert result.ret == 1
    # The secrets were really used: the server got the header and the credentials.
    assert any(r.headers.get("X-Api-Key") == f"Key {TOKEN}" for r in server.received)
    assert any(r.headers.get("Authorization", "").startswith("Basic") for r in server.received)
    artifacts = {"stdout": result.stdout.str(), "stderr": result.stderr.str()}
    for name in ("deploy-verdict.json", "junit.xml", "gate.xml", "summary.md", "run.log"):
        artifacts[name] = (pytester.path / name).read_text()
    assert "***" in artifacts["stdout"]
    assert "***" in artifacts["junit.xml"]
    assert "logged ***" in artifacts["run.log"]
    secrets = {"token": pieces(TOKEN), "weird": pieces(WEIRD),
               "url password": pieces(URL_PASS, user="bot")}
    assert hits(artifacts, secrets) == []


def test_a_token_as_a_url_user_name_is_a_secret(
    pytester: pytest.Pytester, server: Server
) -> None:
    host_port = server.url.removeprefix("http://")
    pytester.makepyfile(test_user="""
        import pytest

        @pytest.mark.smoke
        def test_shows_url(deploy_target):
            print(deploy_target.base_url)
            assert deploy_target.base_url == "", deploy_target.base_url
    """)
    result = pytester.runpytest(f"--deploy-target=http://{USER_TOKEN}@{host_port}", "-rA",
                                "--junitxml=junit.xml")
    assert result.ret == 1
    artifacts = {"stdout": result.stdout.str(),
                 "verdict": (pytester.path / "deploy-verdict.json").read_text(),
                 "junit": (pytester.path / "junit.xml").read_text()}
    assert f"deploy target: http://***@{host_port}" in artifacts["stdout"]
    assert hits(artifacts, {"user token": pieces(USER_TOKEN)}) == []


def test_a_usage_error_does_not_show_a_secret(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("T_URL", f"htp://{TOKEN}.example")
    pytester.path.joinpath("deploy-targets.toml").write_text(
        '[targets.local]\nbase_url = "${T_URL}"\n'
    )
    pytester.makepyfile("import pytest\n@pytest.mark.smoke\ndef test_x(): pass\n")
    result = pytester.runpytest("--deploy-target=local")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = result.stderr.str()
    assert "base_url" in err
    assert "***" in err
    assert hits({"stderr": err}, {"token": pieces(TOKEN)}) == []


@pytest.mark.parametrize("secret", [TOKEN, WEIRD, URL_PASS, "abcd", "ab cd+ef/gh=ij"])
def test_the_redactor_masks_every_piece_of_every_form(secret: str) -> None:
    redact = Redactor([secret])
    for piece in sorted(pieces(secret) | pieces(secret, user="u") | pieces(secret, user="ab")):
        text = f"before {piece} after"
        assert piece not in redact(text), piece
    assert redact("nothing secret here") == "nothing secret here"
    # A colour code splitting the secret is kept (after the mask), so colours still reset.
    assert redact("\x1b[1mx" + secret[:3] + "\x1b[0m" + secret[3:] + "y") == "\x1b[1mx***\x1b[0my"
