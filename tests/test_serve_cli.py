"""``deployable serve``'s start-up mistakes: one line, exit 2 (usage) or 3 (cannot listen),
before any port is opened; never a traceback."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from _serve import make_project

from pytest_deployable.cli import main


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(make_project(tmp_path))
    monkeypatch.delenv("DEPLOYABLE_LEDGER", raising=False)
    return tmp_path


def serve(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["serve", *args])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


@pytest.mark.parametrize(("args", "says"), [
    (["--listen", "8484"], "use HOST:PORT"),
    (["--listen", ":8484"], "give the host"),
    (["--listen", "127.0.0.1:99999"], "use HOST:PORT"),
    (["--cache", "soon"], "invalid duration"),
    (["--max-body", "0"], "1 or more"),
    (["--suite", "no-such-folder"], "--suite no-such-folder: no such file"),
    (["--policy", "missing.toml"], "policy file not found"),
    (["--key", "missing.pub"], "missing.pub"),
    (["--ledger", "mysql://x/y"], "is not supported"),
    (["--allowed-host", "evil host"], "invalid host 'evil host'"),
    (["--allowed-host", "deployable.example.com:8484"], "(no port)"),
])
def test_usage_errors(project: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                      says: str) -> None:
    code, err = serve(capsys, *args)
    assert code == 2
    assert says in err


def test_a_short_token_is_refused(project: Path, capsys: pytest.CaptureFixture[str],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHORT_TOKEN", "secret")
    code, err = serve(capsys, "--token-env", "SHORT_TOKEN")
    assert code == 2
    assert "shorter than 16 characters" in err
    assert "secret" not in err.replace("SHORT_TOKEN", "")


def test_an_address_in_use_is_exit_3(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        code, err = serve(capsys, "--listen", f"127.0.0.1:{port}")
    assert code == 3
    assert f"cannot listen on 127.0.0.1:{port}" in err
    assert len(err.splitlines()) == 1
