"""``deployable serve`` as the tests run it: a real process on a free loopback port.

The project it serves has two targets (production promotes from staging) and a
suite whose one check does what the file ``mode`` in its control folder says:
pass, fail, wait for ``release``, hang, or exit 0 without a verdict. Each run
appends its pid to ``runs.txt``, so tests count processes, not seconds.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

#: How the service ends on SIGINT (Ctrl-C): shut down, exit 0.
STOPPED = 0
TOKEN = "serve-test-token-0123456789abcdef"
TOKEN_ENV = "DEPLOYABLE_SERVE_TEST_TOKEN"

TARGETS = """\
[targets.staging]
base_url = "https://staging.shop.example"

[targets.production]
base_url = "https://shop.example"
promote_from = ["staging"]

[targets.canary]
base_url = "https://canary.shop.example"
"""

SUITE = '''\
import os
import pathlib
import time

import pytest

CONTROL = pathlib.Path(os.environ["SERVE_CONTROL"])


def mode():
    path = CONTROL / "mode"
    return path.read_text().strip() if path.exists() else "pass"


@pytest.mark.smoke
def test_health():
    with open(CONTROL / "runs.txt", "a") as runs:
        runs.write(f"{os.getpid()}\\n")
    if mode() == "wait":
        while not (CONTROL / "release").exists():
            time.sleep(0.02)
    if mode() == "hang":
        time.sleep(3600)
    if mode() == "exit0":
        os._exit(0)
    (CONTROL / "token-seen").write_text(os.environ.get("DEPLOYABLE_SERVE_TEST_TOKEN", "none"))
    assert mode() != "fail", "the health check failed"
'''

CONFTEST = '''\
import os
import pathlib

import pytest


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_sessionfinish(session):
    # "exit6": the verdict file says DEPLOYABLE, and the process still fails, as when
    # the ledger could not record it. The outermost wrapper: after the verdict is written.
    result = yield
    if (pathlib.Path(os.environ["SERVE_CONTROL"]) / "mode").read_text().strip() == "exit6":
        session.exitstatus = 6
    return result
'''


def make_project(folder: Path) -> Path:
    """A project folder: targets file, suite, control folder; the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "deploy-targets.toml").write_text(TARGETS)
    suite = folder / "suite"
    suite.mkdir(exist_ok=True)
    (suite / "test_smoke.py").write_text(SUITE)
    (suite / "conftest.py").write_text(CONFTEST)
    (folder / "control").mkdir(exist_ok=True)
    (folder / "control" / "mode").write_text("pass")
    return folder


@dataclass
class Service:
    """A running ``deployable serve``."""

    url: str
    process: subprocess.Popen[str]
    folder: Path
    banner: str

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return requests.get(self.url + path, timeout=120, **kwargs)

    def post(self, path: str, *, token: str | None = TOKEN, **kwargs: Any) -> requests.Response:
        headers = dict(kwargs.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return requests.post(self.url + path, headers=headers, timeout=120, **kwargs)

    def runs(self) -> list[int]:
        """The pids of the suite's runs so far."""
        path = self.folder / "control" / "runs.txt"
        return [int(line) for line in path.read_text().split()] if path.exists() else []

    def mode(self, mode: str) -> None:
        (self.folder / "control" / "mode").write_text(mode)

    def stop(self) -> int:
        """SIGINT, as a person's Ctrl-C or systemd's stop; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        return self.process.returncode


def start(folder: Path, *args: str, token: bool = True, env: dict[str, str] | None = None,
          ) -> Service:
    """Start ``deployable serve`` in ``folder`` on a free port; wait until it listens."""
    environ = {**os.environ, "SERVE_CONTROL": str(folder / "control"), **(env or {})}
    environ.pop("DEPLOYABLE_LEDGER", None)
    if token:
        environ[TOKEN_ENV] = TOKEN
    with open(folder / "serve.log", "a") as log:  # the child keeps its own descriptor
        process = subprocess.Popen(
            [sys.executable, "-m", "pytest_deployable", "serve", "--listen", "127.0.0.1:0",
             "--token-env", TOKEN_ENV, *args],
            cwd=folder, env=environ, stdout=subprocess.PIPE, stderr=log, text=True)
    assert process.stdout is not None
    banner = process.stdout.readline()
    found = re.search(r"listening on (http://\S+)", banner)
    if found is None:
        process.wait(30)
        raise RuntimeError(f"deployable serve did not start ({process.returncode}): "
                           f"{(folder / 'serve.log').read_text()[-2000:]}")
    return Service(found.group(1), process, folder, banner)
